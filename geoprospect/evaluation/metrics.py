"""Window classification metrics and deposit-capture (success-rate) measures.

Classification metrics come from scikit-learn. Deposit capture ranks map cells by score and
asks which fraction of known deposits falls in the top fraction of the area. Cells with equal
scores are one tie group: deposits in a tie group are counted as spread evenly over its area
(the expectation over random tie-breaking), so saturated scores cannot flatter a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from geoprospect.grid import GridSpec


def window_metrics(y_true: np.ndarray, prob: np.ndarray, threshold: float = 0.5, ranking: np.ndarray | None = None) -> dict:
    """accuracy, precision, recall, F1 (positive class and macro) of ``prob`` at ``threshold``;
    ROC AUC and average precision of ``ranking`` (default ``prob``: out of fold, the scores
    pooled on one scale, :attr:`~geoprospect.windows.folds.OutOfFold.ranking`); confusion matrix."""
    y_true = np.asarray(y_true, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float64)
    rank = prob if ranking is None else np.asarray(ranking, dtype=np.float64)
    y_pred = (prob >= threshold).astype(np.int64)
    out = {
        "n": int(y_true.size),
        "n_positive": int(y_true.sum()),
        "threshold": threshold,
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(skm.recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0)),
        "f1_macro": float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist(),
    }
    out["roc_auc"] = float(skm.roc_auc_score(y_true, rank)) if 0 < y_true.sum() < y_true.size else None
    out["average_precision"] = float(skm.average_precision_score(y_true, rank)) if 0 < y_true.sum() < y_true.size else None
    out["per_class"] = per_class_metrics(y_true, y_pred, labels=[0, 1], names=["background", "deposit"])
    out["precision_macro"] = float(skm.precision_score(y_true, y_pred, average="macro", zero_division=0))
    out["recall_macro"] = float(skm.recall_score(y_true, y_pred, average="macro", zero_division=0))
    return out


def per_class_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[int] | None = None, names: list[str] | None = None) -> dict:
    """Precision, recall, F1 and support of every class (any number of classes, as paper 004's 8).

    Returns ``{class name: {precision, recall, f1, support}}`` plus ``"macro"`` (unweighted means)
    and ``"confusion_matrix"`` (rows = true class, columns = predicted class).
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if labels is None:
        labels = sorted(set(np.unique(y_true).tolist()) | set(np.unique(y_pred).tolist()))
    names = [str(v) for v in labels] if names is None else list(names)
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out: dict = {n: {"precision": float(pi), "recall": float(ri), "f1": float(fi), "support": int(si)} for n, pi, ri, fi, si in zip(names, p, r, f, s)}
    out["macro"] = {"precision": float(p.mean()), "recall": float(r.mean()), "f1": float(f.mean())}
    out["confusion_matrix"] = skm.confusion_matrix(y_true, y_pred, labels=labels).tolist()
    return out


def roc_points(y_true: np.ndarray, prob: np.ndarray) -> dict:
    """ROC curve points (false positive rate, true positive rate) from scikit-learn, for plots."""
    y_true = np.asarray(y_true, dtype=np.int64)
    if not 0 < y_true.sum() < y_true.size:
        return {"fpr": [], "tpr": []}
    fpr, tpr, _ = skm.roc_curve(y_true, np.asarray(prob, dtype=np.float64))
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist()}


def deposit_flat(grid: GridSpec, deposits_xy: np.ndarray) -> np.ndarray:
    """Flat cell indices (row * width + col) of the deposits inside ``grid``.

    ``deposits_xy``: (N, 2) coordinates in the grid's CRS; deposits outside the grid are left out.
    These are the ``deposit_cells`` of :func:`success_rate` and :func:`deposit_capture`.
    """
    dep = np.asarray(deposits_xy, dtype=np.float64).reshape(-1, 2)
    inside = grid.contains(dep[:, 0], dep[:, 1])
    r, c = grid.rowcol(dep[inside, 0], dep[inside, 1])
    return np.asarray(r, dtype=np.int64) * grid.width + np.asarray(c, dtype=np.int64)


