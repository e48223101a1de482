"""The forms take their lists and defaults from the environment's CLI, and the whole-pipeline
form does not mislead (layers picked by geometry and name, grid CRS, coordinates, output folder).

The CLI is tests/qgis/fake_cli/geoprospect: its `models --json` and `config-schema` answers differ
from any built-in value, so a default shown here can only have come from the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import csv_layer, write_gpkg
from test_process import _run, parse_argv


def _alg(name):
    from qgis.core import QgsApplication

    return QgsApplication.processingRegistry().createAlgorithmById(f"geoprospect:{name}")


def test_models_and_defaults_come_from_the_cli(fake_cli):
    from geoprospect_qgis import cli_info

    cli_info.clear()
    train = _alg("train")
    model = train.parameterDefinition("MODEL")
    # the fake's list, baselines included; the schema's train.model default (random_forest) first,
    # each with its short description
    assert model.options() == ["random_forest — recommended: scikit-learn random forest on flattened windows", "tinynet — a small stand-in network"]
    assert model.defaultValue() == 0
    assert train.parameterDefinition("EPOCHS").defaultValue() == 7
    assert train.parameterDefinition("BATCH_SIZE").defaultValue() == 48
    assert train.parameterDefinition("OPTIMIZER").options() == ["sgd", "adam"]
    run = _alg("run_layers")
    assert run.parameterDefinition("SIZE").defaultValue() == 24 and run.parameterDefinition("STRIDE").defaultValue() == 12
    assert run.parameterDefinition("EPOCHS").defaultValue() == 7
    assert run.parameterDefinition("GRID_CRS").defaultValue() in (None, "")
    assert _alg("interpolate").parameterDefinition("GRID_CRS").defaultValue() in (None, "")


def test_a_desktop_dialog_does_not_wait_for_a_slow_environment(fake_cli, monkeypatch, tmp_path):
    """In QGIS Desktop's GUI thread a form never waits for the environment's first answers
    beyond DIALOG_WAIT_S: it opens with geoprospect's default model and no numeric defaults (the
    CLI's own apply), and the next form has the answers. The stand-in CLI holds `models --json`
    until a file exists, so the first form is built while it has not answered (no timing)."""
    from geoprospect_qgis import cli_info
    from geoprospect_qgis.algorithms import stages

    hold = tmp_path / "answer-now"
    monkeypatch.setenv("FAKE_MODELS_HOLD", str(hold))
    monkeypatch.setattr(stages, "_gui_thread", lambda: True)  # as in QGIS Desktop's GUI thread
    cli_info.clear()
    try:
        first = _alg("train")
        assert first.parameterDefinition("MODEL").options()[0].startswith(stages.FALLBACK_MODEL)
        assert first.parameterDefinition("EPOCHS").defaultValue() is None
    finally:
        hold.write_text("")
    assert cli_info.get(wait=True).ok  # join the background question
    again = _alg("train")
    assert again.parameterDefinition("MODEL").options()[0].startswith("random_forest")
    assert again.parameterDefinition("EPOCHS").defaultValue() == 7


def test_train_argv_uses_cli_model_names(fake_cli, tmp_path):
    from test_process import _make_raster

    stack = tmp_path / "stack.tif"
    _make_raster(stack)
    win = write_gpkg(tmp_path / "w.gpkg", ["POLYGON((500000 2500000, 500800 2500000, 500800 2500800, 500000 2500000))"])
    _run("geoprospect:train", {"STACK": str(stack), "WINDOWS": str(win), "MODEL": 1, "OUTPUT": str(tmp_path / "m")})
    pos, opts = parse_argv(json.loads(fake_cli.read_text()))
    assert opts["--model"] == "tinynet"
    assert opts["--epochs"] == "7"  # not set: the default the form shows (the CLI's schema's)


def test_network_options_are_not_passed_to_a_baseline(fake_cli, tmp_path):
    from test_process import _feedback, _make_raster

    stack = tmp_path / "stack.tif"
    _make_raster(stack)
    win = write_gpkg(tmp_path / "w.gpkg", ["POLYGON((500000 2500000, 500800 2500000, 500800 2500800, 500000 2500000))"])
    params = {"STACK": str(stack), "WINDOWS": str(win), "EPOCHS": 3, "BATCH_SIZE": 16, "LR": 0.01, "OUTPUT": str(tmp_path / "m")}
    fb = _feedback()
    _run("geoprospect:train", {**params, "MODEL": 0}, feedback=fb)  # random_forest: a baseline
    pos, opts = parse_argv(json.loads(fake_cli.read_text()))
    assert opts["--model"] == "random_forest" and not {"--epochs", "--batch-size", "--lr"} & set(opts)
    assert any(i.startswith("random_forest is not a network: Epochs, Batch size, Learning rate,") and i.endswith("do not apply and are not passed.") for i in fb.infos), fb.infos
    _run("geoprospect:train", {**params, "MODEL": 1})  # tinynet: a network gets them
    pos, opts = parse_argv(json.loads(fake_cli.read_text()))
    assert opts["--model"] == "tinynet" and opts["--epochs"] == "3" and opts["--batch-size"] == "16"


def test_missing_environment_keeps_forms_usable(use_cli):
    from geoprospect_qgis import cli_info

    use_cli("/nonexistent/python3")
    info = cli_info.get()
    assert not info.ok and "GEOPROSPECT_EXECUTABLE" in info.error
    train = _alg("train")
    assert train.parameterDefinition("EPOCHS").defaultValue() is None  # the CLI's own default applies
    assert "Could not ask the environment" in train.parameterDefinition("MODEL").help()
    ok, msg = train.checkParameterValues({}, __import__("qgis.core", fromlist=["QgsProcessingContext"]).QgsProcessingContext())
    assert not ok


def test_version_mismatch_is_reported_with_the_fix():
    from geoprospect_qgis.cli_info import CliInfo, plugin_version

    assert CliInfo(version=plugin_version()).version_warning() == ""
    msg = CliInfo(version="9.9.9").version_warning()
    assert "9.9.9" in msg and plugin_version() in msg and "pip install" in msg


def test_grid_crs_outside_its_area_of_use_is_refused(fake_cli, tiny_csv, tmp_path):
    from qgis.core import QgsProcessingException

    layer = csv_layer(tiny_csv)  # samples in UTM 49N (111 degrees E)
    with pytest.raises(QgsProcessingException, match="EPSG:32633.*Leave 'Grid CRS' empty"):
        _run("geoprospect:interpolate", {"POINTS": layer, "GRID_CRS": "EPSG:32633", "RESOLUTION": 100, "OUTPUT": str(tmp_path / "o.tif")})
    with pytest.raises(QgsProcessingException, match="EPSG:32633"):
        _run("geoprospect:run_layers", {"POINTS": layer, "DEPOSITS": str(_deposits(tmp_path)), "GRID_CRS": "EPSG:32633", "RESOLUTION": 100, "OUTPUT": str(tmp_path / "run")})
    # empty grid CRS: the samples' CRS, no --grid-crs passed, the extent given in that CRS
    _run("geoprospect:interpolate", {"POINTS": layer, "RESOLUTION": 100, "EXTENT": "500000,501000,2500000,2501000 [EPSG:32649]", "OUTPUT": str(tmp_path / "o.tif")})
    pos, opts = parse_argv(json.loads(fake_cli.read_text()))
    assert "--grid-crs" not in opts and [float(v) for v in opts["--bounds"]] == [500000, 2500000, 501000, 2501000]


def _deposits(tmp_path):
    return write_gpkg(tmp_path / "deposits.gpkg", ["POINT(501000 2501000)", "POINT(502000 2502000)"])


def _xy_gpkg(tmp_path) -> Path:
    """Samples in a GeoPackage that also carries x/y attribute columns and an id."""
    from osgeo import ogr, osr

    path = tmp_path / "samples_xy.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32649)
    lyr = ds.CreateLayer("samples", srs, ogr.wkbPoint)
    for name in ("sample_id", "x", "y", "Au", "As"):
        lyr.CreateField(ogr.FieldDefn(name, ogr.OFTInteger if name == "sample_id" else ogr.OFTReal))
    for i in range(6):
        f = ogr.Feature(lyr.GetLayerDefn())
        x, y = 500000 + 300 * i, 2500000 + 200 * i
        for k, v in (("sample_id", i), ("x", x), ("y", y), ("Au", 1.0 + i), ("As", 5.0 + i)):
            f.SetField(k, v)
        f.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT({x} {y})"))
        lyr.CreateFeature(f)
    ds = None
    return path


def test_coordinates_never_become_elements(fake_cli, tmp_path):
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(f"{_xy_gpkg(tmp_path)}|layername=samples", "samples", "ogr")
    assert layer.isValid()
    _run("geoprospect:interpolate", {"POINTS": layer, "RESOLUTION": 100, "OUTPUT": str(tmp_path / "o.tif")})
    pos, opts = parse_argv(json.loads(fake_cli.read_text()))
    assert opts["--elements"] == "Au,As"
    out = tmp_path / "run"
    _run("geoprospect:run_layers", {"POINTS": layer, "DEPOSITS": str(_deposits(tmp_path)), "RESOLUTION": 100, "OUTPUT": str(out)})
    cfg = json.loads((out / "config_from_qgis.yaml").read_text().split("\n", 1)[1])
    assert cfg["points"]["elements"] == ["Au", "As"]
    assert "crs" not in cfg["grid"]  # empty grid CRS: the samples' CRS
    assert cfg["train"]["model"] == "random_forest" and cfg["windows"] == {"size": 24, "stride": 12}
    assert "epochs" not in cfg["train"]  # a scikit-learn baseline has no epochs
    _run("geoprospect:run_layers", {"POINTS": layer, "DEPOSITS": str(tmp_path / "deposits.gpkg"), "MODEL": 1, "RESOLUTION": 100, "OUTPUT": str(out), "OVERWRITE": True})
    cfg = json.loads((out / "config_from_qgis.yaml").read_text().split("\n", 1)[1])
    assert cfg["train"]["model"] == "tinynet" and cfg["train"]["epochs"] == 7


def test_run_layers_refuses_deposits_that_are_the_samples(fake_cli, tiny_csv, tmp_path):
    from qgis.core import QgsProcessingException

    layer = csv_layer(tiny_csv)
    with pytest.raises(QgsProcessingException, match="Known deposits: this is the samples layer"):
        _run("geoprospect:run_layers", {"POINTS": layer, "DEPOSITS": layer, "RESOLUTION": 100, "OUTPUT": str(tmp_path / "run")})
    with pytest.raises(QgsProcessingException, match="Known deposits: pick a layer"):
        _run("geoprospect:run_layers", {"POINTS": layer, "RESOLUTION": 100, "OUTPUT": str(tmp_path / "run")})


def test_run_layers_output_folder_is_not_temporary(fake_cli, tiny_csv, tmp_path):
    from qgis.core import QgsProcessingUtils

    res = _run("geoprospect:run_layers", {"POINTS": csv_layer(tiny_csv), "DEPOSITS": str(_deposits(tmp_path)), "RESOLUTION": 100})
    out = res["OUTPUT"]
    assert not out.startswith(QgsProcessingUtils.tempFolder())
    assert Path(out).parent == tiny_csv.parent / "geoprospect-runs"  # beside the samples (unsaved project)
    assert (Path(out) / "config_from_qgis.yaml").exists()
    pos, opts = parse_argv(json.loads(fake_cli.read_text()))
    assert opts["--out"] == out


def test_layers_are_suggested_by_geometry_and_name(fake_cli, tiny_csv, tmp_path):
    from qgis.core import QgsProject, QgsVectorLayer

    project = QgsProject.instance()
    project.clear()  # layers an earlier test left (e.g. temporary outputs named OUTPUT) are not the user's
    samples = csv_layer(tiny_csv)
    samples.setName("soil samples")
    deposits = QgsVectorLayer(str(_deposits(tmp_path)), "known deposits", "ogr")
    faults = QgsVectorLayer(str(write_gpkg(tmp_path / "f.gpkg", ["LINESTRING(500000 2500000, 503000 2503000)"])), "faults", "ogr")
    roads = QgsVectorLayer(str(write_gpkg(tmp_path / "r.gpkg", ["LINESTRING(500000 2500000, 501000 2500000)"])), "roads", "ogr")
    ids = [layer.id() for layer in project.addMapLayers([roads, samples, deposits, faults])]
    try:
        alg = _alg("run_layers")
        assert alg.parameterDefinition("POINTS").defaultValue() == samples.id()
        assert alg.parameterDefinition("DEPOSITS").defaultValue() == deposits.id()
        assert alg.parameterDefinition("FAULTS").defaultValue() == faults.id()
        assert alg.parameterDefinition("ALTERATION").defaultValue() in (None, "")  # empty, not a wrong layer
        project.removeMapLayer(ids[2])
        assert _alg("run_layers").parameterDefinition("DEPOSITS").defaultValue() in (None, "")
    finally:
        for lid in ids:
            if project.mapLayer(lid) is not None:
                project.removeMapLayer(lid)


def test_progress_text_is_rate_limited():
    from geoprospect_qgis.runner import TEXT_INTERVAL_S, ProgressMapper

    m = ProgressMapper((("train", 1),))
    lines = [m.wants_text("train", i, 96, now=100.0 + 0.1 * i) for i in range(1, 97)]
    assert lines[0] and lines[-1] and sum(lines) <= 3  # the first, the last, one in between: not 96
    assert m.wants_text("predict", 1, 10, now=110.0)  # a new stage
    assert not m.wants_text("predict", 2, 10, now=110.0 + 1)  # too soon
    assert m.wants_text("predict", 3, 10, now=110.0 + TEXT_INTERVAL_S)  # a new tenth, after the interval
    slow = ProgressMapper((("train", 1),))  # a slow machine: one batch per minute, still one line per tenth
    assert sum(slow.wants_text("train", i, 96, now=60.0 * i) for i in range(1, 97)) <= 11


def test_ensemble_names_its_rules(provider):
    alg = _alg("ensemble")
    text = alg.displayName() + alg.shortHelpString()
    assert "paper 003's rules" not in text
    for rule in ("simple average", "weighted average", "majority vote", "plurality vote", "weighted vote"):
        assert rule in text


def test_train_presets_crops_and_flag_columns_reach_the_cli(fake_cli, tiny_csv, tmp_path):
    from test_process import _make_raster

    stack = tmp_path / "stack.tif"
    _make_raster(stack)
    win = write_gpkg(tmp_path / "w.gpkg", ["POLYGON((500000 2500000, 500800 2500000, 500800 2500800, 500000 2500000))"])
    _run("geoprospect:train", {"STACK": str(stack), "WINDOWS": str(win), "MODEL": 1, "PRESET": 3, "CROP": 12, "NOISE": 0.01, "FLIPS": True, "OUTPUT": str(tmp_path / "m")})
    pos, opts = parse_argv(json.loads(fake_cli.read_text()))
    assert opts["--preset"] == "002" and opts["--crop"] == "12" and opts["--noise"] == "0.01" and "--flips" in opts
    _run("geoprospect:train", {"STACK": str(stack), "WINDOWS": str(win), "OUTPUT": str(tmp_path / "m2")})
    pos, opts = parse_argv(json.loads(fake_cli.read_text()))
    assert "--preset" not in opts and "--flips" not in opts
    _run("geoprospect:prepare_geochem", {"POINTS": csv_layer(tiny_csv), "FLAG_COLUMNS": "Au=label", "OUTPUT": str(tmp_path / "p.gpkg")})
    pos, opts = parse_argv(json.loads(fake_cli.read_text()))
    assert opts["--flag-columns"] == "Au=label"
