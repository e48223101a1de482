"""The gradient training loop of window models: class-balanced sampling, schedules, auxiliary
losses of multi-branch models (:func:`geoprospect.models.registry.compute_loss`), mixed precision
and channels-last on CUDA, early stopping, a resumable state after every epoch (``out_dir/last.pt``)
and the per-epoch ``curves.csv``. Called through :func:`geoprospect.training.fit.fit`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, WeightedRandomSampler

from geoprospect.device import resolve_device, seed_everything
from geoprospect.errors import ConfigError
from geoprospect.models.registry import compute_loss
from geoprospect.progress import Task
from geoprospect.training.accelerate import Accel, accelerate
from geoprospect.training.config import TrainConfig
from geoprospect.training.early_stopping import EarlyStopping
from geoprospect.training.history import History, write_history
from geoprospect.training.optim import make_optimizer, make_scheduler
from geoprospect.training.state import load_state, save_state, set_rng_state
from geoprospect.windows import device as _db
from geoprospect.windows.dataset import WindowDataset

log = logging.getLogger(__name__)
CURVES = "curves.csv"


def holdout(ds: WindowDataset, fraction: float, seed: int = 0) -> tuple[WindowDataset, WindowDataset]:
    """Split ``ds`` into (train, validation) with ``fraction`` of each class held out at random.

    Overlapping windows leak across such a split (DESIGN.md decision 6): use it for early
    stopping, not for the figures you report.
    """
    if not 0 < fraction < 1:
        raise ConfigError(f"val_fraction must be in (0, 1), got {fraction}", hint="set --val-fraction / train.val_fraction between 0 and 1")
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
    eval_tf = getattr(ds.transform, "eval", None)
    return subset(ds, ~is_val), subset(ds, is_val, eval_tf() if callable(eval_tf) else None)


def subset(ds: WindowDataset, mask: np.ndarray, transform=...) -> WindowDataset:
    """The windows of ``ds`` where ``mask`` is True (same data array; ``transform`` replaces ds's when given)."""
    out = WindowDataset.__new__(WindowDataset)
    out.data, out.size = ds.data, ds.size
    out.transform = ds.transform if transform is ... else transform
    out.offsets = ds.offsets[mask]
    out.labels = None if ds.labels is None else ds.labels[torch.from_numpy(np.asarray(mask))]
    out.weights = None if getattr(ds, "weights", None) is None else ds.weights[np.asarray(mask)]
    return out


def _loader(ds: WindowDataset, cfg: TrainConfig, shuffle: bool, gen: torch.Generator) -> DataLoader:
    # a last training batch of one window breaks BatchNorm ("Expected more than 1 value per
    # channel"): drop that remainder (the sampler reshuffles it into the next epoch)
    # an epoch of the class-balanced sampler draws at most cfg.samples_per_epoch windows: with
    # every cell a sample (windows/cells.py) an area holds 10^5-10^7 of them, nearly all background
    n_epoch = min(len(ds), cfg.samples_per_epoch or len(ds)) if cfg.balanced else len(ds)
    drop_last = shuffle and n_epoch > cfg.batch_size and n_epoch % cfg.batch_size == 1
    if shuffle and cfg.balanced and ds.labels is not None:
        labels = ds.labels.numpy()
        counts = np.bincount(labels, minlength=2).astype(np.float64)
        w = 1.0 / np.maximum(counts[labels], 1.0)
        sampler = WeightedRandomSampler(torch.as_tensor(w, dtype=torch.double), num_samples=n_epoch, replacement=True, generator=gen)
        return DataLoader(ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers, drop_last=drop_last)
    return DataLoader(ds, batch_size=cfg.batch_size, shuffle=shuffle, generator=gen if shuffle else None, num_workers=cfg.num_workers, drop_last=drop_last)


@torch.no_grad()
def evaluate_loss(model: nn.Module, ds: WindowDataset, batch_size: int, device: torch.device, accel: Accel | None = None) -> tuple[float, float]:
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


class _Run:
    """The objects of one training run: device, optimiser, schedule, sampler, early stopping."""

    def __init__(self, model: nn.Module, train_ds: WindowDataset, cfg: TrainConfig, val_ds: WindowDataset | None) -> None:
        self.device = resolve_device(cfg.device)
        if val_ds is None and cfg.patience > 0 and cfg.val_fraction > 0:
            train_ds, val_ds = holdout(train_ds, cfg.val_fraction, cfg.seed)
        self.train_ds, self.val_ds = train_ds, val_ds if val_ds is not None and len(val_ds) else None
        model.to(self.device)
        self.accel = accelerate(model, self.device, cfg.amp, cfg.channels_last)
        self.opt = make_optimizer(model, cfg)
        self.sched = make_scheduler(self.opt, cfg)
        self.crit = nn.CrossEntropyLoss()
        self.gen = torch.Generator().manual_seed(cfg.seed)
        loader = _loader(train_ds, cfg, shuffle=True, gen=self.gen)
        if (self.device.type == "cuda" if cfg.device_batches is None else cfg.device_batches) and _db.supported(train_ds):
            loader = _db.DeviceBatches(train_ds, loader.sampler, cfg.batch_size, self.device, self.gen, drop_last=loader.drop_last)
        self.loader = loader
        self.early = EarlyStopping(cfg.patience) if cfg.patience > 0 and self.val_ds is not None else None

    def resume(self, model: nn.Module, out_dir: str | Path, hist: History) -> int:
        """Load ``out_dir/last.pt`` into every object; returns the first epoch still to run."""
        st = load_state(out_dir)
        model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["optimizer"])
        if self.sched is not None and st["scheduler"] is not None:
            self.sched.load_state_dict(st["scheduler"])
        if self.accel.scaler is not None and st["scaler"] is not None:
            self.accel.scaler.load_state_dict(st["scaler"])
        if self.early is not None and st["early"] is not None:
            self.early.load_state_dict(st["early"])
        if st["generator"] is not None:
            self.gen.set_state(st["generator"])
        set_rng_state(st["rng"])
        hist.rows = list(st["history"])
        hist.resumed_from = int(st["epoch"]) + 1
        log.info("resuming after epoch %d from %s", hist.resumed_from - 1, out_dir)
        return hist.resumed_from

    def epoch(self, model: nn.Module, epoch: int, cfg: TrainConfig, task: Task) -> dict:
        """Train one epoch; returns its history row (validation loss included when there is a validation set)."""
        model.train()
        tot_loss = tot_correct = tot_n = 0.0
        for x, y in self.loader:
            x, y = self.accel.to_device(x), y.to(self.device, non_blocking=True)
            self.opt.zero_grad(set_to_none=True)
            with self.accel.autocast():
                # models with auxiliary losses (MFAF, SKT) provide training_loss
                loss, out = compute_loss(model, x, y, self.crit)
            self.accel.backward_step(loss, self.opt)
            tot_loss += float(loss.detach()) * y.numel()
            tot_correct += float((out.argmax(1) == y).sum())
            tot_n += y.numel()
            task.update(1, message=f"epoch {epoch}/{cfg.epochs}", loss=tot_loss / tot_n, acc=tot_correct / tot_n, epoch=epoch)
        row = {"epoch": epoch, "loss": tot_loss / max(tot_n, 1), "accuracy": tot_correct / max(tot_n, 1), "lr": self.opt.param_groups[0]["lr"]}
        if self.sched is not None:
            self.sched.step()
        if self.val_ds is not None:
            row["val_loss"], row["val_accuracy"] = evaluate_loss(model, self.val_ds, cfg.batch_size, self.device, self.accel)
        return row


