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

        if g.contains(self.xy[:, 0], self.xy[:, 1]).any():
            return idw(self.xy, self.values, g, block_rows=_rows(g), **self.kwargs)
        # idw() refuses a grid with no sample inside (a guard against CRS mistakes, right for a
        # whole map, wrong for one block of it): widen the block to the nearest sample's cell,
        # interpolate there and crop (cells are independent, so the block's values are exact)
        r, c = g.rowcol(self.xy[:, 0], self.xy[:, 1])
        dr = np.where(r < 0, -r, np.maximum(r - (g.height - 1), 0))
        dc = np.where(c < 0, -c, np.maximum(c - (g.width - 1), 0))
        i = int(np.argmin(np.maximum(dr, dc)))
        r0, c0 = min(0, int(r[i])), min(0, int(c[i]))
        r1, c1 = max(g.height, int(r[i]) + 1), max(g.width, int(c[i]) + 1)
        big = GridSpec(g.crs, g.window_transform(r0, c0), c1 - c0, r1 - r0)
        out = idw(self.xy, self.values, big, block_rows=_rows(big), **self.kwargs)
        return out[:, -r0 : -r0 + g.height, -c0 : -c0 + g.width]


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
    """The layers of `geoprospect run` (IDW of the elements, distance to each vector layer) as block layers."""
    from geoprospect.io.vectors import read_vectors
    from geoprospect.pipeline import stages

    pts = stages.log10_values(points) if cfg.points.log10 else points
    pts = pts.to_crs(grid.crs)
    if not grid.contains(pts.xy[:, 0], pts.xy[:, 1]).any():
        log.warning("no sample point lies inside the grid: values are extrapolated from outside")
    prefix = "log10_" if cfg.points.log10 else ""
    names = [f"{prefix}{e}" for e in pts.elements]
    prov = {f"{prefix}{e}": f"IDW power={cfg.idw.power} k={cfg.idw.neighbors} radius={cfg.idw.radius} of {'log10 ' if cfg.points.log10 else ''}{e} from {Path(points.source).name}" for e in pts.elements}
    layers = [idw_layer(pts.xy, pts.values, names, provenance=prov, **cfg.idw.model_dump())]
    for v in cfg.vectors:
        gdf = read_vectors(v.path, layer=v.layer, crs=v.crs, target_crs=grid.crs, what=v.name)
        layers.append(distance_layer(gdf.geometry.values, v.name, provenance=f"distance to nearest feature of {v.path.name} (map units)"))
    return layers
