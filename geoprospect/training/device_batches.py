"""Window batches gathered on the training device (the GPU fast path).

A DataLoader builds each window on the host and copies it: at thousands of 224 x 224 x 8
windows per second (issue 4's H100 target) that copy, not the network, is the bottleneck. Here
the normalised stack is moved to the device once and each batch is cut out of it with one
indexing operation; crops, flips, 90-degree rotations and Gaussian noise of a
:class:`~geoprospect.windows.augment.WindowAugment` are applied per window on the device.
The batch order comes from the same sampler as the DataLoader's, so without augmentation the
batches are identical to the DataLoader's.
"""

from __future__ import annotations

from typing import Iterator

import torch

from geoprospect.windows.augment import WindowAugment
from geoprospect.windows.dataset import WindowDataset


def supported(ds: WindowDataset) -> bool:
    """True when ``ds``'s transform can run batched on the device (none, or a WindowAugment)."""
    return ds.labels is not None and (ds.transform is None or isinstance(ds.transform, WindowAugment))


class DeviceBatches:
    """Iterate (x, y) batches of ``ds`` on ``device`` in the order of ``sampler``."""

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
        """(B, C, size, size) windows at ``offsets[idx]`` (+ per-window ``shift`` (B, 2)).

        One concatenation of B views of the device stack (a single copy kernel); offsets are
        kept on the host, so no device round trip per batch.
        """
        off = self.host_offsets[idx.cpu()]
        if shift is not None:
            off = off + shift.cpu()
        return torch.stack([self.data[:, r : r + size, c : c + size] for r, c in off.tolist()])

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
