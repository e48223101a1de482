"""`geoprospect train` with presets, model options, early stopping, curves and --resume; `geoprospect models`."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from geoprospect.cli import cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


def invoke(*args):
    return CliRunner().invoke(cli, ["--progress", "none", *map(str, args)], catch_exceptions=False)


@pytest.fixture
def tiled(tiny_inputs):
    d, b = tiny_inputs["dir"], tiny_inputs["bounds"]
    assert invoke("interpolate", tiny_inputs["points"], "--out", d / "idw.tif", "--crs", "EPSG:32649", "--elements", "Au,As", "--bounds", *b, "--resolution", 100, "--radius", 1500).exit_code == 0
    assert invoke("tile", d / "idw.tif", "--deposits", tiny_inputs["deposits"], "--out", d / "w.gpkg", "--size", 16, "--stride", 8, "--test-fraction", 0.4).exit_code == 0
    return d


def test_train_preset_options_early_stopping_resume(tiled):
    d = tiled
    common = [d / "idw.tif", d / "w.gpkg", "--out", d / "m", "--device", "cpu", "--preset", "003", "--model", "mfaf_shufflenet",
              "--option", "rates=[1,6]", "--option", 'backbone_options={"width": "x0_5"}', "--batch-size", 8, "--val-fraction", 0.3, "--patience", 5]
    r = invoke("train", *common, "--epochs", 2)
    assert r.exit_code == 0, r.output
    meta = json.loads((d / "m" / "model.json").read_text())
    assert meta["architecture"] == "mfaf_shufflenet" and meta["options"]["rates"] == [1, 6]
    t = meta["training"]
    assert (t["preset"], t["optimizer"], t["scheduler"], t["lr"], t["batch_size"]) == ("003", "adam", "cosine", 1e-4, 8)
    assert all("val_loss" in row for row in t["history"])
    for f in ("last.pt", "curves.csv", "curves.png", "model.pt"):
        assert (d / "m" / f).exists(), f
    r = invoke("train", *common, "--epochs", 3, "--resume")
    assert r.exit_code == 0, r.output
    hist = json.loads((d / "m" / "model.json").read_text())["training"]["history"]
    assert [row["epoch"] for row in hist] == [1, 2, 3]
    assert len((d / "m" / "curves.csv").read_text().splitlines()) == 4


def test_train_bad_settings(tiled):
    d = tiled
    r = invoke("train", d / "idw.tif", d / "w.gpkg", "--out", d / "m", "--device", "cpu", "--preset", "001")
    assert r.exit_code != 0 and "crop 224 is larger than the 16-pixel windows" in r.output
    r = invoke("train", d / "idw.tif", d / "w.gpkg", "--out", d / "m", "--device", "cpu", "--option", "rates")
    assert r.exit_code != 0 and "KEY=VALUE" in r.output
    r = invoke("train", d / "idw.tif", d / "w.gpkg", "--out", d / "m2", "--device", "cpu", "--resume")
    assert r.exit_code != 0 and "no training state" in r.output


def test_models_lists_parameter_counts():
    r = invoke("models", "--bands", 3, "--window", 32)
    assert r.exit_code == 0, r.output
    for name in ("lenet", "vgg8", "mfaf", "skt", "vit", "resnet50_2fc"):
        assert name in r.output


def test_models_json_is_machine_readable():
    from geoprospect.models.registry import list_models

    r = invoke("models", "--json", "--bands", 3, "--window", 16)
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [row["name"] for row in rows] == list_models()
    for row in rows:
        assert set(row) >= {"name", "parameters", "description", "kind"} and row["kind"] in ("network", "baseline") and row["description"]
    by_name = {row["name"]: row for row in rows}
    assert by_name["resnet18"]["parameters"] > 0 and by_name["vgg8"]["parameters"] is None  # vgg8 needs 32-pixel windows


def test_train_with_crop_predicts_centre_crops_on_the_tile_grid(tiled):
    """A model trained on random crops (papers 001/002: 224 of 256) keeps the tiles' window grid.

    model.json records window_size = the tiles' size and input_size = the crop; `predict`
    scores every size-window through its centre crop, so scores line up with windows.gpkg.
    """
    import numpy as np
    import rasterio

    from geoprospect.io.rasters import read_stack
    from geoprospect.models.checkpoint import load_checkpoint
    from geoprospect.windows.augment import center_crop
    from geoprospect.windows.dataset import normalise
    from geoprospect.windows.tiling import read_windows

    d = tiled
    r = invoke("train", d / "idw.tif", d / "w.gpkg", "--out", d / "mc", "--device", "cpu", "--model", "resnet18", "--crop", 12, "--epochs", 1, "--batch-size", 8)
    assert r.exit_code == 0, r.output
    meta = json.loads((d / "mc" / "model.json").read_text())
    assert (meta["window_size"], meta["input_size"], meta["stride"]) == (16, 12, 8)
    r = invoke("predict", d / "idw.tif", d / "mc", "--out", d / "p.tif", "--device", "cpu", "--windows", d / "w.gpkg")
    assert r.exit_code == 0, r.output
    st = read_stack(d / "idw.tif")
    with rasterio.open(d / "p.tif") as src:
        prob = src.read(1, masked=True)
        # the window-stride grid of the 16-pixel tiles: (H - 16) // 8 + 1 cells a side
        assert src.shape == ((st.grid.height - 16) // 8 + 1, (st.grid.width - 16) // 8 + 1)
    net, _ = load_checkpoint(d / "mc", st.band_names)
    norm = torch.from_numpy(normalise(st.data, meta["mean"], meta["std"]))
    win = read_windows(d / "w.gpkg")
    row = win.iloc[len(win) // 2]
    x = center_crop(norm[:, row.row_off : row.row_off + 16, row.col_off : row.col_off + 16], 12)
    with torch.no_grad():
        expect = torch.softmax(net.eval()(x[None]).double(), dim=1)[0, 1].item()
    assert np.isclose(float(prob[row.row, row.col]), expect, rtol=1e-5, atol=1e-6)


def test_train_and_predict_a_baseline(tiled):
    """`--model random_forest` trains through the same command, saves model.pt (skops inside) and predicts."""
    import rasterio

    d = tiled
    r = invoke("train", d / "idw.tif", d / "w.gpkg", "--out", d / "rf", "--device", "cpu", "--model", "random_forest", "--option", "n_estimators=25")
    assert r.exit_code == 0, r.output
    meta = json.loads((d / "rf" / "model.json").read_text())
    assert meta["architecture"] == "random_forest" and meta["options"] == {"n_estimators": 25} and len(meta["training"]["history"]) == 1
    r = invoke("predict", d / "idw.tif", d / "rf", "--out", d / "rf.tif", "--device", "cpu")
    assert r.exit_code == 0, r.output
    with rasterio.open(d / "rf.tif") as src:
        prob = src.read(1, masked=True)
    assert prob.count() > 0 and 0 <= prob.min() and prob.max() <= 1
    r = invoke("models")
    assert "random_forest_cell" in r.output and "centre cell" in r.output and "flattened" in r.output
