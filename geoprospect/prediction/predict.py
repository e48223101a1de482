"""Score every window of a stack (:func:`predict`) and write the prospectivity map on the window-stride grid.

:func:`predict` picks the window source (memory, blocks of a GeoTIFF with a reader thread,
windows cut on the GPU, dask) and feeds the one scoring core,
:func:`geoprospect.prediction.score.score_batches`.

The map's cell (i, j) is the central ``stride`` x ``stride`` block of the window whose
upper-left pixel is (i*stride, j*stride): its transform is the stack's, shifted by
(size - stride) / 2 pixels and scaled by ``stride``. Band 1 is the deposit probability;
band 2 is the logit margin (logit_deposit - logit_background, float64 ranks without the ties
a saturated sigmoid creates, as DESIGN.md warns).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import geopandas as gpd
import numpy as np
import rasterio
import shapely
import torch
from affine import Affine
from torch import nn

from geoprospect.device import resolve_device
from geoprospect.errors import InputError
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import READ_CACHE_MB, Stack, gdal_env, write_qml, write_raster
from geoprospect.models.baselines import scoring_batch
from geoprospect.prediction.dask import score_dask
from geoprospect.prediction.fullres import display_range
from geoprospect.prediction.score import Scores, check_model_input, score_batches, score_dtype
from geoprospect.prediction.sources import Prefetcher, block_batches, block_regions, centred_pad, device_cut_batches, memory_batches, read_region, window_blocks
from geoprospect.progress import Task
from geoprospect.windows.dataset import normalise
from geoprospect.windows.folds import sigmoid
from geoprospect.windows.tiling import _box_sums, window_grid_shape

log = logging.getLogger(__name__)


@dataclass
class Prediction:
    """Scores of every window position of a stack.

    Attributes:
        prob: (nr, nc) float64 deposit probability, NaN where the window was not scored.
        margin: (nr, nc) float64 logit margin, NaN where not scored.
        grid: the window-stride grid (cells = central stride blocks of the windows).
        size, stride: window geometry in stack pixels.
        seconds: time spent in the model.
        pad: cells a window reaches before the cell it scores: ``size // 2`` when windows are
            centred on cells (the grid is then the stack's), 0 for the window recipe.
    """

    prob: np.ndarray
    margin: np.ndarray
    grid: GridSpec
    size: int
    stride: int
    seconds: float = 0.0
    pad: int = 0

    def offsets(self, ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        """(N, 2) upper-left stack pixels of the windows that scored cells (ii, jj) of :attr:`grid`."""
        return np.column_stack([np.asarray(ii) * self.stride - self.pad, np.asarray(jj) * self.stride - self.pad])

    @property
    def footprint(self) -> int:
        """Side in stack cells of the map area one score stands for: 1 per cell, or the window."""
        return 1 if self.size == 1 or self.pad else self.size


def stride_grid(grid: GridSpec, size: int, stride: int) -> GridSpec:
    """The grid whose cells are the central stride x stride blocks of the windows."""
    nr, nc = window_grid_shape(grid.height, grid.width, size, stride)
    off = (size - stride) / 2.0
    t = grid.transform @ Affine.translation(off, off) @ Affine.scale(stride)
    return GridSpec(grid.crs, t, nc, nr)


def predict(
    model: nn.Module,
    stack: Stack | str | Path,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    size: int,
    stride: int,
    min_valid: float = 0.5,
    batch_size: int = 256,
    device: str = "auto",
    crop: int | None = None,
    block_size: int = 1024,
    prefetch: int = 2,
    cut_on_device: bool | None = None,
    client=None,
    stats: dict | None = None,
    centred: bool = False,
) -> Prediction:
    """Score every window of a stack with at least ``min_valid`` valid pixels.

    ``stack``: a :class:`Stack` in memory (scored from memory), or a stack GeoTIFF read block
    by block (memory bounded by ``block_size``, not the map): ``prefetch`` batches read ahead
    by a background thread (0 = read in the calling thread); ``cut_on_device`` (default: on
    CUDA) sends each block's z-scored region to the device once and cuts the windows there;
    with a dask ``client``, one task per window block on the cluster. All give the same scores
    (bit for bit on the CPU). ``mean``/``std``: the model's normalisation (one per band);
    ``crop``: the model sees the centre ``crop`` pixels of every ``size`` window (a model trained
    on random crops, papers 001/002); the window grid, the valid-fraction test and the output
    stay those of ``size``. ``stats``, when given, is filled with windows, seconds,
    windows_per_s, wait_s (time the model waited for data), busy_fraction and device.

    ``centred`` (the cell as the sample, :mod:`geoprospect.windows.cells`; needs ``stride`` 1):
    one window per cell, centred on it (pixels beyond the edge read as the band mean), scored
    when the cell has data in every band; the prediction's grid is then the stack's own grid.
    """
    dev = resolve_device(device)
    if centred and stride != 1:
        raise InputError(f"windows centred on every cell need stride 1, got {stride}")
    pad = centred_pad(size, centred)
    if isinstance(stack, Stack):
        side = check_model_input(mean, std, stack.data.shape[0], size, crop)
        batch_size = scoring_batch(model, stack.data.shape[0] * side * side, batch_size)
        grid, scores, what = stack.grid, _score_memory(model, stack, mean, std, size, stride, min_valid, batch_size, dev, crop, pad), "in memory"
    else:
        path = Path(stack)
        if not path.exists():
            raise InputError("stack raster not found", path=path, hint="build it first (geoprospect stack) or check the path")
        grid = GridSpec.from_raster(path)
        with rasterio.open(path) as src:
            side = check_model_input(mean, std, src.count, size, crop, path)
            batch_size = scoring_batch(model, src.count * side * side, batch_size)
        if client is not None:
            scores = score_dask(model, path, mean, std, size=size, stride=stride, min_valid=min_valid, batch_size=batch_size,
                                device=str(device), block_size=block_size, client=client, crop=crop, pad=pad)
            what = "on dask"
        else:
            on_device = dev.type == "cuda" if cut_on_device is None else bool(cut_on_device)
            scores, n_blocks = _score_blocks(model, path, grid, mean, std, size, stride, min_valid, batch_size, dev, crop, side,
                                             block_size, prefetch, on_device, pad)
            what = f"in {n_blocks} blocks" + (" (windows cut on the device)" if on_device else "")
    st = scores.stats(dev)
    log.info("scored %d windows %s in %.1f s (%.0f windows/s) on %s; waited %.1f s for data",
             st["windows"], what, st["seconds"], st["windows_per_s"], dev, st["wait_s"])
    if stats is not None:
        stats.update(st)
    return Prediction(scores.prob, scores.margin, grid if centred else stride_grid(grid, size, stride), size, stride, scores.seconds, pad)


def _score_memory(model, stack: Stack, mean, std, size, stride, min_valid, batch_size, dev, crop, pad: int = 0) -> Scores:
    if pad:  # windows centred on every cell with data; WindowDataset reads 0 (the mean) beyond the edge
        nr, nc = stack.grid.shape
        ii, jj = np.nonzero(stack.valid)
        offsets = np.column_stack([ii - pad, jj - pad])
    else:
        nr, nc = window_grid_shape(stack.grid.height, stack.grid.width, size, stride)
        vfrac = _box_sums(stack.valid, size, stride, nr, nc) / float(size * size)
        ii, jj = np.nonzero(vfrac >= min_valid)
        offsets = np.column_stack([ii * stride, jj * stride])
    batches = memory_batches(normalise(stack.data, mean, std), offsets, size, batch_size, index=(ii, jj), crop=crop)
    with Task("predict", ii.size, unit="window") as task:
        return score_batches(model, batches, (nr, nc), dev, progress=task)


def _score_dense(model, path: Path, grid: GridSpec, mean, std, size: int, block_size: int, dev, pad: int) -> tuple[Scores, int]:
    """A fully-convolutional model (``dense_logits``, e.g. dense_cnn) over every block in one
    pass each: the block read with a halo of ``pad`` cells (NaN beyond the stack = 0 after
    z-scoring, as a patch overhanging the edge reads), every cell with data scored. Same
    numbers as scoring each centred patch alone (tests/test_cells.py), without cutting patches."""
    prob: np.ndarray = np.full(grid.shape, np.nan, dtype=score_dtype(grid.shape))
    margin: np.ndarray = np.full(grid.shape, np.nan, dtype=score_dtype(grid.shape))
    blocks = list(window_blocks(grid, size, 1, block_size, pad))
    model = model.to(dev).eval()
    n, t0 = 0, time.perf_counter()
    with gdal_env(READ_CACHE_MB), rasterio.open(path) as src, Task("predict", len(blocks), unit="block") as task, torch.no_grad():
        for wb in blocks:
            region = read_region(src, wb.pixels, pad)
            ok = np.all(np.isfinite(region[:, pad : pad + wb.ni, pad : pad + wb.nj]), axis=0)
            if ok.any():
                x = torch.from_numpy(normalise(region, mean, std))[None].to(dev)
                z = model.dense_logits(x)[0, 0, pad : pad + wb.ni, pad : pad + wb.nj].double().cpu().numpy()
                rows, cols = slice(wb.i0, wb.i0 + wb.ni), slice(wb.j0, wb.j0 + wb.nj)
                margin[rows, cols] = np.where(ok, z, np.nan)
                prob[rows, cols] = np.where(ok, sigmoid(z), np.nan)
                n += int(ok.sum())
            task.update(1)
    return Scores(prob, margin, n, time.perf_counter() - t0, 0.0), len(blocks)


def _score_blocks(model, path: Path, grid: GridSpec, mean, std, size, stride, min_valid, batch_size, dev, crop, side,
                  block_size, prefetch, on_device, pad: int = 0) -> tuple[Scores, int]:
    if pad and crop is None and hasattr(model, "dense_logits"):
        return _score_dense(model, path, grid, mean, std, size, block_size, dev, pad)
    if on_device:  # at least batch_size windows per block, so batches stay full
        block_size = max(block_size, int(np.ceil(np.sqrt(batch_size))) * stride)
    blocks = list(window_blocks(grid, size, stride, block_size, pad))
    pin = dev.type == "cuda"
    it: Any  # regions (cut on the device below) or ready batches
    if on_device:
        it = block_regions(path, blocks, mean, std, size, stride, min_valid, pin=pin, crop=crop, pad=pad)
    else:
        it = block_batches(path, blocks, mean, std, size, stride, min_valid, batch_size, pin=pin, crop=crop, pad=pad)
    with contextlib.ExitStack() as es:
        if prefetch > 0:
            it = iter(es.enter_context(Prefetcher(it, prefetch)))
        if on_device:
            it = device_cut_batches(it, dev, side, batch_size)
        task = es.enter_context(Task("predict", len(blocks), unit="block"))
        shape = grid.shape if pad else window_grid_shape(grid.height, grid.width, size, stride)
        return score_batches(model, it, shape, dev, progress=task), len(blocks)


def write_prediction(pred: Prediction, out: str | Path, *, model_name: str = "", calibration: str = "") -> Path:
    """Write the prospectivity GeoTIFF (probability, logit margin) and its QML style.

    ``calibration``: how band 1 was calibrated (tag ``GEOPROSPECT_CALIBRATION`` and band 1's
    ``CALIBRATION`` item); empty = the model's own softmax probability.
    """
    out = Path(out)
    how = calibration or "uncalibrated: the model's softmax probability"
    write_raster(
        out,
        [pred.prob, pred.margin],  # by strips: no (2, rows, cols) copy
        pred.grid,
        ["prospectivity", "logit_margin"],
        tags={
            "GEOPROSPECT_KIND": "prospectivity",
            "GEOPROSPECT_SAMPLE_UNIT": "cell (one score per grid cell)" if pred.footprint == 1 else "window",
            "GEOPROSPECT_WINDOW_SIZE": str(pred.size),
            "GEOPROSPECT_WINDOW_STRIDE": str(pred.stride),
            "GEOPROSPECT_MODEL": model_name,
            "GEOPROSPECT_CALIBRATION": how,
        },
        band_tags=[{"CALIBRATION": how}, {"CALIBRATION": "raw logit margin (not calibrated; ranks without ties)"}],
    )
    write_qml(out.with_suffix(".qml"), "prospectivity", *display_range(pred.prob))
    return out


def window_scores(pred: Prediction, stack_grid: GridSpec, windows: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """One polygon per scored window (full window footprint) with its probability and margin.

    When a window index is given, its label/split/n_deposits columns are joined by (row, col).
    """
    ii, jj = np.nonzero(np.isfinite(pred.prob))
    t = stack_grid.transform
    x0 = t.c + jj * pred.stride * t.a
    y0 = t.f + ii * pred.stride * t.e
    gdf = gpd.GeoDataFrame(
        {
            "row": ii.astype(np.int64),
            "col": jj.astype(np.int64),
            "row_off": (ii * pred.stride).astype(np.int64),
            "col_off": (jj * pred.stride).astype(np.int64),
            "prob": pred.prob[ii, jj],
            "margin": pred.margin[ii, jj],
        },
        geometry=shapely.box(x0, y0 + pred.size * t.e, x0 + pred.size * t.a, y0),
        crs=stack_grid.crs.to_wkt(),
    )
    if windows is not None:
        cols = [c for c in ("id", "label", "split", "n_deposits") if c in windows.columns]
        gdf = gdf.merge(windows[["row", "col", *cols]], on=["row", "col"], how="left")
        if "split" in gdf:
            gdf["split"] = gdf["split"].fillna("none")
    return gdf
