"""The whole pipeline through the provider in a real QGIS (offscreen), loaded as the desktop
loads it (processing.runAndLoadResults): one group, in reading order, every layer styled, the
deposits present; the canvas is rendered to a PNG and looked at (docs/img/qgis_run.png).

Set GEOPROSPECT_DOCS_IMG=1 to (re)write docs/img/qgis_run.png from this test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import REPO, csv_layer

BOUNDS = (500000.0, 2800000.0, 540000.0, 2840000.0)
EXPECTED_ORDER = [
    "Known deposits",
    "Targets (rank)",
    "Prospectivity classes",
    "Prospectivity",
    "Uncertainty (spread between models)",
    "Attribution",
    "Window scores (probability)",
    "Prospectivity and logit margin (one score per cell)",
    "Evidence stack",
    "Windows (train / test split)",
    "Window grid",
]
VISIBLE = {"Known deposits", "Targets (rank)", "Prospectivity"}


@pytest.fixture(scope="module")
def loaded_run(provider, geoprospect_python, tmp_path_factory):
    from conftest import SOURCE, sample_data

    data = sample_data()
    if data is None:
        pytest.skip("no sample data")
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    project = QgsProject.instance()
    project.clear()
    with pytest.MonkeyPatch.context() as mp:
        from processing.core.ProcessingConfig import ProcessingConfig

        ProcessingConfig.setSettingValue("GEOPROSPECT_EXECUTABLE", "")
        mp.setenv("GEOPROSPECT_EXECUTABLE", geoprospect_python)
        mp.setenv("GEOPROSPECT_PYTHONPATH", str(SOURCE))
        out = tmp_path_factory.mktemp("qgis_run") / "run"
        fb = QgsProcessingFeedback()
        ctx = QgsProcessingContext()
        ctx.setProject(project)
        res = processing.runAndLoadResults("geoprospect:run_layers", {
            "POINTS": csv_layer(data / "samples.csv"), "ELEMENTS": ["Au_ppb", "As_ppm", "Cu_ppm", "Pb_ppm", "Zn_ppm"],
            "FAULTS": str(data / "fault_lines.gpkg"), "ALTERATION": str(data / "alteration.gpkg"), "DEPOSITS": str(data / "deposits.gpkg"),
            "EXTENT": f"{BOUNDS[0]},{BOUNDS[2]},{BOUNDS[1]},{BOUNDS[3]} [EPSG:32649]", "RESOLUTION": 250, "RADIUS": 3000,
            "EPOCHS": 2, "BATCH_SIZE": 32, "OUTPUT": str(out)}, feedback=fb, context=ctx)
    return res, project, fb.textLog(), out


def _group(project):
    groups = [g for g in project.layerTreeRoot().findGroups() if g.name().startswith("geoprospect run:")]
    assert len(groups) == 1, [g.name() for g in project.layerTreeRoot().findGroups()]
    return groups[0]


def test_run_loads_as_one_ordered_group(loaded_run):
    res, project, log, out = loaded_run
    group = _group(project)
    assert group.name() == "geoprospect run: run"
    names = [n.name() for n in group.children()]
    names = [("Evidence stack" if n.startswith("Evidence stack") else "Attribution" if n.startswith("Attribution") else n) for n in names]
    assert names == [n for n in EXPECTED_ORDER if n in names]
    for must in ("Known deposits", "Targets (rank)", "Prospectivity", "Prospectivity classes", "Uncertainty (spread between models)", "Attribution", "Evidence stack",
                 "Prospectivity and logit margin (one score per cell)"):
        assert must in names, names
    # every cell a sample (the default): no window index and no per-window scores to load
    assert "Windows (train / test split)" not in names and "Window scores (probability)" not in names
    # nothing of the run outside its group
    assert all(n.parent() == group for n in project.layerTreeRoot().findLayers())


def test_visibility_and_styles(loaded_run):
    res, project, log, out = loaded_run
    group = _group(project)
    for node in group.findLayers():
        name = "Evidence stack" if node.name().startswith("Evidence stack") else node.name()
        assert node.itemVisibilityChecked() == (name in VISIBLE), name
    layers = {("Evidence stack" if n.name().startswith("Evidence stack") else n.name()): n.layer() for n in group.findLayers()}
    deposits = layers["Known deposits"]
    assert deposits.isValid() and deposits.featureCount() > 0
    assert deposits.renderer().symbol().symbolLayer(0).shape() is not None  # the star marker
    targets = layers["Targets (rank)"]
    assert targets.renderer().symbol().symbolLayer(0).brushStyle() == 0  # Qt.NoBrush: outlines only
    assert targets.labelsEnabled() and "target" in targets.labeling().settings().fieldName
    pros = layers["Prospectivity"]
    assert pros.source().endswith("prospectivity_fullres.tif")
    assert pros.renderer().type() == "singlebandpseudocolor"
    assert layers["Prospectivity classes"].renderer().type() == "paletted"
    stack = layers["Evidence stack"]
    assert stack.renderer().type() == "singlebandpseudocolor" and stack.renderer().band() == 1  # one band, not an RGB composite
    cells = layers["Prospectivity and logit margin (one score per cell)"]
    assert cells.extent() == stack.extent() and (cells.width(), cells.height()) == (stack.width(), stack.height())  # the stack's own grid


def test_report_and_log(loaded_run):
    res, project, log, out = loaded_run
    assert res["REPORT"] and res["REPORT"].endswith(os.path.join("report", "index.html")) and Path(res["REPORT"]).exists()
    assert res["PROSPECTIVITY_FULLRES"].endswith("prospectivity_fullres.tif")
    import re

    assert len(re.findall(r"^train \d+/\d+", log, flags=re.M)) <= 12, log  # rate-limited, not one line per batch
    assert "Cannot open" not in log
    assert "paper 003" not in log


def test_canvas_shows_prospectivity_with_deposits(loaded_run, tmp_path):
    """Render what the map canvas shows (the project's visible layers, top first) to a PNG."""
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    res, project, log, out = loaded_run
    group = _group(project)
    visible = [n.layer() for n in group.findLayers() if n.itemVisibilityChecked()]
    settings = QgsMapSettings()
    settings.setLayers(visible)
    settings.setDestinationCrs(visible[-1].crs())
    settings.setExtent(visible[-1].extent().buffered(1000))
    settings.setOutputSize(QSize(900, 900))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    img = job.renderedImage()
    png = tmp_path / "qgis_run.png"
    assert img.save(str(png))
    # the prospectivity ramp (blue to red) fills most of the map, not an RGB stack composite
    colours = {img.pixelColor(x, y).name() for x in range(50, 850, 20) for y in range(50, 850, 20)}
    assert len(colours) > 20
    reds = sum(1 for x in range(0, 900, 9) for y in range(0, 900, 9) if img.pixelColor(x, y).red() > 200 and img.pixelColor(x, y).blue() < 120)
    blues = sum(1 for x in range(0, 900, 9) for y in range(0, 900, 9) if img.pixelColor(x, y).blue() > 150 and img.pixelColor(x, y).red() < 120)
    assert reds > 50 and blues > 50
    if os.environ.get("GEOPROSPECT_DOCS_IMG"):
        dest = REPO / "docs" / "img" / "qgis_run.png"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, dest)


