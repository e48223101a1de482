"""Fuzzy memberships and fuzzy overlay operators (knowledge-driven prospectivity, Bonham-Carter 1994 ch. 9).

Memberships map an evidence layer (any shape, float, NaN = nodata) to [0, 1]; the
definitions are those of ArcGIS Spatial Analyst's *Fuzzy Membership* tool:

    linear(low, high):      0 at ``low``, 1 at ``high``, straight in between (low > high: decreasing)
    large(midpoint, f1):    1 / (1 + (x / midpoint) ** -f1)        (large values are favourable)
    small(midpoint, f1):    1 / (1 + (x / midpoint) ** f1)         (small values are favourable)
    gaussian(midpoint, f1): exp(-f1 * (x - midpoint) ** 2)

A parameter left as None is taken from the data: ``low``/``high`` = data min/max,
``midpoint`` = data median; ``spread`` defaults to 5 for large/small and, for gaussian, to
1 / (2 var(x)) (a bell of the data's standard deviation). ``large``/``small`` need a positive
midpoint; x <= 0 gives membership 0 (large) or 1 (small).

Operators combine memberships cell by cell: AND = min, OR = max, algebraic product Π μ,
algebraic sum 1 - Π(1 - μ), gamma = (algebraic sum)^γ · (product)^(1-γ). NaN propagates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from geoprospect.errors import ConfigError, InputError

Membership = Literal["linear", "large", "small", "gaussian"]
Operator = Literal["and", "or", "product", "sum", "gamma"]
MEMBERSHIPS: tuple[str, ...] = ("linear", "large", "small", "gaussian")
OPERATORS: tuple[str, ...] = ("and", "or", "product", "sum", "gamma")


def _finite(x: np.ndarray, what: str) -> np.ndarray:
    v = x[np.isfinite(x)]
    if v.size == 0:
        raise InputError(f"the layer has no data: cannot take the {what} from it", hint="give the parameter explicitly")
    return v


def linear(x: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """0 at ``low``, 1 at ``high`` (defaults: data min and max), linear in between, clipped."""
    x = np.asarray(x, dtype=np.float64)
    low = float(_finite(x, "minimum").min()) if low is None else float(low)
    high = float(_finite(x, "maximum").max()) if high is None else float(high)
    if low == high:
        raise ConfigError(f"linear membership needs low != high, got {low:g} twice", hint="give distinct min and max")
    return np.clip((x - low) / (high - low), 0.0, 1.0)


def _ratio(x: np.ndarray, midpoint: float | None, kind: str) -> tuple[np.ndarray, np.ndarray]:
    m = float(np.median(_finite(x, "median"))) if midpoint is None else float(midpoint)
    if not m > 0:
        raise ConfigError(f"{kind} membership needs a positive midpoint, got {m:g}", hint="give a positive midpoint, or shift/log the layer first")
    r = x / m
    return r, r > 0


def large(x: np.ndarray, midpoint: float | None = None, spread: float = 5.0) -> np.ndarray:
    """1 / (1 + (x/midpoint)^-spread): 0.5 at the midpoint (default: data median), towards 1 above it."""
    x = np.asarray(x, dtype=np.float64)
    r, pos = _ratio(x, midpoint, "large")
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        mu = 1.0 / (1.0 + np.power(np.where(pos, r, 1.0), -float(spread)))
    return np.where(pos, mu, np.where(np.isnan(x), np.nan, 0.0))


def small(x: np.ndarray, midpoint: float | None = None, spread: float = 5.0) -> np.ndarray:
    """1 / (1 + (x/midpoint)^spread): 0.5 at the midpoint (default: data median), towards 1 below it."""
    x = np.asarray(x, dtype=np.float64)
    r, pos = _ratio(x, midpoint, "small")
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        mu = 1.0 / (1.0 + np.power(np.where(pos, r, 1.0), float(spread)))
    return np.where(pos, mu, np.where(np.isnan(x), np.nan, 1.0))


def gaussian(x: np.ndarray, midpoint: float | None = None, spread: float | None = None) -> np.ndarray:
    """exp(-spread (x - midpoint)^2): 1 at the midpoint (default: data median); spread default 1/(2 var)."""
    x = np.asarray(x, dtype=np.float64)
    m = float(np.median(_finite(x, "median"))) if midpoint is None else float(midpoint)
    if spread is None:
        var = float(np.var(_finite(x, "variance")))
        if var == 0:
            raise ConfigError("gaussian membership: the layer is constant, its spread cannot come from the data", hint="give the spread")
        spread = 1.0 / (2.0 * var)
    return np.exp(-float(spread) * (x - m) ** 2)


def percentile(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Data-driven membership: the share of the finite ``reference`` values below ``x`` (ties
    count half), clipped to [0.5/n, 1 - 0.5/n] so no membership is exactly 0 or 1 (a single 0
    would zero every product-based overlay and tie whole areas). NaN stays NaN.

    Used by the out-of-fold fuzzy row of ``run`` (reference = the fold's training-area cells):
    robust to the skewed, outlier-prone geochemical layers, where ``linear`` between the data's
    min and max would squeeze most cells near 0."""
    ref = np.sort(_finite(np.asarray(reference, dtype=np.float64).ravel(), "percentiles"))
    x = np.asarray(x, dtype=np.float64)
    n = ref.size
    mu = (np.searchsorted(ref, x, side="left") + np.searchsorted(ref, x, side="right")) / (2.0 * n)
    return np.where(np.isnan(x), np.nan, np.clip(mu, 0.5 / n, 1.0 - 0.5 / n))


def membership(x: np.ndarray, kind: Membership, p1: float | None = None, p2: float | None = None) -> np.ndarray:
    """Dispatch: ``kind`` in MEMBERSHIPS with its two parameters (linear: low, high; others: midpoint, spread)."""
    if kind == "linear":
        return linear(x, p1, p2)
    if kind == "large":
        return large(x, p1, 5.0 if p2 is None else p2)
    if kind == "small":
        return small(x, p1, 5.0 if p2 is None else p2)
    if kind == "gaussian":
        return gaussian(x, p1, p2)
    raise ConfigError(f"unknown fuzzy membership {kind!r}; use one of: {', '.join(MEMBERSHIPS)}")


def overlay(memberships: Sequence[np.ndarray] | np.ndarray, operator: Operator = "gamma", gamma: float = 0.9) -> np.ndarray:
    """Combine memberships (a sequence of same-shape arrays, or an (n, ...) array) cell by cell.

    Operators: and (min), or (max), product (Π μ), sum (1 - Π(1 - μ)),
    gamma ((1 - Π(1 - μ))^gamma · (Π μ)^(1 - gamma), gamma in [0, 1]). NaN propagates.
    """
    mu = np.asarray(memberships, dtype=np.float64)
    if mu.ndim == 0 or mu.shape[0] == 0:
        raise ConfigError("fuzzy overlay needs at least one membership layer")
    if operator == "and":
        return np.min(mu, axis=0)
    if operator == "or":
        return np.max(mu, axis=0)
    if operator == "product":
        return np.prod(mu, axis=0)
    if operator == "sum":
        return 1.0 - np.prod(1.0 - mu, axis=0)
    if operator == "gamma":
        if not 0.0 <= gamma <= 1.0:
            raise ConfigError(f"gamma must be in [0, 1], got {gamma}", hint="pass --gamma between 0 and 1")
        return (1.0 - np.prod(1.0 - mu, axis=0)) ** gamma * np.prod(mu, axis=0) ** (1.0 - gamma)
    raise ConfigError(f"unknown fuzzy operator {operator!r}; use one of: {', '.join(OPERATORS)}")
