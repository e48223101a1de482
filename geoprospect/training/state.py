"""The resumable training state ``last.pt``: model, optimiser, scheduler, scaler, early stopping,
RNG states, epoch and history, written atomically after every epoch and loaded with
``torch.load(weights_only=True)`` (``--resume``).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from geoprospect.errors import InputError, ModelError
from geoprospect.io.atomic import atomic_path
from geoprospect.training.early_stopping import EarlyStopping

STATE = "last.pt"


def rng_state() -> dict:
    """Python, numpy, torch (and CUDA) global RNG states."""
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(s: dict) -> None:
    """Restore the states of :func:`rng_state`."""
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
