"""Windows cut on the device that holds the pixels (the GPU fast path of training and prediction).

A DataLoader builds each window on the host and copies it: at thousands of 224 x 224 x 8
windows per second (issue 4's H100 target) that copy, not the network, is the bottleneck. Here
the pixels cross the bus once (the whole normalised stack for training, one block region for
prediction) and every batch is cut out of them by :func:`cut_windows`, one gather on the device.

:class:`DeviceBatches` feeds training: crops, flips, 90-degree rotations and Gaussian noise of
a :class:`~geoprospect.windows.augment.WindowAugment` are applied per window on the device.
The batch order comes from the same sampler as the DataLoader's, so without augmentation the
batches are identical to the DataLoader's.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from geoprospect.windows.augment import WindowAugment
from geoprospect.windows.dataset import WindowDataset


def cut_windows(data: torch.Tensor, rows: torch.Tensor | np.ndarray, cols: torch.Tensor | np.ndarray, size: int) -> torch.Tensor:
    """(N, C, size, size) contiguous copies of the windows of ``data`` at upper-left pixels (rows, cols).

    ``data`` is a (C, H, W) tensor on any device; the windows are cut where it lives, by one
    gather from a strided view of every window position (no per-window Python loop). Pixel
    values are copied exactly: the result equals host slicing ``data[:, r:r+size, c:c+size]``.
    """
    view = data.unfold(1, size, 1).unfold(2, size, 1).permute(1, 2, 0, 3, 4)  # (H', W', C, size, size), no copy
    r = torch.as_tensor(rows, dtype=torch.long, device=data.device)
    c = torch.as_tensor(cols, dtype=torch.long, device=data.device)
    return view[r, c].contiguous()


def supported(ds: WindowDataset) -> bool:
    """True when ``ds``'s transform can run batched on the device (none, or a WindowAugment)."""
    return ds.labels is not None and (ds.transform is None or isinstance(ds.transform, WindowAugment))


class DeviceBatches:
    """Iterate (x, y) training batches of ``ds`` on ``device`` in the order of ``sampler``."""

    def __init__(self, ds: WindowDataset, sampler, batch_size: int, device: torch.device, generator: torch.Generator | None = None, drop_last: bool = False) -> None:
        self.data = ds.data.to(device)
        self.host_offsets = torch.as_tensor(ds.offsets)
        self.labels = ds.labels.to(device)
        self.size = ds.size
        self.aug: WindowAugment | None = ds.transform
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.device = device
        self.generator = generator  # host generator: random choices are drawn on the CPU, then moved
        self._n = len(sampler)
        self.drop_last = drop_last

    def __len__(self) -> int:
        return self._n // self.batch_size if self.drop_last else (self._n + self.batch_size - 1) // self.batch_size

    def gather(self, idx: torch.Tensor, size: int, shift: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, size, size) windows at ``offsets[idx]`` (+ per-window ``shift`` (B, 2)), cut on the device."""
        off = self.host_offsets[idx.cpu()]
        if shift is not None:
            off = off + shift.cpu()
        return cut_windows(self.data, off[:, 0], off[:, 1], size)

    def _augment(self, idx: torch.Tensor) -> torch.Tensor:
        a, g, b = self.aug, self.generator, len(idx)
        if a is None:
            return self.gather(idx, self.size)
        size, shift = self.size, None
        if a.crop is not None:
            size = a.crop
            if a.train:
                shift = torch.randint(0, self.size - a.crop + 1, (b, 2), generator=g)
            else:
                shift = torch.full((b, 2), (self.size - a.crop) // 2)
        x = self.gather(idx, size, shift)
        if not a.train:
            return x
        # each op touches only the windows it applies to (no compute-everything-then-select)
        if a.flips:
            fh = (torch.rand(b, generator=g) < 0.5).to(self.device)
            fv = (torch.rand(b, generator=g) < 0.5).to(self.device)
            x[fh] = x[fh].flip(-1)
            x[fv] = x[fv].flip(-2)
        if a.rotations:
            k = torch.randint(0, 4, (b,), generator=g).to(self.device)
            for q in (1, 2, 3):
                sel = k == q
                x[sel] = torch.rot90(x[sel], q, dims=(-2, -1))
        if a.noise_variance > 0:
            noise = torch.randn(x.shape, generator=g) if self.device.type == "cpu" else torch.randn(x.shape, device=self.device)
            x.add_(noise.to(self.device), alpha=a.noise_variance**0.5)
        return x

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.as_tensor(list(iter(self.sampler)), dtype=torch.long)
        for i in range(0, len(order), self.batch_size):
            idx = order[i : i + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                break
            yield self._augment(idx), self.labels[idx.to(self.device)]
