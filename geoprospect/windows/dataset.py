"""Torch datasets of windows read from a z-scored stack held in memory (or memory-mapped, see windows.store)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

if TYPE_CHECKING:
    from geoprospect.io.rasters import Stack


def normalise(data: np.ndarray, mean: Sequence[float], std: Sequence[float], out: np.ndarray | None = None) -> np.ndarray:
    """z-score each band with the stack's stored statistics; NaN (nodata) becomes 0 (the mean).

    Windows with too little valid data were already dropped by tiling; the NaNs left inside
    kept windows are set to the band mean, i.e. 0 after z-scoring.
    ``data`` is (bands, rows, cols); ``out`` (same shape, float32), e.g. a disk-backed
    ``np.memmap``, receives the result, which is computed in row strips (no full-size temporary).
    """
    mean = np.asarray(mean, dtype=np.float32)[:, None, None]
    std = np.asarray(std, dtype=np.float32)[:, None, None]
    std = np.where(std > 0, std, 1.0).astype(np.float32)
    if out is None:
        out = np.empty(data.shape, dtype=np.float32)
    step = max(1, (64 * 2**20) // max(1, 4 * data.shape[0] * data.shape[2]))
    for r0 in range(0, data.shape[1], step):
        o = out[:, r0 : r0 + step]
        np.subtract(data[:, r0 : r0 + step], mean, out=o, dtype=np.float32)
        np.divide(o, std, out=o)
        np.nan_to_num(o, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return out


def normalise_stack(stack: "Stack", out: np.ndarray | None = None) -> np.ndarray:
    """:func:`normalise` of a stack's data with its own statistics (:meth:`Stack.moments`)."""
    return normalise(stack.data, *stack.moments(), out=out)


class WindowDataset(Dataset):
    """Windows of a normalised (C, H, W) array at given pixel offsets.

    Args:
        data: (C, H, W) float32, already normalised.
        offsets: (N, 2) int (row_off, col_off) of each window.
        size: window size in pixels.
        labels: (N,) int class of each window (or None for prediction).
        transform: optional callable applied to each (C, size, size) tensor.
    """

    def __init__(
        self,
        data: np.ndarray,
        offsets: np.ndarray,
        size: int,
        labels: np.ndarray | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.data = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
        self.offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
        self.size = int(size)
        self.labels = None if labels is None else torch.as_tensor(np.array(labels, dtype=np.int64))
        self.transform = transform

    def __len__(self) -> int:
        return self.offsets.shape[0]

    def window(self, i: int) -> torch.Tensor:
        r, c = self.offsets[i]
        return self.data[:, r : r + self.size, c : c + self.size]

    def __getitem__(self, i: int):
        x = self.window(i)
        if self.transform is not None:
            x = self.transform(x)
        if self.labels is None:
            return x
        return x, self.labels[i]

    def batch(self, idx: Sequence[int]) -> torch.Tensor:
        """Stack several windows into a (B, C, size, size) tensor (no transform)."""
        return torch.stack([self.window(int(i)) for i in idx])
