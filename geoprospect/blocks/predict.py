"""Window prediction block by block from a stack GeoTIFF, with a background reader thread.

The window grid (window upper-left pixels every ``stride``) is cut into blocks of about
``block_size / stride`` windows a side; a block reads its pixel region plus a halo of
``size - stride`` pixels (the windows' overhang), so every window sees exactly the pixels it
sees in the whole-map path (:func:`geoprospect.prediction.predict.predict_stack`).

A reader thread reads and normalises blocks and cuts batches into a bounded queue while the
model scores the previous batch (rasterio and numpy release the GIL); on CUDA the batches
are pinned and copied with ``non_blocking=True``, so the GPU does not wait on the disk.
Memory: one block region, its normalised copy and ``prefetch`` batches, whatever the map size.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import rasterio
import torch
from torch import nn

from geoprospect.blocks.iteration import Block, check_block_size
from geoprospect.blocks.writer import gdal_env
from geoprospect.errors import InputError, ModelError
from geoprospect.grid import GridSpec
from geoprospect.prediction.predict import Prediction, stride_grid
from geoprospect.progress import Task
from geoprospect.training.accelerate import resolve_device
from geoprospect.windows.dataset import normalise
from geoprospect.windows.tiling import _box_sums, window_grid_shape

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WindowBlock:
    """Windows (i0..i0+ni, j0..j0+nj) of the window grid and the pixel block (with halo) they read."""

    i0: int
    j0: int
    ni: int
    nj: int
    pixels: Block


def window_blocks(grid: GridSpec, size: int, stride: int, block_size: int) -> Iterator[WindowBlock]:
    """Blocks of the window grid; each pixel block overlaps the next by ``size - stride`` pixels."""
    nr, nc = window_grid_shape(grid.height, grid.width, size, stride)
    bw = max(1, check_block_size(block_size) // stride)
    for i0 in range(0, nr, bw):
        for j0 in range(0, nc, bw):
            ni, nj = min(bw, nr - i0), min(bw, nc - j0)
            yield WindowBlock(i0, j0, ni, nj, Block(i0 * stride, j0 * stride, (ni - 1) * stride + size, (nj - 1) * stride + size))


def read_region(src, block: Block) -> np.ndarray:
    """(bands, h, w) float32 of a block of an open raster, NaN where nodata."""
    return src.read(window=block.window(), out_dtype="float32", masked=True).filled(np.nan).astype(np.float32, copy=False)


class BlockWindows:
    """The scored windows of one block region: positions and batches of normalised windows."""

    def __init__(self, region: np.ndarray, wb: WindowBlock, mean, std, size: int, stride: int, min_valid: float, crop: int | None = None) -> None:
        valid = np.all(np.isfinite(region), axis=0)
        vfrac = _box_sums(valid, size, stride, wb.ni, wb.nj) / float(size * size)
        self.ii, self.jj = np.nonzero(vfrac >= min_valid)
        self.wb = wb
        self.size, self.stride = size, stride
        self.crop = check_crop(crop, size)
        self.norm = normalise(region, mean, std) if self.ii.size else None
        self._view = None
        if self.norm is not None:
            # (bands, window rows, window cols, crop, crop) strided view of every window's
            # (centre crop of) pixels: a batch is one gather of whole windows, ~10x faster
            # than gathering pixel by pixel (measured: 233k vs 21k windows/s at 32 px, 10 bands)
            lo = (size - self.crop) // 2
            v = np.lib.stride_tricks.sliding_window_view(self.norm[:, lo:, lo:], (self.crop, self.crop), axis=(1, 2))
            self._view = v[:, ::stride, ::stride]

    def __len__(self) -> int:
        return int(self.ii.size)

    def batch(self, sel: slice) -> np.ndarray:
        """(n, bands, s, s) float32 contiguous windows for positions ``sel`` (s = crop or size).

        With a crop, each window's centre ``crop`` x ``crop`` pixels (as at validation).
        """
        return np.ascontiguousarray(self._view[:, self.ii[sel], self.jj[sel]].transpose(1, 0, 2, 3))


def check_crop(crop: int | None, size: int) -> int:
    """The model's input side: ``crop`` (validated against the window ``size``) or ``size``."""
    if crop is None:
        return int(size)
    if int(crop) != crop or not 0 < crop <= size:
        raise ModelError(f"the model's input crop ({crop}) must be a positive integer no larger than the {size}-pixel windows",
                         hint="predict with the window size the model was tiled with (model.json window_size)")
    return int(crop)


