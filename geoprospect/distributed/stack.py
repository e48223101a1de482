"""The evidence stack on dask: chunks computed by the block functions, written per chunk.

Each chunk is :func:`geoprospect.blocks.stack.compute_block` on that chunk's sub-grid (layers
with a halo get it explicitly, as in the single-machine path), so both paths give the same
rasters bit for bit. The GeoTIFF is created once (tiled, compressed, sparse), every chunk
writes its own window under a ``distributed.Lock`` (chunks are aligned to the 256-pixel
tiles, so each tile is written once), per-chunk statistics are merged, and the overviews
are built from the finished tiles at the end. The file appears under its final name only
when complete.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Sequence

import numpy as np
import rasterio

from geoprospect.blocks.iteration import Block, align_block_size, iter_blocks
from geoprospect.blocks.stack import BlockLayer, StackFile, band_names, check_valid, compute_block, stack_tags
from geoprospect.blocks.stats import RunningStats, merge_all
from geoprospect.blocks.writer import create_raster, finish_raster, gdal_env, write_block
from geoprospect.grid import GridSpec
from geoprospect.io.atomic import atomic_path
from geoprospect.io.rasters import NODATA

log = logging.getLogger(__name__)

_local_lock = threading.Lock()


def _lock(name: str):
    """A distributed.Lock inside a dask worker, a process-wide lock otherwise."""
    try:
        from distributed import Lock, get_worker

        get_worker()
        return Lock(name)
    except (ImportError, ValueError):
        return _local_lock


def _compute(layers: Sequence[BlockLayer], grid: GridSpec, block: Block) -> np.ndarray:
    return compute_block(layers, grid, block)


def _write(data: np.ndarray, path: str, block: Block, lock_name: str, nodata: float) -> list[RunningStats]:
    with _lock(lock_name):
        with gdal_env(), rasterio.open(path, "r+") as dst:
            return write_block(dst, block, data, nodata)


def _ref(obj, client):
    """One reference to a (large) object for every task: scattered to the workers, or a delayed literal."""
    import dask

    if client is not None:
        return client.scatter(obj, broadcast=True, hash=False)
    return dask.delayed(obj, traverse=False)


def stack_dataarray(layers: Sequence[BlockLayer], grid: GridSpec, *, block_size: int = 1024, client=None):
    """The stack as a lazy (band, y, x) float32 xarray.DataArray chunked block_size x block_size.

    Coordinates are cell centres; the CRS and transform are set with rioxarray. Nothing is
    computed until the array is written or ``.compute()`` is called.
    """
    import dask
    import dask.array as da
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    names = band_names(layers)
    bs = align_block_size(block_size)
    ref = _ref(list(layers), client)
    rows = []
    for r0 in range(0, grid.height, bs):
        row = []
        for c0 in range(0, grid.width, bs):
            b = Block(r0, c0, min(bs, grid.height - r0), min(bs, grid.width - c0))
            d = dask.delayed(_compute, pure=True)(ref, grid, b, dask_key_name=f"geoprospect-stack-{r0}-{c0}-{id(ref)}")
            row.append(da.from_delayed(d, shape=(len(names), b.height, b.width), dtype=np.float32))
        rows.append(row)
    arr = da.block(rows)
    x = xr.DataArray(arr, dims=("band", "y", "x"), coords={"band": names, "y": grid.y_centers(), "x": grid.x_centers()}, name="evidence_stack")
    x = x.rio.write_crs(grid.crs.to_wkt()).rio.write_transform(grid.transform)
    return x.rio.write_nodata(np.nan, encoded=False)


def write_dataarray(arr, grid: GridSpec, out: str | Path, *, band_names_: Sequence[str] | None = None, tags: dict | None = None, band_tags: Sequence[dict] | None = None, nodata: float = NODATA, overviews: bool = True) -> list[dict]:
    """Write a dask-chunked (band, y, x) DataArray (or dask array) on ``grid`` to one tiled GeoTIFF, chunk by chunk.

    Runs on the current dask scheduler (the distributed client when one exists). Returns
    per-band statistics merged from the chunks.
    """
    import dask

    data = getattr(arr, "data", arr)
    names = list(band_names_ if band_names_ is not None else [str(v) for v in arr.coords["band"].values])
    out = Path(out)
    with atomic_path(out) as tmp:
        create_raster(tmp, grid, names, nodata=nodata, tags=tags, band_tags=band_tags, sparse=True)
        lock_name = f"geoprospect-write-{tmp.name}"
        parts = data.to_delayed()
        r_starts = np.cumsum((0,) + data.chunks[1])
        c_starts = np.cumsum((0,) + data.chunks[2])
        tasks = []
        for i in range(parts.shape[1]):
            for j in range(parts.shape[2]):
                b = Block(int(r_starts[i]), int(c_starts[j]), data.chunks[1][i], data.chunks[2][j])
                tasks.append(dask.delayed(_write, pure=False)(parts[0, i, j], str(tmp), b, lock_name, nodata))
        results = dask.compute(*tasks)
        stats = merge_all(list(results))
        check_valid(names, [s.to_dict() for s in stats])
        with gdal_env(), rasterio.open(tmp, "r+") as dst:
            finish_raster(dst, grid, stats, overviews)
    return [s.to_dict() for s in stats]


def build_stack_dask(layers: Sequence[BlockLayer], grid: GridSpec, out: str | Path, *, block_size: int = 1024, client=None) -> StackFile:
    """The dask version of :func:`geoprospect.blocks.stack.build_stack_blocks` (same file, same bytes of data)."""
    names = band_names(layers)
    tags, btags = stack_tags(layers)
    arr = stack_dataarray(layers, grid, block_size=block_size, client=client)
    stats = write_dataarray(arr, grid, out, band_names_=names, tags=tags, band_tags=btags)
    log.info("wrote stack %s on dask (%d chunks): %d bands on %d x %d cells", out, arr.data.npartitions, len(names), grid.height, grid.width)
    return StackFile(Path(out), grid, names, stats)
