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


def window_metrics(y_true: np.ndarray, prob: np.ndarray, threshold: float = 0.5) -> dict:
    """accuracy, precision, recall, F1 (positive class and macro), ROC AUC, confusion matrix."""
    y_true = np.asarray(y_true, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float64)
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
    out["roc_auc"] = float(skm.roc_auc_score(y_true, prob)) if 0 < y_true.sum() < y_true.size else None
    return out


@dataclass
class SuccessRate:
    """Success-rate curve: ``area[k]`` fraction of area vs ``captured[k]`` fraction of deposits."""

    area: np.ndarray
    captured: np.ndarray
    n_deposits: int
    n_cells: int

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
    return SuccessRate(area, captured, int(dep.size), int(sv.size))


def deposit_capture(scores: np.ndarray, deposit_cells: np.ndarray, fractions: tuple[float, ...] = (0.05, 0.1, 0.2)) -> dict:
    """Headline deposit figures: capture in the top fractions of the area and success-rate AUC."""
    sr = success_rate(scores, deposit_cells)
    out = {"n_deposits": sr.n_deposits, "n_cells": sr.n_cells, "success_rate_auc": sr.auc if sr.n_deposits else None}
    for f in fractions:
        out[f"capture_top_{int(round(f * 100))}pct"] = sr.capture_at(f) if sr.n_deposits else None
    return out
