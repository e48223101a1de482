"""Value transforms: log10, centred log-ratio (clr) and z-scores (papers 001, 002, 004)."""

from __future__ import annotations

import numpy as np

from geoprospect.errors import ConstantElementError, TransformError


def log10(values: np.ndarray, *, names: list[str] | None = None, rows: np.ndarray | None = None,
          path: str | None = None, hint: str | None = None) -> np.ndarray:
    """log10 of (N,) or (N, E) values; NaN stays NaN; a value <= 0 raises TransformError.

    ``rows`` ((N,) the file's 1-based rows) and ``path`` name the first bad value as the user
    sees it; ``hint`` names the option that fixes it in the caller's context.
    """
    v = np.asarray(values, dtype=np.float64)
    bad = np.isfinite(v) & (v <= 0)
    if bad.any():
        idx = np.argwhere(bad)[0]
        col = ""
        if v.ndim == 2 and names is not None:
            col = f" of {names[idx[1]]}"
        first = float(v[tuple(idx)])
        row = int(rows[idx[0]]) if rows is not None and len(rows) else int(idx[0]) + 1
        raise TransformError(
            f"{int(bad.sum())} values{col} are zero or negative (the first, {first:g}, at this row): log10 is undefined",
            path=path, row=row,
            hint=hint or "replace censored values first (censored='half' or 'cohen'), or flag zeros as below detection",
        )
    return np.log10(v)


def clr(values: np.ndarray) -> np.ndarray:
    """Centred log-ratio of compositions: ln(x_ij) − mean_j ln(x_ij), per row (sample).

    ``values`` is (N, E) with E >= 2 parts; a row with any NaN gives NaN (the geometric mean
    of an incomplete composition is not defined); a value <= 0 raises TransformError.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] < 2:
        raise TransformError(f"clr needs (N, E >= 2) values, got shape {v.shape}")
    bad = np.isfinite(v) & (v <= 0)
    if bad.any():
        raise TransformError(
            f"{int(bad.sum())} values <= 0: clr is undefined", hint="replace censored values first"
        )
    ln = np.log(v)
    return ln - ln.mean(axis=1, keepdims=True)


def zscore(values: np.ndarray, *, names: list[str] | None = None, ddof: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise columns: (x − mean) / std, NaN ignored. Returns (z, mean, std).

    Raises ConstantElementError for a column whose standard deviation is 0 (or with < 2 values).
    """
    v = np.asarray(values, dtype=np.float64)
    two_d = v.ndim == 2
    v2 = v if two_d else v[:, None]
    mean = np.nanmean(v2, axis=0)
    n = np.isfinite(v2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.nanstd(v2, axis=0, ddof=ddof) if (n > ddof).all() else np.zeros(v2.shape[1])
    bad = ~(std > 0)
    if bad.any():
        j = int(np.argmax(bad))
        name = names[j] if names else f"column {j}"
        raise ConstantElementError(
            f"{name} is constant (or has fewer than 2 values): it cannot be standardised",
            hint="drop it from the element list",
        )
    z = (v2 - mean) / std
    return (z if two_d else z[:, 0]), mean, std
