"""GeoTIFF writing and reading: tiled, compressed, overviews, CRS, nodata, band names, statistics.

Inside geoprospect a raster is float32 with NaN for nodata (DESIGN.md decision 3); on disk
every band declares a nodata value (default -9999) so that QGIS and ArcGIS read it right.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import rasterio
from rasterio.enums import Resampling

from geoprospect.errors import InputError, ParameterError
from geoprospect.grid import GridSpec
from geoprospect.io.atomic import atomic_path

NODATA = -9999.0


def band_stats(band: np.ndarray) -> dict[str, float]:
    """min/max/mean/std (float64) and valid count of the finite values of one band."""
    v = band[np.isfinite(band)].astype(np.float64)
    if v.size == 0:
        return {"min": float("nan"), "max": float("nan"), "mean": float("nan"), "std": float("nan"), "valid": 0}
    return {"min": float(v.min()), "max": float(v.max()), "mean": float(v.mean()), "std": float(v.std()), "valid": int(v.size)}


def write_raster(
    path: str | Path,
    data: np.ndarray,
    grid: GridSpec,
    band_names: Sequence[str],
    *,
    nodata: float = NODATA,
    tags: dict[str, str] | None = None,
    band_tags: Sequence[dict[str, str]] | None = None,
    overviews: bool = True,
) -> Path:
    """Write a (bands, rows, cols) float array as a tiled, compressed GeoTIFF, atomically.

    NaN cells are written as ``nodata``. Each band gets its description (the layer name) and
    GDAL's STATISTICS_* metadata, so QGIS/ArcGIS show correct stretches without a rescan.
    """
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    if data.shape[1:] != grid.shape:
        raise ParameterError(f"data: array shape {data.shape[1:]} does not match grid {grid.shape}", path=path, hint="compute the bands on the grid passed as grid=")
    if len(band_names) != data.shape[0]:
        raise ParameterError(f"band_names: {len(band_names)} names for {data.shape[0]} bands", path=path, hint="pass one band name per band")
    profile = grid.profile(count=data.shape[0], dtype="float32", nodata=nodata)
    path = Path(path)
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            for i in range(data.shape[0]):
                band = data[i].astype(np.float32, copy=True)
                st = band_stats(band)
                band[~np.isfinite(band)] = nodata
                dst.write(band, i + 1)
                dst.set_band_description(i + 1, str(band_names[i]))
                btags = {}
                if st["valid"]:
                    btags = {
                        "STATISTICS_MINIMUM": repr(st["min"]),
                        "STATISTICS_MAXIMUM": repr(st["max"]),
                        "STATISTICS_MEAN": repr(st["mean"]),
                        "STATISTICS_STDDEV": repr(st["std"]),
                        "STATISTICS_VALID_PERCENT": repr(100.0 * st["valid"] / band.size),
                    }
                if band_tags:
                    btags.update(band_tags[i])
                dst.update_tags(i + 1, **btags)
            if tags:
                dst.update_tags(**tags)
            if overviews:
                factors = [f for f in (2, 4, 8, 16, 32) if min(grid.width, grid.height) // f >= 64]
                if factors:
                    dst.build_overviews(factors, Resampling.average)
                    dst.update_tags(ns="rio_overview", resampling="average")
    return path


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


def write_evidence_layer(path: str | Path, data: np.ndarray, grid: GridSpec, band_names: Sequence[str], kind: str) -> Path:
    """Write one evidence layer (bands, rows, cols) as a GeoTIFF tagged ``GEOPROSPECT_KIND=kind``
    (idw, kriging, distance, density, categorical...) with a QGIS style (``.qml``) beside it,
    stretched over the finite values of all bands. Returns the GeoTIFF path."""
    path = Path(path)
    write_raster(path, data, grid, band_names, tags={"GEOPROSPECT_KIND": kind})
    arr = np.asarray(data)
    finite = arr[np.isfinite(arr)]
    if finite.size:
        write_qml(path.with_suffix(".qml"), "evidence", float(finite.min()), float(finite.max()))
    return path


def dumps_tags(obj: object) -> str:
    """Serialise metadata for a GeoTIFF tag."""
    return json.dumps(obj, separators=(",", ":"))
