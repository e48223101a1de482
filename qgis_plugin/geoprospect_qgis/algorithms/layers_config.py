"""Sections of the run configuration that *Run whole pipeline (from layers)* writes from the
layers picked in its form: samples (``points:``), rasters (``rasters:``, continuous or
categorical), faults/alteration (``vectors:``) and the grid.

Every input but the deposits is optional as long as one evidence input is given (the CLI runs
from rasters only, vectors only or samples only). Messages name the form's fields.
"""

from __future__ import annotations

import os
import re

from qgis.core import QgsCoordinateReferenceSystem, QgsProcessingException

from .base import as_fields, default_elements, file_path_of, layer_crs, points_to_argv

#: the form's evidence inputs, in the order the grid takes its CRS from them when 'Grid CRS' is empty
EVIDENCE = ("POINTS", "RASTERS", "CATEGORICAL_RASTERS", "FAULTS", "ALTERATION")
VECTOR_FILES = ["gpkg", "shp", "geojson", "fgb"]


def field(alg, name: str) -> str:
    """The form's label of parameter ``name`` (what messages call it)."""
    p = alg.parameterDefinition(name)
    return p.description() if p is not None else name


def check_evidence(alg, parameters) -> None:
    """At least one evidence input; elements only with samples."""
    if not any(alg.given(parameters, n) for n in EVIDENCE if alg.parameterDefinition(n) is not None):
        names = " or ".join(f"'{field(alg, n)}'" for n in EVIDENCE)
        raise QgsProcessingException(f"No evidence picked: give at least one of {names} (geochemistry is optional: a run can use rasters or vectors alone).")
    if not alg.given(parameters, "POINTS") and alg.given(parameters, "ELEMENTS"):
        raise QgsProcessingException(f"{field(alg, 'ELEMENTS')}: picked, but '{field(alg, 'POINTS')}' is empty; pick the samples layer or clear the elements.")


def band_name(layer_name: str, taken: set[str]) -> str:
    """A band name from a layer name (letters, digits, '_'), distinct from ``taken`` (then added to it)."""
    base = re.sub(r"\W+", "_", layer_name, flags=re.ASCII).strip("_") or "raster"
    if base[0].isdigit():
        base = f"r_{base}"
    name, i = base, 2
    while name.lower() in {t.lower() for t in taken}:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _file_crs_missing(path: str) -> bool:
    """True when GDAL reads no CRS in the raster file (QGIS may still have one for the layer)."""
    from osgeo import gdal

    ds = gdal.OpenEx(path, gdal.OF_RASTER | gdal.OF_READONLY)
    try:
        return ds is not None and not ds.GetProjection()
    finally:
        ds = None


def raster_entry(layer, name: str, what: str, categorical: bool) -> dict:
    """One ``rasters:`` entry for a raster layer of the project; ``what``: the form's field."""
    path, sub = file_path_of(layer)
    if not path or sub or not os.path.isfile(path):
        raise QgsProcessingException(
            f"{what}: the layer {layer.name()!r} is not a raster file geoprospect can read ({layer.source()}); "
            "save it as a GeoTIFF (Export ▸ Save As…) and pick that layer.")
    entry: dict = {"name": name, "path": path}
    if categorical:
        entry["kind"] = "categorical"
    crs = layer.crs()
    if crs.isValid() and _file_crs_missing(path):  # the CRS set on the layer in QGIS, written down for the CLI
        entry["crs"] = crs.authid() or crs.toWkt()
    return entry


def raster_entries(alg, parameters, context, taken: set[str]) -> list[dict]:
    """The ``rasters:`` list: continuous rasters, then categorical ones (``kind: categorical``)."""
    picked: dict[str, str] = {}
    entries = []
    for pname, categorical in (("RASTERS", False), ("CATEGORICAL_RASTERS", True)):
        if not alg.given(parameters, pname):
            continue
        for layer in alg.parameterAsLayerList(parameters, pname, context):
            key = os.path.realpath(file_path_of(layer)[0] or layer.source())
            if key in picked:
                raise QgsProcessingException(
                    f"{field(alg, pname)}: {layer.name()!r} is also in '{field(alg, picked[key])}'; pick each raster in one list "
                    "(categorical: class codes such as lithology; continuous: measured values).")
            picked[key] = pname
            entries.append(raster_entry(layer, band_name(layer.name(), taken), field(alg, pname), categorical))
    return entries


