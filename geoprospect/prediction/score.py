"""The one window-scoring core: batches of windows -> deposit probability and logit margin.

Every path that scores windows (a map from memory, block by block from a GeoTIFF, on dask,
windows cut on the GPU, cross-validation folds) feeds :func:`score_batches` with
:class:`Batch` objects from a window source (:mod:`geoprospect.prediction.sources`). Scores are
float64: the probability is the softmax of the deposit class and the margin is
logit_deposit - logit_background, which ranks without the ties a saturated sigmoid creates
(DESIGN.md, pitfalls).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from geoprospect.device import resolve_device
from geoprospect.errors import ModelError
from geoprospect.progress import Task


@dataclass
class Batch:
    """Windows to score and where their scores go.

    Attributes:
        index: numpy index of the batch's windows in the output arrays (a tuple of (n,) int
            arrays, one per output dimension: (rows, cols) of the window grid, or (positions,)).
        x: (n, bands, s, s) float32 normalised windows (host or device; pinned on CUDA).
        done: progress units finished once this batch is scored (cumulative; 0 = not counted).
    """

    index: tuple[np.ndarray, ...]
    x: torch.Tensor
    done: int = 0


@dataclass
class Scores:
    """Output of :func:`score_batches`: (shape) float64 arrays, NaN where no window was scored."""

    prob: np.ndarray
    margin: np.ndarray
    windows: int
    seconds: float
    wait_s: float  # time the model waited for the next batch (reading, cutting windows)

    def stats(self, device: torch.device | str) -> dict:
        """windows, seconds, windows_per_s, wait_s, busy_fraction (1 - wait_s / seconds), device."""
        s = max(self.seconds, 1e-9)
        return {"windows": self.windows, "seconds": self.seconds, "windows_per_s": self.windows / s, "wait_s": self.wait_s,
                "busy_fraction": 1.0 - self.wait_s / s, "device": str(device)}


def probability_and_margin(logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(B, 2) logits -> (B,) float64 deposit probability (softmax) and logit margin, on the host."""
    lg = logits.double().cpu()
    return torch.softmax(lg, dim=1)[:, 1].numpy(), (lg[:, 1] - lg[:, 0]).numpy()


def check_model_input(mean: Sequence[float], std: Sequence[float], bands: int, size: int, crop: int | None, path: str | Path | None = None) -> int:
    """Check the model's normalisation against a stack of ``bands`` bands; returns its input side.

    The side is ``crop`` (the centre crop of every ``size``-pixel window the model was trained
    on) or ``size``. Raises ModelError naming the stack and the fix.
    """
    if len(mean) != bands or len(std) != bands:
        raise ModelError(f"the model was trained on {len(mean)} bands, the stack has {bands}", path=path,
                         hint="predict on a stack built like the training one (the bands of model.json band_names, in that order)")
    if crop is None:
        return int(size)
    if int(crop) != crop or not 0 < crop <= size:
        raise ModelError(f"the model's input crop ({crop}) must be a positive integer no larger than the {size}-pixel windows", path=path,
                         hint="predict with the window size the model was tiled with (model.json window_size)")
    return int(crop)


LARGE_MAP_CELLS = 1 << 24  # above this many scores (a 4096 x 4096 map), they are held in float32


def score_dtype(shape: tuple[int, ...]) -> type:
    """float64 scores, or float32 for maps of more than :data:`LARGE_MAP_CELLS` cells: two float64
    (H, W) arrays of a 10,000 x 10,000 map are 1.5 GiB, and prospectivity.tif stores float32 anyway."""
    return np.float32 if int(np.prod(shape)) > LARGE_MAP_CELLS else np.float64


@torch.no_grad()
def score_batches(model: nn.Module, batches: Iterable[Batch], shape: tuple[int, ...], device: str | torch.device = "auto",
                  *, progress: Task | None = None) -> Scores:
    """Score every batch with ``model`` (moved to ``device``, eval mode) into (shape) arrays.

    ``progress``, when given, is advanced to each batch's ``done`` count.
    """
    dev = resolve_device(device)
    model = model.to(dev).eval()
    dtype = score_dtype(shape)
    prob = np.full(shape, np.nan, dtype=dtype)
    margin = np.full(shape, np.nan, dtype=dtype)
    n, wait, done = 0, 0.0, 0
    it = iter(batches)
    t0 = time.perf_counter()
    while True:
        tw = time.perf_counter()
        b = next(it, None)
        wait += time.perf_counter() - tw
        if b is None:
            break
        prob[b.index], margin[b.index] = probability_and_margin(model(b.x.to(dev, non_blocking=dev.type == "cuda")))
        n += len(b.x)
        if progress is not None and b.done > done:
            progress.update(b.done - done)
            done = b.done
    return Scores(prob, margin, n, time.perf_counter() - t0, wait)

