"""The run config's evidence layers (points and vector sources) as stack layers."""

from __future__ import annotations

import logging
from pathlib import Path

from geoprospect.evidence.class_choice import entry_knobs as class_knobs
from geoprospect.evidence.idw import check_varying
from geoprospect.grid import GridSpec
from geoprospect.io.points import PointTable
from geoprospect.io.vectors import entry_knobs, read_vectors
from geoprospect.pipeline.config import RasterSourceConfig, RunConfig, VectorLayerConfig
from geoprospect.pipeline.stages import load_area, log10_values
from geoprospect.stack.area import StudyArea
from geoprospect.stack.layers import StackLayer, categorical_layer, density_layer, distance_density_layer, distance_layer, idw_layer, kriging_layer
from geoprospect.stack.rasters import categorical_raster_layer, raster_layer

log = logging.getLogger(__name__)


def pipeline_layers(cfg: RunConfig, points: PointTable | None, grid: GridSpec) -> list[StackLayer]:
    """The layers of `geoprospect run`: the interpolated elements (IDW or kriging, log10 when
    configured; none without points), then one layer per vector source, then the rasters;
    ``points`` in any CRS, layers on ``grid``."""
    # categorical layers warn the share of the study area their polygons leave unmapped; a
    # categorical raster's rare classes are the rare ones inside the study area
    area = load_area(cfg.area) if any(v.kind == "categorical" for v in [*cfg.vectors, *cfg.rasters]) else None
    return point_layers(cfg, points, grid) + [vector_layer(v, grid, area) for v in cfg.vectors] + raster_layers(cfg, grid, area)


def point_layers(cfg: RunConfig, points: PointTable | None, grid: GridSpec) -> list[StackLayer]:
    """The interpolated elements of the run config's points (none when it has no points)."""
    if points is None or cfg.points is None:
        return []
    pts = log10_values(points) if cfg.points.log10 else points
    check_varying(pts.values, pts.elements, path=points.source or None, hint="drop it from points.elements (it carries no evidence) or check its values")
    pts = pts.to_crs(grid.crs)
    if not grid.contains(pts.xy[:, 0], pts.xy[:, 1]).any():
        log.warning("no sample point lies inside the grid: values are extrapolated from outside")
    prefix = "log10_" if cfg.points.log10 else ""
    names = [f"{prefix}{e}" for e in pts.elements]
    src = f"{'log10 ' if cfg.points.log10 else ''}%s from {Path(points.source).name}"
    ic = cfg.interpolation
    if ic.method == "idw":
        prov = {f"{prefix}{e}": f"IDW power={cfg.idw.power} k={cfg.idw.neighbors} radius={cfg.idw.radius} of " + src % e for e in pts.elements}
        layers = [idw_layer(pts.xy, pts.values, names, provenance=prov, **cfg.idw.model_dump())]
    else:
        method = ic.method.split("_")[0]
        prov = {f"{prefix}{e}": f"{method} kriging ({ic.variogram_model} variogram) of " + src % e for e in pts.elements}
        layers = [kriging_layer(pts.xy, pts.values, names, method=method, variogram_model=ic.variogram_model, neighbors=ic.neighbors, provenance=prov)]
    return layers


def vector_layer(v: VectorLayerConfig, grid: GridSpec, area: StudyArea | None = None) -> StackLayer:
    """One vector source of the run config as a layer (distance, density, distance-with-density,
    or one 0/1 band per class named <name>_<class>), read in the grid's CRS; ``area``: the study
    area, for the share of it a categorical layer leaves unmapped."""
    gdf = read_vectors(v.path, layer=v.layer, crs=v.crs, target_crs=grid.crs, what=v.name, knobs=entry_knobs(f"vectors entry {v.name!r}"))
    if v.kind == "distance":
        return distance_layer(gdf.geometry.values, v.name, provenance=f"distance to nearest feature of {v.path.name} (map units)")
    if v.kind == "density":
        return density_layer(gdf.geometry.values, v.name, v.radius, provenance=f"density of {v.path.name} within {v.radius:g} map units (per unit area)")
    if v.kind == "distance_density":
        return distance_density_layer(gdf.geometry.values, v.name, v.radius, provenance=f"paper 003 distance-with-density of {v.path.name}, R={v.radius:g}")
    if v.field not in gdf.columns:
        from geoprospect.errors import ColumnError
        from geoprospect.io.names import did_you_mean

        cols = [c for c in gdf.columns if c != gdf.geometry.name]
        raise ColumnError(f"no column {v.field!r} in layer {v.name!r}{did_you_mean([v.field], cols)}; columns are: {', '.join(map(str, cols))}",
                          path=v.path, hint=f"set field: of vectors entry {v.name!r} in the run config")
    outside = 0.0 if v.unmapped == "zero" else float("nan")
    lay = categorical_layer(gdf, grid, v.field, classes=v.classes, outside=outside, what=f"{v.name} ({v.path.name})", area=area)  # categorical
    lay.names = [f"{v.name}_{n}" for n in lay.names]
    lay.categorical = v.name
    lay.provenance = {n: f"{v.field} of {v.path.name} (1 in the class, 0 in another, {'0' if outside == 0 else 'nodata'} where unmapped)" for n in lay.names}
    return lay


def raster_layers(cfg: RunConfig, grid: GridSpec, area: StudyArea | None = None) -> list[StackLayer]:
    """The run config's existing rasters (magnetics, gravity, DEM...), each warped once onto
    ``grid`` with its stated resampling; nodata kept as NaN; bands named <name> (one band) or
    <name>_<band name>; a categorical raster's class bands <name>_<class> (its rare classes
    counted inside ``area``)."""
    return [raster_source_layer(r, grid, area, i=i, block_size=cfg.compute.block_size) for i, r in enumerate(cfg.rasters)]


def raster_source_layer(r: RasterSourceConfig, grid: GridSpec, area: StudyArea | None = None, *, i: int = 0, block_size: int = 1024) -> StackLayer:
    """One ``rasters:`` entry (number ``i``, for hints) as a stack layer (bands selected by
    ``band`` / ``bands``, 1-based; kind categorical: one-hot class bands)."""
    from rasterio.enums import Resampling

    resampling = None if r.resampling is None else Resampling[r.resampling]
    if r.kind == "categorical":
        band = r.band if r.band is not None else (r.bands[0] if r.bands else None)
        return categorical_raster_layer(r.path, grid, name=r.name, band=band, classes=r.classes, min_share=r.min_share, crs=r.crs, area=area,
                                        resampling=resampling, knobs=class_knobs(i), block_size=block_size)
    bands = [r.band] if r.band is not None else r.bands
    lay = raster_layer(r.path, grid, resampling, bands=bands, crs=r.crs)
    if len(lay.names) == 1:
        names = [r.name]
    else:
        names = [f"{r.name}_{n}" for n in lay.names]
    lay.provenance = {new: lay.provenance[old] for new, old in zip(names, lay.names)}
    lay.names = names
    return lay
