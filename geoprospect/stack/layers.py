"""The layers of an evidence stack: each is a function of a (sub-)grid giving one or more bands.

IDW and distance need no halo (their points/features are global: a block's values depend on
its cell centres only); a layer with a neighbourhood operation (a kernel density, a
smoothing) declares ``halo`` cells, gets a sub-grid widened by the halo (clipped to the grid)
and its result is cropped back (:func:`geoprospect.stack.build.compute_block`). The layer
functions are picklable classes, so the same layers run on dask workers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from geoprospect.errors import GridError, InputError
from geoprospect.evidence.categorical import categorical_bands, warn_unmapped
from geoprospect.evidence.density import DensityFeatures, distance_with_density, feature_density
from geoprospect.evidence.distance import distance_to_features, prepare_segments
from geoprospect.evidence.idw import idw
from geoprospect.evidence.kriging import fit_variogram, kriging
from geoprospect.grid import GridSpec
from geoprospect.io.names import did_you_mean
from geoprospect.io.rasters import CATEGORICAL_TAG, dumps_tags

if TYPE_CHECKING:
    from geoprospect.stack.area import StudyArea

BlockFn = Callable[[GridSpec], np.ndarray]
log = logging.getLogger(__name__)


@dataclass
class StackLayer:
    """One or more stack bands computed from a sub-grid.

    Attributes:
        names: band names (one per band the function returns).
        compute: sub-grid -> (len(names), h, w) (or (h, w) for one band) float array, NaN = nodata.
        halo: cells of context the function needs on each side (0 for point-wise layers).
        provenance: band name -> how the band was made (GEOPROSPECT_SOURCE tag).
        categorical: the name of the categorical layer whose one-hot class bands these are
            (geology polygons, a categorical raster), None for any other layer: the stack
            records it (:data:`~geoprospect.io.rasters.CATEGORICAL_TAG`), so that importance,
            attribution and the baselines treat the class bands as one layer.
    """

    names: list[str]
    compute: BlockFn
    halo: int = 0
    provenance: dict[str, str] = field(default_factory=dict)
    categorical: str | None = None


def _rows(g: GridSpec, cells: int = 131072) -> int:
    """Rows per inner block of the evidence functions (about ``cells`` cells at a time)."""
    return max(1, min(g.height, cells // g.width))


class _IDW:
    """Picklable IDW block function (sent to dask workers)."""

    def __init__(self, xy: np.ndarray, values: np.ndarray, kwargs: dict) -> None:
        self.xy, self.values, self.kwargs = xy, values, kwargs

    def __call__(self, g: GridSpec) -> np.ndarray:
        # a block of a map may hold no sample: that is fine (cells are independent)
        return idw(self.xy, self.values, g, block_rows=_rows(g), require_inside=False, **self.kwargs)


class _Distance:
    """Picklable distance block function (the features checked and split into segments once)."""

    def __init__(self, geoms: np.ndarray) -> None:
        self.segments = prepare_segments(geoms)

    def __call__(self, g: GridSpec) -> np.ndarray:
        return distance_to_features(self.segments, g, block_rows=_rows(g))


class _Density:
    """Picklable feature-density block function (an exact kernel of global features: no halo)."""

    def __init__(self, geoms: np.ndarray, radius: float) -> None:
        self.features, self.radius = DensityFeatures(geoms), radius  # checked and split once, not per block

    def __call__(self, g: GridSpec) -> np.ndarray:
        return feature_density(self.features, g, self.radius)


class _Categorical:
    """Picklable one-hot block function with the classes fixed for the whole map."""

    def __init__(self, polygons, field: str, classes: list, kwargs: dict) -> None:
        self.polygons, self.field, self.classes, self.kwargs = polygons, field, classes, kwargs

    def __call__(self, g: GridSpec) -> np.ndarray:
        return categorical_bands(self.polygons, g, self.field, classes=self.classes, **self.kwargs)[0]


class _DistanceDensity:
    """Picklable paper-003 distance-with-density block function (global features: no halo)."""

    def __init__(self, geoms: np.ndarray, radius: float) -> None:
        self.features, self.radius = DensityFeatures(geoms), radius

    def __call__(self, g: GridSpec) -> np.ndarray:
        return distance_with_density(self.features, g, self.radius)


class _Kriging:
    """Picklable kriging block function; the variograms are fitted once on all samples, so
    every block uses the same model (and a cell's value does not depend on the blocking)."""

    def __init__(self, xy: np.ndarray, values: np.ndarray, kwargs: dict, variance: bool = False) -> None:
        self.xy, self.values, self.kwargs, self.variance = xy, values, kwargs, variance

    def __call__(self, g: GridSpec) -> np.ndarray:
        est, var = kriging(self.xy, self.values, g, **self.kwargs)
        return np.concatenate([est, var]) if self.variance else est


def kriging_layer(xy: np.ndarray, values: np.ndarray, names: Sequence[str], *, method: str = "ordinary", variogram_model: str = "spherical",
                  neighbors: int | None = 32, variance: bool = False, provenance: dict | None = None) -> StackLayer:
    """Kriged bands of every element column (variograms fitted once, here, on all samples);
    with ``variance``, the kriging variance of each element follows as ``<name>_variance`` bands."""
    xy = np.asarray(xy, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64).reshape(len(xy), -1)
    varios = [fit_variogram(xy, values[:, e], variogram_model) for e in range(values.shape[1])]
    for n, v in zip(names, varios):
        log.info("kriging %s (%s, %s variogram): %s", n, method, variogram_model, v.parameters)
    kw = dict(method=method, variogram_model=variogram_model, variogram=varios, neighbors=neighbors if method == "ordinary" else None)
    bands = list(names) + ([f"{n}_variance" for n in names] if variance else [])
    return StackLayer(bands, _Kriging(xy, values, kw, variance), 0, dict(provenance or {}))


def distance_density_layer(geometries: object, name: str, radius: float, *, provenance: str = "") -> StackLayer:
    """Paper 003's buffer-distance density (geoprospect.evidence.density.distance_with_density)."""
    geoms = np.asarray(getattr(geometries, "values", geometries), dtype=object)
    return StackLayer([name], _DistanceDensity(geoms, float(radius)), 0, {name: provenance} if provenance else {})


def density_layer(geometries: object, name: str, radius: float, *, provenance: str = "") -> StackLayer:
    """Feature length/area/count within ``radius`` per unit area (geoprospect.evidence.density)."""
    geoms = np.asarray(getattr(geometries, "values", geometries), dtype=object)
    return StackLayer([name], _Density(geoms, float(radius)), 0, {name: provenance} if provenance else {})


def categorical_layer(polygons, grid: GridSpec, field: str, *, classes: Sequence[object] | None = None, all_touched: bool = False, outside: float = float("nan"), what: str = "geology",
                      area: StudyArea | None = None) -> StackLayer:
    """One 0/1 band per class of ``field`` (geoprospect.evidence.categorical); the classes are
    taken from the whole layer (not per block), so every block has the same bands. Cells outside
    every polygon are ``outside`` (NaN: nodata) in every band; the share of such area (of the
    study ``area`` when given) is warned once."""
    if classes is None:
        if field not in polygons.columns:
            raise InputError(f"no column {field!r} in the polygons{did_you_mean([field], polygons.columns)}", hint=f"columns: {', '.join(map(str, polygons.columns))}")
        classes = sorted(polygons[field].dropna().unique().tolist(), key=str)  # as categorical_bands: sorted as text
    kw = dict(all_touched=all_touched, outside=outside, warn=False)
    one = GridSpec(grid.crs, grid.transform, 1, 1)
    gdf = polygons.to_crs(grid.crs) if getattr(polygons, "crs", None) is not None and not grid.crs.equals(polygons.crs, ignore_axis_order=True) else polygons
    warn_unmapped(gdf, grid, field, outside, what, area=None if area is None else area.to_crs(grid.crs).geoms)
    names = categorical_bands(polygons, one, field, classes=list(classes), **kw)[1]
    return StackLayer(list(names), _Categorical(polygons, field, list(classes), kw), 0, {n: f"{field} polygons" for n in names}, categorical=field)


def idw_layer(xy: np.ndarray, values: np.ndarray, names: Sequence[str], *, power: float = 2.0, neighbors: int | None = 12, radius: float | None = None, min_points: int = 1, smoothing: float = 0.0, provenance: dict | None = None) -> StackLayer:
    """IDW bands of every element column of ``values`` ((N, E), grid CRS coordinates ``xy``)."""
    values = np.asarray(values, dtype=np.float64).reshape(len(xy), -1)
    if values.shape[1] != len(names):
        raise InputError(f"{len(names)} band names for {values.shape[1]} element columns")
    kw = dict(power=power, neighbors=neighbors, radius=radius, min_points=min_points, smoothing=smoothing, names=list(names))
    return StackLayer(list(names), _IDW(np.asarray(xy, dtype=np.float64), values, kw), 0, dict(provenance or {}))


def distance_layer(geometries: object, name: str, *, provenance: str = "") -> StackLayer:
    """Distance (map units) to the nearest of ``geometries`` (shapely, grid CRS)."""
    geoms = np.asarray(getattr(geometries, "values", geometries), dtype=object)
    return StackLayer([name], _Distance(geoms), 0, {name: provenance} if provenance else {})


class _Array:
    """Picklable block function cutting a sub-grid's window out of bands already computed on ``grid``."""

    def __init__(self, data: np.ndarray, grid: GridSpec) -> None:
        self.data, self.grid = data, grid

    def __call__(self, g: GridSpec) -> np.ndarray:
        col, row = ~self.grid.transform @ (g.transform.c, g.transform.f)
        r0, c0 = int(round(row)), int(round(col))
        if g.res != self.grid.res or g.crs != self.grid.crs or r0 < 0 or c0 < 0 or r0 + g.height > self.grid.height or c0 + g.width > self.grid.width:
            raise GridError(f"the block grid ({g.height} x {g.width} cells at row {r0}, col {c0}) is not a window of the layer's grid {self.grid.shape}")
        return self.data[:, r0 : r0 + g.height, c0 : c0 + g.width]


def array_layer(names: Sequence[str], data: np.ndarray, grid: GridSpec, *, provenance: dict | None = None) -> StackLayer:
    """Bands already computed in memory ((bands, rows, cols) or (rows, cols) on ``grid``) as a layer."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        data = data[None]
    if data.shape != (len(names), *grid.shape):
        raise GridError(f"layer {list(names)} has shape {data.shape}, expected ({len(names)}, {grid.height}, {grid.width}) on the grid")
    return StackLayer(list(names), _Array(data, grid), 0, dict(provenance or {}))


def band_names(layers: Sequence[StackLayer]) -> list[str]:
    """All band names, refusing duplicates (InputError)."""
    names = [n for lay in layers for n in lay.names]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"duplicate layer names in the stack: {dup}", hint="give every layer a distinct name")
    if not names:
        raise InputError("no layers to stack")
    return names


def stack_tags(layers: Sequence[StackLayer]) -> tuple[dict, list[dict]]:
    """Dataset tags (with the categorical layers' class bands, :data:`CATEGORICAL_TAG`) and
    per-band GEOPROSPECT_SOURCE tags."""
    bt = [{"GEOPROSPECT_SOURCE": lay.provenance.get(n, "")} for lay in layers for n in lay.names]
    tags = {"GEOPROSPECT_KIND": "evidence_stack"}
    groups = {lay.categorical: list(lay.names) for lay in layers if lay.categorical}
    if groups:
        tags[CATEGORICAL_TAG] = dumps_tags(groups)
    return tags, bt
