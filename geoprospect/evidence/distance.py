"""Distance from each cell centre to the nearest feature of a vector layer (map units)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import shapely

from geoprospect.errors import GeometryError
from geoprospect.grid import GridSpec


def distance_to_features(
    geometries: object,
    grid: GridSpec,
    *,
    block_rows: int = 256,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Exact Euclidean distance (map units) from every cell centre to the nearest geometry.

    Args:
        geometries: shapely geometries (lines, polygons, points) in the grid's CRS.
        grid: target grid.
        block_rows: rows per block (bounds memory).

    Returns:
        (rows, cols) float32; 0 inside polygons and on lines.
    """
    geoms = np.asarray(getattr(geometries, "values", geometries), dtype=object)
    geoms = geoms[~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)]
    if geoms.size == 0:
        raise GeometryError("no features to measure distances to")
    origin = np.array([grid.transform.c, grid.transform.f])
    # local origin for well-conditioned arithmetic with large projected coordinates
    geoms = shapely.transform(geoms, lambda c: c - origin)
    tree = shapely.STRtree(geoms)
    out = np.empty(grid.shape, dtype=np.float32)
    for r0 in range(0, grid.height, block_rows):
        h = min(block_rows, grid.height - r0)
        pts = shapely.points(grid.cell_centers(r0, 0, h, grid.width) - origin)
        idx_pt, idx_geom = tree.query_nearest(pts, all_matches=False, return_distance=False)
        d = np.empty(pts.shape[0], dtype=np.float64)
        d[idx_pt] = shapely.distance(pts[idx_pt], geoms[idx_geom])
        out[r0 : r0 + h] = d.reshape(h, grid.width)
        if progress is not None:
            progress(h)
    return out
