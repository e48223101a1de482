"""Existing rasters as stack layers: read, or warped once, onto the stack's grid (DESIGN.md decision 1).

``geoprospect stack RASTER...`` is :func:`stack_rasters`: every band of every raster becomes a
layer (:func:`raster_layer`), and the stack is built by the one builder, block by block. A
raster on the grid's cells is read as is; another is warped (GDAL) onto each block's sub-grid:
by default ``average`` when the grid's cells are larger than the raster's, else bilinear (a raster
of class codes: ``mode``, the majority class, else nearest; :mod:`.categorical_raster`). GDAL fits its resampling kernel to each warped region, so a block's values may
differ from a whole-grid warp by a tiny fraction of the local value range (4e-4 of unit
noise in tests/test_bad_input_rasters.py), never by a cell.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import rasterio
from pyproj import CRS
from rasterio.warp import Resampling, reproject
from rasterio.windows import Window

from geoprospect.errors import CategoricalError, CRSError, InputError, ParameterError
from geoprospect.evidence.categorical import one_hot
from geoprospect.evidence.class_choice import CLI_KNOBS, DEFAULT_MIN_SHARE, MAX_CODES, choose_classes, log_classes, whole_codes
from geoprospect.grid import Extent, GridSpec, rio_crs, to_crs
from geoprospect.io.raster_classes import raster_class_names
from geoprospect.stack.area import StudyArea
from geoprospect.stack.blocks import align_block_size, iter_blocks, sub_grid
from geoprospect.stack.build import StackFile, build_stack
from geoprospect.stack.executors import Executor
from geoprospect.stack.layers import StackLayer

log = logging.getLogger(__name__)


NO_CRS_HINT = "give the CRS it is in (crs: on its rasters entry, or the top-level crs: of a run config for every input without one), or assign one with gdal_edit.py -a_srs"


def _open(path: Path, crs: object | None = None):
    """An open raster and its CRS: the file's, else ``crs`` (InputError naming the file when neither)."""
    if not path.exists():
        raise InputError("raster not found", path=path)
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"cannot read raster ({exc})", path=path, hint="is it a complete GeoTIFF?") from exc
    if src.crs is None and crs is None:
        src.close()
        raise CRSError("raster has no CRS", path=path, hint=NO_CRS_HINT)
    return src, to_crs(src.crs.to_wkt() if src.crs is not None else crs)


def _names(src, path: Path) -> list[str]:
    return [d or (f"{path.stem}" if src.count == 1 else f"{path.stem}_{i + 1}") for i, d in enumerate(src.descriptions)]


def _grid_of(src, crs: CRS) -> GridSpec:
    return GridSpec(crs, src.transform, src.width, src.height)


def raster_extent(path: str | Path, crs: object | None = None) -> Extent:
    """The bounds and CRS of a raster (``crs`` when the file has none)."""
    path = Path(path)
    src, rcrs = _open(path, crs)
    with src:
        return Extent(tuple(float(v) for v in src.bounds), rcrs, str(path))  # type: ignore[arg-type]


def _aligned_window(src_grid: GridSpec, grid: GridSpec) -> Window | None:
    """The window of ``grid`` in a raster on ``src_grid`` when both share CRS and cells (no warp needed)."""
    if not src_grid.crs.equals(grid.crs, ignore_axis_order=True) or not np.allclose(src_grid.res, grid.res, rtol=1e-9, atol=0):
        return None
    col, row = ~src_grid.transform @ (grid.transform.c, grid.transform.f)
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return Window(int(round(col)), int(round(row)), grid.width, grid.height)


def _read(src, src_crs: CRS, grid: GridSpec, resampling: Resampling, bands: Sequence[int] | None = None) -> np.ndarray:
    """The bands (1-based; default every band) of an open raster (in ``src_crs``) on ``grid`` ->
    (bands, rows, cols) float32, NaN nodata."""
    idx = list(bands) if bands else list(range(1, src.count + 1))
    win = _aligned_window(_grid_of(src, src_crs), grid)
    if win is not None:
        inside = win.col_off >= 0 and win.row_off >= 0 and win.col_off + win.width <= src.width and win.row_off + win.height <= src.height
        arr = src.read(idx, window=win, boundless=not inside, out_dtype="float32", masked=True)
        return arr.filled(np.nan).astype(np.float32)
    out = np.full((len(idx), grid.height, grid.width), np.nan, dtype=np.float32)
    for j, b in enumerate(idx):
        band = src.read(b, out_dtype="float32", masked=True).filled(np.nan)
        reproject(band, out[j], src_transform=src.transform, src_crs=rio_crs(src_crs), src_nodata=np.nan,
                  dst_transform=grid.transform, dst_crs=rio_crs(grid.crs), dst_nodata=np.nan, resampling=resampling)
    return out


def source_resolution(src, src_crs: CRS, grid: GridSpec) -> tuple[float, float]:
    """The raster's cell size expressed in the grid's CRS (GDAL's default warp resolution)."""
    if src_crs.equals(grid.crs, ignore_axis_order=True):
        return (abs(src.transform.a), abs(src.transform.e))
    from rasterio.warp import calculate_default_transform

    t, _, _ = calculate_default_transform(rio_crs(src_crs), rio_crs(grid.crs), src.width, src.height, *src.bounds)
    return (abs(t.a), abs(t.e))


