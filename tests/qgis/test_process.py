"""Running algorithms through processing.run in a real QGIS: argv, progress, errors, cancel.

The CLI here is tests/qgis/fake_cli/geoprospect, a stand-in that speaks the JSON-lines
protocol, so these checks do not depend on the state of the real CLI (tests/qgis/test_cli_real.py
runs the real one). QGIS itself is real.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from conftest import csv_layer


def parse_argv(argv):
    """{flag: value or [values]} and the positionals of a recorded command line."""
    opts, pos, key = {}, [], None
    for a in argv:
        if a.startswith("--"):
            key = a
            opts[key] = None
        elif key is None:
            pos.append(a)
        else:
            opts[key] = a if opts[key] is None else (opts[key] if isinstance(opts[key], list) else [opts[key]]) + [a]
    return pos, opts


def _feedback():
    from qgis.core import QgsProcessingFeedback

    class Recorder(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.progress = []
            self.infos = []
            self.progressChanged.connect(self.progress.append)

        def pushInfo(self, info):  # noqa: N802
            self.infos.append(info)
            super().pushInfo(info)

    return Recorder()


def _run(alg_id, params, feedback=None, context=None):
    import processing
    from qgis.core import QgsProcessingContext, QgsProject

    ctx = context or QgsProcessingContext()
    ctx.setProject(QgsProject.instance())
    return processing.run(alg_id, params, feedback=feedback or _feedback(), context=ctx)


def test_interpolate_argv_from_csv_layer(fake_cli, tiny_csv, tmp_path):
    layer = csv_layer(tiny_csv)
    out = tmp_path / "idw.tif"
    fb = _feedback()
    res = _run(
        "geoprospect:interpolate",
        {"POINTS": layer, "ELEMENTS": ["Au", "As"], "POWER": 3, "NEIGHBORS": 8, "GRID_CRS": "EPSG:32649",
         "EXTENT": "500000,503000,2500000,2503000 [EPSG:32649]", "RESOLUTION": 100, "OUTPUT": str(out)},
        fb,
    )
    argv = json.loads(fake_cli.read_text())
    pos, opts = parse_argv(argv)
    assert pos == ["interpolate", str(tiny_csv)]
    assert opts["--x-field"] == "x" and opts["--y-field"] == "y" and opts["--crs"] == "EPSG:32649"
    assert opts["--elements"] == "Au,As" and float(opts["--power"]) == 3 and opts["--neighbors"] == "8"
    assert opts["--resolution"] == "100.0" and opts["--grid-crs"] == "EPSG:32649" and opts["--out"] == str(out)
    assert [float(v) for v in opts["--bounds"]] == [500000, 2500000, 503000, 2503000]
    assert res["OUTPUT"] == str(out) and out.exists()
    assert fb.progress and max(fb.progress) == 100 and len(set(fb.progress)) >= 4  # the bar moved step by step
    assert any("fake interpolate starting" in s for s in fb.infos)


def test_extent_is_reprojected_to_grid_crs(fake_cli, tiny_csv, tmp_path):
    layer = csv_layer(tiny_csv)
    _run("geoprospect:interpolate", {"POINTS": layer, "GRID_CRS": "EPSG:32649", "EXTENT": "111.0,111.01,22.6,22.61 [EPSG:4326]", "RESOLUTION": 100, "OUTPUT": str(tmp_path / "o.tif")})
    argv = json.loads(fake_cli.read_text())
    i = argv.index("--bounds")
    xmin, ymin, xmax, ymax = (float(v) for v in argv[i + 1 : i + 5])
    assert 490_000 < xmin < xmax < 520_000 and 2_490_000 < ymin < ymax < 2_510_000  # metres, UTM 49N


def test_cli_error_becomes_qgis_error(fake_cli, monkeypatch, tiny_csv, tmp_path):
    from qgis.core import QgsProcessingException

    monkeypatch.setenv("FAKE_MODE", "fail")
    with pytest.raises(QgsProcessingException, match="x column 'east' not found"):
        _run("geoprospect:interpolate", {"POINTS": csv_layer(tiny_csv), "RESOLUTION": 100, "OUTPUT": str(tmp_path / "o.tif")})
    assert not (tmp_path / "o.tif").exists()


def test_crash_shows_stderr(fake_cli, monkeypatch, tiny_csv, tmp_path):
    from qgis.core import QgsProcessingException

    monkeypatch.setenv("FAKE_MODE", "crash")
    with pytest.raises(QgsProcessingException, match="ZeroDivisionError"):
        _run("geoprospect:interpolate", {"POINTS": csv_layer(tiny_csv), "RESOLUTION": 100, "OUTPUT": str(tmp_path / "o.tif")})


def test_missing_command_is_readable(fake_cli, tmp_path):
    """A stage (density) against an older CLI that lacks the command: a clear error, no crash."""
    from conftest import tiny_faults as _  # noqa: F401  (fixture module import only)
    from conftest import write_gpkg
    from qgis.core import QgsProcessingException

    faults = write_gpkg(tmp_path / "f.gpkg", ["LINESTRING(500000 2500000, 501000 2501000)"])
    with pytest.raises(QgsProcessingException, match="has no 'density' command"):
        _run("geoprospect:density", {"INPUT": str(faults), "RADIUS": 500, "RESOLUTION": 100, "GRID_CRS": "EPSG:32649", "OUTPUT": str(tmp_path / "d.tif")})


def test_cancel_stops_within_seconds_and_leaves_no_output(fake_cli, monkeypatch, tiny_csv, tmp_path):
    from qgis.core import QgsProcessingException

    monkeypatch.setenv("FAKE_MODE", "slow")
    out = tmp_path / "o.tif"
    fb = _feedback()
    t0 = time.monotonic()
    threading.Timer(1.5, fb.cancel).start()
    with pytest.raises(QgsProcessingException, match="[Cc]ancel"):
        _run("geoprospect:interpolate", {"POINTS": csv_layer(tiny_csv), "RESOLUTION": 100, "OUTPUT": str(out)}, fb)
    assert time.monotonic() - t0 < 6
    assert fb.progress  # it was running
    assert not out.exists() and not (tmp_path / "o.tif.part").exists()
    assert list(tmp_path.glob("o.tif*")) == []


def test_missing_interpreter_is_readable(use_cli, tiny_csv, tmp_path):
    from qgis.core import QgsProcessingException

    use_cli("/nonexistent/venv/bin/python")
    with pytest.raises(QgsProcessingException, match="Plugins ▸ geoprospect ▸ Environment…"):
        _run("geoprospect:interpolate", {"POINTS": csv_layer(tiny_csv), "RESOLUTION": 100, "OUTPUT": str(tmp_path / "o.tif")})


def test_not_on_path_is_readable(use_cli, monkeypatch, tiny_csv, tmp_path):
    from qgis.core import QgsProcessingException

    use_cli("")
    monkeypatch.delenv("GEOPROSPECT_EXECUTABLE")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(QgsProcessingException, match="not found on PATH.*GEOPROSPECT_EXECUTABLE"):
        _run("geoprospect:interpolate", {"POINTS": csv_layer(tiny_csv), "RESOLUTION": 100, "OUTPUT": str(tmp_path / "o.tif")})


def test_missing_field_is_readable(fake_cli, tiny_csv, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="'Zn' is not in the input layer.*Au"):
        _run("geoprospect:interpolate", {"POINTS": csv_layer(tiny_csv), "ELEMENTS": ["Au", "Zn"], "RESOLUTION": 100, "OUTPUT": str(tmp_path / "o.tif")})


def test_geographic_grid_crs_is_refused(fake_cli, tiny_csv, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="geographic.*projected CRS"):
        _run("geoprospect:interpolate", {"POINTS": csv_layer(tiny_csv), "GRID_CRS": "EPSG:4326", "RESOLUTION": 100, "OUTPUT": str(tmp_path / "o.tif")})


def test_provider_setting_names_the_interpreter(use_cli, monkeypatch, tiny_csv, tmp_path):
    """The provider setting wins over the environment."""
    from conftest import FAKE_CLI
    from processing.core.ProcessingConfig import ProcessingConfig

    use_cli("/nonexistent/geoprospect")
    monkeypatch.setenv("FAKE_ARGV_LOG", str(tmp_path / "argv.json"))
    ProcessingConfig.setSettingValue("GEOPROSPECT_EXECUTABLE", str(FAKE_CLI))
    try:
        _run("geoprospect:interpolate", {"POINTS": csv_layer(tiny_csv), "RESOLUTION": 100, "OUTPUT": str(tmp_path / "o.tif")})
    finally:
        ProcessingConfig.setSettingValue("GEOPROSPECT_EXECUTABLE", "")
    assert json.loads((tmp_path / "argv.json").read_text())[0] == "interpolate"


def test_outputs_load_with_style(fake_cli, tiny_csv, tmp_path):
    """Outputs are queued for loading with the plugin's QML (the prospectivity ramp)."""
    from qgis.core import QgsProcessingContext, QgsProject

    ctx = QgsProcessingContext()
    ctx.setProject(QgsProject.instance())
    out = tmp_path / "p.tif"
    import processing


    stack = tmp_path / "stack.tif"
    _make_raster(stack)
    model = tmp_path / "model"
    model.mkdir()
    # ask QGIS to load the output, as the dialog does when 'Open output file' is ticked
    from qgis.core import QgsProcessingOutputLayerDefinition

    dest = QgsProcessingOutputLayerDefinition(str(out), QgsProject.instance())
    dest.destinationName = "Prospectivity"
    processing.run("geoprospect:predict", {"STACK": str(stack), "MODEL": str(model), "OUTPUT": dest}, context=ctx, feedback=_feedback())
    assert ctx.willLoadLayerOnCompletion(str(out))
    details = ctx.layerToLoadOnCompletionDetails(str(out))
    assert details.postProcessor() is not None
    assert details.postProcessor().qml.endswith("prospectivity.qml")


