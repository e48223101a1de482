"""Rank averaging of score maps with weights chosen per spatial fold (no held-out deposit chooses them).

Members on different scales (logit margins, probabilities, negative distances) are combined
through their percentile ranks over the evaluation area (ties get their mean rank).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import rankdata

from geoprospect.ensemble.combine import weights_from_scores
from geoprospect.evaluation.metrics import success_rate


def percentile_ranks(score: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Rank of each cell's score within ``area`` scaled to (0, 1] (ties: mean rank); NaN outside."""
    s = np.asarray(score, dtype=np.float64)
    ok = np.asarray(area, dtype=bool) & np.isfinite(s)
    out = np.full(s.shape, np.nan)
    out[ok] = rankdata(s[ok], method="average") / ok.sum()
    return out


def fold_weighted_rank_average(maps: Sequence[np.ndarray], cell_fold: np.ndarray, dep_flat: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Weighted mean of the members' percentile ranks; the cells of fold f use weights from the
    members' success-rate AUC on the deposits of the other folds (``weights_from_scores``).

    Cells with fold -1 (blocks without windows) use weights from all deposits.
    Returns the combined map (NaN outside ``area``) and ``{fold: weights}``.
    """
    R = np.stack([percentile_ranks(m, area) for m in maps])
    dep_fold = cell_fold.ravel()[dep_flat]
    out = np.full(cell_fold.shape, np.nan)
    weights: dict[int, np.ndarray] = {}
    for f in np.unique(cell_fold):
        sel_dep = dep_flat[dep_fold != f] if f >= 0 else dep_flat
        w = weights_from_scores([success_rate(np.where(area, r, np.nan), sel_dep).auc for r in R])
        weights[int(f)] = w
        cells = (cell_fold == f) & area
        out[cells] = np.tensordot(w, R[:, cells], axes=1)
    return out, weights


def fold_stacked(maps: Sequence[np.ndarray], cell_fold: np.ndarray, dep_flat: np.ndarray, area: np.ndarray, C: float = 1.0) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Stacking: a logistic regression on the members' percentile ranks, one per fold, fitted on
    the cells of the other folds (label: the cell holds a deposit) and applied to the fold's cells.

    Returns the combined map (decision function, NaN outside ``area``) and ``{fold: coefficients}``.
    Cells with fold -1 use a model fitted on all folds.
    """
    from sklearn.linear_model import LogisticRegression

    R = np.stack([percentile_ranks(m, area) for m in maps])
    ok = area & np.all(np.isfinite(R), axis=0)
    y = np.zeros(cell_fold.size, dtype=np.int64)
    y[np.asarray(dep_flat, dtype=np.int64)] = 1
    y = y.reshape(cell_fold.shape)
    out = np.full(cell_fold.shape, np.nan)
    coefs: dict[int, np.ndarray] = {}
    for f in np.unique(cell_fold):
        tr = ok & ((cell_fold != f) if f >= 0 else True)
        te = ok & (cell_fold == f)
        if not te.any() or y[tr].sum() == 0:
            continue
        lr = LogisticRegression(C=C, max_iter=1000).fit(R[:, tr].T, y[tr])
        coefs[int(f)] = lr.coef_.ravel()
        out[te] = lr.decision_function(R[:, te].T)
    return out, coefs


def fold_selected_rank_average(maps: Sequence[np.ndarray], cell_fold: np.ndarray, dep_flat: np.ndarray, area: np.ndarray, steps: int = 10) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Ensemble selection (Caruana et al. 2004) per fold: starting from nothing, add (with
    replacement) the member whose inclusion most raises the success-rate AUC of the rank average
    on the other folds' deposits, ``steps`` times; the fold's cells get that weighted average.

    A weak member is simply never picked, unlike fixed weights from scores.
    Returns the combined map and ``{fold: weights}`` (counts / steps).
    """
    R = np.stack([np.where(area, percentile_ranks(m, area), np.nan) for m in maps])
    dep_fold = cell_fold.ravel()[dep_flat]
    out = np.full(cell_fold.shape, np.nan)
    weights: dict[int, np.ndarray] = {}
    for f in np.unique(cell_fold):
        d = dep_flat[dep_fold != f] if f >= 0 else dep_flat
        counts = np.zeros(len(maps))
        acc = np.zeros(cell_fold.shape)
        for _ in range(steps):
            best, best_auc = 0, -1.0
            for i in range(len(maps)):
                auc = success_rate((acc + R[i]) / (counts.sum() + 1), d).auc
                if auc > best_auc + 1e-12:
                    best, best_auc = i, auc
            counts[best] += 1
            acc = acc + R[best]
        w = counts / counts.sum()
        weights[int(f)] = w
        cells = (cell_fold == f) & area
        out[cells] = np.tensordot(w, R[:, cells], axes=1)
    return out, weights
