"""The subcommands chained on tiny inputs, as a user would run them; outputs read back with rasterio/geopandas."""

import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from geoprospect.cli import cli


def invoke(*args):
    r = CliRunner().invoke(cli, ["--progress", "none", *map(str, args)], catch_exceptions=False)
    return r


@pytest.fixture
def chain(tiny_inputs):
    d = tiny_inputs["dir"]
    b = tiny_inputs["bounds"]
    r = invoke("interpolate", tiny_inputs["points"], "--out", d / "idw.tif", "--crs", "EPSG:32649", "--elements", "Au,As", "--bounds", *b, "--resolution", 100, "--radius", 1500, "--log10")
    assert r.exit_code == 0, r.output
    r = invoke("distance", tiny_inputs["faults"], "--out", d / "dist.tif", "--template", d / "idw.tif", "--name", "dist_faults")
    assert r.exit_code == 0, r.output
    r = invoke("stack", d / "idw.tif", d / "dist.tif", "--out", d / "stack.tif")
    assert r.exit_code == 0, r.output
    r = invoke("tile", d / "stack.tif", "--deposits", tiny_inputs["deposits"], "--out", d / "windows.gpkg", "--size", 16, "--stride", 8, "--test-fraction", 0.4)
    assert r.exit_code == 0, r.output
    return tiny_inputs


def test_interpolate_writes_a_georeferenced_raster(chain):
    with rasterio.open(chain["dir"] / "idw.tif") as src:
        assert src.crs.to_epsg() == 32649
        assert src.transform.a == 100 and src.transform.c == 500000 and src.transform.f == 2805000
        assert src.descriptions == ("log10_Au", "log10_As")
        assert src.nodata == -9999
        a = src.read(1, masked=True)
    import pandas as pd

    au = np.log10(pd.read_csv(chain["points"])["Au"])
    # IDW is a weighted mean: bounded by the samples' range, and not constant
    assert au.min() - 1e-6 <= a.min() < a.max() <= au.max() + 1e-6
    assert (chain["dir"] / "idw.qml").exists()
    d = chain["dir"]
    r = invoke("interpolate", chain["points"], "--out", d / "r.tif", "--crs", "EPSG:32649", "--elements", "Au", "--template", d / "idw.tif", "--radius", 250)
    assert r.exit_code == 0, r.output
    with rasterio.open(d / "r.tif") as src:
        m = src.read(1, masked=True).mask
        assert 0.05 < m.mean() < 0.95  # a 250 m radius leaves cells with no sample: nodata


def test_stack_keeps_band_names_and_stats(chain):
    with rasterio.open(chain["dir"] / "stack.tif") as src:
        assert src.descriptions == ("log10_Au", "log10_As", "dist_faults")
        assert src.count == 3 and src.crs.to_epsg() == 32649
        d = src.read(3)
        assert d.min() >= 0 and float(src.tags(3)["STATISTICS_MAXIMUM"]) == pytest.approx(float(d.max()))


def test_tile_train_predict_evaluate(chain):
    d = chain["dir"]
    w = gpd.read_file(d / "windows.gpkg")
    assert set(w.columns) >= {"id", "row", "col", "label", "split", "geometry"}
    assert w.crs.to_epsg() == 32649 and w["label"].sum() >= 2
    r = invoke("train", d / "stack.tif", d / "windows.gpkg", "--out", d / "model", "--epochs", 1, "--batch-size", 8, "--device", "cpu")
    assert r.exit_code == 0, r.output
    meta = json.loads((d / "model" / "model.json").read_text())
    assert meta["band_names"] == ["log10_Au", "log10_As", "dist_faults"] and meta["window_size"] == 16
    r = invoke("predict", d / "stack.tif", d / "model", "--out", d / "prosp.tif", "--windows", d / "windows.gpkg")
    assert r.exit_code == 0, r.output
    with rasterio.open(d / "prosp.tif") as src, rasterio.open(d / "stack.tif") as st:
        assert src.crs == st.crs
        assert src.transform.a == 8 * st.transform.a  # cells are window strides
        assert src.transform.c == st.transform.c + 4 * st.transform.a  # centred: (size - stride) / 2
        assert (src.width, src.height) == (5, 5)
        p = src.read(1, masked=True)
        assert 0 <= p.min() <= p.max() <= 1
    s = gpd.read_file(d / "prosp_scores.gpkg")
    assert len(s) == 25 and {"prob", "margin", "label", "split"} <= set(s.columns)
    r = invoke("evaluate", d / "prosp.tif", "--windows", d / "windows.gpkg", "--deposits", chain["deposits"], "--out", d / "m.json")
    assert r.exit_code == 0, r.output
    m = json.loads((d / "m.json").read_text())
    assert m["deposits_all"]["n_deposits"] >= 1 and "windows_test" in m


