"""Load a finished `geoprospect run` into QGIS as one layer-tree group, in reading order.

Top to bottom: known deposits, targets (outlines, rank labels), prospectivity classes,
full-resolution prospectivity, uncertainty, attribution (band 1, diverging ramp), window
scores (by probability), the window-stride prospectivity, then the evidence stack and the
window grids (hidden).
Every layer gets a style (styles.apply_style).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingUtils,
    QgsProject,
)

from .styles import apply_style


@dataclass(frozen=True)
class RunLayer:
    key: str  # output key (results of the algorithm)
    name: str  # name in the layer tree
    filename: str  # inside the run folder ('' = found elsewhere, e.g. the deposits)
    kind: str  # raster | vector
    style: str  # styles.apply_style kind
    visible: bool


#: top to bottom
RUN_LAYERS = [
    RunLayer("deposits", "Known deposits", "", "vector", "deposits", True),
    RunLayer("targets", "Targets (rank)", "targets.gpkg", "vector", "targets", True),
    RunLayer("classes", "Prospectivity classes", "classes.tif", "raster", "classes", False),
    RunLayer("prospectivity_fullres", "Prospectivity", "prospectivity_fullres.tif", "raster", "prospectivity", True),
    RunLayer("uncertainty", "Uncertainty (spread between models)", "uncertainty.tif", "raster", "uncertainty", False),
    RunLayer("attribution", "Attribution", "attribution.tif", "raster", "attribution", False),
    RunLayer("scores", "Window scores (probability)", "scores.gpkg", "vector", "scores", False),
    RunLayer("prospectivity", "Prospectivity and logit margin (one score per cell)", "prospectivity.tif", "raster", "prospectivity", False),
    RunLayer("stack", "Evidence stack", "stack.tif", "raster", "stack", False),
    RunLayer("windows", "Windows (train / test split)", "windows.gpkg", "vector", "windows", False),
    RunLayer("window_grid", "Window grid", "window_grid.gpkg", "vector", "windows", False),
]


class RunLayerPostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Styles a loaded run layer, names it and sets its visibility in the layer tree."""

    _keep: list["RunLayerPostProcessor"] = []  # QGIS does not own Python post-processors

    def __init__(self, spec: RunLayer, path: str, name: str) -> None:
        super().__init__()
        self.spec, self.path, self.name = spec, path, name
        self.style_used = ""
        RunLayerPostProcessor._keep.append(self)

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API)
        if layer is None:
            return
        layer.setName(self.name)
        self.style_used = apply_style(layer, self.spec.style, self.path)
        project = layer.project() or (context.project() if context is not None else None) or QgsProject.instance()
        node = project.layerTreeRoot().findLayer(layer.id())
        if node is not None:
            node.setItemVisibilityChecked(self.spec.visible)
            node.setExpanded(self.spec.visible and self.spec.kind == "raster")


def deposits_source(folder: str) -> str:
    """The deposits the run used (from its manifest), as a QGIS OGR source; '' when unknown."""
    try:
        with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as f:
            cfg = json.load(f).get("config") or {}
    except (OSError, ValueError):
        return ""
    dep = cfg.get("deposits") or {}
    path = dep.get("path")
    if not path:
        return ""
    if not os.path.isabs(path):
        path = os.path.join(folder, path)
    if not os.path.exists(path):
        return ""
    return f"{path}|layername={dep['layer']}" if dep.get("layer") else path


def stack_band_name(path: str, band: int = 1) -> str:
    try:
        from osgeo import gdal

        ds = gdal.Open(path)
        return ds.GetRasterBand(band).GetDescription() if ds is not None else ""
    except Exception:  # noqa: BLE001 - the name is only a label
        return ""


def same_file_layers(project, source: str) -> list:
    """The project's layers that read the file (and GeoPackage layer) of ``source``."""
    from qgis.core import QgsProviderRegistry

    def key(provider: str, uri: str) -> tuple[str, str]:
        parts = QgsProviderRegistry.instance().decodeUri(provider, uri)
        return os.path.realpath(parts.get("path") or uri), str(parts.get("layerName") or "")

    want = key("ogr", source)
    if project is None:
        return []
    return [lyr for lyr in project.mapLayers().values() if lyr.providerType() == "ogr" and key("ogr", lyr.source()) == want]


def own_layer(source: str, name: str, context: QgsProcessingContext) -> str:
    """A new layer of ``source`` in the context's temporary store; its id ('' when invalid).

    Queued by id, QGIS loads this layer into the run's group. Queued by its path, QGIS would take
    the project's layer of the same file (the user's deposits) and rename and restyle it in place,
    below the run's opaque rasters."""
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(source, name, "ogr")
    if not layer.isValid():
        return ""
    context.temporaryLayerStore().addMapLayer(layer)
    return layer.id()


def queue_run_layers(folder: str, context: QgsProcessingContext, group: str) -> dict[str, str]:
    """Queue every output of the run in ``folder`` for loading into ``group``; returns {key: path}."""
    found: dict[str, str] = {}
    n = len(RUN_LAYERS)
    for i, spec in enumerate(RUN_LAYERS):
        path = deposits_source(folder) if spec.key == "deposits" else os.path.join(folder, spec.filename)
        if not path or not os.path.exists(path.split("|")[0]):
            continue
        found[spec.key] = path
        dest = own_layer(path, spec.name, context) if spec.key == "deposits" else path
        if not dest:
            continue
        name = spec.name
        if spec.key in ("stack", "attribution"):  # multiband: band 1 shown, named
            band = stack_band_name(path)
            name = f"{spec.name} (band 1{': ' + band if band else ''})"
        details = QgsProcessingContext.LayerDetails(name, context.project(), name)
        details.groupName = group
        details.layerSortKey = n - i  # QGIS inserts in increasing key order, each at the top
        details.layerTypeHint = QgsProcessingUtils.LayerHint.Raster if spec.kind == "raster" else QgsProcessingUtils.LayerHint.Vector
        details.setPostProcessor(RunLayerPostProcessor(spec, path, name))
        context.addLayerToLoadOnCompletion(dest, details)
    return found


def find_report(folder: str) -> str:
    """The run's HTML report (report/index.html; report.html from older versions); '' if none."""
    for rel in (os.path.join("report", "index.html"), "report.html"):
        p = os.path.join(folder, rel)
        if os.path.exists(p):
            return p
    return ""
