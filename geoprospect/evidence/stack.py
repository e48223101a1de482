"""The evidence stack: every layer on one grid, in one multiband GeoTIFF (DESIGN.md decision 1)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import rasterio
from rasterio.warp import Resampling, reproject

from geoprospect.errors import GridError, InputError
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import NODATA, Stack, band_stats, write_raster

log = logging.getLogger(__name__)


def build_stack(
    layers: Sequence[tuple[str, np.ndarray]],
    grid: GridSpec,
    out: str | Path,
    *,
    provenance: dict[str, str] | None = None,
) -> Stack:
    """Write named (rows, cols) layers as one multiband GeoTIFF and return it as a :class:`Stack`.

    Band descriptions are the layer names; per-band statistics (used for z-scores at training
    time) are stored as GDAL STATISTICS_* metadata; ``provenance`` (name -> how the band was
    made) goes into each band's GEOPROSPECT_SOURCE tag.
    """
    names = [n for n, _ in layers]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"duplicate layer names in the stack: {dup}", hint="give every layer a distinct name")
    arrays = []
    for name, arr in layers:
        arr = np.asarray(arr, dtype=np.float32)
        if arr.shape != grid.shape:
            raise GridError(f"layer {name!r} has shape {arr.shape}, the grid is {grid.shape}")
        if not np.isfinite(arr).any():
            raise InputError(f"layer {name!r} holds no valid cells", hint="check its inputs cover the grid")
        arrays.append(arr)
    data = np.stack(arrays)
    band_tags = [{"GEOPROSPECT_SOURCE": (provenance or {}).get(n, "")} for n in names]
    write_raster(out, data, grid, names, band_tags=band_tags, tags={"GEOPROSPECT_KIND": "evidence_stack"})
    stats = [band_stats(b) for b in data]
    log.info("wrote stack %s: %d bands on %d x %d cells", out, len(names), grid.height, grid.width)
    return Stack(data, grid, names, stats, {"GEOPROSPECT_KIND": "evidence_stack"})


def read_onto_grid(path: str | Path, grid: GridSpec, resampling: Resampling = Resampling.bilinear) -> tuple[np.ndarray, list[str]]:
    """Read every band of a raster onto ``grid`` (warped once, with a log note, if it differs).

    Returns (bands, rows, cols) float32 with NaN nodata, and the band names.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("raster not found", path=path)
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise InputError("raster has no CRS", path=path, hint="assign one with gdal_edit.py -a_srs EPSG:xxxx")
            names = [d or (f"{path.stem}" if src.count == 1 else f"{path.stem}_{i + 1}") for i, d in enumerate(src.descriptions)]
            src_grid = GridSpec.from_raster(path)
            if src_grid.same_as(grid):
                arr = src.read(out_dtype="float32", masked=True).filled(np.nan).astype(np.float32)
                return arr, names
            log.info("%s: warped onto the run's grid (%s -> %s)", path, src_grid.crs.name, grid.crs.name)
            out = np.full((src.count, grid.height, grid.width), np.nan, dtype=np.float32)
            for b in range(src.count):
                band = src.read(b + 1, out_dtype="float32", masked=True).filled(np.nan)
                reproject(
                    band,
                    out[b],
                    src_transform=src.transform,
                    src_crs=src.crs,
                    src_nodata=np.nan,
                    dst_transform=grid.transform,
                    dst_crs=grid.profile(1)["crs"],
                    dst_nodata=np.nan,
                    resampling=resampling,
                )
            return out, names
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"cannot read raster ({exc})", path=path, hint="is it a complete GeoTIFF?") from exc


def stack_rasters(paths: Sequence[str | Path], out: str | Path, grid: GridSpec | None = None) -> Stack:
    """Combine single- or multi-band rasters into one stack on ``grid`` (default: the first raster's)."""
    if not paths:
        raise InputError("no rasters to stack")
    grid = grid or GridSpec.from_raster(paths[0])
    layers: list[tuple[str, np.ndarray]] = []
    for p in paths:
        arr, names = read_onto_grid(p, grid)
        layers.extend(zip(names, arr))
    return build_stack(layers, grid, out)


__all__ = ["build_stack", "read_onto_grid", "stack_rasters", "NODATA"]
