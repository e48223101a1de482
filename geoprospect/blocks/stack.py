"""The evidence stack built block by block: each layer is a function of a block's sub-grid.

IDW and distance need no halo (their points/features are global: a block's values depend on
its cell centres only); a layer with a neighbourhood operation (a kernel density, a
smoothing) declares ``halo`` cells, gets a sub-grid widened by the halo (clipped to the grid)
and its result is cropped back. The same :func:`compute_block` runs on dask workers
(:mod:`geoprospect.distributed.stack`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from geoprospect.blocks.iteration import Block, align_block_size, iter_blocks, n_blocks, sub_grid
from geoprospect.blocks.writer import BlockWriter
from geoprospect.errors import GridError, InputError
from geoprospect.grid import GridSpec
from geoprospect.progress import Task

log = logging.getLogger(__name__)

BlockFn = Callable[[GridSpec], np.ndarray]


@dataclass
class BlockLayer:
    """One or more stack bands computed from a sub-grid.

    Attributes:
        names: band names (one per band the function returns).
        compute: sub-grid -> (len(names), h, w) (or (h, w) for one band) float array, NaN = nodata.
        halo: cells of context the function needs on each side (0 for point-wise layers).
        provenance: band name -> how the band was made (GEOPROSPECT_SOURCE tag).
    """

    names: list[str]
    compute: BlockFn
    halo: int = 0
    provenance: dict[str, str] = field(default_factory=dict)


@dataclass
class StackFile:
    """A stack written to disk (data not held in memory)."""

    path: Path
    grid: GridSpec
    band_names: list[str]
    stats: list[dict[str, float]]


def _rows(g: GridSpec, cells: int = 131072) -> int:
    """Rows per inner block of the evidence functions (about ``cells`` cells at a time)."""
    return max(1, min(g.height, cells // g.width))


class _IDW:
    """Picklable IDW block function (sent to dask workers)."""

    def __init__(self, xy: np.ndarray, values: np.ndarray, kwargs: dict) -> None:
        self.xy, self.values, self.kwargs = xy, values, kwargs

    def __call__(self, g: GridSpec) -> np.ndarray:
        from geoprospect.evidence.idw import idw

        # a block of a map may hold no sample: that is fine (cells are independent)
        return idw(self.xy, self.values, g, block_rows=_rows(g), require_inside=False, **self.kwargs)


class _Distance:
    """Picklable distance block function."""

    def __init__(self, geoms: np.ndarray) -> None:
        self.geoms = geoms

    def __call__(self, g: GridSpec) -> np.ndarray:
        from geoprospect.evidence.distance import distance_to_features

        return distance_to_features(self.geoms, g, block_rows=_rows(g))


class _Density:
    """Picklable feature-density block function (an exact kernel of global features: no halo)."""

    def __init__(self, geoms: np.ndarray, radius: float) -> None:
        self.geoms, self.radius = geoms, radius

    def __call__(self, g: GridSpec) -> np.ndarray:
        from geoprospect.evidence.density import feature_density

        return feature_density(self.geoms, g, self.radius)


class _Categorical:
    """Picklable one-hot block function with the classes fixed for the whole map."""

    def __init__(self, polygons, field: str, classes: list, kwargs: dict) -> None:
        self.polygons, self.field, self.classes, self.kwargs = polygons, field, classes, kwargs

    def __call__(self, g: GridSpec) -> np.ndarray:
        from geoprospect.evidence.categorical import categorical_bands

        return categorical_bands(self.polygons, g, self.field, classes=self.classes, **self.kwargs)[0]


class _DistanceDensity:
    """Picklable paper-003 distance-with-density block function (global features: no halo)."""

    def __init__(self, geoms: np.ndarray, radius: float) -> None:
        self.geoms, self.radius = geoms, radius

    def __call__(self, g: GridSpec) -> np.ndarray:
        from geoprospect.evidence.density import distance_with_density

        return distance_with_density(self.geoms, g, self.radius)


class _Kriging:
    """Picklable kriging block function; the variograms are fitted once on all samples, so
    every block uses the same model."""

    def __init__(self, xy: np.ndarray, values: np.ndarray, kwargs: dict) -> None:
        self.xy, self.values, self.kwargs = xy, values, kwargs

    def __call__(self, g: GridSpec) -> np.ndarray:
        from geoprospect.evidence.kriging import kriging

        return kriging(self.xy, self.values, g, **self.kwargs)[0]


def kriging_layer(xy: np.ndarray, values: np.ndarray, names: Sequence[str], *, method: str = "ordinary", variogram_model: str = "spherical", neighbors: int | None = 32, provenance: dict | None = None) -> BlockLayer:
    """Kriged bands of every element column (variograms fitted once, here, on all samples)."""
    from geoprospect.evidence.kriging import fit_variogram

    xy = np.asarray(xy, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64).reshape(len(xy), -1)
    varios = [fit_variogram(xy, values[:, e], variogram_model) for e in range(values.shape[1])]
    kw = dict(method=method, variogram_model=variogram_model, variogram=varios, neighbors=neighbors if method == "ordinary" else None)
    return BlockLayer(list(names), _Kriging(xy, values, kw), 0, dict(provenance or {}))


def distance_density_layer(geometries: object, name: str, radius: float, *, provenance: str = "") -> BlockLayer:
    """Paper 003's buffer-distance density (geoprospect.evidence.density.distance_with_density)."""
    geoms = np.asarray(getattr(geometries, "values", geometries), dtype=object)
    return BlockLayer([name], _DistanceDensity(geoms, float(radius)), 0, {name: provenance} if provenance else {})


