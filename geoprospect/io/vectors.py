"""Vector layers (faults, alteration, geology, deposits) read with geopandas/pyogrio."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geoprospect.errors import CRSError, GeometryError, InputError
from geoprospect.grid import to_crs

log = logging.getLogger(__name__)


def read_vectors(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: object | None = None,
    target_crs: object | None = None,
    what: str = "layer",
) -> gpd.GeoDataFrame:
    """Read a vector layer, repair invalid geometries, and reproject to ``target_crs``.

    Args:
        path: any OGR-readable file (GeoPackage, Shapefile, GeoJSON, ...).
        layer: layer name for multi-layer files (required when the file has several).
        crs: CRS to assume when the file declares none.
        target_crs: CRS to reproject to (logged when it differs).
        what: a word for messages ("faults", "deposits", ...).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} file not found", path=path, hint="check the path (relative paths are resolved against the config's folder)")
    if layer is None:
        try:
            import pyogrio

            layers = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
        except Exception as exc:
            raise InputError(f"cannot read {what} ({exc})", path=path) from exc
        if len(layers) > 1:
            raise InputError(
                f"the file holds {len(layers)} layers ({', '.join(layers)})",
                path=path,
                hint="name the one to use with --layer (or `layer:` in the config)",
            )
    try:
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:
        raise InputError(f"cannot read {what} ({exc})", path=path) from exc
    gdf = gdf[~gdf.geometry.isna()]
    gdf = gdf[~gdf.geometry.is_empty]
    if len(gdf) == 0:
        raise GeometryError(f"the {what} layer holds no features", path=path, hint="check the layer name or the file")
    if gdf.crs is None:
        if crs is None:
            raise CRSError(f"the {what} layer has no CRS", path=path, hint="pass its CRS (--vector-crs / `crs:` in the config)")
        gdf = gdf.set_crs(to_crs(crs).to_wkt())
    if gdf.geometry.has_z.any():
        gdf = gdf.set_geometry(shapely.force_2d(gdf.geometry.values))
        log.info("%s: dropped Z/M coordinates", path)
    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        n = int(invalid.sum())
        first = int(np.flatnonzero(invalid.to_numpy())[0])
        reason = shapely.is_valid_reason(gdf.geometry.values[first])
        gdf = gdf.copy()
        gdf.loc[invalid, gdf.geometry.name] = shapely.make_valid(gdf.geometry.values[invalid.to_numpy()])
        log.warning("%s: repaired %d invalid geometries (first: feature %d, %s)", path, n, first + 1, reason)
    if target_crs is not None:
        tcrs = to_crs(target_crs)
        src = to_crs(gdf.crs.to_wkt())
        if not src.equals(tcrs, ignore_axis_order=True):
            log.info("%s: reprojected %d features from %s to %s", path, len(gdf), src.name, tcrs.name)
            gdf = gdf.to_crs(tcrs.to_wkt())
    return gdf.reset_index(drop=True)


def deposit_points(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """(N, 2) float64 coordinates of deposits: points as given, polygons/lines by a point on them."""
    geoms = gdf.geometry.values
    pts = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    return np.column_stack([shapely.get_x(pts), shapely.get_y(pts)]).astype(np.float64)
