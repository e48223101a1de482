"""The evidence stack as a lazy, dask-chunked xarray.DataArray (for xarray/rioxarray users).

Each chunk is :func:`geoprospect.stack.build.compute_block` on that chunk's sub-grid, the
function :func:`geoprospect.stack.build.build_stack` writes: the values are those of the
built stack file.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from geoprospect.grid import GridSpec
from geoprospect.stack.blocks import align_block_size, iter_blocks
from geoprospect.stack.build import compute_block
from geoprospect.stack.layers import StackLayer, band_names


def _ref(obj, client):
    """One reference to a (large) object for every task: scattered to the workers, or a delayed literal."""
    import dask

    if client is not None:
        return client.scatter(obj, broadcast=True, hash=False)
    return dask.delayed(obj, traverse=False)


def stack_dataarray(layers: Sequence[StackLayer], grid: GridSpec, *, block_size: int = 1024, client=None):
    """The stack as a lazy (band, y, x) float32 xarray.DataArray chunked block_size x block_size.

    Coordinates are cell centres; the CRS and transform are set with rioxarray. Nothing is
    computed until the array is written or ``.compute()`` is called (on ``client`` when given).
    """
    import dask
    import dask.array as da
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    names = band_names(layers)
    bs = align_block_size(block_size)
    ref = _ref(list(layers), client)
    rows: dict[int, list] = {}
    for b in iter_blocks(grid.height, grid.width, bs):
        d = dask.delayed(compute_block, pure=True)(ref, grid, b, dask_key_name=f"geoprospect-stack-{b.row_off}-{b.col_off}-{id(ref)}")
        rows.setdefault(b.row_off, []).append(da.from_delayed(d, shape=(len(names), b.height, b.width), dtype=np.float32))
    arr = da.block([rows[r] for r in sorted(rows)])
    x = xr.DataArray(arr, dims=("band", "y", "x"), coords={"band": names, "y": grid.y_centers(), "x": grid.x_centers()}, name="evidence_stack")
    x = x.rio.write_crs(grid.crs.to_wkt()).rio.write_transform(grid.transform)
    return x.rio.write_nodata(np.nan, encoded=False)
