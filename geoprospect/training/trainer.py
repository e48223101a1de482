"""Training a window classifier: class-balanced sampling, SGD or Adam, progress with loss/accuracy.

Also (issue 4): learning-rate schedules and the papers' presets (:mod:`geoprospect.training.presets`),
auxiliary losses of multi-branch models (:func:`geoprospect.models.zoo.compute_loss`), mixed
precision and channels-last on CUDA, early stopping on a validation split, a resumable state
after every epoch (``out_dir/last.pt``, ``resume=True``) and loss/accuracy curves (CSV + PNG).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, WeightedRandomSampler

from geoprospect.device import resolve_device, seed_everything
from geoprospect.models.zoo import compute_loss
from geoprospect.progress import Task
from geoprospect.training.presets import make_scheduler
from geoprospect.training.extras import EarlyStopping, accelerate, load_state, save_state, set_rng_state, write_curves
from geoprospect.windows.dataset import WindowDataset

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Training settings (defaults suit small windows on a CPU)."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: Literal["sgd", "adam"] = "adam"
    momentum: float = 0.9
    weight_decay: float = 1e-4
    balanced: bool = True
    device: str = "auto"
    seed: int = 0
    num_workers: int = 0
    # learning-rate schedule (per epoch): none | step (x gamma every step_epochs) | cosine (-> min_lr)
    scheduler: Literal["none", "step", "cosine"] = "none"
    step_epochs: int = 30
    gamma: float = 0.5
    min_lr: float = 0.0
    # early stopping on the validation loss (0 = off); without a validation set, val_fraction of
    # the training windows is held out at random (stratified) for it
    patience: int = 0
    val_fraction: float = 0.0
    # CUDA only: mixed precision (bf16) and channels-last (None = on when the device is CUDA)
    amp: bool | None = None
    channels_last: bool | None = None
    # folder for last.pt (every epoch) and curves.csv/png; resume from its last.pt
    out_dir: str | None = None
    resume: bool = False
    # cut batches out of a device copy of the stack (None = on CUDA); see windows/device.py
    device_batches: bool | None = None

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "TrainConfig":
        """The optimiser/schedule of a paper preset ("000".."003"), with overrides."""
        from geoprospect.training.presets import get_preset

        p = get_preset(name)
        cfg = cls(epochs=p.epochs, batch_size=p.batch_size, lr=p.lr, optimizer=p.optimizer, momentum=p.momentum,
                  weight_decay=p.weight_decay, balanced=p.balanced_sampling, scheduler=p.scheduler,
                  step_epochs=p.step_epochs, gamma=p.gamma, min_lr=p.min_lr)
        for k, v in overrides.items():
            if not hasattr(cfg, k):
                raise ValueError(f"unknown training setting {k!r}")
            setattr(cfg, k, v)
        return cfg


@dataclass
class History:
    """Per-epoch loss and accuracy (train and, when given, validation)."""

    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"
    best_epoch: int | None = None
    stopped_early: bool = False
    resumed_from: int | None = None


def _make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]  # SKT's source kernels are frozen
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r} (sgd or adam)")


def holdout(ds: WindowDataset, fraction: float, seed: int = 0) -> tuple[WindowDataset, WindowDataset]:
    """Split ``ds`` into (train, validation) with ``fraction`` of each class held out at random.

    Overlapping windows leak across such a split (DESIGN.md decision 6): use it for early
    stopping, not for the figures you report.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    labels = ds.labels.numpy() if ds.labels is not None else np.zeros(len(ds), dtype=np.int64)
    val = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = int(round(len(idx) * fraction))
        if len(idx) > 1 and k == 0:
            k = 1
        val.extend(rng.choice(idx, size=min(k, len(idx) - 1), replace=False).tolist())
    is_val = np.zeros(len(ds), dtype=bool)
    is_val[val] = True

    def sub(mask: np.ndarray, transform) -> WindowDataset:
        out = WindowDataset.__new__(WindowDataset)
        out.data, out.size, out.transform = ds.data, ds.size, transform
        out.offsets = ds.offsets[mask]
        out.labels = None if ds.labels is None else ds.labels[torch.from_numpy(mask)]
        return out

    eval_tf = getattr(ds.transform, "eval", None)
    return sub(~is_val, ds.transform), sub(is_val, eval_tf() if callable(eval_tf) else None)


def _loader(ds: WindowDataset, cfg: TrainConfig, shuffle: bool, gen: torch.Generator) -> DataLoader:
    # a last training batch of one window breaks BatchNorm ("Expected more than 1 value per
    # channel"): drop that remainder (the sampler reshuffles it into the next epoch)
    drop_last = shuffle and len(ds) > cfg.batch_size and len(ds) % cfg.batch_size == 1
    if shuffle and cfg.balanced and ds.labels is not None:
        labels = ds.labels.numpy()
        counts = np.bincount(labels, minlength=2).astype(np.float64)
        w = 1.0 / np.maximum(counts[labels], 1.0)
        sampler = WeightedRandomSampler(torch.as_tensor(w, dtype=torch.double), num_samples=len(ds), replacement=True, generator=gen)
        return DataLoader(ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers, drop_last=drop_last)
    return DataLoader(ds, batch_size=cfg.batch_size, shuffle=shuffle, generator=gen if shuffle else None, num_workers=cfg.num_workers, drop_last=drop_last)


