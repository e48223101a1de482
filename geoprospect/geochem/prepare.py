"""Prepare raw geochemical columns: censored values -> outliers -> transform -> z-scores.

:func:`prepare_table` works on a pandas table of raw (string) columns; :func:`read_geochem`
reads a points file with :func:`geoprospect.io.points.read_raw_points` (the coordinate half of
``read_points``), prepares the element columns, resolves duplicate locations and returns a
:class:`~geoprospect.io.points.PointTable` plus a :class:`PrepReport`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from geoprospect.errors import CensoringError, ColumnError, ParameterError
from geoprospect.geochem.censored import parse_censored, replace_censored
from geoprospect.geochem.duplicates import handle_duplicates
from geoprospect.geochem.outliers import flag_outliers, tukey_fences, winsorise
from geoprospect.geochem.report import ElementReport, PrepReport
from geoprospect.geochem.transforms import clr, log10, zscore
from geoprospect.io.names import did_you_mean
from geoprospect.io.points import POINTS_CLI_KNOBS, POINTS_RUN_KNOBS, PointTable, read_raw_points, resolve_elements

log = logging.getLogger(__name__)

#: how each option is spelled on the command line (the default context of hints)
CLI_KNOBS = {**POINTS_CLI_KNOBS, "negative_censored": "--negative-censored", "censored": "--censored", "transform": "--transform", "elements": "--elements", "flag_columns": "--flag-columns",
             "detection_limits": "--detection-limits", "fraction": "--fraction", "outliers": "--outliers"}
#: the same options in the run config
RUN_KNOBS = {**POINTS_RUN_KNOBS, "negative_censored": "points.negative_censored: true", "censored": "points.censored", "transform": "points.log10", "elements": "points.elements", "flag_columns": "points.flag_columns",
             "detection_limits": "points.detection_limits", "fraction": "points.censored_fraction", "outliers": "points.outliers"}

CENSORED_METHODS = ("half", "fraction", "cohen", "missing")
OUTLIER_METHODS = (None, "flag", "winsorise")
TRANSFORMS = (None, "log10", "clr")


def prepare_table(
    df: pd.DataFrame,
    elements: Sequence[str],
    *,
    censored: str = "half",
    fraction: float = 0.5,
    flag_columns: Mapping[str, str] | None = None,
    negative_is_censored: bool = True,
    unknown_limit: str = "min_limit",
    detection_limits: Mapping[str, float] | None = None,
    outliers: str | None = None,
    tukey_k: float = 1.5,
    outlier_log: bool = True,
    transform: str | None = None,
    standardise: bool = False,
    path: str | Path | None = None,
    row_numbers: np.ndarray | None = None,
    knobs: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, PrepReport]:
    """Turn raw element columns into float64 values and report what was done.

    Args:
        df: table with raw element columns (strings like "<0.5", "BDL", "-2", "12.3", "").
        elements: the element columns to prepare.
        censored: "half" (limit/2), "fraction" (``fraction`` × limit), "cohen" (Cohen's MLE on
            log10 values, paper 004) or "missing" (censored -> NaN).
        flag_columns: element -> name of a flag column marking censored rows.
        negative_is_censored: read ``-x`` as "below x".
        unknown_limit: censored values without a stated limit get the element's stated limit
            (``detection_limits``), else its smallest limit seen, else its smallest reported
            value ("min_limit"), or become missing ("missing").
        detection_limits: element -> detection limit, for censored rows stating none ('<' flag
            with a value of 0 or blank, 'BDL').
        outliers: None, "flag" (counted in the report only) or "winsorise" (clipped to the fences).
        tukey_k: Tukey fence multiplier (1.5 outliers, 3 far out).
        outlier_log: compute the fences on log10 values.
        transform: None, "log10" or "clr" (clr over the listed elements, per sample).
        standardise: z-scores per element after the transform (papers 001-002).
        path, row_numbers: source file and 1-based rows, for messages.
        knobs: how the user spells each option in their context, for hints: option name
            ("censored", "transform", "elements", "flag_columns", ...) -> "--censored" (CLI,
            the default) or "points.censored" (run config).

    Returns:
        (DataFrame of float64 columns ``elements``, same index as ``df``; PrepReport).
    """
    k = {**CLI_KNOBS, **(knobs or {})}
    elements, flag_columns, detection_limits = _checked_options(
        df, elements, censored, outliers, transform, flag_columns, detection_limits, path, k)
    rows = np.arange(1, len(df) + 1) if row_numbers is None else np.asarray(row_numbers)
    report = PrepReport(
        source=str(path or ""),
        n_rows=len(df),
        settings={"censored": censored, "fraction": fraction if censored == "fraction" else None, "unknown_limit": unknown_limit,
                  "outliers": outliers, "tukey_k": tukey_k, "transform": transform, "standardise": standardise},
    )
    out = {}
    for e in elements:
        vals, er = _prepare_element(
            df, e, rows, path, flag_columns.get(e), detection_limits.get(e), censored, fraction,
            negative_is_censored, unknown_limit, outliers, tukey_k, outlier_log)
        report.elements[e] = er
        out[e] = vals
    values = np.column_stack([out[e] for e in elements])
    if transform == "log10":
        values = log10(values, names=elements, rows=rows,
                       hint=f"replace censored values first ({k['censored']} half or cohen), flag zeros as below detection ({k['flag_columns']}), or leave out {k['transform']} log10")
    elif transform == "clr":
        values = clr(values)
    if standardise:
        values, mean, std = zscore(values, names=elements)
        report.settings["zscore_mean"] = [float(v) for v in mean]
        report.settings["zscore_std"] = [float(v) for v in std]
    for er in report.elements.values():
        for w in er.warnings:
            log.warning("%s: %s", er.element, w)
    return pd.DataFrame(values, index=df.index, columns=elements), report


def _checked_options(
    df: pd.DataFrame,
    elements: Sequence[str],
    censored: str,
    outliers: str | None,
    transform: str | None,
    flag_columns: Mapping[str, str] | None,
    detection_limits: Mapping[str, float] | None,
    path: str | Path | None,
    k: Mapping[str, str],
) -> tuple[list[str], dict[str, str], dict[str, float]]:
    """Refuse unknown methods and missing or stray columns; return (elements, flag_columns, detection_limits)."""
    if censored not in CENSORED_METHODS:
        raise ParameterError(f"censored must be one of {CENSORED_METHODS}, got {censored!r}", hint="--censored (CLI) or points.censored (run config)")
    if outliers not in OUTLIER_METHODS:
        raise ParameterError(f"outliers must be one of {OUTLIER_METHODS}, got {outliers!r}", hint="--outliers (CLI) or points.outliers (run config)")
    if transform not in TRANSFORMS:
        raise ParameterError(f"transform must be one of {TRANSFORMS}, got {transform!r}", hint="--transform (CLI) or points.transform (run config)")
    elements = list(elements)
    if not elements:
        raise ColumnError("no element columns given", path=path, hint=f"name them with {k['elements']}")
    missing = [e for e in elements if e not in df.columns]
    if missing:
        raise ColumnError(
            f"element column(s) {', '.join(map(repr, missing))} not found{did_you_mean(missing, df.columns)}; columns are: {', '.join(map(str, df.columns))}",
            path=path, hint=f"check {k['elements']} (names are case-sensitive)",
        )
    flag_columns = dict(flag_columns or {})
    detection_limits = dict(detection_limits or {})
    for e, fc in flag_columns.items():
        if e not in elements:
            raise ColumnError(f"flag columns name element {e!r}, which is not among the elements ({', '.join(elements)}){did_you_mean([e], elements)}",
                              path=path, hint=f"check {k['flag_columns']}")
        if fc not in df.columns:
            raise ColumnError(f"flag column {fc!r} for {e!r} not found{did_you_mean([fc], df.columns)}", path=path, hint=f"check {k['flag_columns']}")
    for e, lim in detection_limits.items():
        if e not in elements:
            raise ColumnError(f"detection limits name element {e!r}, which is not among the elements ({', '.join(elements)}){did_you_mean([e], elements)}",
                              path=path, hint=f"check {k['detection_limits']}")
        if not (np.isfinite(lim) and lim > 0):
            raise ParameterError(f"detection limit of {e!r} must be a positive number, got {lim}", path=path, hint=f"check {k['detection_limits']}")
    return elements, flag_columns, detection_limits


def _prepare_element(
    df: pd.DataFrame,
    e: str,
    rows: np.ndarray,
    path: str | Path | None,
    flag_column: str | None,
    detection_limit: float | None,
    censored: str,
    fraction: float,
    negative_is_censored: bool,
    unknown_limit: str,
    outliers: str | None,
    tukey_k: float,
    outlier_log: bool,
) -> tuple[np.ndarray, ElementReport]:
    """One element column -> (N,) float64 values (censored replaced, outliers treated) and its report."""
    col = parse_censored(
        df[e], column=e, path=path, row_numbers=rows,
        flag=df[flag_column] if flag_column is not None else None,
        negative_is_censored=negative_is_censored, unknown_limit=unknown_limit, detection_limit=detection_limit,
    )
    try:
        vals, info = replace_censored(col, censored, fraction)
    except CensoringError as exc:
        raise CensoringError(f"element {e!r}: {exc.reason}", path=path, hint=exc.hint) from exc
    er = ElementReport(
        element=e, n=len(df), n_missing=int((~np.isfinite(col.values) & ~col.censored).sum()),
        n_detected=int(np.isfinite(col.values).sum()), n_censored=col.n_censored,
        censored_forms={f: v for f, v in col.counts.items() if f in ("less_than", "negative", "code", "flag") and v},
        limits=col.limits_seen, replacement=info, n_over=col.counts["over"], warnings=list(col.warnings),
    )
    if col.n_censored:
        log.info("%s: %d of %d analysed values censored (%s)", e, col.n_censored, len(df) - er.n_missing, info.get("method"))
    if outliers is not None and np.isfinite(vals).sum() >= 4:
        vals = _treat_outliers(vals, er, outliers, tukey_k, outlier_log)
    fin = vals[np.isfinite(vals)]
    if fin.size and np.ptp(fin) == 0:
        er.warnings.append(f"constant element: every value is {fin[0]:g}; it carries no information")
    elif fin.size == 0:
        er.warnings.append("no values at all (never analysed)")
    return vals, er


def _treat_outliers(vals: np.ndarray, er: ElementReport, outliers: str, tukey_k: float, outlier_log: bool) -> np.ndarray:
    """Tukey fences into ``er``; outliers counted ("flag") or clipped ("winsorise")."""
    use_log = outlier_log
    if use_log and (vals[np.isfinite(vals)] <= 0).any():
        use_log = False
        er.warnings.append("values <= 0 present: Tukey fences computed on the values, not on log10 values")
    er.fences = tukey_fences(vals, tukey_k, log=use_log)
    if outliers == "winsorise":
        vals, er.outliers_low, er.outliers_high = winsorise(vals, tukey_k, log=use_log)
    else:
        low, high = flag_outliers(vals, tukey_k, log=use_log)
        er.outliers_low, er.outliers_high = int(low.sum()), int(high.sum())
    return vals


def read_geochem(
    path: str | Path,
    elements: Sequence[str] | None,
    *,
    x_field: str | None = None,
    y_field: str | None = None,
    crs: object | None = None,
    layer: str | None = None,
    drop_missing_xy: bool = False,
    duplicates: str = "average",
    duplicate_tol: float = 0.0,
    **prepare_kwargs: object,
) -> tuple[PointTable, PrepReport]:
    """Read a geochemistry points file with censored-value handling.

    Args:
        path, x_field, y_field, crs, layer: as :func:`geoprospect.io.points.read_points`.
        elements: element columns (None = every column that is mostly numeric or censored-looking).
        drop_missing_xy: skip (and report) rows without coordinates instead of failing.
        duplicates: "average", "reject", "first" or "error" for samples sharing a location.
        duplicate_tol: distance (map units of the points' CRS) under which samples share a location.
        **prepare_kwargs: passed to :func:`prepare_table` (censored=, fraction=, outliers=, ...).

    Returns:
        (PointTable in the points' own CRS, PrepReport).
    """
    path = Path(path)
    knobs = prepare_kwargs.get("knobs")
    raw = read_raw_points(path, x_field=x_field, y_field=y_field, crs=crs, layer=layer, drop_missing_xy=drop_missing_xy, knobs=knobs)  # type: ignore[arg-type]
    if elements is None:
        elements = [c for c in raw.table.columns if c not in raw.coord_cols and _looks_geochemical(raw.table[c])]
    elements = resolve_elements(raw.table, elements, raw.coord_cols, path, knobs=knobs)  # type: ignore[arg-type]
    df, report = prepare_table(raw.table, elements, path=path, row_numbers=raw.rows, **prepare_kwargs)  # type: ignore[arg-type]
    report.dropped_rows = list(raw.dropped_rows)
    dup = handle_duplicates(raw.xy, df.to_numpy(), raw.rows, method=duplicates, tol=duplicate_tol)
    report.duplicates = {"method": duplicates, "tol": duplicate_tol, "n_groups": dup.n_groups, "n_removed": dup.n_removed, "groups": dup.groups[:20]}
    if dup.n_groups:
        log.info("%s: %d duplicate locations, %d samples removed (%s)", path, dup.n_groups, dup.n_removed, duplicates)
    report.n_rows = len(raw.table)
    table = PointTable(dup.xy, np.asarray(dup.values, dtype=np.float64).reshape(len(dup.xy), -1), list(elements), raw.crs, str(path), dup.rows)
    return table, report


def _looks_geochemical(s: pd.Series) -> bool:
    """Mostly numbers or censored forms ("<0.5", "BDL")."""
    if pd.api.types.is_numeric_dtype(s):
        return True
    t = s.astype("string").fillna("").str.strip()
    t = t[t != ""]
    if t.empty:
        return False
    ok = pd.to_numeric(t, errors="coerce").notna() | t.str.match(r"^<\s*=?\s*[\d.]") | t.str.upper().str.replace(" ", "").isin(["BDL", "ND", "N.D.", "<DL"])
    return bool(ok.mean() >= 0.5)


def write_prepared(
    path: str | Path,
    table: PointTable,
    extra: Mapping[str, np.ndarray] | None = None,
    *,
    x_name: str = "x",
    y_name: str = "y",
) -> Path:
    """Write prepared points atomically: ``.gpkg`` (carries the CRS) or ``.csv`` (x, y columns).

    Columns: ``source_row``, the element values, then ``extra`` columns (factor scores, fuzzy
    scores, anomaly flags as 0/1). A CSV does not carry the CRS: pass the same ``--crs`` when
    reading it back.
    """
    from geoprospect.io.atomic import atomic_path

    path = Path(path)
    data = {"source_row": table.rows}
    data.update({e: table.values[:, j] for j, e in enumerate(table.elements)})
    for k, v in (extra or {}).items():
        v = np.asarray(v)
        data[k] = v.astype(np.int8) if v.dtype == bool else v
    df = pd.DataFrame(data)
    suffix = path.suffix.lower()
    if suffix == ".gpkg":
        import geopandas as gpd

        gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(table.xy[:, 0], table.xy[:, 1]), crs=table.crs.to_wkt())
        with atomic_path(path) as tmp:
            gdf.to_file(tmp, driver="GPKG", layer=path.stem)
    elif suffix == ".csv":
        df.insert(0, y_name, table.xy[:, 1])
        df.insert(0, x_name, table.xy[:, 0])
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False, float_format="%.10g")
    else:
        from geoprospect.errors import OutputError

        raise OutputError(f"unknown output format {suffix!r}", path=path, hint="use .csv or .gpkg")
    return path
