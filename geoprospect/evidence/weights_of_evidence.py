"""Weights of evidence (Bonham-Carter, 1994, *Geographic Information Systems for Geoscientists*, ch. 9).

Everything works on (H, W) evidence arrays of one grid: float, NaN = nodata, plus a boolean
study-area mask ``valid`` and known deposits given as (row, col) cell indices, one deposit per
unit cell. Areas are counted in *unit cells*: ``cells_per_unit`` grid cells make one unit cell
(1.0: the grid cell is the unit cell). With B the pattern, D the deposits and N(.) counts in
unit cells (deposits count one each):

    W+ = ln[(N(B∩D)/N(D)) / (N(B∩¬D)/N(¬D))]        s²(W+) = 1/N(B∩D) + 1/N(B∩¬D)
    W- = ln[(N(¬B∩D)/N(D)) / (N(¬B∩¬D)/N(¬D))]      s²(W-) = 1/N(¬B∩D) + 1/N(¬B∩¬D)
    C = W+ - W-,  s(C) = sqrt(s²(W+) + s²(W-)),      studentized contrast = C / s(C)

A weight is undefined (NaN) when one of the four counts is zero or negative (no deposit in
the pattern, a pattern covering the whole area, ...). Weights of a layer are computed where
that layer has data (Bonham-Carter's treatment of missing data); in the posterior a cell
without data on a layer gets weight 0 for it.

Posterior (per unit cell): logit P = ln(N(D)/(N - N(D))) + Σ_layers W(cell class), and its
variance due to the weights (Bonham-Carter 1994; the variance due to missing data is ignored):
var(P) ≈ P² [1/N(D) + Σ_layers s²(W(cell class))].
Conditional independence: the Agterberg-Cheng (2002) test, see :func:`conditional_independence`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from geoprospect.errors import ConfigError, DepositError, InputError

Direction = Literal["ascending", "descending"]

TABLE_COLUMNS = [
    "layer", "type", "class", "threshold", "cells", "unit_cells", "deposits",
    "W+", "s(W+)", "W-", "s(W-)", "C", "s(C)", "studentized_C", "generalised", "weight", "s(weight)",
]


@dataclass(frozen=True)
class Weights:
    """Weights of one binary pattern B; counts in unit cells (deposits: one each)."""

    n_b: float
    n_bd: float
    n_notb: float
    n_notbd: float
    w_plus: float
    s_w_plus: float
    w_minus: float
    s_w_minus: float
    contrast: float
    s_contrast: float
    studentized: float


def _weights_arrays(n_b, n_bd, n_notb, n_notbd) -> dict[str, np.ndarray]:
    """Vectorised weights: the four counts (arrays, unit cells) -> W+, s(W+), W-, s(W-), C, s(C), C/s(C)."""
    n_b, n_bd, n_notb, n_notbd = (np.asarray(a, dtype=np.float64) for a in (n_b, n_bd, n_notb, n_notbd))
    n_d = n_bd + n_notbd
    n_notd = n_b + n_notb - n_d
    n_bnotd, n_notbnotd = n_b - n_bd, n_notb - n_notbd
    ok = (n_bd > 0) & (n_notbd > 0) & (n_bnotd > 0) & (n_notbnotd > 0)
    with np.errstate(all="ignore"):
        w_plus = np.log((n_bd / n_d) / (n_bnotd / n_notd))
        w_minus = np.log((n_notbd / n_d) / (n_notbnotd / n_notd))
        v_plus = 1.0 / n_bd + 1.0 / n_bnotd
        v_minus = 1.0 / n_notbd + 1.0 / n_notbnotd
        contrast = w_plus - w_minus
        s_contrast = np.sqrt(v_plus + v_minus)
        out = {
            "w_plus": w_plus, "s_w_plus": np.sqrt(v_plus), "w_minus": w_minus, "s_w_minus": np.sqrt(v_minus),
            "contrast": contrast, "s_contrast": s_contrast, "studentized": contrast / s_contrast,
        }
    return {k: np.where(ok, v, np.nan) for k, v in out.items()}


def weights_from_counts(n_b: float, n_bd: float, n_notb: float, n_notbd: float) -> Weights:
    """Weights from counts in unit cells: pattern area, deposits in it, area and deposits outside it."""
    w = _weights_arrays(n_b, n_bd, n_notb, n_notbd)
    return Weights(float(n_b), float(n_bd), float(n_notb), float(n_notbd), **{k: float(v) for k, v in w.items()})


def deposit_counts(deposits_rc: np.ndarray, shape: tuple[int, int], valid: np.ndarray | None = None) -> np.ndarray:
    """(H, W) int64 number of deposits per cell, inside ``valid`` only.

    ``deposits_rc``: (n, 2) integer (row, col) cell indices; every one must lie in the grid.
    """
    rc = np.asarray(deposits_rc)
    if rc.size == 0:
        raise DepositError("no deposits given", hint="pass at least one known deposit (--deposits)")
    if rc.ndim != 2 or rc.shape[1] != 2 or not np.issubdtype(rc.dtype, np.integer):
        raise DepositError(f"deposits must be an (n, 2) integer array of (row, col) cells, got {rc.dtype} {rc.shape}")
    out = (rc[:, 0] < 0) | (rc[:, 0] >= shape[0]) | (rc[:, 1] < 0) | (rc[:, 1] >= shape[1])
    if out.any():
        i = int(np.argmax(out))
        raise DepositError(
            f"{int(out.sum())} of {len(rc)} deposits lie outside the {shape[0]} x {shape[1]} grid "
            f"(first: #{i}, row {int(rc[i, 0])}, col {int(rc[i, 1])})",
            hint="drop deposits outside the evidence stack, or build the stack over a larger extent",
        )
    counts = np.zeros(shape, dtype=np.int64)
    np.add.at(counts, (rc[:, 0], rc[:, 1]), 1)
    if valid is not None:
        counts[~np.asarray(valid, dtype=bool)] = 0
    return counts


def _study_area(shape: tuple[int, int], valid: np.ndarray | None) -> np.ndarray:
    if valid is None:
        return np.ones(shape, dtype=bool)
    valid = np.asarray(valid, dtype=bool)
    if valid.shape != shape:
        raise InputError(f"the study-area mask is {valid.shape}, the evidence {shape}", hint="pass a mask of the evidence's shape")
    return valid


def weights(
    binary_pattern: np.ndarray,
    deposits_rc: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    cells_per_unit: float = 1.0,
) -> Weights:
    """W+, W-, C and their standard deviations for one binary pattern.

    Args:
        binary_pattern: (H, W) bool, or float with non-zero = pattern, 0 = outside, NaN = nodata.
        deposits_rc: (n, 2) int (row, col) of the deposits.
        valid: (H, W) bool study area (default: every cell); nodata cells are left out too.
        cells_per_unit: grid cells per unit cell (unit-cell area / cell area).
    """
    pattern = np.asarray(binary_pattern)
    area = _study_area(pattern.shape, valid)
    if pattern.dtype != bool:
        area = area & np.isfinite(pattern)
        pattern = np.nan_to_num(pattern, nan=0.0) != 0
    counts = deposit_counts(deposits_rc, pattern.shape, area)
    in_b, out_b = area & pattern, area & ~pattern
    if not in_b.any() or not out_b.any():
        which = "no cell" if not in_b.any() else "every cell"
        raise InputError(f"the binary pattern covers {which} of the study area", hint="choose another threshold (--threshold BAND=VALUE)")
    u = float(cells_per_unit)
    return weights_from_counts(in_b.sum() / u, counts[in_b].sum(), out_b.sum() / u, counts[out_b].sum())


def _layer_cells(values: np.ndarray, deposits_rc: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Values of the study-area cells where the layer has data, and the value under each deposit there."""
    values = np.asarray(values, dtype=np.float64)
    area = _study_area(values.shape, valid) & np.isfinite(values)
    counts = deposit_counts(deposits_rc, values.shape, area)
    hit = counts > 0
    return values[area], np.repeat(values[hit], counts[hit])