def train_torch(model: nn.Module, train_ds: WindowDataset, cfg: TrainConfig, val_ds: WindowDataset | None = None,
                out_dir: str | Path | None = None, resume: bool = False) -> History:
    """Train ``model`` in place by gradient descent on ``train_ds``; returns the per-epoch history.

    Positives are rare, so by default each batch is drawn class-balanced (weighted sampling with
    replacement). Seeded: the same seed gives the same model on the CPU, and a run resumed from
    ``out_dir/last.pt`` continues exactly where it stopped. With ``cfg.patience`` the best
    validation-loss weights are restored at the end.
    """
    seed_everything(cfg.seed)
    run = _Run(model, train_ds, cfg, val_ds)
    hist = History(device=str(run.device))
    start = 1
    if resume:
        if not out_dir:
            raise ConfigError("resume needs out_dir (the folder holding last.pt)", hint="pass --out with the folder of the interrupted training")
        start = run.resume(model, out_dir, hist)
    t0 = time.perf_counter()
    log.info("training on %s: %d windows, %d epochs, batch %d, %s lr %g%s", run.device, len(run.train_ds), cfg.epochs, cfg.batch_size, cfg.optimizer, cfg.lr, " (AMP)" if run.accel.amp else "")
    with Task("train", max(0, cfg.epochs - start + 1) * len(run.loader), unit="batch") as task:
        for epoch in range(start, cfg.epochs + 1):
            row = run.epoch(model, epoch, cfg, task)
            hist.rows.append(row)
            log.info("epoch %d/%d %s", epoch, cfg.epochs, " ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch"))
            stop = run.early.step(row["val_loss"], epoch, model) if run.early is not None else False
            if out_dir:
                save_state(out_dir, model=model, optimizer=run.opt, epoch=epoch, history=hist.rows, scheduler=run.sched,
                           scaler=run.accel.scaler, early=run.early, generator=run.gen)
                write_history(Path(out_dir) / CURVES, hist.rows)
            if stop:
                hist.stopped_early = True
                log.info("early stopping after epoch %d: no validation improvement for %d epochs", epoch, cfg.patience)
                break
    if run.early is not None and run.early.restore(model):
        hist.best_epoch = run.early.best_epoch
        log.info("restored the weights of epoch %d (validation loss %.4g)", run.early.best_epoch, run.early.best)
    hist.seconds = time.perf_counter() - t0
    if run.accel.channels_last:
        model.to(memory_format=torch.contiguous_format)
    model.eval()
    return hist
