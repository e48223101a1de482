"""Checked vector input for distance / density / categorical layers: geometries -> segments.

Everything here works in "local" coordinates: map coordinates minus the grid's upper-left
corner, in float64 (DESIGN.md pitfall: keep large projected coordinates out of float32).
"""

from __future__ import annotations

import numpy as np
import shapely

from geoprospect.errors import GeometryError
from geoprospect.grid import GridSpec

LINE_TYPES = {"LineString", "MultiLineString", "LinearRing"}
POLY_TYPES = {"Polygon", "MultiPolygon"}
POINT_TYPES = {"Point", "MultiPoint"}


def as_geometries(geometries: object, *, what: str = "features") -> np.ndarray:
    """Geometries (GeoSeries, GeoDataFrame, list, array) -> object array, checked.

    Raises GeometryError for an empty layer, non-finite coordinates or invalid polygons
    (naming the feature).
    """
    if hasattr(geometries, "geometry") and hasattr(geometries, "columns"):
        geometries = geometries.geometry  # a GeoDataFrame
    geoms = np.asarray(getattr(geometries, "values", geometries), dtype=object).ravel()
    if geoms.size == 0:
        raise GeometryError(f"the {what} layer has no features", hint="check the layer name and any filter")
    if not all(g is None or isinstance(g, shapely.Geometry) for g in geoms):
        raise GeometryError(f"the {what} layer holds objects that are not geometries")
    keep = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if not keep.any():
        raise GeometryError(f"all {geoms.size} {what} have empty geometries", hint="check the layer in QGIS")
    idx = np.flatnonzero(keep)
    geoms = geoms[keep]
    coords_ok = np.array([np.isfinite(shapely.get_coordinates(g)).all() for g in geoms])
    if not coords_ok.all():
        bad = int(idx[np.flatnonzero(~coords_ok)[0]])
        raise GeometryError(f"a {what[:-1] if what.endswith('s') else what} has non-finite coordinates", feature=bad)
    types = shapely.get_type_id(geoms)
    polys = (types == 3) | (types == 6)
    invalid = polys & ~shapely.is_valid(geoms)
    if invalid.any():
        j = int(np.flatnonzero(invalid)[0])
        raise GeometryError(
            f"invalid polygon ({shapely.is_valid_reason(geoms[j])})",
            feature=int(idx[j]),
            hint="repair it (QGIS: Fix geometries; shapely.make_valid) and run again",
        )
    return geoms


def kinds(geoms: np.ndarray) -> set[str]:
    """Which of "point", "line", "polygon" occur (GeometryCollections are taken apart)."""
    parts = shapely.get_parts(geoms)
    t = set(shapely.get_type_id(parts).tolist())
    out = set()
    if t & {0, 4}:
        out.add("point")
    if t & {1, 2, 5}:
        out.add("line")
    if t & {3, 6}:
        out.add("polygon")
    return out


def segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All straight segments of lines and polygon rings (points as zero-length segments).

    Returns (a, b): (S, 2) float64 start and end points.
    """
    parts = shapely.get_parts(geoms)
    t = shapely.get_type_id(parts)
    lines = list(parts[(t == 1) | (t == 2)])
    polys = parts[t == 3]
    if polys.size:
        rings = shapely.get_parts(shapely.boundary(polys))  # exterior + interior rings as lines
        lines.extend(rings)
    a_list, b_list = [], []
    if lines:
        coords, index = shapely.get_coordinates(np.asarray(lines, dtype=object), return_index=True)
        same = index[1:] == index[:-1]
        a_list.append(coords[:-1][same])
        b_list.append(coords[1:][same])
    pts = parts[t == 0]
    if pts.size:
        c = shapely.get_coordinates(pts)
        a_list.append(c)
        b_list.append(c)
    if not a_list:
        return np.empty((0, 2)), np.empty((0, 2))
    return np.vstack(a_list), np.vstack(b_list)


def polygons_dissolved(geoms: np.ndarray) -> np.ndarray:
    """Polygon parts, dissolved (no overlaps) and oriented: exteriors CCW, holes CW."""
    parts = shapely.get_parts(geoms)
    polys = parts[shapely.get_type_id(parts) == 3]
    if polys.size == 0:
        return polys
    merged = shapely.union_all(polys)
    out = shapely.get_parts(merged)
    out = out[shapely.get_type_id(out) == 3]
    return shapely.orient_polygons(out, exterior_cw=False)


def inside_mask(polys: np.ndarray, grid: GridSpec) -> np.ndarray:
    """(rows, cols) bool: cell centre inside a polygon (GDAL's centre rule), map coordinates."""
    from rasterio.features import rasterize

    if len(polys) == 0:
        return np.zeros(grid.shape, dtype=bool)
    burned = rasterize(((p, 1) for p in polys), out_shape=grid.shape, transform=grid.transform,
                       fill=0, all_touched=False, dtype="uint8")
    return burned.astype(bool)