def _candidate_thresholds(cell_values: np.ndarray, max_thresholds: int) -> np.ndarray:
    """Distinct data values, thinned to at most ``max_thresholds`` quantiles (always data values)."""
    uniq = np.unique(cell_values)
    if len(uniq) > max_thresholds:
        uniq = np.unique(np.quantile(cell_values, np.linspace(0.0, 1.0, max_thresholds), method="inverted_cdf"))
    return uniq


def cumulative_weights(
    values: np.ndarray,
    deposits_rc: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    direction: Direction = "ascending",
    cells_per_unit: float = 1.0,
    max_thresholds: int = 256,
) -> pd.DataFrame:
    """Weights of the cumulative patterns of a continuous layer, one row per candidate threshold.

    ``ascending``: pattern = value <= threshold ("near is good", e.g. distances);
    ``descending``: pattern = value >= threshold (high is good, e.g. pathfinder grades).
    Columns: threshold, cells, unit_cells, deposits (in the pattern), w_plus, s_w_plus,
    w_minus, s_w_minus, contrast, s_contrast, studentized (NaN where undefined).
    """
    if direction not in ("ascending", "descending"):
        raise ConfigError(f"direction must be 'ascending' or 'descending', got {direction!r}")
    cells, deps = _layer_cells(values, deposits_rc, valid)
    if cells.size == 0:
        raise InputError("the layer has no data in the study area", hint="check the band and the study-area mask")
    cells.sort()
    deps.sort()
    t = _candidate_thresholds(cells, max_thresholds)
    if direction == "ascending":
        n_b = np.searchsorted(cells, t, side="right")
        d_b = np.searchsorted(deps, t, side="right")
    else:
        n_b = cells.size - np.searchsorted(cells, t, side="left")
        d_b = deps.size - np.searchsorted(deps, t, side="left")
    u = float(cells_per_unit)
    w = _weights_arrays(n_b / u, d_b, (cells.size - n_b) / u, deps.size - d_b)
    return pd.DataFrame({"threshold": t, "cells": n_b, "unit_cells": n_b / u, "deposits": d_b, **w})


