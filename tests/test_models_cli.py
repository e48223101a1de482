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
