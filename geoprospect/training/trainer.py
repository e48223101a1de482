"""Training a window classifier: class-balanced sampling, SGD or Adam, progress with loss/accuracy."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, WeightedRandomSampler

from geoprospect.progress import Task
from geoprospect.windows.dataset import WindowDataset

log = logging.getLogger(__name__)


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' -> CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        from geoprospect.errors import GeoprospectError

        raise GeoprospectError("CUDA was asked for but no CUDA device is available", hint="use --device auto or cpu")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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
    checkpoint_path: str | None = None  # save {model, optimizer, epoch, RNG states} here after each epoch
    resume: bool = False  # continue from ``checkpoint_path`` when it exists
    checkpoint_tag: str = ""  # identifies the run a checkpoint belongs to (e.g. a config hash)


@dataclass
class History:
    """Per-epoch loss and accuracy (train and, when given, validation)."""

    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"


def _make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r} (sgd or adam)")


def _loader(ds: WindowDataset, cfg: TrainConfig, shuffle: bool, gen: torch.Generator) -> DataLoader:
    if shuffle and cfg.balanced and ds.labels is not None:
        labels = ds.labels.numpy()
        counts = np.bincount(labels, minlength=2).astype(np.float64)
        w = 1.0 / np.maximum(counts[labels], 1.0)
        sampler = WeightedRandomSampler(torch.as_tensor(w, dtype=torch.double), num_samples=len(ds), replacement=True, generator=gen)
        return DataLoader(ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers)
    return DataLoader(ds, batch_size=cfg.batch_size, shuffle=shuffle, generator=gen if shuffle else None, num_workers=cfg.num_workers)


@torch.no_grad()
def evaluate_loss(model: nn.Module, ds: WindowDataset, batch_size: int, device: torch.device) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``ds``."""
    model.eval()
    crit = nn.CrossEntropyLoss(reduction="sum")
    loss = correct = n = 0.0
    for x, y in DataLoader(ds, batch_size=batch_size):
        x, y = x.to(device), y.to(device)
        out = model(x)
        loss += float(crit(out, y))
        correct += float((out.argmax(1) == y).sum())
        n += y.numel()
    return loss / max(n, 1), correct / max(n, 1)


def train_model(model: nn.Module, train_ds: WindowDataset, cfg: TrainConfig, val_ds: WindowDataset | None = None) -> History:
    """Train ``model`` in place on ``train_ds``; returns the per-epoch history.

    Positives are rare, so by default each batch is drawn class-balanced (weighted sampling with
    replacement). Seeded: the same seed gives the same model on the CPU.
    """
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    model.to(device)
    opt = _make_optimizer(model, cfg)
    crit = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = _loader(train_ds, cfg, shuffle=True, gen=gen)
    hist = History(device=str(device))
    t0 = time.perf_counter()
    start = 1
    if cfg.checkpoint_path and cfg.resume:
        from geoprospect.training import epoch_state

        saved = epoch_state.load_epoch_state(cfg.checkpoint_path, tag=cfg.checkpoint_tag)
        if saved is not None and saved["epoch"] <= cfg.epochs:
            epoch_state.restore(saved, model=model, optimizer=opt, gen=gen)
            start, hist.rows = saved["epoch"] + 1, list(saved["history"])
            t0 -= saved["seconds"]
            log.info("resuming training after epoch %d/%d", saved["epoch"], cfg.epochs)
    log.info("training on %s: %d windows, %d epochs, batch %d, %s lr %g", device, len(train_ds), cfg.epochs, cfg.batch_size, cfg.optimizer, cfg.lr)
    with Task("train", cfg.epochs * len(loader), unit="batch") as task:
        task.done = (start - 1) * len(loader)
        for epoch in range(start, cfg.epochs + 1):
            model.train()
            tot_loss = tot_correct = tot_n = 0.0
            for x, y in loader:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                opt.zero_grad(set_to_none=True)
                loss_fn = getattr(model, "training_loss", None)
                if loss_fn is not None:  # models with auxiliary losses (MFAF, SKT)
                    loss, out = loss_fn(x, y)
                else:
                    out = model(x)
                    loss = crit(out, y)
                loss.backward()
                opt.step()
                tot_loss += float(loss.detach()) * y.numel()
                tot_correct += float((out.argmax(1) == y).sum())
                tot_n += y.numel()
                task.update(1, message=f"epoch {epoch}/{cfg.epochs}", loss=tot_loss / tot_n, acc=tot_correct / tot_n, epoch=epoch)
            row = {"epoch": epoch, "loss": tot_loss / max(tot_n, 1), "accuracy": tot_correct / max(tot_n, 1)}
            if val_ds is not None and len(val_ds):
                row["val_loss"], row["val_accuracy"] = evaluate_loss(model, val_ds, cfg.batch_size, device)
            hist.rows.append(row)
            log.info("epoch %d/%d %s", epoch, cfg.epochs, " ".join(f"{k}={v:.4f}" for k, v in row.items() if k != "epoch"))
            if cfg.checkpoint_path:
                from geoprospect.training import epoch_state

                epoch_state.save_epoch_state(cfg.checkpoint_path, model=model, optimizer=opt, epoch=epoch, history=hist.rows, seconds=time.perf_counter() - t0, gen=gen, tag=cfg.checkpoint_tag)
    hist.seconds = time.perf_counter() - t0
    model.eval()
    return hist
