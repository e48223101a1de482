"""The run config's evidence layers (points and vector sources) as stack layers."""

from __future__ import annotations

import logging
from pathlib import Path

from geoprospect.grid import GridSpec
from geoprospect.io.points import PointTable
from geoprospect.io.vectors import read_vectors
from geoprospect.pipeline.config import RunConfig, VectorLayerConfig
from geoprospect.pipeline.stages import log10_values
from geoprospect.stack.layers import StackLayer, categorical_layer, density_layer, distance_density_layer, distance_layer, idw_layer, kriging_layer

log = logging.getLogger(__name__)


def pipeline_layers(cfg: RunConfig, points: PointTable, grid: GridSpec) -> list[StackLayer]:
    """The layers of `geoprospect run`: the interpolated elements (IDW or kriging, log10 when
    configured), then one layer per vector source; ``points`` in any CRS, layers on ``grid``."""
    pts = log10_values(points) if cfg.points.log10 else points
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
    return layers + [vector_layer(v, grid) for v in cfg.vectors]


def vector_layer(v: VectorLayerConfig, grid: GridSpec) -> StackLayer:
    """One vector source of the run config as a layer (distance, density, distance-with-density,
    or one 0/1 band per class named <name>_<class>), read in the grid's CRS."""
    gdf = read_vectors(v.path, layer=v.layer, crs=v.crs, target_crs=grid.crs, what=v.name)
    if v.kind == "distance":
        return distance_layer(gdf.geometry.values, v.name, provenance=f"distance to nearest feature of {v.path.name} (map units)")
    if v.kind == "density":
        return density_layer(gdf.geometry.values, v.name, v.radius, provenance=f"density of {v.path.name} within {v.radius:g} map units (per unit area)")
    if v.kind == "distance_density":
        return distance_density_layer(gdf.geometry.values, v.name, v.radius, provenance=f"paper 003 distance-with-density of {v.path.name}, R={v.radius:g}")
    lay = categorical_layer(gdf, grid, v.field, classes=v.classes)  # categorical
    lay.names = [f"{v.name}_{n}" for n in lay.names]
    lay.provenance = {n: f"{v.field} of {v.path.name} (1 inside, 0 outside)" for n in lay.names}
    return lay
