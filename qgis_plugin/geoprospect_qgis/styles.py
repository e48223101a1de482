"""Styles for every layer the provider loads: the CLI's QML sidecar, the plugin's QML, or one
built here (evidence stacks, window scores, targets with rank labels, deposits)."""

from __future__ import annotations

import os
from pathlib import Path

from qgis.core import (
    Qgis,
    QgsColorRampShader,
    QgsFillSymbol,
    QgsGradientColorRamp,
    QgsGraduatedSymbolRenderer,
    QgsMarkerSymbol,
    QgsPalLayerSettings,
    QgsRasterShader,
    QgsRendererRange,
    QgsSingleBandPseudoColorRenderer,
    QgsSingleSymbolRenderer,
    QgsStyle,
    QgsTextBufferSettings,
    QgsTextFormat,
    QgsVectorLayerSimpleLabeling,
    QgsWkbTypes,
)
from qgis.PyQt.QtGui import QColor

STYLE_DIR = Path(__file__).resolve().parent / "styles"
#: the prospectivity ramp of the CLI's QML (low blue to high red)
PROSPECTIVITY_COLOURS = ["#2c7bb6", "#abd9e9", "#ffffbf", "#fdae61", "#d7191c"]


def qml_for(path: str, kind: str | None) -> str | None:
    """The CLI's sidecar style (``out.qml`` beside ``out.tif``) or the plugin's ``styles/<kind>.qml``."""
    side = os.path.splitext(path)[0] + ".qml" if path else ""
    if side and os.path.exists(side):
        return side
    if kind and (STYLE_DIR / f"{kind}.qml").exists():
        return str(STYLE_DIR / f"{kind}.qml")
    return None


def _viridis():
    ramp = QgsStyle.defaultStyle().colorRamp("Viridis")
    return ramp if ramp is not None else QgsGradientColorRamp(QColor("#440154"), QColor("#fde725"))


def _pseudocolor(layer, band: int, lo: float, hi: float, source_ramp) -> None:
    """A pseudo-colour renderer of ``band`` stretched over [lo, hi] with ``source_ramp`` (5 classes, linear)."""
    provider = layer.dataProvider()
    ramp = QgsColorRampShader(lo, hi)
    ramp.setSourceColorRamp(source_ramp)
    linear = Qgis.ShaderInterpolationMethod.Linear if hasattr(Qgis, "ShaderInterpolationMethod") else QgsColorRampShader.Interpolated
    ramp.setColorRampType(linear)
    ramp.classifyColorRamp(5, band, layer.extent(), provider)
    shader = QgsRasterShader(lo, hi)
    shader.setRasterShaderFunction(ramp)
    renderer = QgsSingleBandPseudoColorRenderer(provider, band, shader)
    renderer.setClassificationMin(lo)
    renderer.setClassificationMax(hi)
    layer.setRenderer(renderer)


def _band_range(layer, band: int) -> tuple[float, float]:
    """Min and max of a band, read with GDAL (QgsRasterInterface.bandStatistics is deprecated in
    QGIS 3.40, whatever its arguments); (0, 0) when the band holds no valid cell."""
    from osgeo import gdal
    from qgis.core import QgsProviderRegistry

    path = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source()).get("path") or layer.source()
    try:
        ds = gdal.Open(path)
        lo, hi = ds.GetRasterBand(band).ComputeRasterMinMax(False)
    except (AttributeError, RuntimeError, TypeError):  # no file, or every cell nodata
        return 0.0, 0.0
    finally:
        ds = None
    return float(lo), float(hi)


def style_band(layer, band: int = 1) -> None:
    """One band of a raster (an evidence layer or the stack) with a viridis ramp over its min/max."""
    lo, hi = _band_range(layer, band)
    if not hi > lo:
        hi = lo + 1.0
    _pseudocolor(layer, band, lo, hi, _viridis())


def _diverging():
    """Blue (negative) - white (0) - red (positive): QGIS's RdBu, reversed."""
    ramp = QgsStyle.defaultStyle().colorRamp("RdBu")
    if ramp is None:
        return QgsGradientColorRamp(QColor("#2166ac"), QColor("#b2182b"))
    ramp.invert()
    return ramp