def best_threshold(table: pd.DataFrame) -> float:
    """Threshold of the row of :func:`cumulative_weights` with the largest studentized contrast."""
    stud = table["studentized"].to_numpy()
    if not np.isfinite(stud).any():
        raise InputError(
            "no threshold of the layer gives defined weights (every candidate pattern holds no deposit, or all of them)",
            hint="give a threshold (--threshold BAND=VALUE) or leave the layer out (--bands)",
        )
    return float(table["threshold"].to_numpy()[int(np.nanargmax(stud))])


def categorical_weights(
    values: np.ndarray,
    deposits_rc: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    cells_per_unit: float = 1.0,
    min_studentized: float | None = None,
    max_classes: int = 256,
) -> pd.DataFrame:
    """Weights of each class of a categorical layer against the rest of the layer (ArcSDM "categorical").

    Classes whose weights are undefined (no deposit, or the only class), and with
    ``min_studentized`` those with |C/s(C)| below it, are generalised: pooled into one class
    whose W+ (from the pooled counts) they all take; a pooled class without defined weight
    gets weight 0 (no evidence either way). Columns: class, cells, unit_cells, deposits,
    w_plus ... studentized, generalised, weight, s_weight (the weight used in the posterior).
    """
    cells, deps = _layer_cells(values, deposits_rc, valid)
    classes, n_k = np.unique(cells, return_counts=True)
    if len(classes) > max_classes:
        raise InputError(f"the categorical layer has {len(classes)} classes (more than {max_classes})",
                         hint="is it a continuous layer? Give it a threshold instead of --categorical")
    if len(classes) == 0:
        raise InputError("the layer has no data in the study area", hint="check the band and the study-area mask")
    d_k = np.bincount(np.searchsorted(classes, deps), minlength=len(classes)) if deps.size else np.zeros(len(classes), int)
    u = float(cells_per_unit)
    w = _weights_arrays(n_k / u, d_k, (cells.size - n_k) / u, deps.size - d_k)
    pooled = ~np.isfinite(w["studentized"])
    if min_studentized is not None:
        pooled |= np.abs(np.nan_to_num(w["studentized"])) < float(min_studentized)
    weight, s_weight = np.nan_to_num(w["w_plus"]), np.nan_to_num(w["s_w_plus"])
    if pooled.any():
        g = weights_from_counts(n_k[pooled].sum() / u, d_k[pooled].sum(), (cells.size - n_k[pooled].sum()) / u, deps.size - d_k[pooled].sum())
        ok = math.isfinite(g.w_plus)
        weight[pooled], s_weight[pooled] = (g.w_plus, g.s_w_plus) if ok else (0.0, 0.0)
    return pd.DataFrame({"class": classes, "cells": n_k, "unit_cells": n_k / u, "deposits": d_k, **w,
                         "generalised": pooled, "weight": weight, "s_weight": s_weight})


