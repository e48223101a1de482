"""The one training entry point: :func:`fit` (``geoprospect train``, ``run`` and cross-validation call it).

``fit(model, train_ds, cfg)`` builds the model when given a name (seeded: ``seed_everything(cfg.seed)``
right before :func:`~geoprospect.models.registry.build_model`, so the initial weights repeat),
applies ``cfg``'s augmentation to the windows, and trains it: by gradient descent
(:func:`geoprospect.training.loop.train_torch`) for networks, by the estimator's own ``fit`` for
the scikit-learn baselines (:class:`~geoprospect.models.baselines.SklearnModel`, fitted on the
windows as the scoring core will see them: centre-cropped when ``cfg.crop`` is set).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from geoprospect.device import seed_everything
from geoprospect.errors import ConfigError, InputError
from geoprospect.models.baselines import SklearnModel, scoring_batch
from geoprospect.models.checkpoint import ModelMeta
from geoprospect.models.registry import build_model
from geoprospect.training.config import TrainConfig
from geoprospect.training.history import History, write_history
from geoprospect.training.loop import CURVES, subset, train_torch
from geoprospect.windows.augment import WindowAugment
from geoprospect.windows.dataset import WindowDataset

log = logging.getLogger(__name__)


def augment(cfg: TrainConfig) -> WindowAugment | None:
    """The per-iteration augmentation of ``cfg`` (None when it has none)."""
    if not cfg.augmented:
        return None
    return WindowAugment(noise_variance=cfg.noise_variance, flips=cfg.flips, rotations=cfg.rotations, crop=cfg.crop)


def check_crop(cfg: TrainConfig, window_size: int) -> None:
    """ConfigError when ``cfg.crop`` does not fit in ``window_size``-pixel windows."""
    if cfg.crop is not None and cfg.crop > window_size:
        raise ConfigError(f"crop {cfg.crop} is larger than the {window_size}-pixel windows", hint="re-tile with a larger --size (windows.size) or choose a smaller --crop (train.crop)")


def _with_transform(ds: WindowDataset | None, cfg: TrainConfig, train: bool) -> WindowDataset | None:
    """``ds`` with ``cfg``'s augmentation (its evaluation form when not ``train``) unless it has a transform."""
    aug = augment(cfg)
    if ds is None or ds.transform is not None or aug is None:
        return ds
    return subset(ds, np.ones(len(ds), dtype=bool), aug if train else aug.eval())


def build(name: str, in_channels: int, window_size: int, cfg: TrainConfig) -> nn.Module:
    """Model ``name`` for ``window_size`` windows (its input is ``cfg.crop`` when set), seeded by ``cfg.seed``."""
    check_crop(cfg, window_size)
    seed_everything(cfg.seed)  # the initial weights too: a seeded run is reproducible in any process
    return build_model(name, in_channels, 2, cfg.crop or window_size, **cfg.options)


def fit(model: str | nn.Module | None, train_ds: WindowDataset, cfg: TrainConfig, *, val_ds: WindowDataset | None = None,
        out_dir: str | Path | None = None, resume: bool = False) -> tuple[nn.Module, History]:
    """Train ``model`` (a registered name, a built model, or None for ``cfg.model``) on ``train_ds``.

    Args:
        train_ds: labelled windows of the z-scored stack (without a transform, ``cfg``'s
            augmentation is applied).
        val_ds: windows to report the validation loss on (and to stop early with
            ``cfg.patience``); without one, early stopping holds out ``cfg.val_fraction``.
        out_dir: folder for ``last.pt`` (after every epoch) and ``curves.csv``.
        resume: continue from ``out_dir/last.pt``.
    Returns:
        the trained model (evaluation mode) and its per-epoch history.
    """
    if train_ds.labels is None or len(train_ds) == 0:
        raise InputError("there are no labelled training windows", hint="check the window index's 'train' split and the deposits")
    check_crop(cfg, train_ds.size)
    if model is None or isinstance(model, str):
        model = build(model or cfg.model, int(train_ds.data.shape[0]), train_ds.size, cfg)
    train_ds = _with_transform(train_ds, cfg, True) or train_ds
    val_ds = _with_transform(val_ds, cfg, False)
    if isinstance(model, SklearnModel):
        hist = fit_baseline(model, train_ds, cfg, val_ds)
        if out_dir:
            write_history(Path(out_dir) / CURVES, hist.rows)
        return model, hist
    return model, train_torch(model, train_ds, cfg, val_ds, out_dir=out_dir, resume=resume)


