"""Vector layers (faults, alteration, geology, deposits) read with geopandas/pyogrio."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geoprospect.errors import ColumnError, CRSError, GeometryError, InputError
from geoprospect.grid import Extent, to_crs
from geoprospect.io.names import did_you_mean

log = logging.getLogger(__name__)

#: how the reading options are spelled in hints: on the command line (default); a run passes its config keys
VECTOR_CLI_KNOBS = {"crs": "--vector-crs", "layer": "--layer"}


def entry_knobs(entry: str) -> dict[str, str]:
    """The knobs of one input of a run config: ``entry`` is e.g. "deposits" or "vectors entry 'faults'"."""
    return {"crs": f"crs: of {entry} (or the top-level crs: for every input without one)", "layer": f"layer: of {entry}"}


def _no_crs_hint(k: Mapping[str, str]) -> str:
    return f"give the CRS it is in with {k['crs']}: an EPSG code, or a LOCAL_CS WKT for a local mine grid (see the README)"


def read_vectors(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: object | None = None,
    target_crs: object | None = None,
    what: str = "layer",
    knobs: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector layer, repair invalid geometries, and reproject to ``target_crs``.

    Args:
        path: any OGR-readable file (GeoPackage, Shapefile, GeoJSON, ...).
        layer: layer name for multi-layer files (required when the file has several).
        crs: CRS to assume when the file declares none.
        target_crs: CRS to reproject to (logged when it differs).
        what: a word for messages ("faults", "deposits", ...).
        knobs: how ``crs`` and ``layer`` are spelled in the caller's context, for hints
            (VECTOR_CLI_KNOBS by default; :func:`entry_knobs` in a run).
    """
    k = {**VECTOR_CLI_KNOBS, **(knobs or {})}
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} file not found", path=path, hint="check the path (relative paths are resolved against the config's folder)")
    check_layer(path, layer, what, knob=k["layer"])
    try:
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:
        raise InputError(f"cannot read {what} ({exc})", path=path) from exc
    n_read = len(gdf)
    gdf = gdf[~gdf.geometry.isna()]
    gdf = gdf[~gdf.geometry.is_empty]
    if len(gdf) == 0:
        detail = "holds no features" if n_read == 0 else f"holds {n_read} features, all with empty geometries"
        raise GeometryError(f"the {what} layer {detail}", path=path, hint="check the layer name or the file")
    if len(gdf) < n_read:
        log.warning("%s: %d of %d features have no geometry and are skipped", path, n_read - len(gdf), n_read)
    if gdf.crs is None:
        if crs is None:
            raise CRSError(f"the {what} layer has no CRS", path=path, hint=_no_crs_hint(k))
        gdf = gdf.set_crs(to_crs(crs).to_wkt())
    if gdf.geometry.has_z.any():
        gdf = gdf.set_geometry(shapely.force_2d(gdf.geometry.values))
        log.info("%s: dropped Z/M coordinates", path)
    coords = shapely.get_coordinates(gdf.geometry.values)
    if not np.isfinite(coords).all():
        bad = ~np.array([np.isfinite(shapely.get_coordinates(g)).all() for g in gdf.geometry.values])
        raise GeometryError(f"{int(bad.sum())} features have NaN or infinite coordinates", path=path, feature=int(gdf.index[np.argmax(bad)]) + 1, hint="fix or delete those features")
    gdf = _repair_invalid(gdf, path)
    gdf, src = _checked_degrees(gdf, path, crs, k["crs"])
    if target_crs is not None:
        tcrs = to_crs(target_crs)
        if src.equals(tcrs, ignore_axis_order=True) and not tcrs.equals(gdf.crs, ignore_axis_order=True):
            gdf = gdf.set_crs(tcrs.to_wkt(), allow_override=True)  # a local CRS as the grid holds it (grid.to_crs)
        elif not src.equals(tcrs, ignore_axis_order=True):
            log.info("%s: reprojected %d features from %s to %s", path, len(gdf), src.name, tcrs.name)
            gdf = gdf.to_crs(tcrs.to_wkt())
            fin = np.array([np.isfinite(shapely.get_coordinates(g)).all() for g in gdf.geometry.values])
            if not fin.all():
                raise CRSError(
                    f"{int((~fin).sum())} features cannot be projected from {src.name} to {tcrs.name}",
                    path=path,
                    feature=int(gdf.index[np.argmax(~fin)]) + 1,
                    hint="check the layer's CRS",
                )
    return gdf.reset_index(drop=True)


def _repair_invalid(gdf: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Repair invalid geometries with shapely.make_valid (warned); refuse those it cannot repair."""
    invalid = ~gdf.geometry.is_valid
    if not invalid.any():
        return gdf
    n = int(invalid.sum())
    first = int(np.flatnonzero(invalid.to_numpy())[0])
    feature = int(gdf.index[first]) + 1
    reason = shapely.is_valid_reason(gdf.geometry.values[first])
    gdf = gdf.copy()
    fixed = shapely.make_valid(gdf.geometry.values[invalid.to_numpy()])
    gdf.loc[invalid, gdf.geometry.name] = fixed
    still = ~shapely.is_valid(fixed) | shapely.is_empty(fixed)
    if still.any():
        raise GeometryError(f"{int(still.sum())} invalid geometries cannot be repaired ({reason})", path=path, feature=feature, hint="fix them in QGIS (Vector > Geometry Tools > Fix Geometries)")
    log.warning("%s: repaired %d invalid geometries (first: feature %d, %s)", path, n, feature, reason)
    return gdf


def _checked_degrees(gdf: gpd.GeoDataFrame, path: Path, crs: object | None, crs_knob: str) -> tuple[gpd.GeoDataFrame, CRS]:
    """The layer's CRS, refusing (or, with a projected ``crs`` given, overriding) a geographic CRS whose coordinates exceed +-180 / +-90."""
    src = to_crs(gdf.crs.to_wkt())
    if src.is_geographic:
        b = shapely.bounds(gdf.geometry.values)
        bad = (np.abs(b[:, [0, 2]]) > 180).any(axis=1) | (np.abs(b[:, [1, 3]]) > 90).any(axis=1)
        if bad.any() and crs is not None and not to_crs(crs).is_geographic:
            # e.g. a GeoJSON without a "crs" member, which GDAL takes as WGS 84 (RFC 7946)
            log.warning("%s: coordinates beyond +-180 / +-90 cannot be in %s: using the given CRS %s", path, src.name, crs)
            src = to_crs(crs)
            gdf = gdf.set_crs(src.to_wkt(), allow_override=True)
        elif bad.any():
            raise CRSError(
                f"{int(bad.sum())} features have coordinates beyond +-180 / +-90 but the layer's CRS ({src.name}) is in degrees",
                path=path,
                feature=int(gdf.index[np.argmax(bad)]) + 1,
                hint=f"the file declares the wrong CRS: fix it (e.g. in QGIS: Assign Projection) or give the right one with {crs_knob}",
            )
    return gdf, src


def check_layer(path: Path, layer: str | None, what: str = "layer", *, knob: str = "--layer") -> None:
    """Refuse a missing layer name, or no name for a file holding several layers (listing them);
    ``knob``: how the layer option is spelled in the caller's context."""
    try:
        import pyogrio

        layers = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception as exc:
        raise InputError(f"cannot read {what} ({exc})", path=path, hint="is it a complete vector file (GeoPackage, Shapefile, GeoJSON)?") from exc
    if layer is None and len(layers) > 1:
        raise InputError(
            f"the file holds {len(layers)} layers ({', '.join(layers)})",
            path=path,
            hint=f"name the one to use with {knob}",
        )
    if layer is not None and layer not in layers:
        raise InputError(f"no layer {layer!r} in the file; its layers are: {', '.join(layers)}", path=path, hint="check the layer name (case-sensitive)")


def select_features(gdf: gpd.GeoDataFrame, where: Mapping[str, object], *, path: str | Path, key: str = "where") -> gpd.GeoDataFrame:
    """The features whose fields match ``where`` (field -> value, or a list of values; every field
    must match). Numbers match numbers, anything else its text. ColumnError for a missing field,
    InputError when nothing matches, both naming the file and ``key`` (the setting to fix)."""
    keep = np.ones(len(gdf), dtype=bool)
    cols = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    for field, wanted in where.items():
        if field not in gdf.columns:
            raise ColumnError(f"{key} names the field {field!r}, which the layer does not have{did_you_mean([field], cols)}; its fields are: {', '.join(cols)}",
                              path=path, hint=f"correct the field name in {key} (case-sensitive)")
        keep &= _matches(gdf[field], wanted if isinstance(wanted, list) else [wanted])
    if not keep.any():
        shown = {f: sorted({str(v) for v in gdf[f].dropna().unique()})[:10] for f in where}
        raise InputError(f"{key} matches none of the {len(gdf)} features ({'; '.join(f'{f} holds {vals}' for f, vals in shown.items())})",
                         path=path, hint=f"correct the values in {key} (text matches exactly, case included)")
    log.info("%s: %d of %d features kept (%s)", path, int(keep.sum()), len(gdf), ", ".join(f"{f} in {v}" if isinstance(v, list) else f"{f} = {v}" for f, v in where.items()))
    return gdf[keep].reset_index(drop=True)


def _matches(column, values: list) -> np.ndarray:
    """Cells of ``column`` equal to one of ``values``: numerically for numbers in a numeric column, else as stripped text."""
    import pandas as pd

    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    hit = np.zeros(len(column), dtype=bool)
    if nums and pd.api.types.is_numeric_dtype(column):
        hit |= column.isin(nums).to_numpy()
    text = column.astype("string").str.strip()
    hit |= text.isin([str(v).strip() for v in values]).fillna(False).to_numpy(dtype=bool)
    return hit


def deposit_points(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """(N, 2) float64 coordinates of deposits: points as given, polygons/lines by a point on them.

    Multi-points count once each part (each is a known occurrence); duplicated locations are
    kept (each is a known deposit) and reported.
    """
    geoms = gdf.geometry.values
    if (shapely.get_type_id(geoms) == 4).any():  # MultiPoint
        parts, idx = shapely.get_parts(geoms, return_index=True)
        kinds = shapely.get_type_id(geoms)
        geoms = np.concatenate([parts[np.isin(idx, np.flatnonzero(kinds == 4))], geoms[kinds != 4]])
    pts = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    xy = np.column_stack([shapely.get_x(pts), shapely.get_y(pts)]).astype(np.float64)
    n_dup = len(xy) - len(np.unique(xy, axis=0))
    if n_dup:
        log.warning("%d deposits share a location with another one: each counts as a known deposit", n_dup)
    return xy


def layer_extent(path: str | Path, layer: str | None = None, crs: object | None = None, *, knobs: Mapping[str, str] | None = None) -> Extent:
    """The bounds of a vector layer and its CRS (``crs`` when the file has none; CRSError otherwise)."""
    import pyogrio

    k = {**VECTOR_CLI_KNOBS, **(knobs or {})}
    path = Path(path)
    check_layer(path, layer, knob=k["layer"])
    info = pyogrio.read_info(path, layer=layer, force_total_bounds=True)
    wkt = info.get("crs")
    if not wkt and crs is None:
        raise CRSError("the layer has no CRS", path=path, hint=_no_crs_hint(k))
    return Extent(tuple(float(v) for v in info["total_bounds"]), to_crs(wkt or crs), str(path))  # type: ignore[arg-type]


def layer_crs(path: str | Path, layer: str | None = None, crs: object | None = None) -> CRS | None:
    """The CRS of a vector layer (``crs`` when given: the user's override), None when it has none."""
    if crs is not None:
        return to_crs(crs)
    path = Path(path)
    check_layer(path, layer)
    import pyogrio

    wkt = pyogrio.read_info(path, layer=layer).get("crs")
    return to_crs(wkt) if wkt else None
