"""Window scoring on dask: one task per window block, reading its pixels plus halo itself.

The same blocks and batches as the local block source (:func:`geoprospect.prediction.sources.block_batches`),
so the scores are the same bit for bit. Workers and the client must see the same file system.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import rasterio
from torch import nn

from geoprospect.grid import GridSpec
from geoprospect.io.rasters import READ_CACHE_MB, gdal_env
from geoprospect.prediction.score import Scores, score_batches
from geoprospect.prediction.sources import BlockWindows, WindowBlock, read_region, window_blocks
from geoprospect.windows.tiling import window_grid_shape


def score_window_block(model: nn.Module, path: str, wb: WindowBlock, mean, std, size: int, stride: int, min_valid: float,
                       batch_size: int, device: str, crop: int | None = None, pad: int = 0) -> np.ndarray:
    """(2, ni, nj) float64 probability and logit margin of one window block (NaN = not scored)."""
    with gdal_env(READ_CACHE_MB), rasterio.open(path) as src:
        bw = BlockWindows(read_region(src, wb.pixels, pad), wb, mean, std, size, stride, min_valid, crop, pad)
    s = score_batches(model, bw.batches(batch_size), (wb.ni, wb.nj), device)
    return np.stack([s.prob, s.margin])


def score_dask(model: nn.Module, path: str | Path, mean, std, *, size: int, stride: int, min_valid: float, batch_size: int,
               device: str, block_size: int, client=None, crop: int | None = None, pad: int = 0) -> Scores:
    """Score the window grid of the stack GeoTIFF ``path`` on dask (``client``: a distributed.Client, or the default scheduler).

    The model is sent to the workers once; the (small) window-stride arrays are gathered on the client.
    """
    import dask
    import dask.array as da

    grid = GridSpec.from_raster(path)
    model = model.cpu().eval()
    ref = client.scatter(model, broadcast=True, hash=False) if client is not None else dask.delayed(model, traverse=False)
    nr, nc = (grid.height, grid.width) if pad else window_grid_shape(grid.height, grid.width, size, stride)
    rows: dict[int, list] = {}
    for wb in window_blocks(grid, size, stride, block_size, pad):
        d = dask.delayed(score_window_block, pure=True)(ref, str(path), wb, list(mean), list(std), size, stride, min_valid, batch_size, device, crop, pad)
        rows.setdefault(wb.i0, []).append(da.from_delayed(d, shape=(2, wb.ni, wb.nj), dtype=np.float64))
    arr = da.block([rows[k] for k in sorted(rows)])
    t0 = time.perf_counter()
    res = arr.compute()
    assert res.shape == (2, nr, nc)
    return Scores(res[0], res[1], int(np.isfinite(res[0]).sum()), time.perf_counter() - t0, 0.0)
