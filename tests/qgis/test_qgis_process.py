"""Smoke test on the command line, as a user scripting QGIS would: `qgis_process run geoprospect:…`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from conftest import FAKE_CLI, PLUGIN_ROOT, SOURCE, _find_geoprospect_python, sample_data, write_gpkg


def _qgis_process() -> str:
    """`qgis_process` (the wrapper; broken on some 3.22 packages) or the binary behind it."""
    for name in ("qgis_process", "qgis_process.bin"):
        exe = shutil.which(name)
        if exe and subprocess.run([exe, "--version"], capture_output=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}).returncode == 0:
            return exe
    pytest.skip("qgis_process not found")


@pytest.fixture(scope="module")
def qp(tmp_path_factory):
    profile = tmp_path_factory.mktemp("profile")
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env.update(QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(profile), QGIS_PLUGINPATH=str(PLUGIN_ROOT))
    exe = _qgis_process()
    r = subprocess.run([exe, "plugins", "enable", "geoprospect_qgis"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr

    def run(*args, extra_env=None, timeout=300):
        return subprocess.run([exe, *args], env={**env, **(extra_env or {})}, capture_output=True, text=True, timeout=timeout)

    return run


def test_list_and_help(qp):
    r = qp("list")
    assert r.returncode == 0, r.stderr
    for alg in ("interpolate", "distance", "stack", "tile", "train", "predict", "evaluate", "run", "ensemble", "select_elements", "density", "prepare_geochem",
                "geology", "kriging_cv", "evaluate_cv", "run_layers", "weights_of_evidence", "fuzzy"):
        assert f"geoprospect:{alg}" in r.stdout
    assert r.stdout.count("geoprospect:") >= 18
    h = qp("help", "geoprospect:interpolate")
    assert h.returncode == 0 and "ELEMENTS" in h.stdout and "RESOLUTION" in h.stdout


def test_run_with_stand_in_cli(qp, tmp_path):
    faults = write_gpkg(tmp_path / "faults.gpkg", ["LINESTRING(500000 2500000, 503000 2503000)"])
    out = tmp_path / "d.tif"
    r = qp("--json", "run", "geoprospect:distance", "--", f"INPUT={faults}", "GRID_CRS=EPSG:32649",
           "EXTENT=500000,503000,2500000,2503000 [EPSG:32649]", "RESOLUTION=100", f"OUTPUT={out}",
           extra_env={"GEOPROSPECT_EXECUTABLE": str(FAKE_CLI)})
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)["results"]
    assert res["OUTPUT"] == str(out) and out.exists()
    assert "--resolution 100.0" in res["COMMAND"]


def test_missing_interpreter_on_command_line(qp, tmp_path):
    faults = write_gpkg(tmp_path / "faults.gpkg", ["LINESTRING(500000 2500000, 503000 2503000)"])
    r = qp("run", "geoprospect:distance", "--", f"INPUT={faults}", "RESOLUTION=100", f"OUTPUT={tmp_path / 'd.tif'}",
           extra_env={"GEOPROSPECT_EXECUTABLE": "/nonexistent/python3"})
    assert r.returncode != 0
    assert "GEOPROSPECT_EXECUTABLE" in (r.stdout + r.stderr)


def test_run_real_cli(qp, tmp_path):
    exe, why = _find_geoprospect_python()
    data = sample_data()
    if exe is None or data is None:
        pytest.skip(why or "no sample data")
    out = tmp_path / "dist.tif"
    r = qp("--json", "run", "geoprospect:distance", "--", f"INPUT={data / 'fault_lines.gpkg'}", "GRID_CRS=EPSG:32649",
           "EXTENT=500000,540000,2800000,2840000 [EPSG:32649]", "RESOLUTION=1000", f"OUTPUT={out}",
           extra_env={"GEOPROSPECT_EXECUTABLE": exe, "GEOPROSPECT_PYTHONPATH": str(SOURCE)})
    assert r.returncode == 0, r.stderr[-3000:]
    from osgeo import gdal

    ds = gdal.Open(str(out))
    assert (ds.RasterXSize, ds.RasterYSize) == (40, 40)
    assert ds.GetGeoTransform() == pytest.approx((500000, 1000, 0, 2840000, 0, -1000))
    assert ds.GetRasterBand(1).ReadAsArray().min() >= 0
