"""Outliers by Tukey's fences (paper 004: "identification of outliers using the Tukey box").

Fences are Q1 − k·IQR and Q3 + k·IQR (k = 1.5 for "outliers", 3 for "far out"), computed on the
values or on their log10 (geochemical data are usually log-normal: ``log=True``).
"""

from __future__ import annotations

import numpy as np

from geoprospect.errors import ParameterError, TransformError


def tukey_fences(values: np.ndarray, k: float = 1.5, *, log: bool = False) -> tuple[float, float]:
    """(lower, upper) Tukey fences of the finite values, in the values' own units.

    With ``log=True`` the fences are computed on log10 values and returned back-transformed.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 4:
        raise TransformError(f"Tukey fences need at least 4 values, got {v.size}")
    if k <= 0:
        raise ParameterError(f"Tukey fence multiplier k must be positive, got {k}", hint="--tukey-k 1.5 (outliers) or 3 (far out)")
    if log:
        if (v <= 0).any():
            raise TransformError(
                f"{int((v <= 0).sum())} values are <= 0: fences on log10 values are impossible",
                hint="replace censored values first, or use log=False",
            )
        v = np.log10(v)
    q1, q3 = np.percentile(v, [25, 75])
    iqr = q3 - q1
    lo, hi = q1 - k * iqr, q3 + k * iqr
    if log:
        return float(10.0**lo), float(10.0**hi)
    return float(lo), float(hi)


def flag_outliers(values: np.ndarray, k: float = 1.5, *, log: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (low, high) of values outside the Tukey fences; NaN is never flagged."""
    v = np.asarray(values, dtype=np.float64)
    lo, hi = tukey_fences(v, k, log=log)
    with np.errstate(invalid="ignore"):
        return v < lo, v > hi


def winsorise(values: np.ndarray, k: float = 1.5, *, log: bool = False) -> tuple[np.ndarray, int, int]:
    """Values clipped to the Tukey fences; returns (clipped, n_low, n_high). NaN stays NaN."""
    v = np.asarray(values, dtype=np.float64)
    lo, hi = tukey_fences(v, k, log=log)
    low, high = flag_outliers(v, k, log=log)
    out = v.copy()
    out[low] = lo
    out[high] = hi
    return out, int(low.sum()), int(high.sum())