@dataclass
class LayerFit:
    """The fitted weights of one evidence layer.

    Attributes:
        name: layer name.
        kind: "ascending" (pattern = value <= threshold), "descending" (value >= threshold)
            or "categorical".
        threshold: the pattern's threshold (None for categorical layers).
        classes: categorical class values, sorted (empty for threshold layers).
        weight, s2: per class index, the weight used in the posterior and its variance
            (threshold layers: index 0 = outside the pattern (W-), 1 = inside (W+)).
        table: rows of the weights table (see ``TABLE_COLUMNS``).
        candidates: for threshold layers, the weights at every candidate threshold.
    """

    name: str
    kind: str
    threshold: float | None
    classes: np.ndarray
    weight: np.ndarray
    s2: np.ndarray
    table: pd.DataFrame
    candidates: pd.DataFrame | None = None

    def classify(self, values: np.ndarray) -> np.ndarray:
        """(H, W) int class index of each cell; -1 where nodata (or a class unseen when fitting)."""
        v = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(v)
        if self.kind == "categorical":
            idx = np.clip(np.searchsorted(self.classes, np.where(finite, v, 0.0)), 0, len(self.classes) - 1)
            return np.where(finite & (self.classes[idx] == v), idx, -1)
        with np.errstate(invalid="ignore"):
            inside = v <= self.threshold if self.kind == "ascending" else v >= self.threshold
        return np.where(finite, inside.astype(np.int64), -1)


def _threshold_label(kind: str, t: float, inside: bool) -> str:
    op = ("<=" if inside else ">") if kind == "ascending" else (">=" if inside else "<")
    return f"{op} {t:.6g}"


def _threshold_rows(name: str, kind: str, t: float, w: Weights, cells_in: int, cells_out: int, u: float) -> pd.DataFrame:
    """Two table rows: the pattern (weight W+) and its complement (weight W-, weights mirrored)."""
    rows = []
    for inside, (wp, swp, wm, swm, c, cells, d) in (
        (True, (w.w_plus, w.s_w_plus, w.w_minus, w.s_w_minus, w.contrast, cells_in, w.n_bd)),
        (False, (w.w_minus, w.s_w_minus, w.w_plus, w.s_w_plus, -w.contrast, cells_out, w.n_notbd)),
    ):
        rows.append({"layer": name, "type": kind, "class": _threshold_label(kind, t, inside), "threshold": t,
                     "cells": cells, "unit_cells": cells / u, "deposits": int(d), "W+": wp, "s(W+)": swp, "W-": wm,
                     "s(W-)": swm, "C": c, "s(C)": w.s_contrast, "studentized_C": c / w.s_contrast,
                     "generalised": False, "weight": wp, "s(weight)": swp})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def fit_threshold_layer(
    name: str,
    values: np.ndarray,
    deposits_rc: np.ndarray,
    valid: np.ndarray | None,
    *,
    direction: Direction,
    threshold: float | None = None,
    cells_per_unit: float = 1.0,
    max_thresholds: int = 256,
) -> LayerFit:
    """Binarise a continuous layer at ``threshold`` (default: the maximum studentized contrast) and weigh it."""
    candidates = cumulative_weights(values, deposits_rc, valid, direction=direction, cells_per_unit=cells_per_unit, max_thresholds=max_thresholds)
    t = best_threshold(candidates) if threshold is None else float(threshold)
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        pattern = np.where(np.isfinite(v), (v <= t) if direction == "ascending" else (v >= t), np.nan)
    try:
        w = weights(pattern, deposits_rc, valid, cells_per_unit=cells_per_unit)
    except InputError as exc:
        raise InputError(f"layer {name!r} at threshold {t:g}: {exc.reason}", hint=exc.hint) from exc
    if not math.isfinite(w.contrast):
        raise InputError(
            f"layer {name!r} at threshold {t:g}: weights undefined ({w.n_bd:g} of {w.n_bd + w.n_notbd:g} deposits in the pattern)",
            hint="choose a threshold with deposits on both sides (--threshold BAND=VALUE)",
        )
    area = _study_area(v.shape, valid) & np.isfinite(v)
    cells_in = int((area & (pattern == 1)).sum())
    table = _threshold_rows(name, direction, t, w, cells_in, int(area.sum()) - cells_in, float(cells_per_unit))
    return LayerFit(name, direction, t, np.empty(0), np.array([w.w_minus, w.w_plus]),
                    np.array([w.s_w_minus, w.s_w_plus]) ** 2, table, candidates)


