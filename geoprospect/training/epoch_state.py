"""Per-epoch training state, so that an interrupted training continues where it stopped.

After each epoch the trainer saves {model, optimizer, epoch, history, RNG states} with
``torch.save`` (atomically); resuming loads it with ``torch.load(weights_only=True)`` (only
tensors and plain Python containers: a crafted pickle is refused) and restores every random
number generator, so that a resumed seeded run gives the same model as an uninterrupted one.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn

from geoprospect.errors import ModelError
from geoprospect.io.atomic import atomic_path

log = logging.getLogger(__name__)

FORMAT = 1


def _np_state() -> dict:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": name, "keys": torch.as_tensor(np.asarray(keys, dtype=np.int64)), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)}


def _set_np_state(d: dict) -> None:
    np.random.set_state((d["name"], d["keys"].numpy().astype(np.uint32), d["pos"], d["has_gauss"], d["cached"]))


def rng_states(gen: torch.Generator | None) -> dict:
    """Every RNG a training epoch may draw from (torch CPU/CUDA, the sampler's, numpy, random)."""
    py = random.getstate()
    d = {
        "torch": torch.get_rng_state(),
        "numpy": _np_state(),
        "python": [py[0], list(py[1]), py[2]],
    }
    if gen is not None:
        d["sampler"] = gen.get_state()
    if torch.cuda.is_available():
        d["cuda"] = torch.cuda.get_rng_state_all()
    return d


def set_rng_states(d: dict, gen: torch.Generator | None) -> None:
    torch.set_rng_state(d["torch"])
    _set_np_state(d["numpy"])
    v, state, gauss = d["python"]
    random.setstate((v, tuple(state), gauss))
    if gen is not None and "sampler" in d:
        gen.set_state(d["sampler"])
    if "cuda" in d and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(d["cuda"])


def save_epoch_state(path: str | Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, history: list[dict], seconds: float, gen: torch.Generator | None, tag: str = "") -> None:
    """Save the state after ``epoch`` (1-based) atomically to ``path``."""
    state = {
        "format": FORMAT,
        "tag": tag,
        "epoch": int(epoch),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "history": [{k: (float(v) if not isinstance(v, int) else v) for k, v in r.items()} for r in history],
        "seconds": float(seconds),
        "rng": rng_states(gen),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_epoch_state(path: str | Path, *, tag: str = "") -> dict | None:
    """The saved state, or None when there is none (or it belongs to another ``tag``)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle.UnpicklingError and friends
        raise ModelError(f"refusing to resume from this training state ({type(exc).__name__}: {exc})", path=path, hint="delete it to train from the start") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ModelError("not a geoprospect training state", path=path, hint="delete it to train from the start")
    if state.get("tag", "") != tag:
        log.warning("%s belongs to another configuration: training from the start", path)
        return None
    return state


def restore(state: dict, *, model: nn.Module, optimizer: torch.optim.Optimizer, gen: torch.Generator | None) -> None:
    """Load model/optimizer weights and RNG states from ``state`` (as returned by :func:`load_epoch_state`)."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    set_rng_states(state["rng"], gen)
