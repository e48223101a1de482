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
        weights: (N,) float sample weights (soft labels near deposits, :mod:`geoprospect.windows.cells`),
            or None (all 1); used by the models that take sample weights.
    """

    def __init__(
        self,
        data: np.ndarray,
        offsets: np.ndarray,
        size: int,
        labels: np.ndarray | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        weights: np.ndarray | None = None,
    ) -> None:
        self.data = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
        self.offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
        self.size = int(size)
        self.labels = None if labels is None else torch.as_tensor(np.array(labels, dtype=np.int64))
        self.transform = transform
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)

    def __len__(self) -> int:
        return self.offsets.shape[0]

    def window(self, i: int) -> torch.Tensor:
        """(C, size, size) window ``i``; pixels outside the array read 0 (the band mean after
        z-scoring): a patch centred on an edge cell (:mod:`geoprospect.windows.cells`) overhangs."""
        r, c = (int(v) for v in self.offsets[i])
        s = self.size
        _, h, w = self.data.shape
        if r >= 0 and c >= 0 and r + s <= h and c + s <= w:
            return self.data[:, r : r + s, c : c + s]
        out = self.data.new_zeros((self.data.shape[0], s, s))
        r0, c0, r1, c1 = max(r, 0), max(c, 0), min(r + s, h), min(c + s, w)
        if r0 < r1 and c0 < c1:
            out[:, r0 - r : r1 - r, c0 - c : c1 - c] = self.data[:, r0:r1, c0:c1]
        return out

    def __getitem__(self, i: int):
        x = self.window(i)
        if self.transform is not None:
            x = self.transform(x)
        if self.labels is None:
            return x
        return x, self.labels[i]

    def batch(self, idx: Sequence[int] | np.ndarray) -> torch.Tensor:
        """Stack several windows into a (B, C, size, size) tensor (no transform)."""
        if self.size == 1:  # one cell per sample: a single gather instead of a Python loop over windows
            rc = torch.as_tensor(self.offsets[np.asarray(idx, dtype=np.int64)])
            return self.data[:, rc[:, 0], rc[:, 1]].T.reshape(len(rc), -1, 1, 1).contiguous()
        return torch.stack([self.window(int(i)) for i in idx])