def points_section(alg, parameters, context, feedback) -> dict:
    """The ``points:`` section from the samples layer (a CSV with its x/y columns and CRS)."""
    points = alg.parameterAsVectorLayer(parameters, "POINTS", context)
    argv = points_to_argv("POINTS", "X_FIELD", "Y_FIELD", "POINTS_CRS")(alg, parameters, context, feedback)
    pts: dict = {"path": argv[0]}
    opts = dict(zip(argv[1::2], argv[2::2]))
    for flag, key in (("--x-field", "x_field"), ("--y-field", "y_field"), ("--crs", "crs"), ("--layer", "layer")):
        if flag in opts:
            pts[key] = opts[flag]
    elements = as_fields(alg, parameters, "ELEMENTS", context)
    if not elements:  # every numeric column except coordinates and identifiers (never log10_x / log10_y)
        elements = default_elements(points, [pts.get("x_field", ""), pts.get("y_field", "")])
        if not elements:
            raise QgsProcessingException(f"{field(alg, 'ELEMENTS')}: the samples layer has no numeric column besides coordinates; pick the element columns.")
        feedback.pushInfo(f"Elements (every numeric column except coordinates and identifiers): {', '.join(elements)}")
    pts["elements"] = elements
    pts["log10"] = alg.parameterAsBool(parameters, "LOG10", context)
    return pts


def vector_entry(alg, parameters, name: str, context, feedback) -> dict | None:
    """``{path, layer}`` of a vector input (exported to a GeoPackage when it is not a file); None when empty."""
    if not alg.given(parameters, name):
        return None
    path, layer = alg.parameterAsCompatibleSourceLayerPathAndLayerName(parameters, name, context, VECTOR_FILES, "gpkg", feedback)
    return {"path": path, **({"layer": layer} if layer else {})}


def default_grid_crs(alg, parameters, context) -> QgsCoordinateReferenceSystem:
    """The CRS the CLI gives the grid when 'Grid CRS' is empty: the samples', else the study
    area's, else the first raster's, else the faults' / alteration's."""
    for name in ("POINTS", "AREA"):
        if alg.given(parameters, name):
            return layer_crs(alg, parameters, name, context)
    for name in ("RASTERS", "CATEGORICAL_RASTERS"):
        layers = alg.parameterAsLayerList(parameters, name, context) if alg.given(parameters, name) else []
        if layers:
            return layers[0].crs()
    for name in ("FAULTS", "ALTERATION"):
        if alg.given(parameters, name):
            return layer_crs(alg, parameters, name, context)
    return QgsCoordinateReferenceSystem()


def grid_section(alg, parameters, context) -> dict:
    """The ``grid:`` section: cell size, the grid CRS picked, and the extent (in the grid's CRS,
    which is then written down: the bounds are in it)."""
    grid: dict = {"resolution": alg.parameterAsDouble(parameters, "RESOLUTION", context)}
    gcrs = alg.parameterAsCrs(parameters, "GRID_CRS", context) if alg.given(parameters, "GRID_CRS") else QgsCoordinateReferenceSystem()
    if gcrs.isValid():
        grid["crs"] = gcrs.authid() or gcrs.toWkt()
    if alg.given(parameters, "EXTENT"):
        target = gcrs if gcrs.isValid() else default_grid_crs(alg, parameters, context)
        r = alg.parameterAsExtent(parameters, "EXTENT", context, target)
        if not r.isEmpty():
            grid["bounds"] = [r.xMinimum(), r.yMinimum(), r.xMaximum(), r.yMaximum()]
            if target.isValid() and "crs" not in grid and not alg.given(parameters, "POINTS"):
                grid["crs"] = target.authid() or target.toWkt()
    return grid
