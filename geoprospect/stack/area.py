"""The study area: a polygon layer whose inside is the only ground that is mapped and ranked.

Cells whose centre lies inside the polygons are in the area (``all_touched=False``); every
band of the stack is nodata outside (DESIGN.md "rank cells inside the study area only").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import shapely
from pyproj import CRS

from geoprospect.errors import GeometryError
from geoprospect.grid import GridSpec, snap_bounds, to_crs
from geoprospect.io.vectors import read_vectors

log = logging.getLogger(__name__)


@dataclass
class StudyArea:
    """Study-area polygons in one CRS.

    Attributes:
        geoms: (N,) shapely (multi)polygons.
        crs: their CRS.
        source: the file they were read from (for tags and messages).
    """

    geoms: np.ndarray
    crs: CRS
    source: str = ""

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of all polygons, in the area's CRS."""
        b = shapely.total_bounds(self.geoms)
        return tuple(float(v) for v in b)  # type: ignore[return-value]

    def to_crs(self, crs: object) -> "StudyArea":
        """The same area in another CRS (itself when already there)."""
        tcrs = to_crs(crs)
        if self.crs.equals(tcrs, ignore_axis_order=True):
            return self
        import geopandas as gpd

        g = gpd.GeoSeries(self.geoms, crs=self.crs.to_wkt()).to_crs(tcrs.to_wkt())
        return StudyArea(np.asarray(g.values, dtype=object), tcrs, self.source)

    def snapped_bounds(self, resolution: float, crs: object) -> tuple[float, float, float, float]:
        """The area's bounds in ``crs`` snapped outwards to whole cells of ``resolution``."""
        return snap_bounds(self.to_crs(crs).bounds, resolution)

    def mask(self, grid: GridSpec) -> np.ndarray:
        """(rows, cols) bool: True where the cell centre lies inside the area."""
        from rasterio.features import geometry_mask

        geoms = self.to_crs(grid.crs).geoms
        return geometry_mask(list(geoms), out_shape=grid.shape, transform=grid.transform, all_touched=False, invert=True)

    def nodata_outside(self, data: np.ndarray, grid: GridSpec) -> np.ndarray:
        """``data`` ((..., rows, cols) float on ``grid``) with NaN (nodata) in every cell whose
        centre lies outside the area, in place; returned for chaining."""
        data[..., ~self.mask(grid)] = np.nan
        return data

    def contains(self, xy: np.ndarray, crs: object) -> np.ndarray:
        """(N,) bool: points ``xy`` (in ``crs``) inside the area (boundary counts as inside)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        union = shapely.union_all(self.to_crs(crs).geoms)
        return shapely.intersects_xy(union, xy[:, 0], xy[:, 1])

    def describe(self) -> str:
        """One line for tags and logs."""
        return f"{self.source or 'study area'} ({len(self.geoms)} polygon(s))"


def read_area(path: str | Path, *, layer: str | None = None, crs: str | None = None, knobs: Mapping[str, str] | None = None) -> StudyArea:
    """Read a study-area polygon layer (GeometryError when it holds no polygon)."""
    gdf = read_vectors(path, layer=layer, crs=crs, what="study area", knobs=knobs)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    poly = np.isin(shapely.get_type_id(geoms), (3, 6))  # Polygon, MultiPolygon
    if not poly.any():
        raise GeometryError("the study area holds no polygon", path=path, hint=f"give a polygon layer with {(knobs or {}).get('path', '--area')}, e.g. the convex hull of the data")
    if not poly.all():
        log.warning("%s: %d non-polygon features of the study area are ignored", path, int((~poly).sum()))
    return StudyArea(geoms[poly], to_crs(gdf.crs.to_wkt()), str(Path(path).name) + (f":{layer}" if layer else ""))


def deposits_in_area(deposits_xy: np.ndarray, area: StudyArea | None, crs: object) -> np.ndarray:
    """The deposits inside ``area`` (all of them when it is None); warns with the count left out,
    since a deposit outside the study area cannot be ranked."""
    dep = np.asarray(deposits_xy, dtype=np.float64).reshape(-1, 2)
    if area is None or not len(dep):
        return dep
    inside = area.contains(dep, crs)
    if not inside.all():
        log.warning("%d of %d deposits lie outside the study area (%s): they cannot be ranked and are left out", int((~inside).sum()), len(dep), area.describe())
    return dep[inside]