def density_layer(geometries: object, name: str, radius: float, *, provenance: str = "") -> BlockLayer:
    """Feature length/area/count within ``radius`` per unit area (geoprospect.evidence.density)."""
    geoms = np.asarray(getattr(geometries, "values", geometries), dtype=object)
    return BlockLayer([name], _Density(geoms, float(radius)), 0, {name: provenance} if provenance else {})


def categorical_layer(polygons, grid: GridSpec, field: str, *, classes: Sequence[object] | None = None, all_touched: bool = False, outside: float = 0.0) -> BlockLayer:
    """One 0/1 band per class of ``field`` (geoprospect.evidence.categorical); the classes are
    taken from the whole layer (not per block), so every block has the same bands."""
    from geoprospect.evidence.categorical import categorical_bands

    if classes is None:
        if field not in polygons.columns:
            raise InputError(f"no column {field!r} in the polygons", hint=f"columns: {', '.join(map(str, polygons.columns))}")
        classes = sorted(polygons[field].dropna().unique().tolist())
    kw = dict(all_touched=all_touched, outside=outside)
    one = GridSpec(grid.crs, grid.transform, 1, 1)
    names = categorical_bands(polygons, one, field, classes=list(classes), **kw)[1]
    return BlockLayer(list(names), _Categorical(polygons, field, list(classes), kw), 0, {n: f"{field} polygons" for n in names})


def idw_layer(xy: np.ndarray, values: np.ndarray, names: Sequence[str], *, power: float = 2.0, neighbors: int | None = 12, radius: float | None = None, min_points: int = 1, smoothing: float = 0.0, provenance: dict | None = None) -> BlockLayer:
    """IDW bands of every element column of ``values`` ((N, E), grid CRS coordinates ``xy``)."""
    values = np.asarray(values, dtype=np.float64).reshape(len(xy), -1)
    if values.shape[1] != len(names):
        raise InputError(f"{len(names)} band names for {values.shape[1]} element columns")
    kw = dict(power=power, neighbors=neighbors, radius=radius, min_points=min_points, smoothing=smoothing)
    return BlockLayer(list(names), _IDW(np.asarray(xy, dtype=np.float64), values, kw), 0, dict(provenance or {}))


def distance_layer(geometries: object, name: str, *, provenance: str = "") -> BlockLayer:
    """Distance (map units) to the nearest of ``geometries`` (shapely, grid CRS)."""
    geoms = np.asarray(getattr(geometries, "values", geometries), dtype=object)
    return BlockLayer([name], _Distance(geoms), 0, {name: provenance} if provenance else {})


def band_names(layers: Sequence[BlockLayer]) -> list[str]:
    """All band names, refusing duplicates (InputError)."""
    names = [n for lay in layers for n in lay.names]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"duplicate layer names in the stack: {dup}", hint="give every layer a distinct name")
    if not names:
        raise InputError("no layers to stack")
    return names


