"""Building the evidence stack: every layer on one grid, block by block, into one GeoTIFF.

One builder, :func:`build_stack`, whatever runs the blocks: this process
(:class:`~geoprospect.stack.executors.LocalExecutor`) or a dask cluster
(:class:`~geoprospect.stack.executors.DaskExecutor`). Each block is :func:`compute_block` on
that block's sub-grid, so both give the same file bit for bit; the blocks are written by the
one raster writer (:class:`geoprospect.io.rasters.RasterWriter`) in this process.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from geoprospect.errors import GridError, InputError
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import COMPRESS, RasterWriter
from geoprospect.progress import Task
from geoprospect.stack.area import StudyArea
from geoprospect.stack.blocks import Block, align_block_size, iter_blocks, n_blocks, sub_grid
from geoprospect.stack.executors import Executor, LocalExecutor
from geoprospect.stack.layers import StackLayer, band_names, stack_tags

log = logging.getLogger(__name__)


@dataclass
class StackFile:
    """A built evidence stack (on disk; read it into memory with ``io.rasters.read_stack``).

    Attributes:
        path: the multiband GeoTIFF.
        grid: its grid.
        band_names: one name per band.
        stats: per-band min/max/mean/std/valid (as ``io.rasters.band_stats``).
    """

    path: Path
    grid: GridSpec
    band_names: list[str]
    stats: list[dict[str, float]]


def compute_block(layers: Sequence[StackLayer], grid: GridSpec, block: Block) -> np.ndarray:
    """Every band of ``layers`` on one block -> (bands, h, w) float32 (NaN = nodata); with one
    layer, that layer's own array (possibly a view of its data: read only)."""
    out = []
    for lay in layers:
        big = block.grow(lay.halo, grid.height, grid.width) if lay.halo else block
        arr = np.asarray(lay.compute(sub_grid(grid, big)), dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.shape != (len(lay.names), big.height, big.width):
            raise GridError(f"layer {lay.names} returned {arr.shape} for a block of ({len(lay.names)}, {big.height}, {big.width})")
        r0, c0 = block.row_off - big.row_off, block.col_off - big.col_off
        out.append(arr[:, r0 : r0 + block.height, c0 : c0 + block.width])
    # one layer: its array as is, not copied (0.2 s of a 3072² x 8 map); callers must not modify it
    return out[0] if len(out) == 1 else np.concatenate(out, axis=0)


def compute_area_block(layers: Sequence[StackLayer], grid: GridSpec, area: StudyArea | None, block: Block) -> np.ndarray:
    """:func:`compute_block`, then every band set to NaN (nodata) outside the study area."""
    data = compute_block(layers, grid, block)
    if area is None:
        return data
    # one layer's block is that layer's own array (a view of in-memory bands for array_layer):
    # masked in a copy, so that no input is changed
    return area.nodata_outside(data if data.flags.owndata else data.copy(), sub_grid(grid, block))


def check_valid(names: Sequence[str], stats: Sequence[dict]) -> None:
    """InputError naming the first band without a single valid cell."""
    empty = [n for n, s in zip(names, stats, strict=True) if not s["valid"]]
    if empty:
        raise InputError(f"layer {empty[0]!r} holds no valid cells", hint="check its inputs cover the grid")


WRITE_QUEUE = 2  # blocks computed ahead of the writer (memory: about this many blocks more)


def write_behind(writer: RasterWriter, results: Iterable[tuple[Block, np.ndarray]], done=None, depth: int = WRITE_QUEUE) -> None:
    """Write every ``(block, data)`` of ``results`` with ``writer`` on a background thread, so
    that GDAL compresses and writes a block while the next one is computed (GDAL and numpy
    release the GIL). The queue holds at most ``depth`` blocks. ``done(1)`` is called (on this
    thread) per block handed over. A failure on either side stops both and is raised here."""
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    failed: list[BaseException] = []

    def drain() -> None:
        item = q.get()
        while item is not None:
            if not failed:
                try:
                    writer.write(item[1], item[0].row_off, item[0].col_off)
                except BaseException as e:  # handed to the computing thread, raised there
                    failed.append(e)
            item = q.get()  # after a failure: keep taking blocks so that the producer never blocks

    t = threading.Thread(target=drain, name="geoprospect-writer", daemon=True)
    t.start()
    try:
        for block, data in results:
            if failed:
                break
            q.put((block, data))
            if done is not None:
                done(1)
    finally:
        q.put(None)
        t.join()
    if failed:
        raise failed[0]


def build_stack(layers: Sequence[StackLayer], grid: GridSpec, out: str | Path, *, executor: Executor | None = None, block_size: int = 1024, area: StudyArea | None = None,
                tags: dict[str, str] | None = None, require_valid: bool = True, compress: str = COMPRESS, cog: bool = False) -> StackFile:
    """Compute ``layers`` block by block and write them as one tiled multiband GeoTIFF.

    Args:
        layers: the stack's layers (band names must be distinct).
        grid: the stack's grid (CRS, transform, shape); every layer is computed on it.
        out: the GeoTIFF to write (atomically: nothing is left when a layer fails).
        executor: where the blocks are computed (default: :class:`LocalExecutor`, this process).
        block_size: block side in pixels (rounded up to whole 256-pixel GeoTIFF tiles).
        area: study area; cells whose centre lies outside it are nodata in every band, and
            the area is recorded in the GEOPROSPECT_AREA tag.
        tags: dataset tags added to (or replacing) the stack's (e.g. GEOPROSPECT_KIND).
        require_valid: raise InputError (leaving no file) when a band holds no valid cell.
        compress, cog: the tile compression and COG layout (:class:`~geoprospect.io.rasters.RasterWriter`).

    Blocks are written on a background thread while the next is computed (:func:`write_behind`).
    Peak memory in this process is about (bands + working arrays of the layer functions) x
    block_size² cells, whatever the grid size. Band descriptions are the layer names; each
    band's statistics go into GDAL STATISTICS_* tags and its provenance into GEOPROSPECT_SOURCE.
    """
    executor = executor or LocalExecutor()
    names = band_names(layers)
    base_tags, btags = stack_tags(layers)
    tags = {**base_tags, **(tags or {})}
    if area is not None:
        tags["GEOPROSPECT_AREA"] = area.describe()
        area = area.to_crs(grid.crs)  # once, not in every block's mask
    bs = align_block_size(block_size)
    blocks = list(iter_blocks(grid.height, grid.width, bs))
    with Task("stack", n_blocks(grid.height, grid.width, bs), message=f"{len(names)} bands", unit="block") as task:
        with RasterWriter(out, grid, names, tags=tags, band_tags=btags, compress=compress, cog=cog) as w:
            write_behind(w, executor.map_blocks(compute_area_block, blocks, list(layers), grid, area), task.update)
            if require_valid:
                check_valid(names, w.stats)  # raising here leaves no file
    log.info("wrote stack %s (%s, %d px blocks): %d bands on %d x %d cells", out, executor.describe(), bs, len(names), grid.height, grid.width)
    return StackFile(Path(out), grid, names, w.stats)