def fit_categorical_layer(
    name: str,
    values: np.ndarray,
    deposits_rc: np.ndarray,
    valid: np.ndarray | None,
    *,
    cells_per_unit: float = 1.0,
    min_studentized: float | None = None,
) -> LayerFit:
    """Weights of every class of a categorical layer (see :func:`categorical_weights`)."""
    cw = categorical_weights(values, deposits_rc, valid, cells_per_unit=cells_per_unit, min_studentized=min_studentized)
    table = pd.DataFrame({
        "layer": name, "type": "categorical", "class": [f"{c:.6g}" for c in cw["class"]], "threshold": np.nan,
        "cells": cw["cells"], "unit_cells": cw["unit_cells"], "deposits": cw["deposits"], "W+": cw["w_plus"],
        "s(W+)": cw["s_w_plus"], "W-": cw["w_minus"], "s(W-)": cw["s_w_minus"], "C": cw["contrast"],
        "s(C)": cw["s_contrast"], "studentized_C": cw["studentized"], "generalised": cw["generalised"],
        "weight": cw["weight"], "s(weight)": cw["s_weight"],
    }, columns=TABLE_COLUMNS)
    return LayerFit(name, "categorical", None, cw["class"].to_numpy(), cw["weight"].to_numpy(), cw["s_weight"].to_numpy() ** 2, table)


@dataclass(frozen=True)
class CITest:
    """Agterberg-Cheng conditional-independence test.

    Attributes:
        observed: n, the number of training deposits in the study area.
        expected: T = Σ posterior × area (unit cells), the number of deposits the model predicts.
        s_expected: standard deviation of T.
        z: (T - n) / s(T).
        p_value: one-tailed P(Z >= z) under conditional independence; small values reject it.
        ratio: n / T (Bonham-Carter: below ~0.85 suggests conditional dependence).
    """

    observed: int
    expected: float
    s_expected: float
    z: float
    p_value: float
    ratio: float

    def violated(self, alpha: float = 0.05) -> bool:
        """True when conditional independence is rejected at level ``alpha``."""
        return self.p_value < alpha

    def summary(self, alpha: float = 0.05) -> str:
        """One line for logs and the CLI."""
        verdict = "conditional independence REJECTED" if self.violated(alpha) else "conditional independence not rejected"
        return (f"Agterberg-Cheng test: observed n = {self.observed}, expected T = {self.expected:.3f} "
                f"(s = {self.s_expected:.3f}), z = {self.z:.3f}, one-tailed p = {self.p_value:.4f}, "
                f"n/T = {self.ratio:.3f}: {verdict} at {alpha:g}")


