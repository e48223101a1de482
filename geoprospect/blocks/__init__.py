"""Block-wise processing (DESIGN.md decision 11): memory bounded by the block, not the map.

- :mod:`.iteration`: blocks of a grid, their sub-grids and halos.
- :mod:`.stats`: per-band statistics merged across blocks.
- :mod:`.writer`: a tiled GeoTIFF written window by window.
- :mod:`.stack`: evidence layers computed block by block into the stack GeoTIFF.

The same block functions run on dask in :mod:`geoprospect.distributed`; window prediction
block by block lives in :mod:`geoprospect.prediction.sources`.
"""

from geoprospect.blocks.iteration import Block, iter_blocks, sub_grid
from geoprospect.blocks.stats import RunningStats
from geoprospect.blocks.writer import BlockWriter

__all__ = ["Block", "iter_blocks", "sub_grid", "RunningStats", "BlockWriter"]
