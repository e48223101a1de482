"""GeoTIFF writing and reading: tiled, compressed, overviews, CRS, nodata, band names, statistics.

One writer (:class:`RasterWriter`) writes every raster, block by block; :func:`write_raster`
writes a whole array as one block.

Inside geoprospect a raster is float32 with NaN for nodata (DESIGN.md decision 3); on disk
every band declares a nodata value (default -9999) so that QGIS and ArcGIS read it right.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from geoprospect.errors import GridError, InputError, OutputError, ParameterError
from geoprospect.grid import GridSpec
from geoprospect.io.atomic import atomic_path
from geoprospect.io.overviews import STRIP_ROWS, OverviewSpool
from geoprospect.io.stats import RunningStats

NODATA = -9999.0

#: Dataset tag of an evidence stack: JSON ``{layer: [band names]}`` of its categorical layers,
#: whose one-hot class bands are one layer (permuted, occluded and weighed together).
CATEGORICAL_TAG = "GEOPROSPECT_CATEGORICAL"


def band_stats(band: np.ndarray) -> dict[str, float]:
    """min/max/mean/std (float64, population std) and valid count of the finite values of one band."""
    return RunningStats.of(band).to_dict()


# -- the raster writer: whole arrays and blocks share it ----------------------------------------
CACHE_MB = 256  # GDAL block cache while writing (GDAL's default is 5 % of RAM)
#: GDAL block cache while a stack is read block by block for scoring: each tile is read about
#: once (a block's halo re-reads its neighbours' edge tiles), so a large cache only holds memory.
#: Measured with benchmarks/bench_dense_scoring.py (3,000 x 3,000 x 10, blend_cell, 2 cores):
#: 256 MiB -> 64 MiB lowered the peak RSS by ~190 MiB at the same cells per second.
READ_CACHE_MB = 64
OVERVIEW_CACHE_MAX_MB = 2048

#: Tile compression of every raster written (``RasterWriter(compress=...)``). ZSTD level 1 with
#: the floating-point predictor (PREDICTOR=3), on all cores (NUM_THREADS=ALL_CPUS): measured on
#: an IDW map of 3,072 x 3,072 x 8 float32 cells (2-core machine, idle; benchmarks/results/
#: bench_commands.json holds the latest): DEFLATE level 6 wrote it in 5.1 s (254 MiB), DEFLATE
#: level 1 in 1.4 s (255 MiB), ZSTD level 9 (GDAL's default) in 3.8 s (248 MiB), ZSTD level 1 in
#: 1.2 s (254 MiB). Float data of smooth maps hardly compress beyond the predictor, so the
#: fastest codec loses nothing in size. "deflate" (level 6, the previous default) stays for
#: readers without ZSTD (GDAL < 2.3, ArcMap); GDAL >= 2.3, QGIS and ArcGIS Pro read ZSTD.
COMPRESS = "zstd"
COMPRESSIONS = {
    "zstd": {"compress": "zstd", "zstd_level": 1, "predictor": 3},
    "deflate": {"compress": "deflate", "predictor": 3},
}


def creation_options(compress: str = COMPRESS) -> dict[str, object]:
    """GTiff/COG creation options of one of :data:`COMPRESSIONS` on all cores (float32 data)."""
    if compress not in COMPRESSIONS:
        raise ParameterError(f"unknown compression {compress!r}", hint=f"one of {', '.join(COMPRESSIONS)}")
    return {**COMPRESSIONS[compress], "num_threads": "ALL_CPUS"}


def gdal_env(cache_mb: int = CACHE_MB, threads: str = "ALL_CPUS") -> rasterio.Env:
    """A rasterio environment with a bounded GDAL cache and multi-threaded tile compression.

    rasterio hands an integer GDAL_CACHEMAX to GDALSetCacheMax, i.e. in BYTES (a bare 256
    would be a 256-byte cache, and every tile would be recompressed over and over).
    GDAL_NUM_THREADS lets GDAL compress tiles (blocks and overviews) in parallel: measured on
    the 2-core machine, average overviews of an 8,000 x 8,000 x 10 stack took 28 s instead of 44 s.
    """
    return rasterio.Env(GDAL_CACHEMAX=int(cache_mb) * 2**20, GDAL_NUM_THREADS=str(threads))


def _describe(dst, band_names: Sequence[str], tags: dict | None, band_tags: Sequence[dict] | None) -> None:
    for i, n in enumerate(band_names):
        dst.set_band_description(i + 1, str(n))
        if band_tags and band_tags[i]:
            dst.update_tags(i + 1, **band_tags[i])
    if tags:
        dst.update_tags(**tags)


def write_block(dst, data: np.ndarray, row_off: int = 0, col_off: int = 0, nodata: float = NODATA,
                on_strip: Callable[[np.ndarray, int, int], None] | None = None) -> list[RunningStats]:
    """Write (bands, h, w) float data (NaN = nodata) at pixel (row_off, col_off) of an open
    dataset, in strips of STRIP_ROWS rows; returns the block's per-band statistics.

    ``on_strip(strip, row_off, col_off)`` is handed each strip as written (float32, nodata
    cells set to ``nodata``) and its pixel offsets: the overviews are reduced from it."""
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    bands, h, w = data.shape
    if bands != dst.count or row_off < 0 or col_off < 0 or row_off + h > dst.height or col_off + w > dst.width:
        raise GridError(f"block data {data.shape} at row {row_off}, col {col_off} does not match the raster ({dst.count} bands, {dst.height} x {dst.width} cells)")
    stats = [RunningStats.of(b.astype(np.float32, copy=False)) for b in data]  # of the values written
    for r0 in range(0, h, STRIP_ROWS):
        arr = data[:, r0 : r0 + STRIP_ROWS].astype(np.float32, copy=True)
        arr[~np.isfinite(arr)] = nodata
        dst.write(arr, window=Window(col_off, row_off + r0, w, arr.shape[1]))
        if on_strip is not None:
            on_strip(arr, row_off + r0, col_off)
    return stats


def statistics_tags(st: RunningStats, n_cells: int) -> dict[str, str]:
    """GDAL STATISTICS_* tags of one band (none for a band without valid cells)."""
    d = st.to_dict()
    if not d["valid"]:
        return {}
    return {
        "STATISTICS_MINIMUM": repr(d["min"]),
        "STATISTICS_MAXIMUM": repr(d["max"]),
        "STATISTICS_MEAN": repr(d["mean"]),
        "STATISTICS_STDDEV": repr(d["std"]),
        "STATISTICS_VALID_PERCENT": repr(100.0 * d["valid"] / n_cells),
    }


def overview_factors(grid: GridSpec) -> list[int]:
    """Overview levels whose smaller side keeps at least 64 cells."""
    return [f for f in (2, 4, 8, 16, 32) if min(grid.width, grid.height) // f >= 64]


def overview_cache_mb(width: int, bands: int, tile: int = 256) -> int:
    """GDAL cache for building overviews: four full-width rows of pixel-interleaved tiles.

    GDAL's overview builder reads full-width strips; with a cache smaller than that, tiles are
    decompressed again and again. Measured on a 20,000-wide, 10-band stack (2 cores): 65 s with
    256 MB, 22 s with 1 GB. Bounded by OVERVIEW_CACHE_MAX_MB so memory stays bounded.
    """
    need = 4 * tile * int(width) * int(bands) * 4 / 2**20
    return int(min(OVERVIEW_CACHE_MAX_MB, max(CACHE_MB, need)))


def finish_raster(dst, grid: GridSpec, stats: Sequence[RunningStats], overviews: bool = True) -> None:
    """Statistics tags and average overviews (built by GDAL from the written tiles, streaming)."""
    for i, st in enumerate(stats):
        t = statistics_tags(st, grid.width * grid.height)
        if t:
            dst.update_tags(i + 1, **t)
    if overviews:
        f = overview_factors(grid)
        if f:
            with gdal_env(overview_cache_mb(grid.width, dst.count)):
                dst.build_overviews(f, Resampling.average)
            dst.update_tags(ns="rio_overview", resampling="average")


class RasterWriter:
    """A tiled, compressed float32 GeoTIFF on ``grid`` written block by block, atomically.

    Usage::

        with RasterWriter(path, grid, names) as w:
            for block in blocks:                    # any order, each cell once
                w.write(data, block.row_off, block.col_off)   # (bands, h, w), NaN = nodata
        w.stats  # per-band dicts like band_stats()

    CRS, nodata, band descriptions, tags, GDAL STATISTICS_* tags (from per-block running
    statistics, no second pass) and average overviews are set; GDAL's cache is capped, so
    memory depends on the block, not on the map. Block statistics are merged in row-major block
    order, whatever the write order. The file is renamed into place only when complete: a
    missing block raises OutputError, no file is left.

    ``compress``: one of :data:`COMPRESSIONS` (default :data:`COMPRESS`), on all cores.
    ``cog``: write a Cloud Optimized GeoTIFF (GDAL's COG driver): the blocks and overviews go
    to an uncompressed scratch GeoTIFF beside the output, which the COG driver then copies,
    compressing once, into the COG layout (overviews before the full-resolution tiles).

    Overviews (not COG, see ``_open_spool``): on a grid whose sides are even, the average
    overviews are reduced from each block as it is written (:mod:`geoprospect.io.overviews`,
    bit for bit GDAL's average) and written, uncompressed, into the overview levels at the end,
    instead of GDAL re-reading the whole file;
    their (empty) levels are created when the file is opened, which needs SPARSE_OK (tiles
    holding only nodata are then not stored; readers return nodata for them). An odd grid side
    or a block not aligned to the overview factors leaves the overviews to GDAL's builder.
    """

    def __init__(self, path: str | Path, grid: GridSpec, band_names: Sequence[str], *, nodata: float = NODATA, tags: dict | None = None, band_tags: Sequence[dict] | None = None, overviews: bool = True, cache_mb: int = CACHE_MB, compress: str = COMPRESS, cog: bool = False) -> None:
        self.path, self.grid, self.band_names = Path(path), grid, list(band_names)
        self.nodata, self.tags, self.band_tags = nodata, tags, band_tags
        self.overviews, self.cache_mb = overviews, cache_mb
        self.options, self.cog = creation_options(compress), bool(cog)
        self._parts: dict[tuple[int, int], list[RunningStats]] = {}
        self._cells = 0
        self._stack: contextlib.ExitStack | None = None
        self._dst: rasterio.io.DatasetWriter | None = None
        self._final: Path | None = None
        self._spool: OverviewSpool | None = None

    def __enter__(self) -> "RasterWriter":
        es = contextlib.ExitStack()
        try:
            tmp = self._final = es.enter_context(atomic_path(self.path))
            es.enter_context(gdal_env(self.cache_mb))
            prof = self.grid.profile(count=len(self.band_names), dtype="float32", nodata=self.nodata)
            if self.cog:
                tmp = tmp.with_name(tmp.name + ".raw.tif")  # the scratch GeoTIFF, removed in any case
                es.callback(_remove_with_side_files, tmp)
                prof.update(compress="none", predictor=1)
            else:
                prof.update(self.options)
            self._spool = self._open_spool(es, tmp)
            if self._spool is not None:
                prof.update(sparse_ok=True)  # the empty overview levels below write no tiles
            self._dst = es.enter_context(rasterio.open(tmp, "w", **prof))
            _describe(self._dst, self.band_names, self.tags, self.band_tags)
            if self._spool is not None:
                # rasterio cannot ask GDAL for empty levels (resampling "NONE"); "nearest" of a file
                # without tiles writes none (SPARSE_OK) and costs 0.1-0.2 s at 3,072^2 x 8 cells
                with rasterio.Env(COMPRESS_OVERVIEW="NONE"):  # levels stored uncompressed: see _open_spool
                    self._dst.build_overviews(self._spool.factors, Resampling.nearest)
        except BaseException:
            es.close()
            raise
        self._stack = es
        return self

    def _open_spool(self, es: contextlib.ExitStack, tmp: Path) -> OverviewSpool | None:
        """The scratch of the overviews reduced from the blocks (removed on every exit), or None
        where GDAL builds them (no overviews, a COG, or an odd grid side).

        GDAL's builder re-reads and decompresses the whole full-resolution file; the blocks were
        in memory a moment before. The reduced levels are written into the finished file reopened
        in update mode, where libtiff would compress at its default level (ZSTD 9, not the
        creation options' 1: a session setting, not stored in the file, and no open option sets
        it), which costs what GDAL's builder costs; so their levels are stored uncompressed
        (``COMPRESS_OVERVIEW=NONE`` when the empty levels are created). Float maps hardly
        compress (ratio ~1.2), so the file grows by ~13 % (3,072² x 8 IDW map: 255 -> 288 MiB)
        while the whole ``geoprospect interpolate`` of it went from 4.3 s to 3.8 s (2 cores,
        idle). A COG (uncompressed scratch, compressed once by the COG driver) keeps GDAL's
        builder: there the spool measured no faster and took 250 MB more memory.
        """
        factors = overview_factors(self.grid) if self.overviews and not self.cog else []
        spool = OverviewSpool(tmp.with_name(tmp.name + ".levels"), self.grid.width, self.grid.height, len(self.band_names), factors, self.nodata)
        if not factors or not spool.usable:
            return None
        es.callback(spool.close)
        return spool

    def write(self, data: np.ndarray, row_off: int = 0, col_off: int = 0) -> None:
        """Write one block of (bands, h, w) data at pixel (row_off, col_off); NaN becomes nodata."""
        sp = self._spool
        parts = write_block(self._dst, data, row_off, col_off, self.nodata, on_strip=sp.add if sp is not None and sp.usable else None)
        self._parts[(row_off, col_off)] = parts
        self._cells += int(np.asarray(data).shape[-2] * np.asarray(data).shape[-1])

    @property
    def running_stats(self) -> list[RunningStats]:
        """Per-band statistics of the blocks written so far, merged in row-major block order."""
        out = [RunningStats() for _ in self.band_names]
        for key in sorted(self._parts):
            out = [a.merge(b) for a, b in zip(out, self._parts[key], strict=True)]
        return out

    @property
    def stats(self) -> list[dict[str, float]]:
        return [s.to_dict() for s in self.running_stats]

    def _finish(self) -> None:
        if self._cells != self.grid.width * self.grid.height:
            raise OutputError(f"{self._cells} of {self.grid.width * self.grid.height} cells were written: blocks are missing or repeated", path=self.path)
        dst, final, spool = self._dst, self._final, self._spool
        assert dst is not None and final is not None  # set by __enter__
        if spool is not None and spool.usable:
            finish_raster(dst, self.grid, self.running_stats, overviews=False)
            dst.update_tags(ns="rio_overview", resampling="average")
            dst.close()  # one GDAL handle at a time: the overview levels are opened next
            spool.write_into(Path(dst.name))
            spool.close()
        else:
            finish_raster(dst, self.grid, self.running_stats, self.overviews)
        if self.cog:
            dst.close()
            copy_as_cog(Path(dst.name), final, self.options)

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        es, self._stack = self._stack, None
        if es is None:
            return False
        if exc_type is not None:
            es.__exit__(exc_type, exc, tb)
            return False
        try:
            self._finish()
        except BaseException as e:
            es.__exit__(type(e), e, e.__traceback__)
            raise
        es.close()
        return False


def copy_as_cog(src: Path, dst: Path, options: dict) -> None:
    """Copy a tiled GeoTIFF with internal overviews into a COG at ``dst`` (GDAL's COG driver,
    its overviews reused, tiles compressed with ``options``; metadata and statistics kept)."""
    import rasterio.shutil

    co = {k: v for k, v in options.items() if k != "zstd_level"}
    if "zstd_level" in options:
        co["level"] = options["zstd_level"]
    rasterio.shutil.copy(str(src), str(dst), driver="COG", blocksize=256, overviews="FORCE_USE_EXISTING", bigtiff="IF_SAFER", statistics="YES", **co)


def _remove_with_side_files(path: Path) -> None:
    for p in (path, Path(str(path) + ".aux.xml"), Path(str(path) + ".ovr")):
        p.unlink(missing_ok=True)


def write_raster(
    path: str | Path,
    data: np.ndarray | Sequence[np.ndarray],
    grid: GridSpec,
    band_names: Sequence[str],
    *,
    nodata: float = NODATA,
    tags: dict[str, str] | None = None,
    band_tags: Sequence[dict[str, str]] | None = None,
    overviews: bool = True,
    compress: str = COMPRESS,
    cog: bool = False,
) -> Path:
    """Write a (bands, rows, cols) float array as a tiled, compressed GeoTIFF, atomically.

    ``data`` may also be a list of (rows, cols) bands: they are written in strips of
    :data:`STRIP_ROWS` rows, so no (bands, rows, cols) float32 copy of a large map is made
    (a 10,000² map's two score bands would be another 763 MiB).
    NaN cells are written as ``nodata``. Each band gets its description (the layer name) and
    GDAL's STATISTICS_* metadata, so QGIS/ArcGIS show correct stretches without a rescan.
    An array is one block of :class:`RasterWriter`.
    """
    strips = isinstance(data, (list, tuple))
    bands = [np.asarray(b) for b in data] if strips else None
    arr = None if strips else np.asarray(data)
    if arr is not None and arr.ndim == 2:
        arr = arr[None]
    shapes = {b.shape for b in bands} if bands is not None else {arr.shape[1:]}  # type: ignore[union-attr]
    if shapes != {grid.shape}:
        raise ParameterError(f"data: array shape {sorted(shapes)[0]} does not match grid {grid.shape}", path=path, hint="compute the bands on the grid passed as grid=")
    n = len(bands) if bands is not None else arr.shape[0]  # type: ignore[union-attr]
    if len(band_names) != n:
        raise ParameterError(f"band_names: {len(band_names)} names for {n} bands", path=path, hint="pass one band name per band")
    with RasterWriter(path, grid, band_names, nodata=nodata, tags=tags, band_tags=band_tags, overviews=overviews, compress=compress, cog=cog) as w:
        if bands is None:
            w.write(arr)  # type: ignore[arg-type]
        else:
            for r0 in range(0, grid.height, STRIP_ROWS):
                w.write(np.stack([b[r0 : r0 + STRIP_ROWS] for b in bands]).astype(np.float32, copy=False), r0, 0)
    return Path(path)


@dataclass
class Stack:
    """An evidence stack read into memory.

    Attributes:
        data: (bands, rows, cols) float32, NaN where nodata.
        grid: the stack's grid.
        band_names: one name per band.
        stats: per-band statistics (mean/std used for z-scores at training time).
        tags: dataset-level metadata.
    """

    data: np.ndarray
    grid: GridSpec
    band_names: list[str]
    stats: list[dict[str, float]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    def categorical_layers(self) -> dict[str, list[int]]:
        """Categorical layer -> the indices of its one-hot class bands, as recorded when the
        stack was built (:data:`CATEGORICAL_TAG`); ``{}`` for a stack without any."""
        raw = self.tags.get(CATEGORICAL_TAG)
        if not raw:
            return {}
        index = {n: i for i, n in enumerate(self.band_names)}
        groups = {layer: [index[b] for b in bands if b in index] for layer, bands in json.loads(raw).items()}
        return {layer: idx for layer, idx in groups.items() if idx}

    def moments(self) -> tuple[list[float], list[float]]:
        """Per-band mean and standard deviation of :attr:`stats`: what the models are z-scored with."""
        return [s["mean"] for s in self.stats], [s["std"] for s in self.stats]

    @property
    def valid(self) -> np.ndarray:
        """(rows, cols) bool: True where every band is valid.

        Computed in row chunks, so a disk-backed (memory-mapped) stack never needs a
        (bands, rows, cols) temporary.
        """
        bands, h, w = self.data.shape
        out = np.empty((h, w), dtype=bool)
        step = max(1, (64 * 2**20) // max(1, bands * w))
        for r0 in range(0, h, step):
            out[r0 : r0 + step] = np.all(np.isfinite(self.data[:, r0 : r0 + step]), axis=0)
        return out


def read_bands(path: str | Path) -> tuple[np.ndarray, list[str], dict[str, str], GridSpec]:
    """A small product raster read whole (the map, uncertainty, attribution): (bands, rows, cols)
    float64 with NaN for nodata, the band descriptions (``band_<i>`` when unset), the dataset
    tags and the grid."""
    with rasterio.open(path) as src:
        data = src.read(masked=True).astype("float64").filled(np.nan)
        names = [d or f"band_{i + 1}" for i, d in enumerate(src.descriptions)]
        tags = dict(src.tags())
    return data, names, tags, GridSpec.from_raster(path)


def read_stack(path: str | Path, *, memmap: str | Path | None = None) -> Stack:
    """Read a multiband GeoTIFF into a :class:`Stack` (nodata -> NaN).

    ``memmap``: a file path; the data then go into a disk-backed ``np.memmap`` there
    (float32, (bands, rows, cols)), filled strip by strip, for stacks larger than memory.
    The caller removes the file when done.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("raster not found", path=path)
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise InputError("raster has no CRS", path=path, hint="assign one with gdal_edit.py -a_srs EPSG:xxxx")
            grid = GridSpec.from_raster(path)
            if memmap is None:
                arr = src.read(out_dtype="float32", masked=True).filled(np.nan).astype(np.float32)
            else:
                arr = _read_into_memmap(src, Path(memmap))
            names = _band_names(src)
            stats = []
            for i in range(src.count):
                t = src.tags(i + 1)
                if "STATISTICS_MEAN" in t:
                    stats.append(
                        {
                            "min": float(t["STATISTICS_MINIMUM"]),
                            "max": float(t["STATISTICS_MAXIMUM"]),
                            "mean": float(t["STATISTICS_MEAN"]),
                            "std": float(t["STATISTICS_STDDEV"]),
                        }
                    )
                else:
                    stats.append(band_stats(arr[i]))
            tags = src.tags()
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"cannot read raster ({exc})", path=path, hint="is it a complete GeoTIFF?") from exc
    return Stack(arr, grid, names, stats, tags)


def _read_into_memmap(src, target: Path) -> np.memmap:
    """All bands of an open raster into a new float32 memmap at ``target``, strip by strip."""
    from rasterio.windows import Window

    target.parent.mkdir(parents=True, exist_ok=True)
    arr = np.memmap(target, dtype=np.float32, mode="w+", shape=(src.count, src.height, src.width))
    # strips of whole tile rows (each tile decompressed once), at most ~256 MB
    tile = src.block_shapes[0][0] if src.block_shapes else 256
    rows = max(1, (256 * 2**20) // max(1, 4 * src.count * src.width))
    rows = max(tile, rows // tile * tile) if rows >= tile else rows
    for r0 in range(0, src.height, rows):
        h = min(rows, src.height - r0)
        arr[:, r0 : r0 + h] = src.read(window=Window(0, r0, src.width, h), out_dtype="float32", masked=True).filled(np.nan)
    arr.flush()
    return arr


def _band_names(src) -> list[str]:
    return [d or f"band_{i + 1}" for i, d in enumerate(src.descriptions)]


def raster_band_names(path: str | Path) -> list[str]:
    """Band descriptions of a raster (``band_N`` where a band has none)."""
    with rasterio.open(path) as src:
        return _band_names(src)


def stack_nbytes(path: str | Path) -> int:
    """Bytes of a raster's pixels as float32 in memory (bands x rows x cols x 4)."""
    with rasterio.open(path) as src:
        return 4 * src.count * src.height * src.width


def stack_metadata(stack: Stack) -> dict:
    """JSON-friendly description of a stack (grid, bands, statistics)."""
    return {"grid": stack.grid.to_dict(), "band_names": stack.band_names, "stats": stack.stats}


def write_qml(path: str | Path, kind: str, vmin: float, vmax: float) -> Path:
    """A QGIS style (QML) for a single-band raster: 'prospectivity' uses a yellow-red ramp."""
    from geoprospect.io.atomic import write_text

    colours = {
        "prospectivity": ["#2c7bb6", "#abd9e9", "#ffffbf", "#fdae61", "#d7191c"],
        "evidence": ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"],
    }[kind]
    n = len(colours)
    items = "\n".join(
        f'            <item alpha="255" value="{vmin + (vmax - vmin) * i / (n - 1)!r}" label="{vmin + (vmax - vmin) * i / (n - 1):.3g}" color="{c}"/>'
        for i, c in enumerate(colours)
    )
    qml = f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.40" styleCategories="AllStyleCategories">
  <pipe>
    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" classificationMin="{vmin!r}" classificationMax="{vmax!r}">
      <rastershader>
        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" minimumValue="{vmin!r}" maximumValue="{vmax!r}">
{items}
        </colorrampshader>
      </rastershader>
    </rasterrenderer>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"""
    return write_text(path, qml)


def dumps_tags(obj: object) -> str:
    """Serialise metadata for a GeoTIFF tag."""
    return json.dumps(obj, separators=(",", ":"))
