"""Training helpers the trainer uses: speed on CUDA, early stopping, resumable state, curves.

* :func:`accelerate`: channels-last memory format and an autocast context (bf16 where the GPU
  supports it, else fp16 with a gradient scaler) when the device is CUDA; plain float32 on CPU.
* :class:`EarlyStopping`: stop when the validation loss has not improved for ``patience`` epochs
  and keep the best weights.
* :func:`save_state` / :func:`load_state`: ``last.pt`` with model, optimiser, scheduler, scaler,
  RNG states, epoch and history, written atomically after every epoch and loaded with
  ``torch.load(weights_only=True)`` (``--resume``).
* :func:`write_curves`: loss/accuracy per epoch as CSV and PNG.
"""

from __future__ import annotations

import contextlib
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from geoprospect.errors import InputError, ModelError
from geoprospect.io.atomic import atomic_path, write_text

STATE = "last.pt"


@dataclass
class Accel:
    """How batches run on the device: memory format, autocast, gradient scaler."""

    device: torch.device
    amp: bool = False
    dtype: torch.dtype | None = None
    channels_last: bool = False
    scaler: Any = None

    def autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            opt.step()


def accelerate(model: nn.Module, device: torch.device, amp: bool | None = None, channels_last: bool | None = None) -> Accel:
    """Mixed precision and channels-last on CUDA (defaults on there, off on CPU); moves ``model``."""
    cuda = device.type == "cuda"
    amp = cuda if amp is None else (bool(amp) and cuda)
    channels_last = cuda if channels_last is None else (bool(channels_last) and cuda)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    acc = Accel(device=device, amp=amp, channels_last=channels_last)
    if amp:
        if torch.cuda.is_bf16_supported():
            acc.dtype = torch.bfloat16  # no loss scaling needed
        else:  # pragma: no cover - older GPUs
            acc.dtype = torch.float16
            acc.scaler = torch.amp.GradScaler("cuda")
        torch.backends.cudnn.benchmark = True
    return acc


@dataclass
class EarlyStopping:
    """Track the validation loss; ``step`` returns True when training should stop.

    ``patience`` epochs without an improvement larger than ``min_delta`` stop training; the
    best epoch's weights are kept (``best_state``) and restored by :meth:`restore`.
    """

    patience: int = 10
    min_delta: float = 0.0
    best: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    best_state: dict | None = field(default=None, repr=False)

    def step(self, value: float, epoch: int, model: nn.Module) -> bool:
        if not math.isfinite(value):
            self.bad_epochs += 1
        elif value < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
        return self.patience > 0 and self.bad_epochs >= self.patience

    def restore(self, model: nn.Module) -> bool:
        """Load the best weights into ``model``; False when there were none."""
        if self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs, "best_state": self.best_state}

    def load_state_dict(self, d: dict) -> None:
        self.best, self.best_epoch, self.bad_epochs, self.best_state = float(d["best"]), int(d["best_epoch"]), int(d["bad_epochs"]), d.get("best_state")


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])
    if s.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def _plain(obj: Any) -> Any:
    """numpy RNG state and tuples -> types torch.load(weights_only=True) accepts."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def _numpy_state(s: list) -> tuple:
    return (s[0], s[1].numpy().astype(np.uint32), int(s[2]), int(s[3]), float(s[4]))


def _python_state(s: list) -> tuple:
    return (int(s[0]), tuple(int(v) for v in s[1]), s[2])


def save_state(folder: str | Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, history: list[dict],
               scheduler: Any = None, scaler: Any = None, early: EarlyStopping | None = None, generator: torch.Generator | None = None,
               config: dict | None = None) -> Path:
    """Write ``folder/last.pt`` (atomically): everything needed to resume after ``epoch``."""
    state = {
        "epoch": int(epoch),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "early": early.state_dict() if early is not None else None,
        "history": history,
        "rng": _plain(rng_state()),
        "generator": generator.get_state() if generator is not None else None,
        "config": config or {},
    }
    path = Path(folder) / STATE
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_state(folder: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read ``folder/last.pt`` safely (weights_only); raises InputError/ModelError with a hint."""
    path = Path(folder) / STATE
    if not path.exists():
        raise InputError("there is no training state to resume from", path=path, hint="train once without --resume (a state is saved after every epoch)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ModelError(f"refusing to load the training state ({type(exc).__name__}: {exc})", path=path, hint="delete it and train without --resume") from exc
    r = state["rng"]
    state["rng"] = {"torch": r["torch"], "numpy": _numpy_state(r["numpy"]), "python": _python_state(r["python"]), "cuda": r.get("cuda") or []}
    return state


def write_curves(folder: str | Path, history: list[dict], stem: str = "curves", title: str = "") -> tuple[Path, Path | None]:
    """``curves.csv`` (one row per epoch) and ``curves.png`` (loss and accuracy, train/validation)."""
    folder = Path(folder)
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    lines = [",".join(keys)] + [",".join("" if row.get(k) is None else f"{row[k]}" for k in keys) for row in history]
    csv = write_text(folder / f"{stem}.csv", "\n".join(lines) + "\n")
    if not history:
        return csv, None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, what in zip(axes, ("loss", "accuracy")):
        for key, label in ((what, "train"), (f"val_{what}", "validation")):
            vals = [r.get(key) for r in history]
            if any(v is not None for v in vals):
                ax.plot(ep, [np.nan if v is None else v for v in vals], marker="o", ms=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    png = folder / f"{stem}.png"
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return csv, png