def test_predict_refuses_a_stack_with_other_bands(chain):
    d = chain["dir"]
    r = invoke("train", d / "stack.tif", d / "windows.gpkg", "--out", d / "model", "--epochs", 1, "--device", "cpu")
    assert r.exit_code == 0
    r = invoke("predict", d / "idw.tif", d / "model", "--out", d / "p.tif")
    assert r.exit_code == 2 and "do not match the model's 3 bands" in r.output


def test_bad_input_exit_code_and_message(tiny_inputs):
    d = tiny_inputs["dir"]
    r = invoke("interpolate", tiny_inputs["points"], "--out", d / "x.tif", "--elements", "Au", "--resolution", 100)
    assert r.exit_code == 2 and "no CRS" in r.output and "--crs" in r.output
    r = invoke("interpolate", tiny_inputs["points"], "--out", d / "x.tif", "--crs", "EPSG:32649", "--elements", "Zz", "--resolution", 100)
    assert r.exit_code == 2 and "'Zz'" in r.output
    assert not (d / "x.tif").exists()


def test_json_progress_lines_for_programs(tiny_inputs):
    """The QGIS provider reads these: every stdout line is a JSON object; the last is the result."""
    d = tiny_inputs["dir"]
    cmd = [sys.executable, "-m", "geoprospect", "--progress", "json", "interpolate", str(tiny_inputs["points"]), "--out", str(d / "j.tif"),
           "--crs", "EPSG:32649", "--elements", "Au", "--resolution", "100"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    types = {l["type"] for l in lines}
    assert {"progress", "log", "result"} <= types
    assert lines[-1] == {"type": "result", "outputs": {"raster": str(d / "j.tif")}}
    prog = [l for l in lines if l["type"] == "progress"]
    assert prog[-1]["done"] == prog[-1]["total"]
    bad = subprocess.run(cmd[:-4] + ["--elements", "Nope", "--resolution", "100"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert json.loads(bad.stdout.splitlines()[-1])["type"] == "error"


def test_help_explains():
    r = CliRunner().invoke(cli, ["--help"])
    assert r.exit_code == 0 and "prospectivity" in r.output and "run" in r.output
    r = CliRunner().invoke(cli, ["interpolate", "--help"])
    assert "gdal_grid" in r.output and "--radius" in r.output


def test_every_command_has_help():
    root = CliRunner().invoke(cli, ["--help"])
    for name in cli.commands:
        assert name in root.output
        r = CliRunner().invoke(cli, [name, "--help"])
        assert r.exit_code == 0 and "Usage:" in r.output, (name, r.output)


def test_config_schema_describes_the_run_config():
    from geoprospect.pipeline.config import RunConfig

    r = CliRunner().invoke(cli, ["--progress", "none", "config-schema"])
    assert r.exit_code == 0, r.output
    schema = json.loads(r.output)
    assert schema == json.loads(json.dumps(RunConfig.model_json_schema()))
    assert {"points", "deposits", "grid", "windows", "train"} <= set(schema["properties"])


def test_tune_malloc_applies_on_glibc_and_respects_the_users_settings(monkeypatch):
    import os

    from geoprospect.cli import app

    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        glibc = None
    for k in [k for k in os.environ if k.startswith(("MALLOC_", "GLIBC_TUNABLES"))]:
        monkeypatch.delenv(k)
    assert app.tune_malloc() is bool(glibc)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")  # the user's own malloc settings win
    assert app.tune_malloc() is False
