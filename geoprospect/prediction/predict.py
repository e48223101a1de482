"""Score every window of a stack and write the prospectivity map on the window-stride grid.

The map's cell (i, j) is the central ``stride`` x ``stride`` block of the window whose
upper-left pixel is (i*stride, j*stride): its transform is the stack's, shifted by
(size - stride) / 2 pixels and scaled by ``stride``. Band 1 is the deposit probability;
band 2 is the logit margin (logit_deposit - logit_background, float64 ranks without the ties
a saturated sigmoid creates, as DESIGN.md warns).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
import torch
from torch import nn

from geoprospect.grid import GridSpec
from geoprospect.io.rasters import Stack, write_qml, write_raster
from geoprospect.progress import Task
from geoprospect.training.accelerate import resolve_device
from geoprospect.windows.dataset import WindowDataset, normalise
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
    """

    prob: np.ndarray
    margin: np.ndarray
    grid: GridSpec
    size: int
    stride: int
    seconds: float = 0.0


def stride_grid(grid: GridSpec, size: int, stride: int) -> GridSpec:
    """The grid whose cells are the central stride x stride blocks of the windows."""
    nr, nc = window_grid_shape(grid.height, grid.width, size, stride)
    from affine import Affine

    off = (size - stride) / 2.0
    t = grid.transform @ Affine.translation(off, off) @ Affine.scale(stride)
    return GridSpec(grid.crs, t, nc, nr)


@torch.no_grad()
def predict_stack(
    model: nn.Module,
    stack: Stack,
    mean: list[float],
    std: list[float],
    *,
    size: int,
    stride: int,
    min_valid: float = 0.5,
    batch_size: int = 256,
    device: str = "auto",
) -> Prediction:
    """Score every window with at least ``min_valid`` valid pixels, in batches."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    nr, nc = window_grid_shape(stack.grid.height, stack.grid.width, size, stride)
    vfrac = _box_sums(stack.valid, size, stride, nr, nc) / float(size * size)
    ii, jj = np.nonzero(vfrac >= min_valid)
    offsets = np.column_stack([ii * stride, jj * stride])
    ds = WindowDataset(normalise(stack.data, mean, std), offsets, size)
    prob = np.full((nr, nc), np.nan)
    margin = np.full((nr, nc), np.nan)
    t0 = time.perf_counter()
    with Task("predict", len(ds), unit="window") as task:
        for b0 in range(0, len(ds), batch_size):
            idx = np.arange(b0, min(b0 + batch_size, len(ds)))
            x = ds.batch(idx).to(dev)
            logits = model(x).double().cpu()
            p = torch.softmax(logits, dim=1)[:, 1].numpy()
            m = (logits[:, 1] - logits[:, 0]).numpy()
            prob[ii[idx], jj[idx]] = p
            margin[ii[idx], jj[idx]] = m
            task.update(len(idx))
    secs = time.perf_counter() - t0
    log.info("scored %d windows in %.1f s (%.0f windows/s) on %s", len(ds), secs, len(ds) / max(secs, 1e-9), dev)
    return Prediction(prob, margin, stride_grid(stack.grid, size, stride), size, stride, secs)


def write_prediction(pred: Prediction, out: str | Path, *, model_name: str = "") -> Path:
    """Write the prospectivity GeoTIFF (probability, logit margin) and its QML style."""
    out = Path(out)
    write_raster(
        out,
        np.stack([pred.prob, pred.margin]).astype(np.float32),
        pred.grid,
        ["prospectivity", "logit_margin"],
        tags={
            "GEOPROSPECT_KIND": "prospectivity",
            "GEOPROSPECT_WINDOW_SIZE": str(pred.size),
            "GEOPROSPECT_WINDOW_STRIDE": str(pred.stride),
            "GEOPROSPECT_MODEL": model_name,
        },
    )
    write_qml(out.with_suffix(".qml"), "prospectivity", 0.0, 1.0)
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
