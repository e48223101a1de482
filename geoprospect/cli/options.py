"""Options shared by several commands, and the parsing of their values.

* :func:`grid_options`: --grid-crs, --bounds, --resolution, --template, --area (the output grid).
* :func:`raster_output_options`: --cog, --compress, --block-size (how an evidence GeoTIFF is written).
* :func:`area_options` / :func:`read_area_option`: --area and --area-layer (the study area).
* :func:`point_options`: where the points' coordinates are (same names in every command).
* :func:`prep_options` / :func:`prep_kwargs`: the geochemistry preparation.
* :func:`csv_list`, :func:`csv_floats`, :func:`parse_flags`: "a,b,c" and KEY=VALUE lists.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from geoprospect.errors import ConfigError, GridError, ParameterError

log = logging.getLogger("geoprospect")

if TYPE_CHECKING:
    from geoprospect.grid import GridSpec


def csv_list(value: str | None) -> list[str] | None:
    """"Au, As,Cu" -> ["Au", "As", "Cu"]; empty -> None."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def csv_floats(value: str | None, option: str) -> list[float] | None:
    """"0.8,0.7" -> [0.8, 0.7]; empty -> None; ParameterError naming ``option`` otherwise."""
    items = csv_list(value)
    if items is None:
        return None
    try:
        return [float(v) for v in items]
    except ValueError:
        raise ParameterError(f"{option}: expected comma-separated numbers, got {value!r}", hint=f"e.g. {option} 0.8,0.75,0.7") from None