def conditional_independence(
    posterior: np.ndarray,
    variance: np.ndarray,
    conditions: np.ndarray,
    n_deposits: int,
    valid: np.ndarray | None = None,
    *,
    cells_per_unit: float = 1.0,
) -> CITest:
    """Agterberg & Cheng (2002) test: expected deposits T = Σ_k A_k P_k against the observed n.

    ``conditions``: (H, W) int code of each cell's unique condition (combination of classes),
    k runs over them; A_k is the condition's area in unit cells; s²(T) = Σ_k A_k² var(P_k)
    (cells of one condition share the same posterior, so their errors add up linearly).
    """
    area = _study_area(np.shape(posterior), valid) & np.isfinite(posterior)
    _, inv, counts = np.unique(np.asarray(conditions)[area], return_inverse=True, return_counts=True)
    p_k = np.bincount(inv, weights=np.asarray(posterior, dtype=np.float64)[area]) / counts
    var_k = np.bincount(inv, weights=np.asarray(variance, dtype=np.float64)[area]) / counts
    a_k = counts / float(cells_per_unit)
    t = float(np.sum(a_k * p_k))
    s_t = float(np.sqrt(np.sum(a_k**2 * var_k)))
    z = (t - n_deposits) / s_t if s_t > 0 else math.copysign(math.inf, t - n_deposits)
    return CITest(int(n_deposits), t, s_t, float(z), 0.5 * math.erfc(z / math.sqrt(2.0)), n_deposits / t if t > 0 else math.nan)


