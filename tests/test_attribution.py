"""Weights of evidence and fuzzy overlay as out-of-fold rows; permutation importance; attribution.tif;
the targets' most contributing layers. Checked against hand-computed values and GDAL read-back."""

import json
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pytest
import shapely
import torch
from conftest import deposit_area
from sklearn.linear_model import LogisticRegression
from torch import nn

from geoprospect.evaluation.classic import fuzzy_scorer, window_area, woe_scorer
from geoprospect.evaluation.importance import KEY, permutation_importance
from geoprospect.evaluation.metrics import deposit_flat
from geoprospect.evaluation.oof import evaluate_out_of_fold, make_splits
from geoprospect.evaluation.targets import top_layers
from geoprospect.evidence.fuzzy import percentile
from geoprospect.grid import GridSpec
from geoprospect.pipeline.attribution import layer_groups, read_attribution
from geoprospect.pipeline.config import RunConfig
from geoprospect.prediction.attribution import IG, OCCLUSION, Attribution, window_attribution, write_attribution
from geoprospect.training.config import TrainConfig
from geoprospect.windows.dataset import normalise


def _area(seed: int = 1):
    """A 64 x 64-cell area: 12 deposits spread over it, bands: distance to them (plus up to 3 cells
    of noise, so that some deposits lie outside every pattern near 0 and weights are defined), noise, a trend."""
    return deposit_area(12, spread=True, jitter=3.0, seed=seed)


def test_percentile_membership_by_hand():
    ref = np.array([1.0, 2.0, 2.0, 3.0])
    # below all: clipped to 0.5/n; 2 (ties count half): (1 + 3) / 8; above all: 1 - 0.5/n; NaN stays
    np.testing.assert_allclose(percentile(np.array([0.0, 2.0, 2.5, 9.0, np.nan]), ref), [0.125, 0.5, 0.75, 0.875, np.nan])


def test_window_area_is_the_union_of_footprints():
    a = window_area((10, 10), np.array([0, 5]), np.array([0, 6]), 3)
    ref = np.zeros((10, 10), bool)
    ref[0:3, 0:3] = ref[5:8, 6:9] = True
    assert (a == ref).all()


def test_classic_rows_in_the_out_of_fold_table():
    stack, windows, deps = _area()
    splits = make_splits(stack, windows, deps, method="cv", folds=3, block_size=16, buffer=None, layouts=1, seed=0)
    res = evaluate_out_of_fold(stack, windows, deps, splits, model="logistic_cell", train_cfg=TrainConfig(model="logistic_cell", device="cpu"),
                               baselines=["weights_of_evidence", "fuzzy"])
    t = res.table
    assert [t[n]["role"] for n in ("weights_of_evidence", "fuzzy")] == ["baseline", "baseline"]
    # near the deposits is good: both find it on every fold, well above random (0.5); the binary
    # patterns of weights of evidence tie whole areas, so it ranks below the fuzzy overlay's continuous scores
    assert t["weights_of_evidence"]["success_rate_auc"] > 0.65 and t["fuzzy"]["success_rate_auc"] > 0.8
    assert all(c["layers"]["dist"]["pattern"] == "ascending" for c in t["weights_of_evidence"]["chosen"])


@pytest.mark.parametrize("make", [woe_scorer, fuzzy_scorer])
def test_classic_rows_never_read_test_fold_deposits(make):
    stack, windows, deps = _area()
    split = make_splits(stack, windows, deps, method="cv", folds=3, block_size=16, buffer=None, layouts=1, seed=0)[0]
    f = split.folds[0]
    dep = deposit_flat(stack.grid, deps)
    size = int(windows["size"].iloc[0])
    train_area = window_area(stack.grid.shape, windows["row_off"].to_numpy()[f.train], windows["col_off"].to_numpy()[f.train], size).ravel()
    # other deposits in the test area (outside the training area): added, or the test ones removed
    test_cells = np.flatnonzero(window_area(stack.grid.shape, windows["row_off"].to_numpy()[f.test], windows["col_off"].to_numpy()[f.test], size).ravel() & ~train_area)
    moved = np.concatenate([dep[train_area[dep]], test_cells[::37]])
    removed = dep[train_area[dep]]
    assert not np.array_equal(np.sort(moved), np.sort(dep))
    p0, m0 = make(stack, windows, dep)(f.train, f.test, f.k)
    for d in (moved, removed):
        p1, m1 = make(stack, windows, d)(f.train, f.test, f.k)
        np.testing.assert_array_equal(p0, p1)
        np.testing.assert_array_equal(m0, m1)
    # ... while the training-area deposits do matter: moved to the training cells farthest from the real ones
    far = np.flatnonzero(train_area & stack.valid.ravel())[np.argsort(stack.data[0].ravel()[train_area & stack.valid.ravel()])[-12:]]
    p2, _ = make(stack, windows, far)(f.train, f.test, f.k)
    assert not np.allclose(p0, p2)