def _make_raster(path, crs="EPSG:32649", size=8):
    from osgeo import gdal, osr

    ds = gdal.GetDriverByName("GTiff").Create(str(path), size, size, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((500000, 100, 0, 2501000, 0, -100))
    srs = osr.SpatialReference()
    srs.SetFromUserInput(crs)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).Fill(1.0)
    ds = None


def test_progress_slices_for_the_pipeline():
    from geoprospect_qgis.runner import ProgressMapper

    m = ProgressMapper((("idw", 15), ("distance", 10), ("train", 55), ("predict", 20)))
    assert m.percent("idw", 0, 10) == 0
    assert m.percent("idw", 10, 10) == pytest.approx(15)
    assert m.percent("train", 5, 10) == pytest.approx(25 + 27.5)
    assert m.percent("predict", 10, 10) == pytest.approx(100)
    assert m.percent("unknown", 1, 4) == pytest.approx(25)
    assert m.percent("idw", 3, 0) == pytest.approx(100)  # never goes back
    m = ProgressMapper(("a", "b"))
    assert m.percent("b", 1, 2) == pytest.approx(75) and m.percent("a", 1, 2) == pytest.approx(75)
    # a reserve keeps the end of the bar for the work after the last progress line
    m = ProgressMapper((("stack", 1), ("predict", 1)), reserve=20)
    assert m.percent("predict", 1, 1) == pytest.approx(80) and m.percent("other", 1, 1) == pytest.approx(80)


