"""Candidate models for the comparison: each maps (Context, train mask, seed) -> a score map.

A candidate sees evidence everywhere (unsupervised), labels only on its training cells, and
returns a continuous score (logit / decision function) for every cell of the grid. Candidates
with hyper-parameters choose them by inner spatial CV on the training folds only
(``Context.inner``), never on the outer test fold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import uniform_filter

from geoprospect.evaluation.metrics import deposit_capture


@dataclass
class Context:
    """What a candidate may use in one outer fold."""

    Z: np.ndarray  # (C, H, W) float32 standardised evidence, 0 where no data
    area: np.ndarray  # (H, W) bool
    deposits: np.ndarray  # flat indices of ALL deposits; use only those in the training mask
    inner: list = field(default_factory=list)  # [(train mask, test mask)] inside the outer training folds
    bands: list = field(default_factory=list)

    def labels(self, train: np.ndarray) -> np.ndarray:
        """(H, W) float: deposits per cell, training cells only (0 elsewhere)."""
        y = np.bincount(self.deposits, minlength=train.size).reshape(train.shape).astype(np.float64)
        return np.where(train, y, 0.0)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def score_quality(score: np.ndarray, mask: np.ndarray, deposits: np.ndarray) -> float:
    """Selection criterion for nested CV: mean of success-rate AUC and top-10 % capture on ``mask``."""
    d = deposits[mask.ravel()[deposits]]
    if d.size == 0:
        return float("nan")
    r = deposit_capture(np.where(mask, score, np.nan), d)
    return 0.5 * (r["success_rate_auc"] + r["capture_top_10pct"])


def nested_choice(ctx: Context, fit, grid: list, seed: int) -> tuple[object, list[float]]:
    """Pick the hyper-parameter of ``grid`` with the best pooled inner out-of-fold criterion."""
    scores = []
    # inner splits whose training or test part holds fewer than 2 / 1 deposits cannot score a choice
    usable = [(tr, te) for tr, te in ctx.inner if tr.ravel()[ctx.deposits].sum() >= 2 and te.ravel()[ctx.deposits].sum() >= 1]
    if not usable:
        return grid[len(grid) // 2], []
    for hp in grid:
        pooled = np.full(ctx.area.shape, np.nan)
        mask = np.zeros(ctx.area.shape, bool)
        for tr, te in usable:
            s = fit(ctx, tr, seed, hp)
            pooled[te] = s[te]
            mask |= te
        scores.append(score_quality(pooled, mask, ctx.deposits))
    return grid[int(np.nanargmax(scores))], scores


# ------------------------------------------------------------------ per-cell features
def cell_features(ctx: Context, scales: tuple[int, ...] = ()) -> np.ndarray:
    """(H*W, F): the cell's bands, plus mean and std over square neighbourhoods of ``scales`` cells."""
    feats = [ctx.Z]
    for s in scales:
        m = np.stack([uniform_filter(b, s, mode="nearest") for b in ctx.Z])
        m2 = np.stack([uniform_filter(b * b, s, mode="nearest") for b in ctx.Z])
        feats += [m, np.sqrt(np.maximum(m2 - m * m, 0))]
    F = np.concatenate(feats)
    return F.reshape(F.shape[0], -1).T.astype(np.float32)


def _xy(ctx: Context, train: np.ndarray, F: np.ndarray, neg_fraction: float = 1.0, seed: int = 0):
    """Training rows: every deposit cell, and ``neg_fraction`` of the other training cells (seeded)."""
    y = (ctx.labels(train) > 0).ravel()
    idx = np.flatnonzero(train.ravel())
    if neg_fraction < 1.0:
        rng = np.random.default_rng(seed)
        keep = y[idx] | (rng.random(idx.size) < neg_fraction)
        idx = idx[keep]
    return F[idx], y[idx].astype(int)


# ------------------------------------------------------------------ baselines
def best_layer(ctx: Context, train: np.ndarray, seed: int = 0) -> np.ndarray:
    """The single band (and sign) with the best success-rate AUC on the training cells."""
    d = ctx.deposits[train.ravel()[ctx.deposits]]
    best, arg = -1.0, None
    for b in range(ctx.Z.shape[0]):
        for sign in (1.0, -1.0):
            a = deposit_capture(np.where(train, sign * ctx.Z[b], np.nan), d)["success_rate_auc"]
            if a > best:
                best, arg = a, (b, sign)
    b, sign = arg
    ctx.chosen = f"{'-' if sign < 0 else '+'}{ctx.bands[b] if ctx.bands else b}"
    return sign * ctx.Z[b].astype(np.float64)


