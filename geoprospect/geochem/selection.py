"""Element selection by AUC and Z_AUC (papers 000, 001, 002).

For each element, samples within ``distance`` (map units) of a known deposit are positives,
the rest negatives. The AUC of separating them is computed from (a) an SVM score —
``sklearn.svm.SVC`` (RBF kernel, balanced class weights, on the standardised log10 element)
with out-of-fold decision values over ``StratifiedKFold(5, shuffle=True)`` (one fit per fold, as
``cross_val_predict`` does, plus optional stratified subsampling of large folds) — and (b) the raw
concentration. Its standard error follows Hanley & McNeil (1982), as written in the papers::

    Q1 = AUC / (2 − AUC),   Q2 = 2·AUC² / (1 + AUC)
    S_AUC = sqrt([AUC(1 − AUC) + (Cp − 1)(Q1 − AUC²) + (Cn − 1)(Q2 − AUC²)] / (Cp·Cn))
    Z_AUC = (AUC − 0.5) / S_AUC

Elements with Z_AUC above the critical value (2.58, the 0.01 level, by default) are kept.

Note: the papers' Table 2 AUCs are all 0.5 + k/244 and their Z_AUC values follow exactly with
Cp = Cn = 122 — consistent with an AUC computed from hard SVM labels (= balanced accuracy) on a
balanced set of 122 + 122 samples. ``svm_output="label"`` reproduces that kind of AUC;
the default ``"decision"`` uses the continuous decision values (a proper ROC AUC).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from geoprospect.errors import ParameterError, SelectionError
from geoprospect.io.atomic import write_text

log = logging.getLogger(__name__)

Z_CRITICAL_001 = 2.58  # the papers' value for the 0.01 level


def hanley_mcneil_se(auc: float | np.ndarray, n_pos: int | np.ndarray, n_neg: int | np.ndarray) -> np.ndarray:
    """Hanley-McNeil (1982) standard error of an AUC from Cp positives and Cn negatives."""
    a = np.asarray(auc, dtype=np.float64)
    cp = np.asarray(n_pos, dtype=np.float64)
    cn = np.asarray(n_neg, dtype=np.float64)
    if np.any(cp < 1) or np.any(cn < 1):
        raise SelectionError("S_AUC needs at least one positive and one negative sample")
    q1 = a / (2.0 - a)
    q2 = 2.0 * a * a / (1.0 + a)
    var = (a * (1.0 - a) + (cp - 1.0) * (q1 - a * a) + (cn - 1.0) * (q2 - a * a)) / (cp * cn)
    return np.sqrt(np.maximum(var, 0.0))


def z_auc(auc: float | np.ndarray, n_pos: int | np.ndarray, n_neg: int | np.ndarray) -> np.ndarray:
    """Z_AUC = (AUC − 0.5) / S_AUC (inf when S_AUC is 0, i.e. AUC = 1)."""
    s = hanley_mcneil_se(auc, n_pos, n_neg)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s > 0, (np.asarray(auc, dtype=np.float64) - 0.5) / np.where(s > 0, s, 1.0), np.inf)


def label_near_deposits(xy: np.ndarray, deposits: object, distance: float) -> np.ndarray:
    """True for samples within ``distance`` map units of any deposit geometry.

    Args:
        xy: (N, 2) sample coordinates, same projected CRS as ``deposits``.
        deposits: (M, 2) deposit coordinates, or a sequence/GeoSeries of shapely geometries
            (points, lines or polygons: distance to the geometry).
        distance: radius in map units (> 0).
    """
    import shapely

    if not (distance > 0):
        raise SelectionError(f"the deposit distance must be positive, got {distance}", hint="pass --distance in map units (e.g. metres)")
    xy = np.asarray(xy, dtype=np.float64)
    if hasattr(deposits, "geometry") and not isinstance(deposits, np.ndarray):
        geoms = np.asarray(getattr(deposits, "geometry", deposits).values)
    elif isinstance(deposits, np.ndarray) or (isinstance(deposits, (list, tuple)) and deposits and not hasattr(deposits[0], "geom_type")):
        d = np.asarray(deposits, dtype=np.float64).reshape(-1, 2)
        geoms = shapely.points(d)
    else:
        geoms = np.asarray(list(deposits))
    if len(geoms) == 0:
        raise SelectionError("no deposits given", hint="check the deposits file and its layer")
    tree = shapely.STRtree(geoms)
    _, dist = tree.query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
    return dist <= distance


def svm_scores(x: np.ndarray, y: np.ndarray, *, cv: int = 5, seed: int = 0, output: str = "decision", max_samples: int | None = 4000) -> np.ndarray:
    """Out-of-fold SVM scores of one feature (or several: (N, F)).

    Pipeline: StandardScaler + SVC(kernel="rbf", class_weight="balanced"), fitted on each
    training fold of ``StratifiedKFold(cv, shuffle=True, random_state=seed)`` and scoring its
    test fold (what ``cross_val_predict`` does; written out to allow subsampling).
    ``output="decision"`` gives decision values, ``"label"`` hard 0/1 predictions.
    ``max_samples``: SVC training is O(n²): larger sets are scored with models trained on a
    stratified subsample of this size per fold (every sample still gets an out-of-fold score).
    """
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X = np.asarray(x, dtype=np.float64)
    X = X[:, None] if X.ndim == 1 else X
    y = np.asarray(y).astype(int)
    n_min = int(min(y.sum(), (1 - y).sum()))
    k = min(cv, n_min)
    if k < 2:
        raise SelectionError(f"cross-validated SVM scores need at least 2 samples of each class, got {n_min}",
                             hint="increase --distance, or check that deposits and samples overlap")
    out = np.zeros(len(y), dtype=np.float64)
    rng = np.random.default_rng(seed)
    for train, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y):
        if max_samples is not None and train.size > max_samples:
            # stratified subsample: keep the class proportions
            parts = []
            for c in (0, 1):
                idx = train[y[train] == c]
                take = max(1, int(round(max_samples * idx.size / train.size)))
                parts.append(rng.choice(idx, size=min(take, idx.size), replace=False))
            train = np.concatenate(parts)
        model = make_pipeline(StandardScaler(), SVC(kernel="rbf", class_weight="balanced", gamma="scale"))
        model.fit(X[train], y[train])
        out[test] = model.decision_function(X[test]) if output == "decision" else model.predict(X[test])
    return out


@dataclass
class SelectionResult:
    """The selection table (one row per element) and its settings."""

    table: pd.DataFrame
    settings: dict = field(default_factory=dict)

    @property
    def selected(self) -> list[str]:
        return [str(e) for e in self.table.loc[self.table["selected"], "element"]]

    def to_markdown(self) -> str:
        """Markdown table like the papers' Table 2 (AUC, S_AUC, Z_AUC per element)."""
        t = self.table
        cols = ["element", "n_pos", "n_neg", "auc_svm", "s_auc_svm", "z_auc_svm", "auc_raw", "z_auc_raw", "selected"]
        cols = [c for c in cols if c in t.columns]
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for _, r in t.iterrows():
            cells = []
            for c in cols:
                v = r[c]
                cells.append(f"{v:.4f}" if isinstance(v, (float, np.floating)) else ("yes" if v is True or v is np.True_ else ("no" if v is False or v is np.False_ else str(v))))
            lines.append("| " + " | ".join(cells) + " |")
        s = self.settings
        head = [
            "# Element selection (AUC, Hanley-McNeil S_AUC, Z_AUC)", "",
            f"Positives: samples within {s.get('distance')} map units of a deposit"
            + (f" ({s['deposits']})" if "training" in str(s.get("deposits", "")) else "") + f". Score: {s.get('score')}; "
            f"SVM: {s.get('svm')}. Critical Z_AUC: {s.get('z_crit')}.", "",
        ]
        return "\n".join(head + lines + ["", f"Selected ({len(self.selected)}): {', '.join(self.selected) or 'none'}"]) + "\n"

    def write(self, csv_path: str | Path | None = None, md_path: str | Path | None = None) -> None:
        """Write the table as CSV and/or Markdown (atomically)."""
        if csv_path is not None:
            write_text(csv_path, self.table.to_csv(index=False, float_format="%.6g"))
        if md_path is not None:
            write_text(md_path, self.to_markdown())