def _warp_method(src, src_crs: CRS, path: Path, grid: GridSpec, resampling: Resampling | None, categorical: bool = False) -> Resampling:
    """The resampling of a raster onto ``grid`` (``None``: average onto a coarser grid, else
    bilinear; for class codes (``categorical``) mode, the majority class, onto a coarser grid,
    else nearest), logged with the source and target resolutions when the raster is warped."""
    src_grid = _grid_of(src, src_crs)
    if _aligned_window(src_grid, grid) is not None:
        return resampling or (Resampling.nearest if categorical else Resampling.bilinear)  # read as is: no resampling happens
    sx, sy = source_resolution(src, src_crs, grid)
    gx, gy = grid.res
    if resampling is None:
        # a coarser cell averages (or takes the majority class of) every source cell inside it; bilinear would sample 4 of them
        coarser = gx * gy > 1.01 * sx * sy
        resampling = (Resampling.mode if coarser else Resampling.nearest) if categorical else (Resampling.average if coarser else Resampling.bilinear)
    what = {Resampling.mode: "mode (the majority class of the source cells in each cell)", Resampling.nearest: "nearest"}.get(resampling, resampling.name) if categorical else resampling.name
    log.info("%s: warped onto the run's grid: %.4g x %.4g -> %.4g x %.4g map units per cell (%s -> %s), %s resampling",
             path, sx, sy, gx, gy, src_crs.name, grid.crs.name, what)
    return resampling


def read_onto_grid(path: str | Path, grid: GridSpec, resampling: Resampling | None = None) -> tuple[np.ndarray, list[str]]:
    """Read every band of a raster onto ``grid`` (warped, with a log note, if it differs;
    ``resampling`` None: average onto a coarser grid, else bilinear).

    Returns (bands, rows, cols) float32 with NaN nodata, and the band names.
    """
    path = Path(path)
    src, crs = _open(path)
    try:
        with src:
            method = _warp_method(src, crs, path, grid, resampling)
            return _read(src, crs, grid, method), _names(src, path)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"cannot read raster ({exc})", path=path, hint="is it a complete GeoTIFF?") from exc


class _Raster:
    """Picklable block function: the bands of a raster file on a (sub-)grid."""

    def __init__(self, path: Path, resampling: Resampling, bands: Sequence[int] | None = None, crs: object | None = None) -> None:
        self.path, self.resampling, self.bands, self.crs = path, resampling, bands, crs

    def __call__(self, g: GridSpec) -> np.ndarray:
        try:
            src, crs = _open(self.path, self.crs)
            with src:
                return _read(src, crs, g, self.resampling, self.bands)
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(f"cannot read raster ({exc})", path=self.path, hint="is it a complete GeoTIFF?") from exc


def raster_layer(path: str | Path, grid: GridSpec, resampling: Resampling | None = None, *, bands: Sequence[int] | None = None, crs: object | None = None) -> StackLayer:
    """The bands (1-based; default every band) of a raster file as a layer on ``grid`` (band
    names from its descriptions); the raster's nodata becomes NaN; ``crs``: the raster's CRS
    when the file has none; ``resampling`` None: average onto a coarser grid, else bilinear."""
    path = Path(path)
    src, rcrs = _open(path, crs)
    with src:
        resampling = _warp_method(src, rcrs, path, grid, resampling)
        names = _names(src, path)
        if bands:
            bad = [b for b in bands if not 1 <= b <= src.count]
            if bad:
                raise InputError(f"band(s) {bad} do not exist: the raster has {src.count} band(s)", path=path, hint="band numbers start at 1 (rasters: band / bands in the run config)")
    idx = list(bands) if bands else list(range(1, len(names) + 1))
    return StackLayer([names[b - 1] for b in idx], _Raster(path, resampling, list(bands) if bands else None, crs), 0,
                      {names[b - 1]: f"band {b} of {path.name} ({resampling.name} resampling)" for b in idx})


class _CategoricalRaster:
    """Picklable block function: one band of class codes on a (sub-)grid as one-hot class bands."""

    def __init__(self, path: Path, resampling: Resampling, band: int, crs: object | None, classes: Sequence[Sequence[int]]) -> None:
        self.path, self.resampling, self.band, self.crs, self.classes = path, resampling, band, crs, [list(c) for c in classes]

    def codes(self, g: GridSpec) -> np.ndarray:
        """(rows, cols) float32 class codes on ``g`` (NaN: nodata)."""
        try:
            src, crs = _open(self.path, self.crs)
            with src:
                return _read(src, crs, g, self.resampling, [self.band])[0]
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(f"cannot read raster ({exc})", path=self.path, hint="is it a complete GeoTIFF?") from exc

    def __call__(self, g: GridSpec) -> np.ndarray:
        return one_hot(self.codes(g), self.classes)