def logistic(ctx: Context, train: np.ndarray, seed: int = 0, C: float = 1.0, scales=(), splines: bool = False, neg_fraction: float = 1.0) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer, StandardScaler

    F = cell_features(ctx, scales)
    X, y = _xy(ctx, train, F, neg_fraction, seed)
    steps = [StandardScaler()]
    if splines:
        steps.append(SplineTransformer(n_knots=5, degree=3, knots="quantile", extrapolation="constant"))
    est = make_pipeline(*steps, LogisticRegression(C=C, class_weight="balanced", max_iter=2000))
    est.fit(X, y)
    return est.decision_function(F).reshape(ctx.area.shape).astype(np.float64)


def random_forest(ctx: Context, train: np.ndarray, seed: int = 0) -> np.ndarray:
    from sklearn.ensemble import RandomForestClassifier

    F = cell_features(ctx)
    X, y = _xy(ctx, train, F)
    est = RandomForestClassifier(n_estimators=300, min_samples_leaf=5, max_features="sqrt", n_jobs=1, random_state=seed)
    est.fit(X, y)
    return logit(est.predict_proba(F)[:, 1]).reshape(ctx.area.shape)


def balanced_forest(ctx: Context, train: np.ndarray, seed: int = 0, scales=(), min_leaf: int = 1) -> np.ndarray:
    """imbalanced-learn BalancedRandomForest: each tree on a balanced bootstrap (undersampled negatives)."""
    from imblearn.ensemble import BalancedRandomForestClassifier

    F = cell_features(ctx, scales)
    X, y = _xy(ctx, train, F)
    est = BalancedRandomForestClassifier(n_estimators=100, sampling_strategy="all", replacement=True, bootstrap=False, min_samples_leaf=min_leaf, max_features="sqrt", n_jobs=1, random_state=seed)
    est.fit(X, y)
    p = est.predict_proba(F)[:, 1]
    return logit(p).reshape(ctx.area.shape)


# ------------------------------------------------------------------ nested wrappers
def logistic_nbhd_nested(ctx: Context, train: np.ndarray, seed: int = 0) -> np.ndarray:
    """Logistic on cell + mean/std over 3x3 and 7x7; C chosen by inner spatial CV."""
    fit = lambda c, tr, s, C: logistic(c, tr, s, C=C, scales=(3, 7), neg_fraction=0.25)
    C, sc = nested_choice(ctx, fit, [0.003, 0.03, 0.3], seed)
    ctx.chosen = f"C={C}"
    return fit(ctx, train, seed, C)


def logistic_spline_nbhd_nested(ctx: Context, train: np.ndarray, seed: int = 0) -> np.ndarray:
    """Additive (spline) logistic on cell + 3x3/7x7 mean/std; C chosen by inner spatial CV."""
    fit = lambda c, tr, s, C: logistic(c, tr, s, C=C, scales=(3, 7), splines=True, neg_fraction=0.25)
    C, sc = nested_choice(ctx, fit, [0.001, 0.01, 0.1], seed)
    ctx.chosen = f"C={C}"
    return fit(ctx, train, seed, C)


def logistic_soft(ctx: Context, train: np.ndarray, seed: int = 0, C: float = 0.1, scales=(3, 7), radius: float = 1.5) -> np.ndarray:
    """Logistic on cell + 3x3/7x7 mean/std; positives = cells within ``radius`` cells of a training
    deposit, weighted exp(-d²/2σ²) (σ = radius/2), negatives = the other training cells (25 %)."""
    from scipy.ndimage import distance_transform_edt
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    F = cell_features(ctx, scales)
    d = distance_transform_edt(~(ctx.labels(train) > 0))
    soft = np.where(train & (d <= radius), np.exp(-(d**2) / (2 * (radius / 2) ** 2)), 0.0).ravel()
    idx = np.flatnonzero(train.ravel())
    rng = np.random.default_rng(seed)
    idx = idx[(soft[idx] > 0) | (rng.random(idx.size) < 0.25)]
    y = (soft[idx] > 0).astype(int)
    w = np.where(y == 1, soft[idx], 1.0)
    w = np.where(y == 1, w / w[y == 1].sum(), 1.0 / max((y == 0).sum(), 1)) * idx.size / 2
    est = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
    est.fit(F[idx], y, logisticregression__sample_weight=w)
    return est.decision_function(F).reshape(ctx.area.shape).astype(np.float64)


def logistic_soft_nested(ctx: Context, train: np.ndarray, seed: int = 0) -> np.ndarray:
    """logistic_soft with C and the label radius chosen by inner spatial CV."""
    grid = [(0.01, 1.5), (0.01, 3.0), (0.3, 1.5), (0.3, 3.0)]
    fit = lambda c, tr, s, hp: logistic_soft(c, tr, s, C=hp[0], radius=hp[1])
    hp, sc = nested_choice(ctx, fit, grid, seed)
    ctx.chosen = f"C={hp[0]},r={hp[1]}"
    return fit(ctx, train, seed, hp)