def parse_flags(value: str | None, *, option: str = "--flag-columns", example: str = "Au=Au_flag,As=As_q", pair: str = "ELEMENT=FLAGCOLUMN") -> dict[str, str]:
    """"Au=Au_flag,As=As_q" -> {"Au": "Au_flag", "As": "As_q"} (KEY=VALUE pairs of --flag-columns)."""
    out: dict[str, str] = {}
    for item in csv_list(value) or []:
        if "=" not in item:
            raise ConfigError(f"{option}: expected {pair}, got {item!r}", hint=f"e.g. {option} {example}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def raster_output_options(f):
    """--cog, --compress and --block-size: how an evidence GeoTIFF is written (block by block)."""
    # the choices are io.rasters.COMPRESSIONS, spelt out so that --help does not import rasterio
    f = click.option("--block-size", type=int, default=1024, show_default=True,
                     help="Compute and write the map in blocks of this many pixels a side (memory grows with it, not with the map).")(f)
    f = click.option("--compress", type=click.Choice(["zstd", "deflate"]), default="zstd", show_default=True,
                     help="Tile compression (floating-point predictor, all cores); deflate for readers without ZSTD (GDAL < 2.3, ArcMap).")(f)
    f = click.option("--cog", is_flag=True, help="Write a Cloud Optimized GeoTIFF (overviews first; `gdalinfo` shows LAYOUT=COG).")(f)
    return f


def area_options(f):
    """--area POLYGONS and --area-layer: the study area (cells outside are nodata / not ranked)."""
    f = click.option("--area-layer", help="Layer of a multi-layer study-area file.")(f)
    f = click.option("--area", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="POLYGONS",
                     help="Study-area polygons: cells whose centre is outside are nodata and never ranked; deposits outside are left out (with a warning).")(f)
    return f


def read_area_option(area: Path | None, area_layer: str | None):
    """The study area of --area/--area-layer, or None."""
    from geoprospect.stack.area import read_area

    return None if area is None else read_area(area, layer=area_layer)


def grid_options(f):
    """--grid-crs, --bounds, --resolution, --template and --area: the grid of an evidence layer
    (with --area and no --bounds, the bounds are the area's)."""
    f = area_options(f)
    f = click.option("--template", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Raster whose grid (CRS, transform, shape) to use instead of --bounds/--resolution.")(f)
    f = click.option("--resolution", type=float, help="Cell size in map units of the grid CRS.")(f)
    f = click.option("--bounds", type=float, nargs=4, metavar="XMIN YMIN XMAX YMAX", help="Grid extent in the grid CRS (default: the --area's extent, else the points').")(f)
    f = click.option("--grid-crs", help="CRS of the output grid, e.g. EPSG:32649 (default: the input's CRS when projected, else the --area's).")(f)
    return f


def grid_for_vectors(grid_crs: str | None, bounds, resolution: float | None, template: Path | None,
                     source: Path | None = None, layer: str | None = None, source_crs: str | None = None, area=None) -> GridSpec:
    """The grid of a layer made from vectors: no points to take an extent from, so either
    --template, or --resolution with --bounds (default: the --area's); the CRS is --grid-crs,
    else the ``source`` vector file's own CRS (or --vector-crs) when it is projected, else the area's."""
    from geoprospect.io.vectors import layer_crs
    from geoprospect.pipeline import stages

    if template is None and (resolution is None or (bounds is None and area is None)):
        missing = " and ".join(n for n, v in (("--bounds (or --area)", bounds if area is None else area), ("--resolution", resolution)) if v is None)
        raise GridError(f"the grid is undefined: {missing} not given", hint="pass --template RASTER, or --resolution with --area POLYGONS or --bounds (and --grid-crs when the input is not projected)")
    if template is None and grid_crs is None:
        crs = layer_crs(source, layer, source_crs) if source is not None else None
        if crs is None and area is not None:
            crs = area.crs
        if crs is None:
            raise GridError("the grid needs a CRS and the input has none", path=source, hint="pass --grid-crs (or --vector-crs)")
        if crs.is_geographic:
            raise GridError(f"the input's CRS {crs.name} is geographic (degrees): distances need a projected grid", path=source, hint="pass --grid-crs, e.g. EPSG:32650")
        log.info("grid CRS: %s (the input's)", crs.name)
        grid_crs = crs
    return stages.make_grid(None, crs=grid_crs, resolution=resolution, bounds=bounds, template=template, area=area)


def point_options(f):
    """Options that locate the points (same names as `geoprospect interpolate`)."""
    f = click.option("--drop-missing-xy", is_flag=True, help="Skip (and report) rows without coordinates instead of failing.")(f)
    f = click.option("--layer", help="Layer of a multi-layer GeoPackage.")(f)
    f = click.option("--crs", help="CRS of the points when the file has none (always needed for CSV), e.g. EPSG:4326.")(f)
    f = click.option("--y-field", help="CSV column holding y / latitude.")(f)
    f = click.option("--x-field", help="CSV column holding x / longitude (guessed from common names when omitted).")(f)
    f = click.option("--elements", help="Comma-separated element columns, e.g. Au,Ag,As (default: every numeric or censored-looking column).")(f)
    return f


def parse_limits(value: str | None) -> dict[str, float]:
    """"Au=0.5,As=1" -> {"Au": 0.5, "As": 1.0} (ELEMENT=LIMIT pairs of --detection-limits)."""
    out: dict[str, float] = {}
    for k, v in parse_flags(value, option="--detection-limits", example="Au=0.5,As=1", pair="ELEMENT=LIMIT").items():
        try:
            out[k] = float(v)
        except ValueError:
            raise ParameterError(f"--detection-limits: {k}={v!r} is not a number", hint="e.g. --detection-limits Au=0.5,As=1") from None
    return out


def prep_options(f=None, *, censored_default: str = "half"):
    """Options of the geochemistry preparation (shared by every command that reads geochemistry:
    prepare-geochem, select-elements, kriging-cv, interpolate). ``censored_default="error"``
    (interpolate) adds the choice "error": read plain numbers only, refusing censored forms."""
    if f is None:
        return lambda g: prep_options(g, censored_default=censored_default)
    choices = ["half", "fraction", "cohen", "missing"] + (["error"] if censored_default == "error" else [])
    f = click.option("--detection-limits", help="Detection limits for censored rows stating none ('<' flag with 0 or blank), e.g. Au=0.5,As=1 (default: the smallest limit seen, else the smallest reported value).")(f)
    f = click.option("--duplicate-tol", type=float, default=0.0, show_default=True, help="Samples closer than this (map units of the points) share a location.")(f)
    f = click.option("--duplicates", type=click.Choice(["average", "reject", "first", "error"]), default="average", show_default=True, help="Samples sharing a location: average them, drop them all, keep the first, or stop.")(f)
    f = click.option("--transform", type=click.Choice(["none", "log10", "clr"]), default="none", show_default=True, help="Transform after censoring/outliers.")(f)
    f = click.option("--tukey-k", type=float, default=1.5, show_default=True, help="Tukey fence multiplier (1.5 outliers, 3 far out); fences on log10 values.")(f)
    f = click.option("--outliers", type=click.Choice(["none", "flag", "winsorise"]), default="none", show_default=True, help="Tukey fences: count outliers only, or clip them to the fences.")(f)
    f = click.option("--unknown-limit", type=click.Choice(["min_limit", "missing"]), default="min_limit", show_default=True, help="'BDL'/'n.d.' without a limit: use the element's smallest limit seen, or set missing.")(f)
    f = click.option("--negative-censored/--no-negative-censored", default=True, show_default=True, help="Read a negative value -x as 'below x'.")(f)
    f = click.option("--flag-columns", help="Censoring flag columns, e.g. Au=Au_flag,As=As_q (a true flag marks the row below detection).")(f)
    f = click.option("--fraction", type=float, default=0.5, show_default=True, help="Fraction of the detection limit for --censored fraction.")(f)
    f = click.option("--censored", type=click.Choice(choices), default=censored_default, show_default=True,
                     help="Below-detection values: half the limit, a fraction of it, Cohen's MLE (paper 004), or missing"
                          + ("; error: plain numbers only (no preparation)." if "error" in choices else "."))(f)
    return f


def prep_kwargs(censored, fraction, flag_columns, negative_censored, unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol, drop_missing_xy, detection_limits=None) -> dict:
    """Map the CLI options onto read_geochem's keyword arguments."""
    return {
        "censored": censored, "fraction": fraction, "flag_columns": parse_flags(flag_columns), "detection_limits": parse_limits(detection_limits),
        "negative_is_censored": negative_censored, "unknown_limit": unknown_limit,
        "outliers": None if outliers == "none" else outliers, "tukey_k": tukey_k,
        "transform": None if transform == "none" else transform,
        "duplicates": duplicates, "duplicate_tol": duplicate_tol, "drop_missing_xy": drop_missing_xy,
    }


def path_arg(exists: bool = True) -> click.Path:
    """A file path argument/option (``exists``: must exist)."""
    return click.Path(exists=exists, dir_okay=False, path_type=Path)