def test_gpkg_and_memory_point_layers(fake_cli, tmp_path):
    """A GeoPackage layer is passed as its file and layer; a memory layer is exported first."""
    from conftest import write_gpkg
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsVectorLayer

    gpkg = write_gpkg(tmp_path / "pts.gpkg", ["POINT(500100 2500100)", "POINT(500900 2500800)"], layer="samples")
    write_gpkg(gpkg, ["POINT(500500 2500500)"], layer="other")
    layer = QgsVectorLayer(f"{gpkg}|layername=samples", "samples", "ogr")
    assert layer.isValid()
    _run("geoprospect:interpolate", {"POINTS": layer, "RESOLUTION": 100, "OUTPUT": str(tmp_path / "o.tif")})
    pos, opts = parse_argv(json.loads(fake_cli.read_text()))
    assert pos == ["interpolate", str(gpkg)] and opts["--layer"] == "samples" and "--x-field" not in opts

    mem = QgsVectorLayer("Point?crs=EPSG:32649&field=Au:double", "mem", "memory")
    feats = []
    for i, (x, y) in enumerate([(500100, 2500100), (500900, 2500800), (500400, 2500300)]):
        f = QgsFeature(mem.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        f["Au"] = float(i + 1)
        feats.append(f)
    mem.dataProvider().addFeatures(feats)
    _run("geoprospect:interpolate", {"POINTS": mem, "ELEMENTS": ["Au"], "RESOLUTION": 100, "OUTPUT": str(tmp_path / "m.tif")})
    pos, opts = parse_argv(json.loads(fake_cli.read_text()))
    assert pos[1].endswith(".gpkg") and os.path.exists(pos[1]) and opts["--elements"] == "Au"
    exported = QgsVectorLayer(pos[1], "x", "ogr")
    assert exported.featureCount() == 3 and exported.crs().authid() == "EPSG:32649"