class OneBand(nn.Module):
    """logit margin = w * (sum of band ``b`` over the window): uses that band only."""

    def __init__(self, b: int = 0, w: float = -0.05):
        super().__init__()
        self.b = b
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        m = self.w * x[:, self.b].sum(dim=(1, 2))
        return torch.stack([torch.zeros_like(m), m], dim=1)


def test_permutation_importance_of_a_one_band_model():
    stack, windows, deps = _area()
    split = make_splits(stack, windows, deps, method="cv", folds=3, block_size=16, buffer=None, layouts=1, seed=0)[0]
    models = [(f.k, OneBand(0)) for f in split.folds]
    area = np.ones(stack.grid.shape, bool)
    imp = permutation_importance(stack, windows, deposit_flat(stack.grid, deps), split, models, {"dist": [0], "noise": [1], "trend": [2]}, area=area, repeats=2, device="cpu")
    lay = imp["layers"]
    assert list(lay)[0] == "dist" and lay["dist"][KEY] > 0.2 and lay["dist"]["std"] >= 0
    assert lay["noise"] == {KEY: 0.0, "std": 0.0} and lay["trend"] == {KEY: 0.0, "std": 0.0}
    assert imp["base_success_rate_auc"] > 0.8 and imp["repeats"] == 2
    # same seed, same figures
    again = permutation_importance(stack, windows, deposit_flat(stack.grid, deps), split, models, {"dist": [0], "noise": [1], "trend": [2]}, area=area, repeats=2, device="cpu")
    assert again == imp


@pytest.mark.parametrize("method", [IG, OCCLUSION])
def test_attribution_of_a_one_band_model_goes_to_that_band(method):
    rng = np.random.default_rng(0)
    norm = rng.normal(size=(3, 20, 20)).astype(np.float32)
    offsets = np.array([[0, 0], [4, 6], [12, 12]])
    model = OneBand(1, 0.3)
    a, used = window_attribution(model, norm, offsets, 8, {"a": [0], "b": [1], "c": [2]}, method=method, steps=8, device="cpu")
    assert used == method and a.shape == (3, 3)
    assert (a[:, [0, 2]] == 0).all()
    # linear model: both methods give w * (sum of the band over the window) exactly (the margin at 0 is 0)
    expect = [0.3 * norm[1, r:r + 8, c:c + 8].sum() for r, c in offsets]
    np.testing.assert_allclose(a[:, 1], expect, rtol=1e-4, atol=1e-4)


def test_integrated_gradients_of_a_cnn_add_up_to_the_margin_change():
    """Completeness (Sundararajan et al. 2017): per window, the layers' attributions add up to
    margin(window) - margin(all-zero window), up to the integration error."""
    from geoprospect.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("lenet", 3, 2, 28, dropout=0.0).eval()
    norm = np.random.default_rng(3).normal(size=(3, 40, 40)).astype(np.float32)
    offs = np.array([[0, 0], [5, 9], [12, 12]])
    a, used = window_attribution(model, norm, offs, 28, {"a": [0], "bc": [1, 2]}, steps=64, device="cpu")
    assert used == IG and a.shape == (3, 2)
    with torch.no_grad():
        x = torch.stack([torch.from_numpy(norm[:, r:r + 28, c:c + 28]) for r, c in offs])
        lg, l0 = model(x), model(torch.zeros_like(x))
    np.testing.assert_allclose(a.sum(axis=1), (lg[:, 1] - lg[:, 0] - (l0[:, 1] - l0[:, 0])).numpy(), rtol=0.02, atol=1e-3)


