"""One evidence layer as its own GeoTIFF, computed and written block by block.

The standalone commands (``geoprospect interpolate / distance / density / geology``) write
through the stack builder (:func:`geoprospect.stack.build.build_stack`) with their one layer,
so their memory is bounded by the block, not by the map, as in ``geoprospect run``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from geoprospect.grid import GridSpec
from geoprospect.io.rasters import COMPRESS, write_qml
from geoprospect.stack.area import StudyArea
from geoprospect.stack.build import StackFile, build_stack
from geoprospect.stack.executors import Executor
from geoprospect.stack.layers import StackLayer

log = logging.getLogger(__name__)


def write_layer(layer: StackLayer, grid: GridSpec, out: str | Path, kind: str, *, area: StudyArea | None = None, block_size: int = 1024,
                executor: Executor | None = None, compress: str = COMPRESS, cog: bool = False) -> StackFile:
    """Write ``layer`` on ``grid`` to ``out`` by blocks of ``block_size`` pixels, tagged
    ``GEOPROSPECT_KIND=kind`` (idw, kriging, distance, density, categorical...), with a QGIS style
    (``.qml``) beside it stretched over the finite values of all bands (from the per-block
    statistics: no second pass). Cells outside ``area`` are nodata. A band without a single
    valid cell is written (all nodata), with a warning."""
    sf = build_stack([layer], grid, out, executor=executor, block_size=block_size, area=area,
                     tags={"GEOPROSPECT_KIND": kind}, require_valid=False, compress=compress, cog=cog)
    lo = min((s["min"] for s in sf.stats if s["valid"]), default=math.nan)
    hi = max((s["max"] for s in sf.stats if s["valid"]), default=math.nan)
    if math.isfinite(lo):
        write_qml(Path(out).with_suffix(".qml"), "evidence", float(lo), float(hi))
    for name, s in zip(sf.band_names, sf.stats, strict=True):
        if not s["valid"]:
            log.warning("%s: no cell has a value (band written as nodata)", name)
    return sf
