"""Every cell a sample (DESIGN.md decision 6): the default sample unit of `run`.

A sample is one grid cell with data (every band valid, inside the study area). Its label is the
label of that cell: 1 when a deposit lies in it, else 0 (background: unlabelled, not proven
barren). With ``radius`` (map units) > 0 the cells whose centres lie within ``radius`` of a
deposit cell's centre are positive too, with a soft weight ``exp(-d² / 2σ²)``, σ = radius / 2
(1 at the deposit's own cell), used as a sample weight by the models that take one.

A CNN sees a ``size`` x ``size`` patch *centred* on the cell: its upper-left pixel is
``(row - size // 2, col - size // 2)`` and may lie outside the stack; the pixels outside read
as the band mean (0 after z-scoring, :class:`~geoprospect.windows.dataset.WindowDataset`). A
per-cell model has ``size`` 1. The table has the columns of a window table (``row_off``,
``col_off``, ``size``, ``label``...) so that folds, training and scoring treat both alike, plus
``footprint`` = 1: the map cell a sample's score stands for (a window's whole footprint in the
papers' window recipe, :mod:`geoprospect.windows.tiling`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geoprospect.errors import DepositError, GridError
from geoprospect.grid import GridSpec
from geoprospect.windows.folds import deposit_pixels
from geoprospect.windows.tiling import split_windows

log = logging.getLogger(__name__)


@dataclass
class CellSummary:
    """Counts reported by :func:`make_cells`."""

    total: int
    kept: int
    dropped_invalid: int
    positives: int
    deposits_inside: int
    deposits_outside: int
    deposit_cells: int
    patch: int
    radius: float
    unit: str = "cell"


def deposit_cells(grid: GridSpec, deposits_xy: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(H, W) int64 number of deposits in each cell; and how many deposits lie inside / outside the grid."""
    rc = deposit_pixels(grid, deposits_xy)
    hits = np.zeros(grid.shape, dtype=np.int64)
    np.add.at(hits, (rc[:, 0], rc[:, 1]), 1)
    return hits, len(rc), len(np.asarray(deposits_xy).reshape(-1, 2)) - len(rc)


def label_weights(hits: np.ndarray, grid: GridSpec, radius: float = 0.0) -> np.ndarray:
    """(H, W) float32 soft label of every cell: 1 on deposit cells; with ``radius`` (map units)
    > 0, ``exp(-d² / 2σ²)`` (σ = radius / 2) for cells whose centre lies within ``radius`` of a
    deposit cell's centre (exact Euclidean distance in map units, non-square cells handled); else 0."""
    has = hits > 0
    if radius <= 0 or not has.any():
        return has.astype(np.float32)
    from scipy.ndimage import distance_transform_edt

    xres, yres = abs(grid.transform.a), abs(grid.transform.e)
    d = distance_transform_edt(~has, sampling=(yres, xres))
    s = radius / 2.0
    return np.where(d <= radius, np.exp(-(d**2) / (2 * s * s)), 0.0).astype(np.float32)


def make_cells(valid: np.ndarray, grid: GridSpec, deposits_xy: np.ndarray, *, size: int = 1, radius: float = 0.0) -> tuple[pd.DataFrame, CellSummary]:
    """The sample table: one row per valid cell, labelled at the cell (see the module docstring).

    Args:
        valid: (rows, cols) bool, True where every band of the stack is valid (cells outside the
            study area are not: the stack is nodata there).
        grid: the stack's grid.
        deposits_xy: (N, 2) deposit coordinates in the grid's CRS.
        size: side in cells of the patch a model sees, centred on the cell (1: the cell alone).
        radius: label radius in map units (0: the deposit's own cell only).

    Returns:
        A DataFrame with columns id, row, col, row_off, col_off, size, stride (1), footprint (1),
        valid_frac (1.0), n_deposits, label, weight, split ("train": folds decide the rest);
        and a :class:`CellSummary`.

    Raises:
        DepositError: no deposit lies inside the grid.
    """
    if valid.shape != grid.shape:
        raise GridError(f"valid mask {valid.shape} does not match grid {grid.shape}")
    if size < 1:
        raise GridError(f"the patch side must be at least 1 cell, got {size}")
    hits, n_in, n_out = deposit_cells(grid, deposits_xy)
    if n_in == 0:
        b = grid.bounds
        raise DepositError(f"none of the {len(deposits_xy)} deposits lies inside the grid ({b[0]:.0f}, {b[1]:.0f}, {b[2]:.0f}, {b[3]:.0f})",
                           hint="check the deposits' CRS and the grid bounds")
    if n_out:
        log.warning("%d of %d deposits lie outside the grid and are ignored", n_out, n_in + n_out)
    soft = label_weights(hits, grid, radius)
    rows, cols = np.nonzero(valid)
    w = soft[rows, cols]
    p = size // 2
    n = rows.size
    table = pd.DataFrame({
        "id": np.arange(1, n + 1, dtype=np.int64), "row": rows.astype(np.int64), "col": cols.astype(np.int64),
        "row_off": (rows - p).astype(np.int64), "col_off": (cols - p).astype(np.int64),
        "size": np.full(n, size, dtype=np.int64), "stride": np.ones(n, dtype=np.int64), "footprint": np.ones(n, dtype=np.int64),
        "valid_frac": np.ones(n), "n_deposits": hits[rows, cols], "label": (w > 0).astype(np.int64),
        "weight": np.where(w > 0, w, 1.0).astype(np.float64), "split": np.full(n, "train", dtype=object),
    })
    summary = CellSummary(int(valid.size), n, int(valid.size - n), int((w > 0).sum()), n_in, n_out, int((hits > 0).sum()), int(size), float(radius))
    log.info("samples: every cell with data is one (%d of %d cells; %d without data in every band left out); %d positive cells (%d deposit cells%s); "
             "models see %s", n, valid.size, summary.dropped_invalid, summary.positives, summary.deposit_cells,
             f", label radius {radius:g} map units" if radius > 0 else "", "the cell alone" if size == 1 else f"a {size} x {size}-cell patch centred on the cell")
    return table, summary


def unscored_deposits(hits: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """(M, 2) (row, col) of the deposit cells that carry no score (``scored`` False there)."""
    r, c = np.nonzero((hits > 0) & ~scored)
    return np.column_stack([r, c])


def block_split(cells: pd.DataFrame, grid: GridSpec, test_fraction: float, axis: str = "rows", side: str = "end") -> np.ndarray:
    """'train' / 'test' of each cell for a single held-out block: the last (or first)
    ``test_fraction`` of the rows (or columns), as :func:`~geoprospect.windows.tiling.split_windows`
    with one-cell windows (a per-cell model needs no buffer; a patch model's folds add one)."""
    lab = split_windows(grid.height, grid.width, 1, 1, grid.shape, test_fraction, axis, side)  # type: ignore[arg-type]
    return lab[cells["row"].to_numpy(), cells["col"].to_numpy()].astype(str)
