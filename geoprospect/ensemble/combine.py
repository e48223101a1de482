"""Combining the deposit probabilities of M models (paper 003's five rules).

Inputs are (M, ...) arrays of member probabilities (NaN where a member did not score a cell).
Averages return probabilities; votes return class labels: 1 = ore-bearing, 0 = not, and
``REFUSE`` (-1) where a majority vote finds no majority or where no member scored the cell.
"""

from __future__ import annotations

import warnings
from typing import Literal, Sequence

import numpy as np

from geoprospect.errors import ModelError

REFUSE = -1
Rule = Literal["simple_average", "weighted_average", "majority_vote", "plurality_vote", "weighted_vote"]
RULES: tuple[str, ...] = ("simple_average", "weighted_average", "majority_vote", "plurality_vote", "weighted_vote")


def _members(probs: np.ndarray) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim < 2 or p.shape[0] < 1:
        raise ModelError(f"an ensemble needs an (M, ...) array of member probabilities, got shape {p.shape}")
    return p


def _weights(weights: Sequence[float] | np.ndarray, m: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size != m:
        raise ModelError(f"{w.size} weights for {m} ensemble members")
    if np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ModelError(f"ensemble weights must be finite, >= 0 and not all 0, got {w.tolist()}")
    return w


def simple_average(probs: np.ndarray) -> np.ndarray:
    """Mean member probability per cell (NaN members skipped; NaN where none scored)."""
    p = _members(probs)
    n = np.isfinite(p).sum(0)
    s = np.nansum(p, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def weighted_average(probs: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """Weighted mean member probability (weights renormalised over the members present)."""
    p = _members(probs)
    w = _weights(weights, p.shape[0]).reshape((-1,) + (1,) * (p.ndim - 1))
    ok = np.isfinite(p)
    ws = np.where(ok, w, 0.0).sum(0)
    s = np.where(ok, p * w, 0.0).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ws > 0, s / np.where(ws > 0, ws, 1.0), np.nan)


def _votes(probs: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    p = _members(probs)
    ok = np.isfinite(p)
    yes = (ok & (p >= threshold)).sum(0)
    no = (ok & (p < threshold)).sum(0)
    return yes, no


def majority_vote(probs: np.ndarray, threshold: float = 0.5, quota: float = 0.5) -> np.ndarray:
    """A class wins only with more than ``quota`` of the members' votes; otherwise REFUSE (-1)."""
    yes, no = _votes(probs, threshold)
    m = _members(probs).shape[0]
    need = quota * m
    out = np.full(yes.shape, REFUSE, dtype=np.int64)
    out[yes > need] = 1
    out[no > need] = 0
    return out


def plurality_vote(probs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The class with the most votes; a tie goes to the class the mean probability favours."""
    yes, no = _votes(probs, threshold)
    mean = simple_average(probs)
    out = np.where(yes > no, 1, np.where(no > yes, 0, (mean >= threshold).astype(np.int64))).astype(np.int64)
    out[(yes + no) == 0] = REFUSE
    return out


def weighted_vote(probs: np.ndarray, weights: Sequence[float], threshold: float = 0.5) -> np.ndarray:
    """Each member's vote counts its weight; the heavier class wins (ties: ore-bearing)."""
    p = _members(probs)
    w = _weights(weights, p.shape[0]).reshape((-1,) + (1,) * (p.ndim - 1))
    ok = np.isfinite(p)
    yes = np.where(ok & (p >= threshold), w, 0.0).sum(0)
    no = np.where(ok & (p < threshold), w, 0.0).sum(0)
    out = (yes >= no).astype(np.int64)
    out[~ok.any(0)] = REFUSE
    return out


def spread(probs: np.ndarray) -> np.ndarray:
    """Uncertainty layer: standard deviation of the member probabilities per cell (population, ddof=0)."""
    p = _members(probs)
    n = np.isfinite(p).sum(0)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells: NaN, as wanted
        d = p - np.nanmin(p, axis=0)  # shifted by a member's own value: members that agree give exactly 0
        mu = simple_average(d)
        var = np.nansum((d - mu) ** 2, axis=0) / np.maximum(n, 1)
    return np.where(n > 0, np.sqrt(var), np.nan)


def weights_from_scores(scores: Sequence[float], floor: float = 0.5) -> np.ndarray:
    """Weights from validation scores (e.g. ROC AUC): ``max(score - floor, 0)``, normalised.

    With AUC, ``floor=0.5`` gives a model no better than chance no weight. If every score is at
    or below the floor the weights are equal.
    """
    s = np.asarray(scores, dtype=np.float64)
    w = np.clip(np.nan_to_num(s - floor, nan=0.0), 0.0, None)
    if w.sum() <= 0:
        w = np.ones_like(s)
    return w / w.sum()


def combine(probs: np.ndarray, rule: Rule, *, weights: Sequence[float] | None = None, threshold: float = 0.5) -> np.ndarray:
    """Apply one named rule. Averages return probabilities, votes return labels (1/0/REFUSE)."""
    if rule == "simple_average":
        return simple_average(probs)
    if rule == "majority_vote":
        return majority_vote(probs, threshold)
    if rule == "plurality_vote":
        return plurality_vote(probs, threshold)
    if rule in ("weighted_average", "weighted_vote"):
        if weights is None:
            raise ModelError(f"the {rule} rule needs weights", hint="derive them from validation scores with weights_from_scores")
        return weighted_average(probs, weights) if rule == "weighted_average" else weighted_vote(probs, weights, threshold)
    raise ModelError(f"unknown ensemble rule {rule!r}", hint=f"choose one of: {', '.join(RULES)}")