@dataclass
class SuccessRate:
    """Success-rate curve: ``area[k]`` fraction of area vs ``captured[k]`` fraction of deposits."""

    area: np.ndarray
    captured: np.ndarray
    n_deposits: int
    n_cells: int
    thresholds: np.ndarray | None = None  # score at each step (descending), len(area) - 1
    tied_fraction: float = 0.0  # fraction of cells sharing their score with another cell

    def capture_at(self, fraction: float) -> float:
        """Fraction of deposits inside the top ``fraction`` of the area (ties spread evenly)."""
        return float(np.interp(fraction, self.area, self.captured))

    @property
    def auc(self) -> float:
        """Area under the success-rate curve (0.5 = random, 1 = perfect)."""
        return float(np.trapezoid(self.captured, self.area)) if hasattr(np, "trapezoid") else float(np.trapz(self.captured, self.area))


def success_rate(scores: np.ndarray, deposit_cells: np.ndarray) -> SuccessRate:
    """Success-rate curve of a score map.

    Args:
        scores: map of scores (any shape); NaN cells are outside the study area.
        deposit_cells: flat indices (into ``scores.ravel()``) of the cells holding deposits;
            a cell may appear more than once (several deposits).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    valid = np.isfinite(s)
    dep = np.asarray(deposit_cells, dtype=np.int64).ravel()
    dep = dep[valid[dep]]
    if dep.size == 0 or not valid.any():
        return SuccessRate(np.array([0.0, 1.0]), np.array([0.0, 0.0]), 0, int(valid.sum()))
    sv = s[valid]
    # unique scores, descending, with cell counts and deposit counts per tie group
    uniq, inv, cell_counts = np.unique(-sv, return_inverse=True, return_counts=True)
    dep_counts = np.bincount(inv[np.searchsorted(np.flatnonzero(valid), dep)], minlength=uniq.size)
    area = np.concatenate([[0.0], np.cumsum(cell_counts) / sv.size])
    captured = np.concatenate([[0.0], np.cumsum(dep_counts) / dep.size])
    tied = float(cell_counts[cell_counts > 1].sum() / sv.size)
    return SuccessRate(area, captured, int(dep.size), int(sv.size), -uniq, tied)


def deposit_area_ranks(scores: np.ndarray, deposit_cells: np.ndarray) -> np.ndarray:
    """Each deposit's share of the ranked area scoring above it, ties counted half: the midpoint of
    its tie group on the success-rate curve's area axis. ``(n,)`` in the order of ``deposit_cells``,
    NaN for a deposit on an unranked (NaN) cell. ``1 - mean`` is :func:`success_rate`'s trapezoid
    AUC exactly (integrating the curve by parts), so per-deposit differences between two maps add
    up to the difference of their AUCs."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    dep = np.asarray(deposit_cells, dtype=np.int64).ravel()
    out = np.full(dep.size, np.nan)
    valid = np.isfinite(s)
    ok = valid[dep]
    if not ok.any():
        return out
    sv = s[valid]
    uniq, inv, counts = np.unique(-sv, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts) / sv.size  # area ranked down to the end of each tie group
    g = inv[np.searchsorted(np.flatnonzero(valid), dep[ok])]
    out[ok] = upper[g] - counts[g] / (2.0 * sv.size)
    return out


def paired_block_bootstrap(a: np.ndarray, b: np.ndarray, clusters: np.ndarray, *, draws: int = 2000, seed: int = 0) -> dict:
    """Difference of two success-rate AUCs on the same deposits, with a 95 % interval from
    resampling whole clusters (the spatial blocks holding deposits: their deposits share a fold
    model and a neighbourhood, so they are not independent draws).

    Args:
        a, b: ``(layouts, n)`` :func:`deposit_area_ranks` of two maps (each layout's maps rank
            the same ``n`` deposits); the difference is AUC(a) - AUC(b), averaged over the layouts.
        clusters: ``(n,)`` cluster id of each deposit.
    Returns ``{"difference", "low", "high", "clusters", "draws"}``.

    Written here because scikit-learn and scipy.stats.bootstrap resample single observations, not
    clusters of them."""
    diff = np.atleast_2d(np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64))
    n = np.isfinite(diff).sum(axis=0)
    d = np.where(n > 0, np.nansum(diff, axis=0) / np.maximum(n, 1), np.nan)  # layout mean; NaN where no layout ranked the deposit
    ok = np.isfinite(d)
    _, inv = np.unique(np.asarray(clusters).reshape(-1)[ok], return_inverse=True)
    sums, counts = np.bincount(inv, weights=d[ok]), np.bincount(inv).astype(np.float64)
    m = sums.size
    if m == 0:
        return {"difference": None, "low": None, "high": None, "clusters": 0, "draws": 0}
    idx = np.random.default_rng(seed).integers(0, m, size=(draws, m))
    boot = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return {"difference": float(sums.sum() / counts.sum()), "low": float(low), "high": float(high), "clusters": int(m), "draws": int(draws)}