def select_elements(
    values: np.ndarray,
    elements: Sequence[str],
    labels: np.ndarray,
    *,
    score: str = "svm",
    z_crit: float = Z_CRITICAL_001,
    cv: int = 5,
    seed: int = 0,
    svm_output: str = "decision",
    log_values: bool = True,
    max_samples: int | None = 4000,
    progress: Callable[[str], None] | None = None,
) -> SelectionResult:
    """Rank elements by AUC / Z_AUC and keep those with Z_AUC > ``z_crit``.

    Args:
        values: (N, E) element values (NaN = not analysed: dropped for that element only).
        elements: the E names.
        labels: (N,) bool, True = sample near a known deposit.
        score: which AUC decides the selection: "svm" or "raw" (concentration as the score).
        z_crit: critical Z_AUC (2.58 = 0.01 level, as the papers).
        cv, seed, svm_output, max_samples: see :func:`svm_scores`.
        log_values: feed log10 values to the SVM (non-positive values make it use raw values).
        progress: called with the element name after each element.

    Returns:
        A :class:`SelectionResult`; the table has one row per element with n_pos, n_neg,
        auc_svm, s_auc_svm, z_auc_svm, auc_raw, s_auc_raw, z_auc_raw, selected.
    """
    from sklearn.metrics import roc_auc_score

    if score not in ("svm", "raw"):
        raise ParameterError(f"score must be 'svm' or 'raw', got {score!r}", hint="--score svm|raw (select-elements)")
    v = np.asarray(values, dtype=np.float64)
    v = v[:, None] if v.ndim == 1 else v
    y = np.asarray(labels).astype(bool)
    if v.shape[0] != y.shape[0] or v.shape[1] != len(elements):
        raise ParameterError(f"values {v.shape}, labels {y.shape} and {len(elements)} elements do not match", hint="pass values as (N, E), labels as (N,) and E element names")
    if not y.any():
        raise SelectionError("no sample lies near a deposit", hint="increase --distance, or check the CRSs of samples and deposits")
    if y.all():
        raise SelectionError("every sample lies near a deposit", hint="decrease --distance")
    rows = []
    for j, e in enumerate(elements):
        ok = np.isfinite(v[:, j])
        x, yy = v[ok, j], y[ok]
        cp, cn = int(yy.sum()), int((~yy).sum())
        row: dict = {"element": e, "n_pos": cp, "n_neg": cn}
        if cp < 2 or cn < 2 or np.ptp(x) == 0:
            why = "constant" if x.size and np.ptp(x) == 0 else f"{cp} positives / {cn} negatives analysed"
            log.warning("%s: skipped (%s)", e, why)
            row.update(auc_svm=np.nan, s_auc_svm=np.nan, z_auc_svm=np.nan, auc_raw=np.nan, s_auc_raw=np.nan, z_auc_raw=np.nan, selected=False, note=why)
            rows.append(row)
            if progress is not None:
                progress(e)
            continue
        auc_raw = float(roc_auc_score(yy, x))
        row.update(auc_raw=auc_raw, s_auc_raw=float(hanley_mcneil_se(auc_raw, cp, cn)), z_auc_raw=float(z_auc(auc_raw, cp, cn)))
        feat = np.log10(x) if (log_values and (x > 0).all()) else x
        s = svm_scores(feat, yy, cv=cv, seed=seed, output=svm_output, max_samples=max_samples)
        auc_svm = float(roc_auc_score(yy, s))
        row.update(auc_svm=auc_svm, s_auc_svm=float(hanley_mcneil_se(auc_svm, cp, cn)), z_auc_svm=float(z_auc(auc_svm, cp, cn)))
        zz = row["z_auc_svm"] if score == "svm" else row["z_auc_raw"]
        row["selected"] = bool(zz > z_crit)
        row["note"] = ""
        rows.append(row)
        if progress is not None:
            progress(e)
    table = pd.DataFrame(rows)
    key = "z_auc_svm" if score == "svm" else "z_auc_raw"
    table = table.sort_values(key, ascending=False, na_position="last").reset_index(drop=True)
    settings = {
        "score": score, "z_crit": z_crit, "cv": cv, "seed": seed,
        "svm": f"SVC(rbf, balanced) on {'log10 ' if log_values else ''}values, StratifiedKFold({cv}) out-of-fold {svm_output} values",
        "n_samples": int(v.shape[0]), "n_positive": int(y.sum()),
    }
    return SelectionResult(table, settings)


