"""k-fold cross-validation of a window model on a stack: out-of-fold scores, metrics, map.

Each fold trains a fresh model (a CNN or a scikit-learn baseline, through
:func:`geoprospect.training.fit.fit`, the same entry point as ``train`` and ``run``) on the
fold's training windows and scores its test windows; the out-of-fold window scores give the
window metrics (scikit-learn) and, blended to full resolution, the deposit capture of every
deposit by a model that never saw it (spatial folds) -- or, on request, a random split, which
every output labels "random (windows overlap: optimistic)".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np

from geoprospect.device import resolve_device
from geoprospect.evaluation.metrics import deposit_capture, window_metrics
from geoprospect.io.rasters import Stack
from geoprospect.models.baselines import scoring_batch
from geoprospect.prediction.fullres import FullResMap, blend_windows
from geoprospect.prediction.score import score_batches
from geoprospect.prediction.sources import memory_batches
from geoprospect.training.config import TrainConfig
from geoprospect.training.fit import fit
from geoprospect.windows.dataset import WindowDataset, normalise_stack
from geoprospect.windows.folds import REFERENCE_WINDOWS, CVSplit, OutOfFold, cross_val_scores, deposit_pixels, fold_geometry, make_folds

log = logging.getLogger(__name__)


@dataclass
class CVResult:
    metrics: dict
    oof: OutOfFold
    fullres: FullResMap
    split: CVSplit
    histories: list[list[dict]]


def torch_fit_score(stack: Stack, row_off: np.ndarray, col_off: np.ndarray, labels: np.ndarray, size: int, model: str, train_cfg: TrainConfig, histories: list | None = None,
                    models: list | None = None, weights: np.ndarray | None = None):
    """A fit-and-score function training ``model`` per fold through :func:`geoprospect.training.fit.fit`
    (z-scores from the stack statistics); CNNs and scikit-learn baselines alike. With ``models``
    given, each fold's trained model is appended to it as ``(k, model)``; ``weights``: per-sample
    weights (soft labels, :mod:`geoprospect.windows.cells`)."""

    norm = normalise_stack(stack)
    offsets = np.column_stack([row_off, col_off])
    dev = resolve_device(train_cfg.device)

    def fit_score(tr, te, k):
        net, h = fit(model, WindowDataset(norm, offsets[tr], size, labels[tr], weights=None if weights is None else weights[tr]), train_cfg)
        if histories is not None:
            histories.append(h.rows)
        if models is not None:
            models.append((int(k), net))
        s = score_batches(net, memory_batches(norm, offsets[te], size, scoring_batch(net, norm.shape[0] * size * size, 256), crop=train_cfg.crop), (te.size,), dev)
        return s.prob, s.margin

    return fit_score


def cross_validate(
    stack: Stack,
    windows: gpd.GeoDataFrame,
    deposits_xy: np.ndarray,
    *,
    model: str | None = None,
    train_cfg: TrainConfig | None = None,
    k: int = 5,
    kind: Literal["spatial", "random"] = "spatial",
    block_size: int | None = None,
    buffer: int | None = None,
    seed: int = 0,
    fit_score=None,
) -> CVResult:
    """Cross-validate a window model over every window of ``windows`` (its own split ignored).

    Returns out-of-fold metrics: ``windows`` (pooled out-of-fold window metrics: thresholded ones
    of the fold models' own probabilities, ROC AUC and average precision of the pooled ranking),
    ``deposits`` (capture of all deposits on the blended full-resolution out-of-fold map, ranked
    by the pooled ranking: each fold's margins z-scored against its model's training windows), ``folds`` (per-fold window ROC AUC) and ``cv`` (how folds were made).
    """
    train_cfg = train_cfg or TrainConfig(seed=seed)
    model = model or train_cfg.model
    size = int(windows["size"].iloc[0])
    ro = windows["row_off"].to_numpy()
    co = windows["col_off"].to_numpy()
    y = windows["label"].to_numpy().astype(np.int64)
    fro, fco, fsize, buffer = fold_geometry(windows, buffer)
    split = make_folds(fro, fco, fsize, stack.grid.shape, kind=kind, k=k, block_size=block_size, buffer=buffer, seed=seed, labels=y, deposits_rc=deposit_pixels(stack.grid, deposits_xy))
    histories: list[list[dict]] = []
    fs = fit_score or torch_fit_score(stack, ro, co, y, size, model, train_cfg, histories)
    oof = cross_val_scores(split, ro.size, fs, reference=REFERENCE_WINDOWS, seed=seed)
    fmap = blend_windows(stack.grid, ro, co, size, oof.prob, oof.ranking, valid=stack.valid)
    from geoprospect.evaluation.metrics import deposit_flat

    dep = deposit_flat(stack.grid, deposits_xy)
    ok = np.isfinite(oof.prob)
    per_fold = []
    for f in split.folds:
        yt, pt = y[f.test], oof.prob[f.test]
        per_fold.append({"fold": f.k, "test": int(f.test.size), "train": int(f.train.size), "excluded": int(f.excluded.size), "positives": int(yt.sum()), "roc_auc": window_metrics(yt, pt)["roc_auc"] if f.test.size else None})
    metrics: dict = {
        "cv": split.describe(),
        "model": model,
        "windows": window_metrics(y[ok], oof.prob[ok], ranking=oof.ranking[ok]),
        "deposits": deposit_capture(fmap.margin, dep),
        "folds": per_fold,
    }
    log.info("%s CV (%s): window ROC AUC %.3f; deposits top 10%% %.0f%%", model, split.label, metrics["windows"]["roc_auc"] or float("nan"), 100 * (metrics["deposits"]["capture_top_10pct"] or 0))
    return CVResult(metrics, oof, fmap, split, histories)