def _batches(path: Path, blocks: list[WindowBlock], mean, std, size, stride, min_valid, batch_size, pin: bool, crop: int | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray, torch.Tensor]]:
    with gdal_env(), rasterio.open(path) as src:
        for k, wb in enumerate(blocks):
            bw = BlockWindows(read_region(src, wb.pixels), wb, mean, std, size, stride, min_valid, crop)
            for b0 in range(0, len(bw), batch_size):
                s = slice(b0, min(b0 + batch_size, len(bw)))
                x = torch.from_numpy(bw.batch(s))
                if pin:
                    x = x.pin_memory()
                yield k, bw.ii[s] + wb.i0, bw.jj[s] + wb.j0, x


def _regions(path: Path, blocks: list[WindowBlock], mean, std, size, stride, min_valid, pin: bool, crop: int | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, torch.Tensor]]:
    """Per block: (k, window rows, window cols, rows and cols within the block, z-scored region).

    For cutting windows on the device: the region (each pixel once) crosses the bus instead
    of the windows (each pixel (size / stride)^2 times).
    """
    with gdal_env(), rasterio.open(path) as src:
        for k, wb in enumerate(blocks):
            bw = BlockWindows(read_region(src, wb.pixels), wb, mean, std, size, stride, min_valid, crop)
            if not len(bw):
                yield k, bw.ii, bw.jj, bw.ii, bw.jj, None
                continue
            x = torch.from_numpy(bw.norm)
            if pin:
                x = x.pin_memory()
            yield k, bw.ii + wb.i0, bw.jj + wb.j0, bw.ii, bw.jj, x


def _device_batches(items, dev: torch.device, size: int, stride: int, crop: int, batch_size: int, pin: bool):
    """(k, ii, jj, x) batches cut on ``dev`` from the regions of :func:`_regions`."""
    lo = (size - crop) // 2
    for k, ii, jj, li, lj, region in items:
        if region is None:
            continue
        r = region.to(dev, non_blocking=pin)
        view = r[:, lo:, lo:].unfold(1, crop, stride).unfold(2, crop, stride)  # (C, rows, cols, crop, crop)
        li_t = torch.as_tensor(li, device=dev)
        lj_t = torch.as_tensor(lj, device=dev)
        for b0 in range(0, len(li), batch_size):
            s = slice(b0, min(b0 + batch_size, len(li)))
            yield k, ii[s], jj[s], view[:, li_t[s], lj_t[s]].permute(1, 0, 2, 3).contiguous()


_DONE = object()


class _Prefetcher:
    """Runs an iterator in a daemon thread, feeding a bounded queue (errors re-raised in the consumer)."""

    def __init__(self, it: Iterator, depth: int) -> None:
        self.q: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self.stop = threading.Event()
        self.wait_s = 0.0
        self.t = threading.Thread(target=self._run, args=(it,), name="geoprospect-block-reader", daemon=True)
        self.t.start()

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, it: Iterator) -> None:
        try:
            for item in it:
                if not self._put(("item", item)):
                    return
            self._put(("done", None))
        except BaseException as exc:  # handed to the consumer
            self._put(("error", exc))

    def __iter__(self):
        while True:
            t = time.perf_counter()
            kind, item = self.q.get()
            self.wait_s += time.perf_counter() - t
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item

    def close(self) -> None:
        self.stop.set()
        self.t.join(timeout=10)


