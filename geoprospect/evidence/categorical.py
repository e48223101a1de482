"""Geology polygons -> one-hot bands on the run's grid (one band per class, named by class)."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
from rasterio.features import rasterize

from geoprospect.errors import ColumnError, GeometryError, InputError
from geoprospect.evidence._vector import as_geometries
from geoprospect.grid import GridSpec

log = logging.getLogger(__name__)


def categorical_bands(
    polygons: object,
    grid: GridSpec,
    field: str,
    *,
    classes: Sequence[object] | None = None,
    all_touched: bool = False,
    outside: float = 0.0,
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
        outside: value of every band where no polygon of any class covers the cell
            (0, or NaN to mark unmapped ground as nodata).

    Returns:
        ((K, rows, cols) float32, band names = the class values as text).

    Raises:
        GeometryError: empty layer, invalid or non-polygon geometry (the feature is named).
        ColumnError: ``field`` is not a column.
        InputError: a requested class does not occur, or no class value at all.
    """
    if not hasattr(polygons, "columns"):
        raise InputError("categorical_bands needs a GeoDataFrame (geometries with a class column)")
    if field not in polygons.columns:
        raise ColumnError(
            f"no column {field!r} in the geology layer",
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
    geoms, values = geoms[known], values[known]
    found = sorted(set(values.tolist()), key=str)
    if classes is None:
        classes = found
    else:
        missing = [c for c in classes if c not in set(found)]
        if missing:
            raise InputError(
                f"class(es) {missing} do not occur in column {field!r}",
                hint=f"classes present: {', '.join(map(str, found[:30]))}",
            )
    bands = np.zeros((len(classes), grid.height, grid.width), dtype=np.float32)
    for i, c in enumerate(classes):
        sel = geoms[values == c]
        bands[i] = rasterize(((g, 1) for g in sel), out_shape=grid.shape, transform=grid.transform,
                             fill=0, all_touched=all_touched, dtype="uint8")
    if outside != 0:
        covered = rasterize(((g, 1) for g in geoms), out_shape=grid.shape, transform=grid.transform,
                            fill=0, all_touched=all_touched, dtype="uint8").astype(bool)
        bands[:, ~covered] = outside
    return bands, [str(c) for c in classes]
