"""Spatial block cross-validation: no window is scored by a model that saw its block or an overlapping window."""

import numpy as np
import pytest

from geoprospect.errors import GridError
from geoprospect.windows.folds import RANDOM_LABEL, cross_val_scores, make_folds, overlapping_pairs, random_folds, spatial_block_folds


def _offsets(H, W, size, stride):
    r, c = np.meshgrid(np.arange(0, H - size + 1, stride), np.arange(0, W - size + 1, stride), indexing="ij")
    return r.ravel(), c.ravel()


@pytest.mark.parametrize("size,stride,block,k", [(8, 4, 20, 5), (6, 2, 13, 3), (4, 4, 16, 2)])
def test_no_leak_between_train_and_test(size, stride, block, k):
    H, W = 64, 72
    ro, co = _offsets(H, W, size, stride)
    split = spatial_block_folds(ro, co, size, (H, W), k=k, block_size=block, seed=3)
    n = ro.size
    tested = np.concatenate([f.test for f in split.folds])
    # every window is tested exactly once
    assert np.array_equal(np.sort(tested), np.arange(n))
    buf = split.buffer
    assert buf == size // 2
    for f in split.folds:
        assert np.intersect1d(f.train, f.test).size == 0
        assert np.intersect1d(f.train, f.excluded).size == 0
        assert f.train.size + f.test.size + f.excluded.size == n
        assert f.train.size > 0
        # no training window overlaps, or comes within the buffer of, any test window (checked pair by pair)
        assert overlapping_pairs(ro[f.train], co[f.train], ro[f.test], co[f.test], size, gap=buf) == 0
        # no training window touches a pixel of the fold's blocks
        area = np.zeros((H, W), dtype=bool)
        nbc = split.block_grid[1]
        for b in f.blocks:
            br, bc = divmod(int(b), nbc)
            area[br * block : (br + 1) * block, bc * block : (bc + 1) * block] = True
        for i in f.train:
            assert not area[ro[i] : ro[i] + size, co[i] : co[i] + size].any()
        # the test windows are those whose centre lies in the fold's blocks
        centre_block = ((ro + size // 2) // block) * nbc + (co + size // 2) // block
        assert set(f.test.tolist()) == set(np.flatnonzero(np.isin(centre_block, f.blocks)).tolist())


def test_cross_val_scores_uses_the_right_model_for_each_window():
    H = W = 48
    size = 8
    ro, co = _offsets(H, W, size, 4)
    split = spatial_block_folds(ro, co, size, (H, W), k=4, block_size=12, seed=0)
    seen = {}

    def fit_score(train, test, k):
        seen[k] = set(train.tolist())
        return np.full(test.size, k / 10.0), np.full(test.size, float(k))

    oof = cross_val_scores(split, ro.size, fit_score)
    assert np.all(oof.fold >= 0) and np.all(np.isfinite(oof.prob))
    for i in range(ro.size):
        k = oof.fold[i]
        assert oof.margin[i] == k
        # the model that scored window i never trained on it nor on a window overlapping it
        overl = np.flatnonzero((np.abs(ro - ro[i]) < size) & (np.abs(co - co[i]) < size))
        assert not (set(overl.tolist()) & seen[k])


def test_pooled_scores_are_z_scored_against_each_fold_models_own_training_windows():
    """Fold models whose margins differ by a constant per fold rank alike once pooled: each
    fold's test margins are z-scored against that model's scores of (a seeded sample of) its
    own training windows, never its test windows."""
    H = W = 48
    ro, co = _offsets(H, W, 1, 1)
    split = spatial_block_folds(ro, co, 1, (H, W), k=4, block_size=12, seed=0)
    x = np.random.default_rng(1).normal(size=ro.size)
    asked = {}

    def fit_score(train, test, k):
        asked[k] = test
        m = 3.0 * x[test] + 100.0 * k  # one fold model's scale and offset
        return 1 / (1 + np.exp(-m)), m

    oof = cross_val_scores(split, ro.size, fit_score, reference=200, seed=5)
    for f in split.folds:
        te = asked[f.k]
        assert np.array_equal(te[: f.test.size], f.test)
        ref = te[f.test.size :]
        assert ref.size == 200 and np.isin(ref, f.train).all() and np.unique(ref).size == 200
        # independent: numpy's z-score of the test windows against the reference windows
        want = (x[f.test] - x[ref].mean()) / x[ref].std()
        np.testing.assert_allclose(oof.ranking[f.test], want, rtol=1e-9, atol=1e-9)
        assert np.array_equal(oof.margin[f.test], 3.0 * x[f.test] + 100.0 * f.k)  # the raw margins are kept
    assert sorted(oof.scales) == sorted(f.k for f in split.folds)
    # pooled, the fold offsets are gone: the ranking follows x across folds
    assert np.corrcoef(oof.ranking, x)[0, 1] > 0.99 and np.corrcoef(oof.margin, x)[0, 1] < 0.5
    again = cross_val_scores(split, ro.size, fit_score, reference=200, seed=5)
    assert np.array_equal(again.ranking, oof.ranking)  # the reference sample is seeded
    # without a reference nothing is pooled and the ranking is the raw margin
    raw = cross_val_scores(split, ro.size, fit_score)
    assert raw.scales == {} and np.array_equal(raw.ranking, raw.margin)


def test_folds_are_balanced_and_seeded():
    ro, co = _offsets(80, 80, 8, 4)
    a = spatial_block_folds(ro, co, 8, (80, 80), k=5, block_size=16, seed=1)
    b = spatial_block_folds(ro, co, 8, (80, 80), k=5, block_size=16, seed=1)
    c = spatial_block_folds(ro, co, 8, (80, 80), k=5, block_size=16, seed=2)
    assert all(np.array_equal(x.test, y.test) for x, y in zip(a.folds, b.folds))
    assert any(not np.array_equal(x.test, y.test) for x, y in zip(a.folds, c.folds))
    nb = np.bincount(a.fold_of_block[a.fold_of_block >= 0])
    assert nb.max() - nb.min() <= 1


def test_random_split_is_labelled_optimistic():
    s = make_folds(np.zeros(50, int), np.zeros(50, int), 8, (8, 8), kind="random", k=5)
    assert s.label == RANDOM_LABEL == "random (windows overlap: optimistic)"
    assert s.describe()["label"] == RANDOM_LABEL
    assert sorted(np.concatenate([f.test for f in s.folds]).tolist()) == list(range(50))
    # a random split does leak: overlapping windows on both sides
    ro, co = _offsets(40, 40, 8, 2)
    rs = random_folds(ro.size, k=5)
    f = rs.folds[0]
    assert overlapping_pairs(ro[f.train], co[f.train], ro[f.test], co[f.test], 8) > 0


def test_bad_settings_are_refused():
    ro, co = _offsets(32, 32, 8, 4)
    with pytest.raises(GridError, match="at least 2 folds"):
        spatial_block_folds(ro, co, 8, (32, 32), k=1)
    with pytest.raises(GridError, match="blocks"):
        spatial_block_folds(ro, co, 8, (32, 32), k=5, block_size=32)
    with pytest.raises(GridError, match="unknown cross-validation"):
        make_folds(ro, co, 8, (32, 32), kind="leave-one-out")


def _tiny_stack(tmp_path):
    from geoprospect.grid import GridSpec
    from geoprospect.io.rasters import write_raster

    grid = GridSpec.from_bounds((500000.0, 2800000.0, 503200.0, 2803200.0), 100.0, "EPSG:32649")  # 32 x 32
    rng = np.random.default_rng(0)
    rr, cc = np.mgrid[0:32, 0:32]
    data = np.stack([np.exp(-((rr - 8) ** 2 + (cc - 8) ** 2) / 20.0) + np.exp(-((rr - 24) ** 2 + (cc - 22) ** 2) / 20.0), rng.normal(size=(32, 32))]).astype(np.float32)
    write_raster(tmp_path / "stack.tif", data, grid, ["signal", "noise"])
    t = grid.transform
    cells = [(8, 8), (9, 7), (24, 22), (23, 23), (16, 28)]
    deps = np.array([[t.c + (c + 0.5) * t.a, t.f + (r + 0.5) * t.e] for r, c in cells])
    from conftest import make_deposits_gpkg

    make_deposits_gpkg(tmp_path / "dep.gpkg", deps)
    from geoprospect.windows.tiling import make_windows, write_windows

    win, _ = make_windows(np.ones((32, 32), bool), grid, deps, size=8, stride=4)
    write_windows(win, tmp_path / "windows.gpkg")
    return grid, deps


def test_evaluate_cv_refuses_a_fold_without_deposits(tmp_path):
    from click.testing import CliRunner

    from geoprospect.cli import cli

    _tiny_stack(tmp_path)  # 4 blocks of 16 px; deposits in two of them
    r = CliRunner().invoke(cli, ["--progress", "none", "evaluate-cv", str(tmp_path / "stack.tif"), "--windows", str(tmp_path / "windows.gpkg"), "--deposits", str(tmp_path / "dep.gpkg"), "--out", str(tmp_path / "cv"), "--folds", "4", "--block-size", "16", "--epochs", "1"])
    assert r.exit_code == 2, r.output
    assert "of 4 (16-px blocks shifted 0 px) would hold no positive window" in r.output
    assert "deposits per fold [" in r.output and "--block-size" in r.output and "--folds" in r.output
    assert not (tmp_path / "cv").exists()  # refused before any training or output


def test_evaluate_cv_and_ensemble_cli(tmp_path):
    import json

    import rasterio
    from click.testing import CliRunner

    from geoprospect.cli import cli

    _tiny_stack(tmp_path)
    r = CliRunner().invoke(cli, ["--progress", "none", "evaluate-cv", str(tmp_path / "stack.tif"), "--windows", str(tmp_path / "windows.gpkg"), "--deposits", str(tmp_path / "dep.gpkg"), "--out", str(tmp_path / "cv"), "--model", "resnet18", "--folds", "2", "--block-size", "16", "--epochs", "1", "--batch-size", "16"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "cv" / "cv_metrics.json").read_text())
    assert m["cv"]["label"] == "spatial blocks" and m["cv"]["k"] == 2
    assert sum(m["cv"]["windows_per_fold"]["test"]) == m["windows"]["n"] == 49
    assert m["deposits"]["n_deposits"] == 5
    # per-fold deposit counts: in the metrics and on the console (deposits spread over both folds)
    assert sum(m["cv"]["deposits_per_fold"]) == 5 and min(m["cv"]["deposits_per_fold"]) > 0
    assert sum(m["cv"]["positives_per_fold"]) == m["windows"]["n_positive"] and min(m["cv"]["positives_per_fold"]) > 0
    assert f"deposits {m['cv']['deposits_per_fold']}" in r.output and f"positive windows {m['cv']['positives_per_fold']}" in r.output
    with rasterio.open(tmp_path / "cv" / "cv_prospectivity.tif") as src:
        assert src.tags()["GEOPROSPECT_VALIDATION"] == "spatial blocks" and src.shape == (32, 32)
    assert (tmp_path / "cv" / "report" / "index.html").exists()

    # ensemble of two prospectivity rasters on one grid
    from geoprospect.grid import GridSpec
    from geoprospect.prediction.predict import Prediction, stride_grid, write_prediction

    g = stride_grid(GridSpec.from_raster(tmp_path / "stack.tif"), 8, 4)
    rng = np.random.default_rng(1)
    for i in range(3):
        p = rng.uniform(0.01, 0.99, g.shape)
        write_prediction(Prediction(p, np.log(p / (1 - p)), g, 8, 4), tmp_path / f"p{i}.tif")
    r = CliRunner().invoke(cli, ["--progress", "none", "ensemble", *(str(tmp_path / f"p{i}.tif") for i in range(3)), "--out", str(tmp_path / "ens.tif"), "--weights", "0.9,0.7,0.6", "--weights-from-auc", "--windows", str(tmp_path / "windows.gpkg")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    with rasterio.open(tmp_path / "ens.tif") as src:
        assert src.descriptions == ("simple_average", "weighted_average", "majority_vote", "plurality_vote", "weighted_vote", "spread_std")
        P = np.stack([rasterio.open(tmp_path / f"p{i}.tif").read(1) for i in range(3)])
        assert np.allclose(src.read(1), P.mean(0), atol=1e-6)
        assert np.allclose(src.read(6), P.std(0), atol=1e-6)
    t2 = json.loads((tmp_path / "ens.table2.json").read_text())
    assert set(t2["ensembles"]) == {"simple_average", "weighted_average", "majority_vote", "plurality_vote", "weighted_vote"}
    r = CliRunner().invoke(cli, ["--progress", "none", "ensemble", str(tmp_path / "p0.tif"), "--out", str(tmp_path / "e1.tif")])
    assert r.exit_code == 2 and "at least two" in r.output


def test_evaluate_cv_with_a_per_cell_baseline(tmp_path):
    """A scikit-learn baseline goes through the same cross-validation path (fit + scoring) as a CNN."""
    import json

    from click.testing import CliRunner

    from geoprospect.cli import cli
    from geoprospect.evaluation.crossval import cross_validate
    from geoprospect.io.rasters import read_stack
    from geoprospect.training.config import TrainConfig
    from geoprospect.windows.tiling import read_windows

    _, deps = _tiny_stack(tmp_path)
    r = CliRunner().invoke(cli, ["--progress", "none", "evaluate-cv", str(tmp_path / "stack.tif"), "--windows", str(tmp_path / "windows.gpkg"), "--deposits", str(tmp_path / "dep.gpkg"), "--out", str(tmp_path / "cv"), "--model", "logistic_cell", "--folds", "3", "--split", "random"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "cv" / "cv_metrics.json").read_text())
    assert m["model"] == "logistic_cell" and m["windows"]["n"] == 49 and m["windows"]["roc_auc"] > 0.5
    res = cross_validate(read_stack(tmp_path / "stack.tif"), read_windows(tmp_path / "windows.gpkg"), deps, train_cfg=TrainConfig(model="logistic_cell"), k=3, kind="random")
    assert res.metrics["windows"] == m["windows"]  # the library call and the command agree
    assert len(np.unique(res.oof.margin[np.isfinite(res.oof.margin)])) > 10  # ranked by the decision function, not tied probabilities