@torch.no_grad()
def predict_blocks(
    model: nn.Module,
    stack_path: str | Path,
    mean: list[float],
    std: list[float],
    *,
    size: int,
    stride: int,
    min_valid: float = 0.5,
    batch_size: int = 256,
    device: str = "auto",
    block_size: int = 1024,
    prefetch: int = 2,
    stats: dict | None = None,
    crop: int | None = None,
    cut_on_device: bool | None = None,
) -> Prediction:
    """Score every window of the stack GeoTIFF with at least ``min_valid`` valid pixels.

    Same result as ``predict_stack(model, read_stack(stack_path), ...)`` (within float
    tolerance: batches differ), without reading the whole stack. ``prefetch`` batches are read
    ahead by a background thread (0 = read in the calling thread). ``stats``, when given, is
    filled with windows, seconds, windows_per_s, wait_s (time the model waited for data) and
    busy_fraction (1 - wait_s / seconds). ``crop``: the model sees the centre ``crop`` pixels of
    every ``size`` window (a model trained on random crops, papers 001/002); the window grid,
    the valid-fraction test and the output stay those of ``size``. ``cut_on_device`` (default:
    on CUDA) sends each block's z-scored region to the device once and cuts the windows there;
    blocks then hold at least ``batch_size`` windows, so batches stay full.
    """
    path = Path(stack_path)
    if not path.exists():
        raise InputError("stack raster not found", path=path)
    grid = GridSpec.from_raster(path)
    with rasterio.open(path) as src:
        count = src.count
    if len(mean) != count or len(std) != count:
        raise ModelError(f"the model was trained on {len(mean)} bands, the stack has {count}", path=path, hint="predict on a stack built like the training one")
    side = check_crop(crop, size)
    dev = resolve_device(device)
    model = model.to(dev).eval()
    nr, nc = window_grid_shape(grid.height, grid.width, size, stride)
    on_device = dev.type == "cuda" if cut_on_device is None else bool(cut_on_device)
    if on_device:  # at least batch_size windows per block
        block_size = max(block_size, int(np.ceil(np.sqrt(batch_size))) * stride)
    blocks = list(window_blocks(grid, size, stride, block_size))
    prob = np.full((nr, nc), np.nan)
    margin = np.full((nr, nc), np.nan)
    pin = dev.type == "cuda"
    if on_device:
        it = _regions(path, blocks, mean, std, size, stride, min_valid, pin, crop)
    else:
        it = _batches(path, blocks, mean, std, size, stride, min_valid, batch_size, pin, crop)
    pf = _Prefetcher(it, prefetch) if prefetch > 0 else None
    n = 0
    wait = 0.0
    t0 = time.perf_counter()
    try:
        with Task("predict", len(blocks), unit="block") as task:
            done = 0
            src_iter = iter(pf) if pf is not None else it
            if on_device:
                src_iter = _device_batches(src_iter, dev, size, stride, side, batch_size, pin)
            while True:
                tw = time.perf_counter()
                try:
                    k, ii, jj, x = next(src_iter)
                except StopIteration:
                    break
                if pf is None:
                    wait += time.perf_counter() - tw
                logits = model(x.to(dev, non_blocking=pin)).double().cpu()
                prob[ii, jj] = torch.softmax(logits, dim=1)[:, 1].numpy()
                margin[ii, jj] = (logits[:, 1] - logits[:, 0]).numpy()
                n += len(ii)
                if k + 1 > done:
                    task.update(k + 1 - done)
                    done = k + 1
    finally:
        if pf is not None:
            pf.close()
            wait = pf.wait_s
    secs = time.perf_counter() - t0
    log.info("scored %d windows in %d blocks in %.1f s (%.0f windows/s) on %s; waited %.1f s for data", n, len(blocks), secs, n / max(secs, 1e-9), dev, wait)
    if stats is not None:
        stats.update(windows=n, blocks=len(blocks), seconds=secs, windows_per_s=n / max(secs, 1e-9), wait_s=wait, busy_fraction=1.0 - wait / max(secs, 1e-9), device=str(dev))
    return Prediction(prob, margin, stride_grid(grid, size, stride), size, stride, secs)
