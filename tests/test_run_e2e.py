"""`geoprospect run` on the bundled sample data, outputs read back with rasterio/geopandas."""

import json
from pathlib import Path

import pytest
import rasterio
import yaml
from click.testing import CliRunner

from geoprospect.cli import cli

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """The sample configuration with fewer epochs (the shipped one trains 8)."""
    d = tmp_path_factory.mktemp("run")
    cfg = yaml.safe_load((SAMPLE / "config.yaml").read_text())
    cfg["train"]["epochs"] = 4
    for sec in ("points", "deposits"):
        cfg[sec]["path"] = str(SAMPLE / cfg[sec]["path"])
    for v in cfg["vectors"]:
        v["path"] = str(SAMPLE / v["path"])
    (d / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    out = d / "out"
    r = CliRunner().invoke(cli, ["--progress", "none", "run", str(d / "cfg.yaml"), "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out, d / "cfg.yaml"


def test_outputs_exist(sample_run):
    out, _ = sample_run
    for name in ("stack.tif", "model/model.pt", "model/model.json", "prospectivity.tif", "prospectivity.qml", "metrics.json", "map.png", "manifest.json"):
        assert (out / name).exists(), name
    # every cell a sample (the default windows.unit: cell): no window index, no per-window scores
    assert not (out / "windows.gpkg").exists() and not (out / "scores.gpkg").exists()
    assert not list(out.glob(".*tmp*"))


def test_stack_georeferencing(sample_run):
    out, _ = sample_run
    with rasterio.open(out / "stack.tif") as src:
        assert src.crs.to_epsg() == 32649
        assert tuple(src.transform)[:6] == (100.0, 0.0, 500000.0, 0.0, -100.0, 2840000.0)
        assert (src.width, src.height, src.count) == (400, 400, 18)
        assert src.descriptions[0] == "log10_Ag_ppm" and src.descriptions[-1] == "dist_alteration"
        assert all(v == -9999.0 for v in src.nodatavals)
        au = src.read(2, masked=True)
        assert -1 < au.min() < au.max() < 4  # log10 ppb of gold
        assert src.read(17).min() >= 0  # distances


def test_prospectivity_and_deposits_score_higher(sample_run):
    out, _ = sample_run
    with rasterio.open(out / "prospectivity.tif") as src, rasterio.open(out / "stack.tif") as st:
        assert src.crs == st.crs and src.descriptions == ("prospectivity", "logit_margin")
        # one score per grid cell: the stack's own grid, every cell with data scored (edges included)
        assert src.transform == st.transform and (src.width, src.height) == (st.width, st.height)
        p = src.read(1, masked=True)
        assert 0 <= p.min() and p.max() <= 1
        valid = ~st.read(masked=True).mask.any(axis=0)
        assert (~p.mask == valid).all() and valid[0].all() and valid[-1].all() and valid[:, -1].all()
        assert src.tags()["GEOPROSPECT_SAMPLE_UNIT"].startswith("cell")
    m = json.loads((out / "metrics.json").read_text())
    oof = m["out_of_fold"]
    assert m["default_model"] == "blend_cell" and oof["blend_cell"]["role"] == "model"
    # folds in map units, chosen automatically, three shifted layouts by default (mean and spread)
    assert "chosen automatically" in m["evaluation"]["blocks"] and len(m["evaluation"]["layouts"]) == 3
    assert {"std", "min", "max"} == set(oof["blend_cell"]["success_rate_auc_spread"])
    assert {n for n, r in oof.items() if r["role"] == "baseline"} == {"best_layer", "weights_of_evidence", "fuzzy", "logistic_cell", "random_forest_cell"}
    for r in oof.values():
        assert {"success_rate_auc", "capture_top_5pct", "capture_top_10pct", "capture_top_20pct", "roc_auc", "per_fold"} <= set(r)
        assert len(r["per_fold"]) == 15 and all(f["deposits"] > 0 for f in r["per_fold"])  # 3 layouts x 5 folds, every fold held deposits out
        assert r["n_deposits"] == 32  # every deposit scored out of fold
    # out of fold, far better than random (which would capture 20 % in the top 20 %)
    assert oof["blend_cell"]["capture_top_20pct"] > 0.4 and oof["logistic_cell"]["success_rate_auc"] > 0.8
    # in-sample figures are labelled so and never under out_of_fold
    assert "in-sample" in m["in_sample"]["label"] and "in_sample" not in json.dumps(oof)
    assert "windows_test" not in m and "deposits_all" not in m


def test_manifest(sample_run):
    out, _ = sample_run
    man = json.loads((out / "manifest.json").read_text())
    assert set(man["timings_s"]) >= {"stack", "tile", "crossval", "train", "predict", "evaluate", "total"}
    assert any(k.endswith("samples.csv") for k in man["inputs"])
    assert all(len(v["sha256"]) == 64 for v in man["inputs"].values())
    assert man["versions"]["torch"] and man["config"]["train"]["epochs"] == 4
    assert man["metrics"]["out_of_fold"]["blend_cell"]["success_rate_auc"] > 0.5


def test_attribution_importance_and_target_layers(sample_run):
    """The default run (blend_cell, scikit-learn: occlusion) writes attribution.tif on the grid of
    prospectivity.tif, one band per evidence layer; the importance of every layer; targets' top layers."""
    import geopandas as gpd

    out, _ = sample_run
    with rasterio.open(out / "attribution.tif") as a, rasterio.open(out / "prospectivity.tif") as p, rasterio.open(out / "stack.tif") as st:
        assert a.crs == p.crs and a.transform == p.transform and (a.width, a.height) == (p.width, p.height)
        assert a.descriptions == st.descriptions and a.nodata == -9999.0  # no categorical layer: one band per stack band
        assert a.tags()["GEOPROSPECT_ATTRIBUTION"] == "occlusion"
        scored = p.read(1, masked=True).mask == a.read(1, masked=True).mask
        assert scored.all()  # attributed exactly where the map is scored
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["importance"]) == set(st.descriptions)
    assert all({"drop_success_rate_auc", "std"} == set(v) for v in m["importance"].values())
    spread = m["out_of_fold"]["blend_cell"]["success_rate_auc_spread"]  # importance is measured on the first layout
    assert spread["min"] - 1e-9 <= m["attribution"]["importance_base_success_rate_auc"] <= spread["max"] + 1e-9
    t = gpd.read_file(out / "targets.gpkg")
    assert len(t) and {"top1", "top1_value", "top2", "top3_value"} <= set(t.columns) and set(t["top1"]) <= set(st.descriptions)
    html = (out / "report" / "index.html").read_text()
    assert "importance.png" in html and "layer 1" in html and (out / "report" / "importance.png").exists()
    assert "attribution.png" in html and (out / "report" / "attribution.png").exists()


def test_existing_run_is_not_overwritten(sample_run):
    out, cfg = sample_run
    before = (out / "prospectivity.tif").read_bytes()
    r = CliRunner().invoke(cli, ["--progress", "none", "run", str(cfg), "--out", str(out)])
    assert r.exit_code == 2 and "already holds a run" in r.output and "--overwrite" in r.output
    assert (out / "prospectivity.tif").read_bytes() == before


def test_resume_skips_finished_stages(sample_run):
    out, cfg = sample_run
    r = CliRunner().invoke(cli, ["--progress", "none", "--log-level", "INFO", "run", str(cfg), "--out", str(out), "--resume"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    man = json.loads((out / "manifest.json").read_text())
    assert man["timings_s"]["train"] < 5  # the model was loaded, not retrained
    assert man["timings_s"]["crossval"] < 5  # the out-of-fold table was read back


def test_calibrated_map_uncertainty_and_their_figures(sample_run):
    """Issue 13: calibrated probability band, uncertainty.tif like the map, targets with their
    spread, metrics.json's calibration, and the report's figures (also after --resume)."""
    import geopandas as gpd
    import numpy as np

    from geoprospect.evaluation.calibration import Calibrator

    out, _ = sample_run
    m = json.loads((out / "metrics.json").read_text())
    cal = m["calibration"]
    assert cal["method"] == "platt" and {"brier", "ece", "reliability", "description"} <= set(cal)
    assert cal["brier"]["after"] < cal["brier"]["before"] and cal["ece"]["after"] < cal["ece"]["before"]  # blend_cell's sigmoid is no probability
    assert len(cal["reliability"]["after"]) == 10
    with rasterio.open(out / "prospectivity.tif") as src:
        assert src.tags()["GEOPROSPECT_CALIBRATION"].startswith("Platt") and "Platt" in src.tags(1)["CALIBRATION"]
        p, margin = src.read(1, masked=True), src.read(2, masked=True)
    np.testing.assert_allclose(p.compressed(), Calibrator.from_dict(cal["calibrator"]).apply(margin.compressed()), rtol=1e-5)
    with rasterio.open(out / "prospectivity_fullres.tif") as ref, rasterio.open(out / "uncertainty.tif") as src:
        assert (src.crs, src.transform, src.shape, src.nodata) == (ref.crs, ref.transform, ref.shape, ref.nodata)
        assert src.descriptions[:2] == ("member_std", "member_mean") and "5 fold models" in src.tags()["GEOPROSPECT_UNCERTAINTY"]
        std = src.read(1, masked=True)
        assert 0 <= std.min() and 0 < std.max() < 0.5
        assert (std.mask == ref.read(1, masked=True).mask).all()  # the same cells as the map
    assert m["uncertainty"]["members"].count("fold") == 5 and m["uncertainty"]["mc_dropout_passes"] == 0  # blend_cell has no dropout
    t = gpd.read_file(out / "targets.gpkg")
    assert len(t) and "mean_spread" in t and t["mean_spread"].between(0, 0.5).all()
    html = (out / "report" / "index.html").read_text()
    assert "Calibration" in html and "reliability.png" in html and "uncertainty.png" in html
    assert (out / "report" / "reliability.png").stat().st_size > 0 and (out / "report" / "uncertainty.png").stat().st_size > 0