def style_attribution(layer, band: int = 1) -> None:
    """One band of the attribution raster: a diverging ramp centred on 0 when the values have both
    signs (pushes the probability down / up), else viridis over the range."""
    lo, hi = _band_range(layer, band)
    if not (lo < 0 < hi):
        style_band(layer, band)
        return
    m = max(-lo, hi)
    _pseudocolor(layer, band, -m, m, _diverging())


def style_scores(layer) -> None:
    """Window scores graduated by their probability (``prob``), low blue to high red."""
    field = "prob" if layer.fields().indexOf("prob") >= 0 else layer.fields()[0].name()
    edges = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ranges = []
    for i, colour in enumerate(PROSPECTIVITY_COLOURS):
        sym = QgsFillSymbol.createSimple({"color": colour, "style": "solid", "outline_style": "no"})
        sym.setOpacity(0.7)
        ranges.append(QgsRendererRange(edges[i], edges[i + 1], sym, f"{edges[i]:.1f} – {edges[i + 1]:.1f}"))
    layer.setRenderer(QgsGraduatedSymbolRenderer(field, ranges))


def style_targets(layer) -> None:
    """Target areas as black outlines labelled with their rank (``target``: 1 = best)."""
    sym = QgsFillSymbol.createSimple({"style": "no", "outline_color": "0,0,0,255", "outline_width": "0.7", "outline_width_unit": "MM"})
    layer.setRenderer(QgsSingleSymbolRenderer(sym))
    field = "target" if layer.fields().indexOf("target") >= 0 else None
    if field is None:
        return
    settings = QgsPalLayerSettings()
    settings.fieldName = f"'#' || \"{field}\""
    settings.isExpression = True
    fmt = QgsTextFormat()
    fmt.setSize(10)
    fmt.setColor(QColor("black"))
    buffer = QgsTextBufferSettings()
    buffer.setEnabled(True)
    buffer.setColor(QColor("white"))
    buffer.setSize(1.0)
    fmt.setBuffer(buffer)
    settings.setFormat(fmt)
    layer.setLabeling(QgsVectorLayerSimpleLabeling(settings))
    layer.setLabelsEnabled(True)


def style_deposits(layer) -> None:
    """Known deposits: yellow stars with a black outline (outlines for polygons)."""
    geom = layer.geometryType()
    if geom == QgsWkbTypes.PointGeometry:
        sym = QgsMarkerSymbol.createSimple({"name": "star", "color": "255,230,0,255", "outline_color": "0,0,0,255", "outline_width": "0.4", "size": "5"})
    elif geom == QgsWkbTypes.PolygonGeometry:
        sym = QgsFillSymbol.createSimple({"style": "no", "outline_color": "255,230,0,255", "outline_width": "0.8"})
    else:
        return
    layer.setRenderer(QgsSingleSymbolRenderer(sym))


BUILDERS = {"stack": style_band, "evidence": style_band, "scores": style_scores, "targets": style_targets, "deposits": style_deposits,
            "attribution": style_attribution}
#: kinds whose style is built here even when a QML file exists (the QML cannot hold the data's range)
BUILT_FIRST = {"stack", "scores", "targets", "deposits"}


def apply_style(layer, kind: str | None, path: str = "") -> str:
    """Style ``layer`` for its kind; returns what was used ('qml:<file>', 'built:<kind>' or '')."""
    if layer is None or not layer.isValid():
        return ""
    if kind in BUILT_FIRST:
        BUILDERS[kind](layer)
        layer.triggerRepaint()
        return f"built:{kind}"
    qml = qml_for(path or layer.source(), kind)
    if qml:
        _msg, ok = layer.loadNamedStyle(qml)
        if ok:
            layer.triggerRepaint()
            return f"qml:{qml}"
    if kind in BUILDERS:
        BUILDERS[kind](layer)
        layer.triggerRepaint()
        return f"built:{kind}"
    return ""
