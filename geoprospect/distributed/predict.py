"""Window prediction on dask: one task per window block, reading its pixels plus halo itself."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import rasterio
import torch

from geoprospect.blocks.predict import BlockWindows, WindowBlock, read_region, window_blocks
from geoprospect.blocks.writer import gdal_env
from geoprospect.errors import InputError, ModelError
from geoprospect.grid import GridSpec
from geoprospect.prediction.predict import Prediction, stride_grid
from geoprospect.training.accelerate import resolve_device
from geoprospect.windows.tiling import window_grid_shape

log = logging.getLogger(__name__)


@torch.no_grad()
def predict_window_block(model, path: str, wb: WindowBlock, mean, std, size: int, stride: int, min_valid: float, batch_size: int, device: str, crop: int | None = None) -> np.ndarray:
    """(2, ni, nj) float64 probability and logit margin of one window block (NaN = not scored)."""
    out = np.full((2, wb.ni, wb.nj), np.nan)
    with gdal_env(), rasterio.open(path) as src:
        bw = BlockWindows(read_region(src, wb.pixels), wb, mean, std, size, stride, min_valid, crop)
    dev = resolve_device(device)
    model = model.to(dev).eval()
    for b0 in range(0, len(bw), batch_size):
        s = slice(b0, min(b0 + batch_size, len(bw)))
        logits = model(torch.from_numpy(bw.batch(s)).to(dev)).double().cpu()
        out[0, bw.ii[s], bw.jj[s]] = torch.softmax(logits, dim=1)[:, 1].numpy()
        out[1, bw.ii[s], bw.jj[s]] = (logits[:, 1] - logits[:, 0]).numpy()
    return out


def predict_dask(model, stack_path: str | Path, mean: list[float], std: list[float], *, size: int, stride: int, min_valid: float = 0.5, batch_size: int = 256, device: str = "auto", block_size: int = 1024, client=None, crop: int | None = None) -> Prediction:
    """The dask version of :func:`geoprospect.blocks.predict.predict_blocks` (same blocks, same batches).

    The model is sent to the workers once; every worker reads its blocks from ``stack_path``
    (a shared file system). The (small) window-stride map is gathered on the client.
    """
    import dask
    import dask.array as da

    path = Path(stack_path)
    if not path.exists():
        raise InputError("stack raster not found", path=path)
    grid = GridSpec.from_raster(path)
    with rasterio.open(path) as src:
        if src.count != len(mean) or src.count != len(std):
            raise ModelError(f"the model was trained on {len(mean)} bands, the stack has {src.count}", path=path)
    model = model.cpu().eval()
    ref = client.scatter(model, broadcast=True, hash=False) if client is not None else dask.delayed(model, traverse=False)
    nr, nc = window_grid_shape(grid.height, grid.width, size, stride)
    rows: dict[int, list] = {}
    for wb in window_blocks(grid, size, stride, block_size):
        d = dask.delayed(predict_window_block, pure=True)(ref, str(path), wb, list(mean), list(std), size, stride, min_valid, batch_size, device, crop)
        rows.setdefault(wb.i0, []).append(da.from_delayed(d, shape=(2, wb.ni, wb.nj), dtype=np.float64))
    arr = da.block([rows[k] for k in sorted(rows)])
    t0 = time.perf_counter()
    res = arr.compute()
    secs = time.perf_counter() - t0
    assert res.shape == (2, nr, nc)
    log.info("scored %d windows on dask in %.1f s", int(np.isfinite(res[0]).sum()), secs)
    return Prediction(res[0], res[1], stride_grid(grid, size, stride), size, stride, secs)
