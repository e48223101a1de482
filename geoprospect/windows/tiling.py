"""Tiling the stack into windows, labelling them from deposits, and splitting them spatially.

A window is a ``size`` x ``size`` pixel block whose upper-left cell is
``(row_off, col_off) = (i * stride, j * stride)``. It is positive when a deposit lies in it.
Overlapping windows leak across a random split (DESIGN.md decision 6), so the default split is
spatial: a contiguous test block (the last ``test_fraction`` of the rows or columns, as paper 001
used the upper and lower parts), training windows at least half a window away from it, and the
windows in between marked ``buffer`` and used for neither.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely

from geoprospect.errors import DepositError, FoldError, GridError
from geoprospect.grid import GridSpec

log = logging.getLogger(__name__)

SplitAxis = Literal["rows", "cols"]


@dataclass
class TileSummary:
    """Counts reported by :func:`make_windows`."""

    total: int
    kept: int
    dropped_invalid: int
    positives: int
    deposits_inside: int
    deposits_outside: int
    by_split: dict[str, int]
    positives_by_split: dict[str, int]


def window_grid_shape(height: int, width: int, size: int, stride: int) -> tuple[int, int]:
    """Number of window rows and columns that fit entirely in a (height, width) raster."""
    if size <= 0 or stride <= 0:
        raise GridError(f"window size and stride must be positive (got {size}, {stride})")
    if size > height or size > width:
        raise GridError(f"window size {size} is larger than the stack ({height} x {width})", hint="use a smaller --size or a larger area")
    return (height - size) // stride + 1, (width - size) // stride + 1


def _box_sums(mask: np.ndarray, size: int, stride: int, nr: int, nc: int) -> np.ndarray:
    """Sum of ``mask`` over every window, with an integral image (exact integers)."""
    s = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
    s[1:, 1:] = np.cumsum(np.cumsum(mask.astype(np.int64), axis=0), axis=1)
    r0 = np.arange(nr) * stride
    c0 = np.arange(nc) * stride
    r1, c1 = r0 + size, c0 + size
    return s[r1][:, c1] - s[r0][:, c1] - s[r1][:, c0] + s[r0][:, c0]


def deposit_counts(grid: GridSpec, deposits_xy: np.ndarray, size: int, stride: int) -> tuple[np.ndarray, int, int]:
    """(window rows, window cols) number of deposits in each window; also inside/outside counts."""
    nr, nc = window_grid_shape(grid.height, grid.width, size, stride)
    deposits_xy = np.asarray(deposits_xy, dtype=np.float64).reshape(-1, 2)
    inside = grid.contains(deposits_xy[:, 0], deposits_xy[:, 1])
    r, c = grid.rowcol(deposits_xy[inside, 0], deposits_xy[inside, 1])
    hits = np.zeros(grid.shape, dtype=np.int64)
    np.add.at(hits, (r, c), 1)
    return _box_sums(hits, size, stride, nr, nc), int(inside.sum()), int((~inside).sum())


def split_windows(
    nr: int,
    nc: int,
    size: int,
    stride: int,
    shape: tuple[int, int],
    test_fraction: float = 0.3,
    axis: SplitAxis = "rows",
    test_side: Literal["start", "end"] = "end",
) -> np.ndarray:
    """'train' / 'test' / 'buffer' for each window of an (nr, nc) window grid.

    The test block is the last (or first) ``test_fraction`` of the pixel rows (or columns).
    Training windows end at least ``size // 2`` pixels before the block boundary.
    """
    if not 0 < test_fraction < 1:
        raise GridError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    n_pix = shape[0] if axis == "rows" else shape[1]
    n_win = nr if axis == "rows" else nc
    start = np.arange(n_win) * stride
    end = start + size
    gap = size // 2
    if test_side == "end":
        b = int(round(n_pix * (1 - test_fraction)))
        test = start >= b
        train = end <= b - gap
    else:
        b = int(round(n_pix * test_fraction))
        test = end <= b
        train = start >= b + gap
    lab = np.where(test, "test", np.where(train, "train", "buffer"))
    out = np.empty((nr, nc), dtype=object)
    if axis == "rows":
        out[:] = lab[:, None]
    else:
        out[:] = lab[None, :]
    return out


def make_windows(
    valid: np.ndarray,
    grid: GridSpec,
    deposits_xy: np.ndarray,
    *,
    size: int = 32,
    stride: int = 16,
    min_valid: float = 0.5,
    test_fraction: float | None = 0.3,
    split_axis: SplitAxis = "rows",
    test_side: Literal["start", "end"] = "end",
    check_split: bool = True,
) -> tuple[gpd.GeoDataFrame, TileSummary]:
    """Window index over a stack.

    Args:
        valid: (rows, cols) bool, True where every band of the stack is valid.
        grid: the stack's grid.
        deposits_xy: (N, 2) deposit coordinates in the grid's CRS.
        size, stride: window size and stride in pixels.
        min_valid: windows with a smaller fraction of valid pixels are dropped (and counted).
        test_fraction: the spatial block held out as 'test' (see :func:`split_windows`);
            None puts every window in 'train' (held-out figures then come from cross-validation).
        check_split: refuse (FoldError) a test block without a deposit; False when the windows
            are evaluated by cross-validation instead (the ``split`` column is then unused).

    Returns:
        A GeoDataFrame (the grid's CRS) with one polygon per kept window and columns
        id, row, col, row_off, col_off, size, stride, valid_frac, n_deposits, label, split;
        and a :class:`TileSummary`.
    """
    if valid.shape != grid.shape:
        raise GridError(f"valid mask {valid.shape} does not match grid {grid.shape}")
    nr, nc = window_grid_shape(grid.height, grid.width, size, stride)
    counts, n_in, n_out = _deposits_per_window(grid, deposits_xy, size, stride)
    vfrac = _box_sums(valid, size, stride, nr, nc) / float(size * size)
    if test_fraction is None:
        split = np.full((nr, nc), "train", dtype=object)
    else:
        split = split_windows(nr, nc, size, stride, grid.shape, test_fraction, split_axis, test_side)
    keep = vfrac >= min_valid
    gdf = _window_table(grid, keep, vfrac, counts, split, size, stride)
    by_split = {s: int((gdf["split"] == s).sum()) for s in ("train", "test", "buffer")}
    pos_split = {s: int(((gdf["split"] == s) & (gdf["label"] == 1)).sum()) for s in ("train", "test", "buffer")}
    summary = TileSummary(int(nr * nc), len(gdf), int((~keep).sum()), int(gdf["label"].sum()), n_in, n_out, by_split, pos_split)
    log.info(
        "%d windows of %d px (stride %d): %d kept, %d dropped (< %.0f%% valid); %d positive; split %s; positives %s",
        summary.total, size, stride, summary.kept, summary.dropped_invalid, 100 * min_valid, summary.positives, by_split, pos_split,
    )
    if check_split and test_fraction is not None and pos_split["test"] == 0:
        _refuse_empty_test_block(counts > 0, keep, (nr, nc), size, stride, grid.shape, test_fraction, split_axis, test_side, by_split["test"], summary.positives)
    if check_split and by_split["train"] and pos_split["train"] == 0:
        log.warning("the train split holds no positive window: the model cannot learn what a deposit looks like")
    return gdf, summary


def _deposits_per_window(
    grid: GridSpec, deposits_xy: np.ndarray, size: int, stride: int
) -> tuple[np.ndarray, int, int]:
    """:func:`deposit_counts`, refusing when no deposit lies inside the grid (warns about those outside)."""
    counts, n_in, n_out = deposit_counts(grid, deposits_xy, size, stride)
    if n_in == 0:
        b = grid.bounds
        raise DepositError(
            f"none of the {len(deposits_xy)} deposits lies inside the grid ({b[0]:.0f}, {b[1]:.0f}, {b[2]:.0f}, {b[3]:.0f})",
            hint="check the deposits' CRS and the grid bounds",
        )
    if n_out:
        log.warning("%d of %d deposits lie outside the grid and are ignored", n_out, n_in + n_out)
    return counts, n_in, n_out


def _window_table(
    grid: GridSpec,
    keep: np.ndarray,
    vfrac: np.ndarray,
    counts: np.ndarray,
    split: np.ndarray,
    size: int,
    stride: int,
) -> gpd.GeoDataFrame:
    """One polygon row per kept window, in the grid's CRS (columns: see :func:`make_windows`)."""
    nr, nc = keep.shape
    ii, jj = np.meshgrid(np.arange(nr), np.arange(nc), indexing="ij")
    rows, cols = ii[keep], jj[keep]
    row_off, col_off = rows * stride, cols * stride
    t = grid.transform
    x0 = t.c + col_off * t.a
    y0 = t.f + row_off * t.e
    geoms = shapely.box(x0, y0 + size * t.e, x0 + size * t.a, y0)
    n = counts[keep]
    gdf = gpd.GeoDataFrame(
        {
            "id": np.arange(1, rows.size + 1, dtype=np.int64),
            "row": rows.astype(np.int64),
            "col": cols.astype(np.int64),
            "row_off": row_off.astype(np.int64),
            "col_off": col_off.astype(np.int64),
            "size": np.full(rows.size, size, dtype=np.int64),
            "stride": np.full(rows.size, stride, dtype=np.int64),
            "valid_frac": vfrac[keep].astype(np.float64),
            "n_deposits": n.astype(np.int64),
            "label": (n > 0).astype(np.int64),
            "split": split[keep].astype(str),
        },
        geometry=geoms,
        crs=grid.crs.to_wkt(),
    )
    return gdf


_SIDE_NAMES = {("rows", "start"): "north", ("rows", "end"): "south", ("cols", "start"): "west", ("cols", "end"): "east"}


def _refuse_empty_test_block(
    positive: np.ndarray,
    keep: np.ndarray,
    win_shape: tuple[int, int],
    size: int,
    stride: int,
    shape: tuple[int, int],
    test_fraction: float,
    axis: SplitAxis,
    side: Literal["start", "end"],
    n_test: int,
    n_pos: int,
) -> None:
    """Raise FoldError: the test block holds no deposit; name the splits (same fraction) that would."""
    fits = []
    for (a, sd), name in _SIDE_NAMES.items():
        if (a, sd) != (axis, side):
            alt = split_windows(*win_shape, size, stride, shape, test_fraction, a, sd)  # type: ignore[arg-type]
            n = int((positive & keep & (alt == "test")).sum())
            if n:
                fits.append(f"split_axis {a}, test_side {sd} ({name}: {n} positive windows)")
    where = f"the {_SIDE_NAMES[(axis, side)]} {test_fraction:.0%} (split_axis {axis}, test_side {side})"
    raise FoldError(
        f"the test block, {where}, holds {n_test} windows and no deposit ({n_pos} positive windows lie outside it): "
        "the model could not be evaluated on held-out ground",
        hint="move or widen the test block: run config windows.test_side / windows.split_axis / windows.test_fraction, "
        "or `geoprospect tile --test-side / --split-axis / --test-fraction`"
        + (f"; with the same fraction, these hold deposits: {'; '.join(fits)}" if fits else "; no side holds a deposit at this fraction, try a larger one"),
    )


def write_windows(gdf: gpd.GeoDataFrame, path: str | Path, layer: str = "windows") -> Path:
    """Write a window index as a GeoPackage, atomically."""
    from geoprospect.io.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        gdf.to_file(tmp, layer=layer, driver="GPKG")
    return path


def read_windows(path: str | Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a window index written by :func:`write_windows`."""
    from geoprospect.errors import ColumnError, InputError

    path = Path(path)
    if not path.exists():
        raise InputError("window index not found", path=path, hint="create it with `geoprospect tile`")
    gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    need = {"row_off", "col_off", "size", "stride", "label", "split"}
    missing = need - set(gdf.columns)
    if missing:
        raise ColumnError(f"not a window index: missing columns {sorted(missing)}", path=path)
    return gdf