def _tif(path: Path, bands: dict, nodata: float = -9999.0) -> Path:
    """A small GeoTIFF in EPSG:32649 with named bands (QGIS's GDAL)."""
    import numpy as np
    from osgeo import gdal, osr

    arrays = list(bands.values())
    ds = gdal.GetDriverByName("GTiff").Create(str(path), arrays[0].shape[1], arrays[0].shape[0], len(arrays), gdal.GDT_Float32)
    ds.SetGeoTransform((500000, 100, 0, 2503000, 0, -100))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32649)
    ds.SetProjection(srs.ExportToWkt())
    for i, (name, a) in enumerate(bands.items()):
        b = ds.GetRasterBand(i + 1)
        b.SetDescription(name)
        b.SetNoDataValue(nodata)
        b.WriteArray(np.asarray(a, dtype="float32"))
    ds = None
    return path


def test_attribution_and_uncertainty_load_hidden_with_styles(provider, tmp_path):
    """A run folder with uncertainty.tif and attribution.tif (as the CLI writes them when asked):
    both in the group, hidden, below the prospectivity; uncertainty with its QML ramp, attribution
    as one band (the first evidence band) on a diverging ramp centred on 0."""
    import numpy as np
    from geoprospect_qgis.results import queue_run_layers
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProject

    run = tmp_path / "run"
    run.mkdir()
    yy, xx = np.mgrid[0:30, 0:30]
    _tif(run / "prospectivity_fullres.tif", {"prospectivity": xx / 29.0})
    _tif(run / "uncertainty.tif", {"uncertainty": yy / 120.0})
    _tif(run / "attribution.tif", {"log10_Au": (xx - 10) / 20.0, "dist_faults": (yy - 15) / 30.0})
    project = QgsProject.instance()
    project.clear()
    ctx = QgsProcessingContext()
    ctx.setProject(project)
    found = queue_run_layers(str(run), ctx, "geoprospect run: run")
    assert set(found) == {"prospectivity_fullres", "uncertainty", "attribution"}
    alg = QgsApplication.processingRegistry().createAlgorithmById("geoprospect:run")
    assert handleAlgorithmResults(alg, ctx, QgsProcessingFeedback(), {})
    group = _group(project)
    names = [n.name() for n in group.children()]
    assert names == ["Prospectivity", "Uncertainty (spread between models)", "Attribution (band 1: log10_Au)"], names
    nodes = {n.name(): n for n in group.findLayers()}
    assert nodes["Prospectivity"].itemVisibilityChecked()
    unc = nodes["Uncertainty (spread between models)"]
    att = nodes["Attribution (band 1: log10_Au)"]
    assert not unc.itemVisibilityChecked() and not att.itemVisibilityChecked()
    assert unc.layer().renderer().type() == "singlebandpseudocolor"
    items = unc.layer().renderer().shader().rasterShaderFunction().colorRampItemList()
    assert items and items[0].value == 0  # the plugin's uncertainty.qml: white at 0
    r = att.layer().renderer()
    assert r.type() == "singlebandpseudocolor" and r.band() == 1
    assert r.classificationMin() == pytest.approx(-r.classificationMax()) and r.classificationMax() == pytest.approx(19 / 20.0, rel=1e-5)
    ramp = r.shader().rasterShaderFunction().colorRampItemList()
    lo, mid, hi = ramp[0].color, ramp[len(ramp) // 2].color, ramp[-1].color
    assert lo.blue() > lo.red() and hi.red() > hi.blue() and min(mid.red(), mid.green(), mid.blue()) > 200  # blue - white - red