def test_occlusion_of_a_per_cell_logistic_is_coefficient_times_z():
    """scikit-learn (no gradients) -> occlusion; per-cell logistic: attribution = coef x z-value (scaler folded in)."""
    from geoprospect.models.registry import build_model

    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 2, 5, 5)).astype(np.float32)
    y = (x[:, 0, 2, 2] + 0.3 * rng.normal(size=200) > 0).astype(int)
    m = build_model("logistic_cell", 2, 2, 5).fit_arrays(x, y)
    norm = rng.normal(size=(2, 12, 12)).astype(np.float32)
    offs = np.array([[0, 0], [3, 4], [7, 7]])
    a, used = window_attribution(m, norm, offs, 5, {"a": [0], "b": [1]}, device="cpu")
    assert used == OCCLUSION
    sc, lr = m.pipeline[0], m.pipeline[-1]
    assert isinstance(lr, LogisticRegression)
    centre = np.array([[norm[b, r + 2, c + 2] for b in range(2)] for r, c in offs])
    np.testing.assert_allclose(a, lr.coef_[0] / sc.scale_ * centre, rtol=1e-6, atol=1e-9)


def test_attribution_tif_read_back_with_gdal(tmp_path):
    grid = GridSpec.from_bounds((500000.0, 2800000.0, 501600.0, 2801200.0), 400.0, "EPSG:32649")
    vals = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)
    vals[1, 0, 0] = np.nan
    attr = Attribution(vals, ["dist_faults", "geology"], grid, OCCLUSION)
    write_attribution(attr, tmp_path / "attribution.tif", model_name="blend_cell")
    back = read_attribution(tmp_path / "attribution.tif")
    assert back.names == ["dist_faults", "geology"] and back.method == OCCLUSION
    np.testing.assert_array_equal(back.values, vals)
    if shutil.which("gdalinfo") is None:
        pytest.skip("gdalinfo not installed")
    info = json.loads(subprocess.run(["gdalinfo", "-json", str(tmp_path / "attribution.tif")], capture_output=True, text=True, check=True).stdout)
    assert 'ID["EPSG",32649]' in info["coordinateSystem"]["wkt"]
    assert info["geoTransform"] == [500000.0, 400.0, 0.0, 2801200.0, 0.0, -400.0]
    assert info["size"] == [4, 3]
    assert [b["description"] for b in info["bands"]] == ["dist_faults", "geology"]
    assert all(b["noDataValue"] == -9999.0 for b in info["bands"])


def test_targets_list_their_three_most_contributing_layers():
    grid = GridSpec.from_bounds((0.0, 0.0, 1000.0, 1000.0), 100.0, "EPSG:32649")
    vals = np.zeros((4, 10, 10))
    vals[:, :5, :5] = np.array([0.1, 0.5, -0.2, 0.3])[:, None, None]  # north-west: b, d, a
    vals[:, 5:, 5:] = np.array([0.9, 0.0, 0.2, np.nan])[:, None, None]  # south-east: a, c, b (d has no value)
    targets = gpd.GeoDataFrame({"target": [1, 2]}, geometry=[shapely.box(0, 500, 500, 1000), shapely.box(520, 20, 580, 80)], crs="EPSG:32649")
    out = top_layers(targets, vals, ["a", "b", "c", "d"], grid)
    assert list(out.loc[0, ["top1", "top2", "top3"]]) == ["b", "d", "a"]
    np.testing.assert_allclose(out.loc[0, ["top1_value", "top2_value", "top3_value"]].to_numpy(float), [0.5, 0.3, 0.1])
    # the small target holds no cell centre: the cell it touches counts
    assert list(out.loc[1, ["top1", "top2", "top3"]]) == ["a", "c", "b"]


def test_layer_groups_keep_a_categorical_layer_together():
    cfg = RunConfig.model_validate({"points": {"path": "p.csv", "x_field": "x", "y_field": "y", "elements": ["Au"]}, "grid": {"resolution": 100},
                                    "deposits": {"path": "d.gpkg"}, "vectors": [{"name": "geo", "path": "g.gpkg", "kind": "categorical", "field": "unit"},
                                                                                  {"name": "geo_dist", "path": "g.gpkg", "kind": "distance"}]})
    g = layer_groups(cfg, ["log10_Au", "geo_granite", "geo_basalt", "geo_dist"])
    assert g == {"log10_Au": [0], "geo": [1, 2], "geo_dist": [3]}


def test_normalised_zero_is_the_mean():
    data = np.array([[[1.0, 3.0]]], dtype=np.float32)
    assert normalise(data, [2.0], [1.0]).tolist() == [[[-1.0, 1.0]]]