class WeightsOfEvidence:
    """Weights-of-evidence model over several evidence layers of one grid.

    Args:
        directions: per layer "ascending" (pattern = value <= threshold, near is good),
            "descending" (value >= threshold) or "auto" (default: the direction whose pattern
            has the larger studentized contrast).
        thresholds: per layer a fixed threshold (default: maximum studentized contrast).
        categorical: layers weighed per class instead of binarised.
        cells_per_unit: grid cells per unit cell (unit-cell area / cell area).
        min_studentized: categorical layers: pool classes with |C/s(C)| below this value.
        max_thresholds: candidate thresholds tried per continuous layer (quantiles beyond).

    After :meth:`fit`: ``layers_`` (name -> :class:`LayerFit`), ``prior_logit_``,
    ``n_deposits_``, ``n_unit_cells_``.
    """

    def __init__(
        self,
        *,
        directions: Mapping[str, Literal["auto", "ascending", "descending"]] | None = None,
        thresholds: Mapping[str, float] | None = None,
        categorical: Iterable[str] = (),
        cells_per_unit: float = 1.0,
        min_studentized: float | None = None,
        max_thresholds: int = 256,
    ) -> None:
        if not (cells_per_unit > 0 and math.isfinite(cells_per_unit)):
            raise ConfigError(f"cells_per_unit must be a positive number, got {cells_per_unit}", hint="check the unit-cell area (--unit-area)")
        self.directions = dict(directions or {})
        self.thresholds = dict(thresholds or {})
        self.categorical = set(categorical)
        self.cells_per_unit = float(cells_per_unit)
        self.min_studentized = min_studentized
        self.max_thresholds = max_thresholds
        self.layers_: dict[str, LayerFit] = {}

    def _check_names(self, names: list[str]) -> None:
        for what, keys in (("directions", self.directions), ("thresholds", self.thresholds), ("categorical", self.categorical)):
            unknown = sorted(set(keys) - set(names))
            if unknown:
                raise ConfigError(f"{what} name layers that are not given: {', '.join(unknown)}; the layers are: {', '.join(names)}")
        both = sorted(self.categorical & set(self.thresholds))
        if both:
            raise ConfigError(f"layers both categorical and thresholded: {', '.join(both)}", hint="a categorical layer is weighed per class: drop its threshold (--threshold) or --categorical")
        bad = {k: v for k, v in self.directions.items() if v not in ("auto", "ascending", "descending")}
        if bad:
            raise ConfigError(f"unknown directions {bad}: use 'auto', 'ascending' or 'descending'")

    def _fit_layer(self, name: str, values: np.ndarray, deposits_rc: np.ndarray, valid: np.ndarray) -> LayerFit:
        if name in self.categorical:
            return fit_categorical_layer(name, values, deposits_rc, valid, cells_per_unit=self.cells_per_unit, min_studentized=self.min_studentized)
        direction = self.directions.get(name, "auto")
        tried = ["ascending", "descending"] if direction == "auto" else [direction]
        fits, errors = [], []
        for d in tried:
            try:
                fits.append(fit_threshold_layer(name, values, deposits_rc, valid, direction=d, threshold=self.thresholds.get(name),
                                                cells_per_unit=self.cells_per_unit, max_thresholds=self.max_thresholds))
            except InputError as exc:
                errors.append(exc)
        if not fits:
            raise errors[0]
        return max(fits, key=lambda f: float(f.table["studentized_C"].iloc[0]))

    def fit(self, layers: Mapping[str, np.ndarray], deposits_rc: np.ndarray, valid: np.ndarray | None = None) -> WeightsOfEvidence:
        """Weigh every layer against the deposits.

        Args:
            layers: name -> (H, W) float evidence, NaN = nodata.
            deposits_rc: (n, 2) int (row, col) of the training deposits (those outside ``valid`` are ignored).
            valid: (H, W) bool study area (default: every cell).
        """
        names = list(layers)
        if not names:
            raise ConfigError("no evidence layer given", hint="name at least one band (--bands)")
        shape = np.shape(layers[names[0]])
        for n in names:
            if np.shape(layers[n]) != shape:
                raise InputError(f"layer {n!r} is {np.shape(layers[n])}, layer {names[0]!r} {shape}", hint="all layers must share one grid")
        self._check_names(names)
        study = _study_area(shape, valid)
        n_d = int(deposit_counts(deposits_rc, shape, study).sum())
        n_units = study.sum() / self.cells_per_unit
        if n_d == 0:
            raise DepositError("no deposit lies in the study area", hint="check the deposits' CRS and the study-area mask (--mask-band)")
        if n_units <= n_d:
            raise DepositError(f"{n_d} deposits in {n_units:g} unit cells: the prior odds are undefined", hint="use a smaller unit cell (--unit-area)")
        self.n_deposits_, self.n_unit_cells_ = n_d, float(n_units)
        self.prior_logit_ = math.log(n_d / (n_units - n_d))
        self.layers_ = {n: self._fit_layer(n, layers[n], deposits_rc, study) for n in names}
        self._fit_data = (layers, study)
        return self

    def _classes(self, layers: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray]:
        if not self.layers_ or layers is None:
            raise ConfigError("the model is not fitted: call fit() first")
        missing = [n for n in self.layers_ if n not in layers]
        if missing:
            raise InputError(f"layers missing for prediction: {', '.join(missing)}")
        return {n: f.classify(layers[n]) for n, f in self.layers_.items()}

    def predict(self, layers: Mapping[str, np.ndarray] | None = None, valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(posterior probability per unit cell, its variance): two (H, W) float64, NaN outside ``valid``.

        Defaults to the layers and study area given to :meth:`fit`.
        """
        if layers is None and self.layers_:
            layers, valid = self._fit_data
        classes = self._classes(layers)
        shape = next(iter(classes.values())).shape
        logit = np.full(shape, self.prior_logit_)
        var_sum = np.full(shape, 1.0 / self.n_deposits_)
        for name, idx in classes.items():
            fit, has = self.layers_[name], idx >= 0
            logit[has] += fit.weight[idx[has]]
            var_sum[has] += fit.s2[idx[has]]
        posterior = 1.0 / (1.0 + np.exp(-logit))
        variance = posterior**2 * var_sum
        outside = ~_study_area(shape, valid)
        posterior[outside] = np.nan
        variance[outside] = np.nan
        return posterior, variance

    def conditions(self, layers: Mapping[str, np.ndarray]) -> np.ndarray:
        """(H, W) int64 code of each cell's unique condition (its combination of classes, nodata included)."""
        code = None
        for name, idx in self._classes(layers).items():
            k = len(self.layers_[name].weight) + 1
            code = idx + 1 if code is None else np.unique(code * k + idx + 1, return_inverse=True)[1].reshape(idx.shape)
        return code

    def conditional_independence(self) -> CITest:
        """Agterberg-Cheng test on the fitting data (see :func:`conditional_independence`)."""
        layers, study = self._fit_data
        posterior, variance = self.predict()
        return conditional_independence(posterior, variance, self.conditions(layers), self.n_deposits_, study, cells_per_unit=self.cells_per_unit)

    def table(self) -> pd.DataFrame:
        """The weights of every layer and class (columns ``TABLE_COLUMNS``)."""
        if not self.layers_:
            raise ConfigError("the model is not fitted: call fit() first")
        return pd.concat([f.table for f in self.layers_.values()], ignore_index=True)
