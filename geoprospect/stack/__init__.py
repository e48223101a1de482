"""The evidence stack: every layer on one grid, in one multiband GeoTIFF (DESIGN.md decisions 1, 11).

- :mod:`.layers`: the layers (IDW, kriging, distance, density, categorical, in-memory arrays),
  each a function of a (sub-)grid.
- :mod:`.rasters`: existing rasters as layers, read or warped onto the grid (a raster of class
  codes as one-hot class bands, recorded as one categorical layer).
- :mod:`.blocks`: blocks of a grid, their sub-grids and halos.
- :mod:`.build`: the one builder, :func:`build_stack` -> :class:`StackFile`.
- :mod:`.executors`: where the blocks run: :class:`LocalExecutor` (this process) or
  :class:`DaskExecutor` (a dask.distributed cluster, see :func:`connect`).
- :mod:`.dataarray`: the stack as a lazy dask-chunked xarray.DataArray.
"""

from geoprospect.stack.blocks import Block, iter_blocks, sub_grid
from geoprospect.stack.build import StackFile, build_stack
from geoprospect.stack.executors import DaskExecutor, Executor, LocalExecutor, connect
from geoprospect.stack.layers import (
    StackLayer,
    array_layer,
    categorical_layer,
    density_layer,
    distance_density_layer,
    distance_layer,
    idw_layer,
    kriging_layer,
)
from geoprospect.stack.rasters import categorical_raster_layer, raster_layer, read_onto_grid, stack_rasters

__all__ = [
    "Block", "iter_blocks", "sub_grid", "StackFile", "build_stack", "DaskExecutor", "Executor", "LocalExecutor", "connect",
    "StackLayer", "array_layer", "categorical_layer", "density_layer", "distance_density_layer", "distance_layer", "idw_layer",
    "kriging_layer", "raster_layer", "categorical_raster_layer", "read_onto_grid", "stack_rasters",
]
