"""Inverse distance weighting with the semantics of ``gdal_grid -a invdistnn``.

For each cell centre, the ``neighbors`` nearest samples within ``radius`` get weights
``1 / (d² + smoothing²)^(power/2)``; a cell with fewer than ``min_points`` such samples is
NaN; a sample closer than 1e-13 (squared, smoothing included) gives its value directly.
Every element shares the sample locations, so one neighbour search serves all elements
with the same missing-value pattern (DESIGN.md decision 4). Work is done in row blocks so
memory is bounded by the block, and in float64 relative to a local origin.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
from scipy.spatial import cKDTree

from geoprospect.errors import InputError
from geoprospect.grid import GridSpec

log = logging.getLogger(__name__)


def idw(
    xy: np.ndarray,
    values: np.ndarray,
    grid: GridSpec,
    *,
    power: float = 2.0,
    neighbors: int | None = 12,
    radius: float | None = None,
    min_points: int = 1,
    smoothing: float = 0.0,
    block_rows: int = 256,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Interpolate point values onto ``grid`` cell centres.

    Args:
        xy: (N, 2) sample coordinates in the grid's CRS (map units).
        values: (N,) or (N, E) sample values; NaN = not analysed (that sample is skipped for that element).
        grid: target grid.
        power: distance exponent.
        neighbors: at most this many nearest samples (None = all samples: the papers' formula).
        radius: search radius in map units (None = unlimited).
        min_points: fewer neighbours than this within the radius gives NaN.
        smoothing: smoothing distance added in quadrature (map units).
        block_rows: rows per block (bounds memory).
        progress: called with the number of rows finished after each block.

    Returns:
        (E, rows, cols) float32 array, NaN where undefined.
    """
    xy = np.asarray(xy, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim == 1:
        vals = vals[:, None]
    if xy.ndim != 2 or xy.shape[1] != 2 or vals.shape[0] != xy.shape[0]:
        raise ValueError(f"xy {xy.shape} and values {vals.shape} do not match")
    if xy.shape[0] == 0:
        raise InputError("no sample points to interpolate")
    if power <= 0:
        raise ValueError("power must be positive")
    n_el = vals.shape[1]
    out = np.full((n_el, grid.height, grid.width), np.nan, dtype=np.float32)
    # local origin: keeps float arithmetic well conditioned for large projected coordinates
    origin = np.array([grid.transform.c, grid.transform.f])
    local = xy - origin
    masks = np.isfinite(vals)
    # group elements by missing-value pattern: one neighbour search per group
    groups: dict[bytes, list[int]] = {}
    for e in range(n_el):
        groups.setdefault(np.packbits(masks[:, e]).tobytes(), []).append(e)
    for el_idx in groups.values():
        keep = masks[:, el_idx[0]]
        if not keep.any():
            log.warning("element(s) %s have no values: left empty", el_idx)
            continue
        _idw_group(local[keep], vals[keep][:, el_idx], grid, origin, out, el_idx, power, neighbors, radius, min_points, smoothing, block_rows, progress)
    return out


def _idw_group(pts, vals, grid, origin, out, el_idx, power, neighbors, radius, min_points, smoothing, block_rows, progress):
    n = pts.shape[0]
    k = n if neighbors is None else min(int(neighbors), n)
    tree = cKDTree(pts)
    # gdal_grid keeps points with d² <= r² (inclusive); cKDTree's bound is strict
    bound = np.inf if radius is None else float(radius) * (1 + 1e-12)
    s2 = float(smoothing) ** 2
    half_p = power / 2.0
    for r0 in range(0, grid.height, block_rows):
        h = min(block_rows, grid.height - r0)
        centres = grid.cell_centers(r0, 0, h, grid.width) - origin
        d, i = tree.query(centres, k=k, distance_upper_bound=bound)
        if k == 1:
            d, i = d[:, None], i[:, None]
        found = np.isfinite(d)
        d2 = np.where(found, d * d + s2, np.inf)
        with np.errstate(divide="ignore"):
            w = np.where(found, 1.0 / np.power(np.maximum(d2, 1e-300), half_p), 0.0)
        ii = np.where(found, i, 0)
        sw = w.sum(axis=1)
        count = found.sum(axis=1)
        exact = d2[:, 0] < 1e-13
        res = np.einsum("ck,cke->ce", w, vals[ii]) / np.where(sw > 0, sw, 1.0)[:, None]
        res[exact] = vals[ii[exact, 0]]
        res[(count < min_points) | (sw <= 0)] = np.nan
        block = res.reshape(h, grid.width, -1)
        for j, e in enumerate(el_idx):
            out[e, r0 : r0 + h] = block[:, :, j]
        if progress is not None:
            progress(h)