def run_selection(
    points: str | Path,
    elements: Sequence[str] | None,
    deposits: str | Path,
    distance: float,
    *,
    x_field: str | None = None,
    y_field: str | None = None,
    crs: object | None = None,
    deposits_layer: str | None = None,
    deposits_crs: object | None = None,
    work_crs: object | None = None,
    out_csv: str | Path | None = None,
    out_md: str | Path | None = None,
    prep_report: str | Path | None = None,
    score: str = "svm",
    z_crit: float = Z_CRITICAL_001,
    cv: int = 5,
    seed: int = 0,
    svm_output: str = "decision",
    max_samples: int | None = 4000,
    progress: Callable[[str], None] | None = None,
    **prepare_kwargs: object,
) -> SelectionResult:
    """File-to-table element selection (what ``geoprospect select-elements`` calls).

    Reads and prepares the points (:func:`geoprospect.geochem.read_geochem`, keyword arguments
    such as ``censored=``, ``drop_missing_xy=``, ``duplicates=`` pass through), reads the deposits
    (:func:`geoprospect.io.vectors.read_vectors`), brings both into ``work_crs`` (default: the
    deposits' CRS; it must be projected so that ``distance`` is in metres or feet), labels the
    samples within ``distance`` of a deposit and runs :func:`select_elements`.
    """
    from geoprospect.errors import CRSError
    from geoprospect.geochem.prepare import read_geochem
    from geoprospect.grid import to_crs
    from geoprospect.io.vectors import read_vectors

    table, report = read_geochem(points, elements, x_field=x_field, y_field=y_field, crs=crs, **prepare_kwargs)
    if prep_report is not None:
        report.write(prep_report)
    dep = read_vectors(deposits, layer=deposits_layer, crs=deposits_crs, what="deposits")
    target = to_crs(work_crs) if work_crs is not None else to_crs(dep.crs.to_wkt())
    if target.is_geographic:
        raise CRSError(
            f"distances cannot be measured in {target.name} (geographic degrees)",
            path=deposits,
            hint="pass a projected working CRS (e.g. --work-crs EPSG:20350) so that --distance is in metres",
        )
    dep = dep.to_crs(target.to_wkt()) if not to_crs(dep.crs.to_wkt()).equals(target, ignore_axis_order=True) else dep
    table = table.to_crs(target)
    labels = label_near_deposits(table.xy, dep.geometry, distance)
    log.info("%d of %d samples lie within %g of a deposit", int(labels.sum()), len(labels), distance)
    res = select_elements(table.values, table.elements, labels, score=score, z_crit=z_crit, cv=cv, seed=seed, svm_output=svm_output, max_samples=max_samples, progress=progress)
    res.settings.update({"distance": distance, "points": str(points), "deposits": str(deposits), "crs": target.name})
    res.write(out_csv, out_md)
    return res
