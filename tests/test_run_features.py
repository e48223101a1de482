"""`geoprospect run` with the optional stages: geochemistry preparation, element selection,
kriging, density, distance-with-density and categorical layers, early stopping."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml
from click.testing import CliRunner

from geoprospect.cli import cli

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


@pytest.fixture(scope="module")
def feature_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("features")
    # a censored value and a duplicated location, as real exports have
    df = pd.read_csv(SAMPLE / "samples.csv", dtype=str)
    df.loc[3, "Au_ppb"] = "<0.5"
    df = pd.concat([df, df.iloc[[10]]], ignore_index=True)
    df.to_csv(d / "samples.csv", index=False)
    cfg = {
        "points": {"path": str(d / "samples.csv"), "crs": "EPSG:32649", "x_field": "x", "y_field": "y",
                   "elements": ["Au_ppb", "As_ppm", "Sb_ppm", "Ba_ppm", "F_ppm"], "censored": "half", "duplicates": "average"},
        "grid": {"crs": "EPSG:32649", "resolution": 200, "bounds": [500000, 2800000, 540000, 2840000]},
        "interpolation": {"method": "ordinary_kriging", "neighbors": 12},
        "selection": {"enabled": True, "distance": 1500},
        "vectors": [
            {"name": "dens_faults", "path": str(SAMPLE / "fault_lines.gpkg"), "kind": "density", "radius": 2000},
            {"name": "dd_faults", "path": str(SAMPLE / "fault_lines.gpkg"), "kind": "distance_density", "radius": 2000},
            {"name": "alt", "path": str(SAMPLE / "alteration.gpkg"), "kind": "categorical", "field": "type", "unmapped": "zero"},
        ],
        "deposits": {"path": str(SAMPLE / "deposits.gpkg")},
        "windows": {"unit": "window", "size": 32, "stride": 16},  # the papers' recipe: a CNN on random 28-px crops of 32-px windows
        "train": {"model": "lenet", "epochs": 2, "batch_size": 16, "patience": 1, "device": "cpu", "crop": 28},
        "evaluation": {"method": "block"},  # these tests are about the inputs; evaluation by CV is tested in test_run_oof.py
        "compute": {"memory_mb": 0.01},  # tiling and training read the stack through memory maps
    }
    (d / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(cli, ["--progress", "none", "run", str(d / "cfg.yaml"), "--out", str(d / "out")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return d / "out"


def test_bands_follow_the_configuration(feature_run):
    with rasterio.open(feature_run / "stack.tif") as src:
        names = list(src.descriptions)
        tags = [src.tags(i + 1)["GEOPROSPECT_SOURCE"] for i in range(src.count)]
        data = src.read(masked=True)
    # Ba and F carry no deposit signal in the sample data: selection must drop them
    assert "log10_Ba_ppm" not in names and "log10_F_ppm" not in names
    assert names[0] == "log10_Au_ppb" and "ordinary kriging" in tags[0]
    assert names[-3:] == ["dens_faults", "dd_faults", "alt_silicification-sericite"]
    alt = data[-1]
    assert set(np.unique(alt.compressed())) == {0.0, 1.0}
    assert data[-3].min() >= 0 and data[-3].max() > 0  # density per unit area


def test_selection_and_preparation_reports(feature_run):
    sel = pd.read_csv(feature_run / "element_selection.csv")
    assert set(sel.loc[sel["selected"], "element"]) >= {"Au_ppb", "As_ppm", "Sb_ppm"}
    assert "training-area" in (feature_run / "element_selection.md").read_text()
    rep = (feature_run / "geochem_report.md").read_text()
    assert "Au_ppb" in rep
    assert "Element selection" in next((feature_run / "report").glob("*.html")).read_text()


def test_early_stopping_never_looks_at_the_test_block(feature_run):
    import json

    meta = json.loads((feature_run / "model" / "model.json").read_text())
    assert "random" in meta["training"]["val_is"] and "test block" not in meta["training"]["val_is"]


def test_memory_mapped_stack_is_cleaned_up(feature_run):
    man = yaml.safe_load((feature_run / "manifest.json").read_text())
    assert man["config"]["compute"]["memory_mb"] == 0.01
    assert not (feature_run / ".scratch").exists()
    assert ".scratch" not in man["outputs"]


def test_crop_training_keeps_the_window_grid(feature_run):
    """train.crop: random 28-px crops of the 32-px windows; scored on centre crops, on the 32/16 window grid."""
    import json

    meta = json.loads((feature_run / "model" / "model.json").read_text())
    assert (meta["window_size"], meta["input_size"], meta["stride"]) == (32, 28, 16)
    with rasterio.open(feature_run / "stack.tif") as st, rasterio.open(feature_run / "prospectivity.tif") as p:
        assert p.shape == ((st.height - 32) // 16 + 1, (st.width - 32) // 16 + 1)
        assert p.transform.a == st.transform.a * 16


def test_mc_dropout_band_for_a_model_with_dropout(feature_run):
    """LeNet has dropout: uncertainty.tif gains the Monte Carlo dropout band; with the single
    test block there is one fold model, so the members' spread is nodata."""
    with rasterio.open(feature_run / "uncertainty.tif") as src:
        assert src.descriptions == ("member_std", "member_mean", "mc_dropout_std")
        assert src.tags()["GEOPROSPECT_MC_DROPOUT_PASSES"] == "10"
        assert src.read(1, masked=True).mask.all()
        mc = src.read(3, masked=True)
        assert mc.count() and mc.max() > 0
    metrics = yaml.safe_load((feature_run / "metrics.json").read_text())
    assert metrics["uncertainty"]["mc_dropout_passes"] == 10 and "mc_dropout_std" in metrics["uncertainty"]["bands"]