@torch.no_grad()
def evaluate_loss(model: nn.Module, ds: WindowDataset, batch_size: int, device: torch.device, accel=None) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``ds``."""
    model.eval()
    crit = nn.CrossEntropyLoss(reduction="sum")
    loss = correct = n = 0.0
    for x, y in DataLoader(ds, batch_size=batch_size):
        x, y = (accel.to_device(x) if accel is not None else x.to(device)), y.to(device)
        if accel is not None:
            with accel.autocast():
                out = model(x).float()
        else:
            out = model(x)
        loss += float(crit(out, y))
        correct += float((out.argmax(1) == y).sum())
        n += y.numel()
    return loss / max(n, 1), correct / max(n, 1)


def train_model(model: nn.Module, train_ds: WindowDataset, cfg: TrainConfig, val_ds: WindowDataset | None = None) -> History:
    """Train ``model`` in place on ``train_ds``; returns the per-epoch history.

    Positives are rare, so by default each batch is drawn class-balanced (weighted sampling with
    replacement). Seeded: the same seed gives the same model on the CPU, and a run resumed from
    ``cfg.out_dir/last.pt`` continues exactly where it stopped. With ``cfg.patience`` the best
    validation-loss weights are restored at the end.
    """
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    if val_ds is None and cfg.val_fraction > 0:
        train_ds, val_ds = holdout(train_ds, cfg.val_fraction, cfg.seed)
    model.to(device)
    accel = accelerate(model, device, cfg.amp, cfg.channels_last)
    opt = _make_optimizer(model, cfg)
    sched = make_scheduler(opt, cfg)  # the presets' schedules; TrainConfig has the same fields
    crit = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = _loader(train_ds, cfg, shuffle=True, gen=gen)
    from geoprospect.windows import device as _db

    if (device.type == "cuda" if cfg.device_batches is None else cfg.device_batches) and _db.supported(train_ds):
        loader = _db.DeviceBatches(train_ds, loader.sampler, cfg.batch_size, device, gen, drop_last=loader.drop_last)
    early = EarlyStopping(cfg.patience) if cfg.patience > 0 and val_ds is not None and len(val_ds) else None
    hist = History(device=str(device))
    start = 1
    if cfg.resume:
        if not cfg.out_dir:
            raise ValueError("resume needs out_dir (the folder holding last.pt)")
        st = load_state(cfg.out_dir)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        if sched is not None and st["scheduler"] is not None:
            sched.load_state_dict(st["scheduler"])
        if accel.scaler is not None and st["scaler"] is not None:
            accel.scaler.load_state_dict(st["scaler"])
        if early is not None and st["early"] is not None:
            early.load_state_dict(st["early"])
        if st["generator"] is not None:
            gen.set_state(st["generator"])
        set_rng_state(st["rng"])
        hist.rows = list(st["history"])
        start = hist.resumed_from = int(st["epoch"]) + 1
        log.info("resuming after epoch %d from %s", start - 1, cfg.out_dir)
    t0 = time.perf_counter()
    log.info("training on %s: %d windows, %d epochs, batch %d, %s lr %g%s", device, len(train_ds), cfg.epochs, cfg.batch_size, cfg.optimizer, cfg.lr, " (AMP)" if accel.amp else "")
    with Task("train", max(0, cfg.epochs - start + 1) * len(loader), unit="batch") as task:
        for epoch in range(start, cfg.epochs + 1):
            model.train()
            tot_loss = tot_correct = tot_n = 0.0
            for x, y in loader:
                x, y = accel.to_device(x), y.to(device, non_blocking=True)
                opt.zero_grad(set_to_none=True)
                with accel.autocast():
                    # models with auxiliary losses (MFAF, SKT) provide training_loss
                    loss, out = compute_loss(model, x, y, crit)
                accel.backward_step(loss, opt)
                tot_loss += float(loss.detach()) * y.numel()
                tot_correct += float((out.argmax(1) == y).sum())
                tot_n += y.numel()
                task.update(1, message=f"epoch {epoch}/{cfg.epochs}", loss=tot_loss / tot_n, acc=tot_correct / tot_n, epoch=epoch)
            row = {"epoch": epoch, "loss": tot_loss / max(tot_n, 1), "accuracy": tot_correct / max(tot_n, 1), "lr": opt.param_groups[0]["lr"]}
            if sched is not None:
                sched.step()
            if val_ds is not None and len(val_ds):
                row["val_loss"], row["val_accuracy"] = evaluate_loss(model, val_ds, cfg.batch_size, device, accel)
            hist.rows.append(row)
            log.info("epoch %d/%d %s", epoch, cfg.epochs, " ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch"))
            stop = early.step(row["val_loss"], epoch, model) if early is not None else False
            if cfg.out_dir:
                save_state(cfg.out_dir, model=model, optimizer=opt, epoch=epoch, history=hist.rows, scheduler=sched,
                           scaler=accel.scaler, early=early, generator=gen)
                write_curves(cfg.out_dir, hist.rows)
            if stop:
                hist.stopped_early = True
                log.info("early stopping after epoch %d: no validation improvement for %d epochs", epoch, cfg.patience)
                break
    if early is not None and early.restore(model):
        hist.best_epoch = early.best_epoch
        log.info("restored the weights of epoch %d (validation loss %.4g)", early.best_epoch, early.best)
    hist.seconds = time.perf_counter() - t0
    if accel.channels_last:
        model.to(memory_format=torch.contiguous_format)
    model.eval()
    return hist