def _arrays(ds: WindowDataset, idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N, C, h, w) float32 windows ``idx`` (default all) as scored (evaluation transform: centre crop only) and (N,) labels."""
    tf = ds.transform.eval() if isinstance(ds.transform, WindowAugment) else ds.transform
    idx = np.arange(len(ds)) if idx is None else idx
    if ds.labels is None:
        raise InputError("these windows have no labels", hint="label the windows (geoprospect tile) before training a baseline")
    if tf is None:
        x = ds.batch(idx)
    else:
        x = torch.stack([tf(ds.window(int(i))) for i in idx])
    return x.numpy(), ds.labels.numpy()[idx]


def background_subset(labels: np.ndarray, most: int | None, seed: int) -> np.ndarray:
    """Indices of every positive and of at most ``most`` background samples (a seeded random
    subset, in table order); all of them when ``most`` is None or not exceeded."""
    labels = np.asarray(labels)
    bg = np.flatnonzero(labels == 0)
    if most is None or bg.size <= most:
        return np.arange(labels.size)
    keep = np.zeros(labels.size, dtype=bool)
    keep[labels != 0] = True
    keep[np.random.default_rng(seed).choice(bg, size=most, replace=False)] = True
    return np.flatnonzero(keep)


def _loss_accuracy(model: SklearnModel, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of a fitted baseline on (N, C, h, w) windows and (N,) labels.

    Scored in :func:`~geoprospect.models.baselines.scoring_batch` chunks, not in
    ``train.batch_size`` batches: a forest pays a fixed cost per call (one joblib dispatch per
    tree), which made batches of 128 take 90 % of a per-cell fit on 55k windows.
    """
    if not len(y):
        return 0.0, 0.0
    step = scoring_batch(model, x[0].size, 1)
    out = torch.from_numpy(np.concatenate([model.logits(x[i:i + step].astype(np.float64)) for i in range(0, len(y), step)]))
    t = torch.from_numpy(np.asarray(y, dtype=np.int64))
    return float(nn.functional.cross_entropy(out, t, reduction="sum")) / len(y), float((out.argmax(1) == t).sum()) / len(y)


def fit_baseline(model: SklearnModel, train_ds: WindowDataset, cfg: TrainConfig, val_ds: WindowDataset | None = None) -> History:
    """Fit a scikit-learn baseline on every training window (one pass; ``random_state = cfg.seed``).

    Augmentation does not apply (no epochs); the history has one row with the training (and
    validation) cross-entropy and accuracy of the fitted model.
    """
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    labels = train_ds.labels.numpy() if train_ds.labels is not None else np.zeros(0, dtype=np.int64)
    idx = background_subset(labels, cfg.max_background, cfg.seed)
    x, y = _arrays(train_ds, idx)
    if idx.size < len(train_ds):
        log.info("%s: fitted on every positive and %d of %d background samples (train.max_background)", model.estimator, int((y == 0).sum()), int((labels == 0).sum()))
    weights = None if train_ds.weights is None else train_ds.weights[idx]
    model.fit_arrays(x, y, random_state=cfg.seed, sample_weight=weights)
    model.eval()
    row: dict[str, Any] = {"epoch": 1}
    row["loss"], row["accuracy"] = _loss_accuracy(model, x, y)
    if val_ds is not None and len(val_ds):
        row["val_loss"], row["val_accuracy"] = _loss_accuracy(model, *_arrays(val_ds))
    log.info("fitted %s (%s) on %d windows: %s", model.estimator, model.features, len(y), " ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch"))
    return History(rows=[row], seconds=time.perf_counter() - t0, device="cpu")


def model_meta(name: str, cfg: TrainConfig, hist: History, *, band_names: Sequence[str], mean: Sequence[float], std: Sequence[float],
               window_size: int, stride: int, grid: dict | None = None, **training: Any) -> ModelMeta:
    """The checkpoint sidecar of a model trained by :func:`fit` (``training`` adds notes to its ``training`` record).

    ``window_size`` stays the tiles' size (prediction uses the labels' window grid); ``input_size``
    records the crop the network was trained on (scored as a centre crop).
    """
    record = {**cfg.model_dump(mode="json"), "history": hist.rows, "seconds": hist.seconds, "device_used": hist.device,
              "best_epoch": hist.best_epoch, "stopped_early": hist.stopped_early, **training}
    return ModelMeta(name, len(band_names), list(band_names), list(mean), list(std), int(window_size), int(stride), input_size=cfg.crop,
                     grid=grid, options=dict(cfg.options), training=record)