def compute_block(layers: Sequence[BlockLayer], grid: GridSpec, block: Block) -> np.ndarray:
    """Every band of ``layers`` on one block -> (bands, h, w) float32 (NaN = nodata)."""
    out = []
    for lay in layers:
        big = block.grow(lay.halo, grid.height, grid.width) if lay.halo else block
        arr = np.asarray(lay.compute(sub_grid(grid, big)), dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.shape != (len(lay.names), big.height, big.width):
            raise GridError(f"layer {lay.names} returned {arr.shape} for a block of ({len(lay.names)}, {big.height}, {big.width})")
        r0, c0 = block.row_off - big.row_off, block.col_off - big.col_off
        out.append(arr[:, r0 : r0 + block.height, c0 : c0 + block.width])
    return np.concatenate(out, axis=0)


def stack_tags(layers: Sequence[BlockLayer]) -> tuple[dict, list[dict]]:
    """Dataset tags and per-band GEOPROSPECT_SOURCE tags."""
    bt = [{"GEOPROSPECT_SOURCE": lay.provenance.get(n, "")} for lay in layers for n in lay.names]
    return {"GEOPROSPECT_KIND": "evidence_stack"}, bt


def check_valid(names: Sequence[str], stats: Sequence[dict]) -> None:
    empty = [n for n, s in zip(names, stats) if not s["valid"]]
    if empty:
        raise InputError(f"layer {empty[0]!r} holds no valid cells", hint="check its inputs cover the grid")


def build_stack_blocks(layers: Sequence[BlockLayer], grid: GridSpec, out: str | Path, *, block_size: int = 1024) -> StackFile:
    """Compute ``layers`` block by block and write them as one tiled multiband GeoTIFF.

    Peak memory is about (bands + working arrays of the layer functions) x block_size² cells,
    whatever the grid size. Returns the file's path, grid, band names and statistics.
    """
    names = band_names(layers)
    tags, btags = stack_tags(layers)
    bs = align_block_size(block_size)
    with Task("stack", n_blocks(grid.height, grid.width, bs), message=f"{len(names)} bands", unit="block") as task:
        with BlockWriter(out, grid, names, tags=tags, band_tags=btags) as w:
            for block in iter_blocks(grid.height, grid.width, bs):
                w.write(block, compute_block(layers, grid, block))
                task.update(1)
            check_valid(names, w.stats)  # raising here leaves no file
    log.info("wrote stack %s block by block (%d px blocks): %d bands on %d x %d cells", out, bs, len(names), grid.height, grid.width)
    return StackFile(Path(out), grid, names, w.stats)


def pipeline_layers(cfg, points, grid: GridSpec) -> list[BlockLayer]:
    """The layers of `geoprospect run` as block layers: the interpolated elements (IDW or
    kriging), then one layer per vector source (distance, density, distance-with-density or
    one-hot categorical bands)."""
    from geoprospect.io.vectors import read_vectors
    from geoprospect.pipeline import stages

    pts = stages.log10_values(points) if cfg.points.log10 else points
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
    for v in cfg.vectors:
        gdf = read_vectors(v.path, layer=v.layer, crs=v.crs, target_crs=grid.crs, what=v.name)
        if v.kind == "distance":
            layers.append(distance_layer(gdf.geometry.values, v.name, provenance=f"distance to nearest feature of {v.path.name} (map units)"))
        elif v.kind == "density":
            layers.append(density_layer(gdf.geometry.values, v.name, v.radius, provenance=f"density of {v.path.name} within {v.radius:g} map units (per unit area)"))
        elif v.kind == "distance_density":
            layers.append(distance_density_layer(gdf.geometry.values, v.name, v.radius, provenance=f"paper 003 distance-with-density of {v.path.name}, R={v.radius:g}"))
        else:  # categorical: one band per class, named <layer name>_<class>
            lay = categorical_layer(gdf, grid, v.field, classes=v.classes)
            lay.names = [f"{v.name}_{n}" for n in lay.names]
            lay.provenance = {n: f"{v.field} of {v.path.name} (1 inside, 0 outside)" for n in lay.names}
            layers.append(lay)
    return layers
