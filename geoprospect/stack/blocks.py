"""Blocks of a grid: pixel windows, their sub-grids, and halos clipped to the grid.

A stack is built block by block (memory bounded by the block, DESIGN.md decision 11); the
same blocks are dask chunks when the stack is built on a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from geoprospect.errors import GridError
from geoprospect.grid import GridSpec

MIN_BLOCK = 16


@dataclass(frozen=True)
class Block:
    """A pixel window of a grid: upper-left cell (row_off, col_off) and its shape."""

    row_off: int
    col_off: int
    height: int
    width: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, cols) slices of this block in the full grid."""
        return slice(self.row_off, self.row_off + self.height), slice(self.col_off, self.col_off + self.width)

    def window(self):
        """The block as a rasterio Window."""
        from rasterio.windows import Window

        return Window(self.col_off, self.row_off, self.width, self.height)

    def grow(self, halo: int, height: int, width: int) -> "Block":
        """This block widened by ``halo`` cells on every side, clipped to a (height, width) grid."""
        r0, c0 = max(0, self.row_off - halo), max(0, self.col_off - halo)
        r1 = min(height, self.row_off + self.height + halo)
        c1 = min(width, self.col_off + self.width + halo)
        return Block(r0, c0, r1 - r0, c1 - c0)


def check_block_size(block_size: int) -> int:
    """Validate a block side in pixels (GridError when too small)."""
    if int(block_size) != block_size or block_size < MIN_BLOCK:
        raise GridError(f"block size must be an integer of at least {MIN_BLOCK} pixels, got {block_size!r}", hint="compute.block_size: 1024 is a good default")
    return int(block_size)


def iter_blocks(height: int, width: int, block_size: int) -> Iterator[Block]:
    """Row-major blocks of at most block_size x block_size cells covering a (height, width) grid."""
    bs = check_block_size(block_size)
    for r0 in range(0, height, bs):
        for c0 in range(0, width, bs):
            yield Block(r0, c0, min(bs, height - r0), min(bs, width - c0))


def n_blocks(height: int, width: int, block_size: int) -> int:
    """Number of blocks of :func:`iter_blocks`."""
    bs = check_block_size(block_size)
    return -(-height // bs) * -(-width // bs)


def sub_grid(grid: GridSpec, block: Block) -> GridSpec:
    """The grid of one block: same CRS and resolution, origin at the block's upper-left corner."""
    return GridSpec(grid.crs, grid.window_transform(block.row_off, block.col_off), block.width, block.height)


def align_block_size(block_size: int, tile: int = 256) -> int:
    """``block_size`` rounded up to a multiple of the GeoTIFF tile side, so each tile is written once."""
    bs = check_block_size(block_size)
    return bs if bs < tile else -(-bs // tile) * tile