def curve_corners(area: np.ndarray, captured: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A piecewise-linear curve (e.g. a success-rate curve, ``area`` increasing) without the
    points where it runs straight on: the same curve (and the same trapezoid AUC, up to rounding)
    in at most about two points per deposit-holding step, for JSON and figures."""
    a, c = np.asarray(area, dtype=np.float64), np.asarray(captured, dtype=np.float64)
    if a.size <= 2:
        return a, c
    da0, dc0 = a[1:-1] - a[:-2], c[1:-1] - c[:-2]
    da1, dc1 = a[2:] - a[1:-1], c[2:] - c[1:-1]
    bend = np.abs(da0 * dc1 - dc0 * da1) > 1e-12 * np.maximum(np.abs(da0) + np.abs(dc0), 1e-300) * np.maximum(np.abs(da1) + np.abs(dc1), 1e-300)
    keep = np.concatenate([[True], bend, [True]])
    return a[keep], c[keep]


def mean_curve(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The pointwise mean of piecewise-linear curves over [0, 1] (each ``(x, y)``, x increasing),
    on the union of their corners: its trapezoid AUC is the mean of theirs (up to rounding)."""
    x = np.unique(np.concatenate([np.asarray(a, dtype=np.float64) for a, _ in curves]))
    y = np.mean([np.interp(x, a, c) for a, c in curves], axis=0)
    return x, y


@dataclass
class PredictionArea:
    """Prediction-area (P-A) plot of a score map.

    ``threshold[k]``: a score; ``prediction_rate[k]``: fraction of deposits in cells scoring at
    least it; ``area[k]``: fraction of the area scoring at least it. The intersection is where
    ``prediction_rate = 1 - area``: there ``intersection_rate`` of the deposits lie in
    ``1 - intersection_rate`` of the area; ``intersection_threshold`` is the score there, a
    natural high-potential class boundary.
    """

    threshold: np.ndarray
    prediction_rate: np.ndarray
    area: np.ndarray
    intersection_rate: float
    intersection_area: float
    intersection_threshold: float

    @property
    def normalized_density(self) -> float:
        """Prediction rate / occupied area at the intersection (> 1: better than random)."""
        return self.intersection_rate / max(self.intersection_area, 1e-12)


def prediction_area(scores: np.ndarray, deposit_cells: np.ndarray) -> PredictionArea:
    """P-A plot from the success-rate curve (ties spread evenly, as there)."""
    sr = success_rate(scores, deposit_cells)
    a, c = sr.area, sr.captured
    # c(a) + a rises from 0 to 2: find where it crosses 1 (linear between steps)
    g = c + a - 1.0
    k = int(np.searchsorted(g, 0.0))
    k = min(max(k, 1), g.size - 1)
    t = 0.0 if g[k] == g[k - 1] else float(-g[k - 1] / (g[k] - g[k - 1]))
    ia = float(a[k - 1] + t * (a[k] - a[k - 1]))
    ir = float(c[k - 1] + t * (c[k] - c[k - 1]))
    th = sr.thresholds if sr.thresholds is not None and sr.thresholds.size else np.array([np.nan])
    # the crossing may fall inside a tie group, which cannot be split: the threshold is then the
    # score of the group above it (the high class keeps only cells scoring strictly more)
    j = k - 1 if (t >= 1.0 or k < 2) else k - 2
    ithr = float(th[min(j, th.size - 1)])
    return PredictionArea(th, c[1:], a[1:], ir, ia, ithr)


def deposit_capture(scores: np.ndarray, deposit_cells: np.ndarray, fractions: tuple[float, ...] = (0.05, 0.1, 0.2)) -> dict:
    """Headline deposit figures: capture in the top fractions of the area and success-rate AUC."""
    sr = success_rate(scores, deposit_cells)
    out = {"n_deposits": sr.n_deposits, "n_cells": sr.n_cells, "success_rate_auc": sr.auc if sr.n_deposits else None, "tied_cell_fraction": sr.tied_fraction}
    for f in fractions:
        out[f"capture_top_{int(round(f * 100))}pct"] = sr.capture_at(f) if sr.n_deposits else None
    if sr.n_deposits:
        pa = prediction_area(scores, deposit_cells)
        out["pa_intersection"] = {"deposits": pa.intersection_rate, "area": pa.intersection_area, "threshold": pa.intersection_threshold, "normalized_density": pa.normalized_density}
    return out
