"""Classes -> one-hot bands on the run's grid (one band per class, named by class): geology
polygons (:func:`categorical_bands`) and rasters of class codes (:func:`one_hot`)."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
from rasterio.features import rasterize

from geoprospect.errors import ColumnError, GeometryError, InputError
from geoprospect.evidence._vector import as_geometries
from geoprospect.grid import GridSpec
from geoprospect.io.names import did_you_mean

log = logging.getLogger(__name__)


def categorical_bands(
    polygons: object,
    grid: GridSpec,
    field: str,
    *,
    classes: Sequence[object] | None = None,
    all_touched: bool = False,
    outside: float = float("nan"),
    warn: bool = True,
) -> tuple[np.ndarray, list[str]]:
    """Rasterise a class field of polygons into one 0/1 band per class.

    Args:
        polygons: a GeoDataFrame of (multi)polygons with column ``field``; reprojected to the
            grid's CRS when its CRS differs.
        grid: target grid.
        field: the column holding the class (e.g. rock unit).
        classes: classes to make bands for, in this order (default: every class present,
            sorted). One class gives a single band (e.g. ``["greenstone"]``).
        all_touched: burn every cell a polygon touches (a cell may then be 1 in several
            bands); default: cells whose centre lies in the polygon.
        outside: value of every band where no polygon of any class covers the cell: NaN (the
            default: unmapped ground is nodata, see docs/geochemistry.md "Categorical layers"),
            or 0 (the old behaviour: unmapped ground reads as "none of the classes").
        warn: log a warning with the share of cells outside every polygon (the stack builder
            warns once for the whole map instead of once per block).

    Returns:
        ((K, rows, cols) float32, band names = the class values as text).

    Raises:
        GeometryError: empty layer, invalid or non-polygon geometry (the feature is named).
        ColumnError: ``field`` is not a column.
        InputError: a requested class does not occur, or no class value at all.
    """
    geoms, values = _class_polygons(polygons, grid, field)
    classes = _chosen_classes(values, field, classes)
    bands = np.zeros((len(classes), grid.height, grid.width), dtype=np.float32)
    for i, c in enumerate(classes):
        sel = geoms[values == c]
        bands[i] = rasterize(((g, 1) for g in sel), out_shape=grid.shape, transform=grid.transform,
                             fill=0, all_touched=all_touched, dtype="uint8")
    covered = rasterize(((g, 1) for g in geoms), out_shape=grid.shape, transform=grid.transform,
                        fill=0, all_touched=all_touched, dtype="uint8").astype(bool)
    if warn and not covered.all():
        _warn_unmapped(float((~covered).mean()), field, outside)
    if outside != 0:
        bands[:, ~covered] = outside
    return bands, [str(c) for c in classes]


def one_hot(codes: np.ndarray, classes: Sequence[Sequence[float]]) -> np.ndarray:
    """(K, rows, cols) float32 0/1 bands of a (rows, cols) array of class codes: band k is 1 where
    the code is one of ``classes[k]`` (several codes make one class, e.g. the rare classes merged
    into "other"), 0 at any other code (none of the classes), NaN where the code is NaN (nodata)."""
    codes = np.asarray(codes)
    out = np.empty((len(classes), *codes.shape), dtype=np.float32)
    for k, c in enumerate(classes):
        out[k] = np.isin(codes, np.asarray(c, dtype=codes.dtype))
    out[:, np.isnan(codes)] = np.nan
    return out


def _class_polygons(polygons: object, grid: GridSpec, field: str) -> tuple[np.ndarray, np.ndarray]:
    """Check the layer and field; return the polygons (grid CRS) that have a class value, and those values."""
    if not hasattr(polygons, "columns"):
        raise InputError("categorical_bands needs a GeoDataFrame (geometries with a class column)")
    if field not in polygons.columns:
        raise ColumnError(
            f"no column {field!r} in the geology layer{did_you_mean([field], [c for c in polygons.columns if c != polygons.geometry.name])}",
            hint=f"choose one of: {', '.join(map(str, [c for c in polygons.columns if c != polygons.geometry.name]))}",
        )
    gdf = polygons
    if getattr(gdf, "crs", None) is not None and not grid.crs.equals(gdf.crs, ignore_axis_order=True):
        gdf = gdf.to_crs(grid.crs)
    raw = np.asarray(gdf.geometry.values, dtype=object)
    geoms = as_geometries(gdf, what="geology polygons")  # empty / invalid checks
    present = np.array([g is not None and not g.is_empty for g in raw])
    kinds = {g.geom_type for g in geoms}
    if not kinds <= {"Polygon", "MultiPolygon"}:
        first = next(i for i, g in enumerate(raw) if present[i] and g.geom_type not in ("Polygon", "MultiPolygon"))
        raise GeometryError(f"geology features must be polygons, found {raw[first].geom_type}", feature=first,
                            hint="use the polygon layer of the geological map")
    values = gdf[field].to_numpy()[present]
    known = np.array([v is not None and not (isinstance(v, float) and np.isnan(v)) for v in values])
    if not known.any():
        raise InputError(f"column {field!r} holds no class values", hint="choose the column naming rock units")
    if (~known).any():
        log.warning("%d geology polygons without a %s value are left out", int((~known).sum()), field)
    return geoms[known], values[known]


def _chosen_classes(values: np.ndarray, field: str, classes: Sequence[object] | None) -> Sequence[object]:
    """The requested classes (checked to occur), or every class present sorted as text."""
    found = sorted(set(values.tolist()), key=str)
    if classes is None:
        return found
    missing = [c for c in classes if c not in set(found)]
    if missing:
        raise InputError(
            f"class(es) {missing} do not occur in column {field!r}",
            hint=f"classes present: {', '.join(map(str, found[:30]))}",
        )
    return classes


def _warn_unmapped(share: float, field: str, outside: float, what: str = "geology", where: str = "the grid") -> None:
    if np.isnan(outside):
        fate = ("nodata (NaN) in every class band, so they are left out of training, scoring and the ranking; where outside means "
                "'none of the classes' (alteration zones), set unmapped: zero on the vectors entry (geology --unmapped zero)")
    else:
        fate = f"{outside:g} in every class band (read as 'none of the classes'); they are scored and ranked"
    log.warning("%.1f%% of %s lies outside every %s polygon (no %s value): those cells are %s", 100 * share, where, what, field, fate)


def unmapped_share(polygons: object, grid: GridSpec, area: Sequence[object] | None = None) -> float:
    """Share (0-1) of the grid's area covered by no polygon (area-based, for a whole-map warning
    without rasterising the whole map); ``polygons`` in the grid's CRS. With ``area`` (study-area
    polygons in the grid's CRS) the share of the study area inside the grid instead: the cells
    outside it are nodata anyway."""
    import shapely

    geoms = np.asarray(getattr(polygons, "geometry", polygons).values if hasattr(polygons, "geometry") else polygons, dtype=object)
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    xmin, ymin, xmax, ymax = grid.bounds
    box = shapely.box(xmin, ymin, xmax, ymax)
    if area is not None:
        box = shapely.union_all(shapely.make_valid(np.asarray(area, dtype=object))).intersection(box)
        if box.area <= 0:
            return 0.0
    if not geoms:
        return 1.0
    covered = shapely.union_all(shapely.make_valid(np.asarray(geoms, dtype=object))).intersection(box).area
    return max(0.0, 1.0 - covered / box.area)


def warn_unmapped(polygons: object, grid: GridSpec, field: str, outside: float = float("nan"), what: str = "geology", area: Sequence[object] | None = None) -> float:
    """Log the share of ``grid`` (of the study ``area`` in it, when given) outside every polygon
    (when any), and what becomes of those cells; return the share."""
    share = unmapped_share(polygons, grid, area)
    if share > 1e-9:
        _warn_unmapped(share, field, outside, what, "the study area" if area is not None else "the grid")
    return share