def _count_codes(fn: _CategoricalRaster, grid: GridSpec, area: StudyArea | None, block_size: int, knobs: Mapping[str, str]) -> dict[int, int]:
    """Cells of every class code on ``grid`` (inside ``area``), block by block (memory bounded
    by the block); CategoricalError for values that are not whole numbers or too many codes."""
    counts: dict[float, int] = {}
    area = None if area is None else area.to_crs(grid.crs)
    for block in iter_blocks(grid.height, grid.width, align_block_size(block_size)):
        g = sub_grid(grid, block)
        codes = fn.codes(g)
        keep = np.isfinite(codes) if area is None else np.isfinite(codes) & area.mask(g)
        values, n = np.unique(codes[keep], return_counts=True)
        for v, k in zip(values.tolist(), n.tolist()):
            counts[v] = counts.get(v, 0) + k
        whole_codes(dict(zip(values.tolist(), n.tolist())), str(fn.path), knobs)  # refuse a continuous raster at its first block
        if len(counts) > MAX_CODES:
            raise CategoricalError(f"over {MAX_CODES} distinct codes: not a raster of classes", path=fn.path, hint=f"is it a continuous layer? Then {knobs['kind']}")
    return whole_codes(counts, str(fn.path), knobs)


def categorical_raster_layer(path: str | Path, grid: GridSpec, *, name: str | None = None, band: int | None = None, classes: Sequence[object] | None = None,
                             min_share: float = DEFAULT_MIN_SHARE, crs: object | None = None, area: StudyArea | None = None,
                             resampling: Resampling | None = None, knobs: Mapping[str, str] | None = None, block_size: int = 1024) -> StackLayer:
    """A raster of class codes (lithology, stratigraphy) as one-hot class bands ``<name>_<class>``
    on ``grid`` (``name`` default: the file's stem), recorded as one categorical layer.

    Warped by nearest (``mode``, the majority class, onto a coarser grid), never averaged.
    Class names from the raster's attribute table (:func:`~geoprospect.io.raster_classes.raster_class_names`),
    else the codes; the classes are chosen once for the whole map from their cell counts on
    ``grid`` inside ``area`` (:func:`~geoprospect.evidence.class_choice.choose_classes`:
    ``classes`` or the ``min_share`` rule), and logged. A class band is 1 in the class, 0 in
    another, NaN where the raster has no value. ``knobs``: how the settings are spelled in
    hints (:data:`~geoprospect.evidence.class_choice.CLI_KNOBS` by default).
    """
    path, k = Path(path), {**CLI_KNOBS, **(knobs or {})}
    if resampling not in (None, Resampling.nearest, Resampling.mode):
        raise ParameterError(f"{resampling.name} resampling would mix class codes into codes that mean nothing", path=path, hint="use nearest or mode (the majority class)")
    src, rcrs = _open(path, crs)
    with src:
        if band is None and src.count > 1:
            raise CategoricalError(f"a categorical raster is one band of class codes; this one has {src.count} bands", path=path, hint=f"choose the band with {k['band']}")
        if band is not None and not 1 <= band <= src.count:
            raise InputError(f"band {band} does not exist: the raster has {src.count} band(s)", path=path, hint=f"band numbers start at 1 ({k['band']})")
        method = _warp_method(src, rcrs, path, grid, resampling, categorical=True)
    fn = _CategoricalRaster(path, method, band or 1, crs, [])
    names, source = raster_class_names(path, band or 1)
    kept, rare = choose_classes(_count_codes(fn, grid, area, block_size, k), names, classes=classes, min_share=min_share, path=str(path), knobs=k)
    layer = name or path.stem
    log_classes(f"{layer} ({path.name})", kept, rare, source, min_share)
    fn.classes = [c.codes for c in kept]
    bands = [f"{layer}_{c.name}" for c in kept]
    prov = {b: f"class {c.name} (codes {','.join(map(str, c.codes[:16]))}) of band {band or 1} of {path.name} (1 in the class, 0 in another, nodata where the raster has none; {method.name} resampling)"
            for b, c in zip(bands, kept)}
    return StackLayer(bands, fn, 0, prov, categorical=layer)


def stack_rasters(paths: Sequence[str | Path], out: str | Path, grid: GridSpec | None = None, *, executor: Executor | None = None, block_size: int = 1024, area: StudyArea | None = None,
                  categorical: Sequence[str | Path] = (), min_share: float = DEFAULT_MIN_SHARE) -> StackFile:
    """Combine single- or multi-band rasters into one stack on ``grid`` (default: the first
    raster's); cells outside ``area`` are nodata. The rasters of ``categorical`` (among
    ``paths``, or added after them) are class codes: one-hot class bands (:func:`categorical_raster_layer`)."""
    cats = {Path(p).resolve() for p in categorical}
    paths = list(paths) + [p for p in categorical if Path(p).resolve() not in {Path(q).resolve() for q in paths}]
    if not paths:
        raise InputError("no rasters to stack")
    grid = grid or GridSpec.from_raster(paths[0])
    layers = [categorical_raster_layer(p, grid, min_share=min_share, area=area, block_size=block_size) if Path(p).resolve() in cats else raster_layer(p, grid) for p in paths]
    return build_stack(layers, grid, out, executor=executor, block_size=block_size, area=area)
