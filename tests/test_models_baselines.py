"""scikit-learn baselines as registered window models (paper 001; per cell as EIS Toolkit) and the sample-level net of paper 004."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoprospect.errors import InputError, ModelError
from geoprospect.models import build_model, list_models
from geoprospect.models.baselines import BASELINES, CELL_BASELINES, SklearnModel, centre_cells, flatten_windows
from geoprospect.models.sample_level import classification_report, predict_proba, probability_map, split_indices, train_sample_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


def _windows(n=60, c=3, w=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, w, w)).astype(np.float32)
    y = np.arange(n) % 2
    x[y == 1, 0] += 1.5
    return x, y


def _fit(name, x, y, seed=0):
    m = build_model(name, x.shape[1], 2, x.shape[-1])
    return m.fit_arrays(x, y, random_state=seed)


@pytest.mark.parametrize("name", BASELINES + CELL_BASELINES)
def test_baselines_are_registered_window_models(name):
    x, y = _windows()
    xt, yt = _windows(seed=1)
    assert name in list_models()
    m = _fit(name, x, y)
    logits = m(torch.from_numpy(xt))
    assert logits.shape == (len(xt), 2) and logits.dtype == torch.float64 and torch.isfinite(logits).all()
    proba = torch.softmax(logits, 1)[:, 1].numpy()
    assert ((proba > 0.5) == yt).mean() >= 0.8


def test_baseline_equals_sklearn_on_flattened_windows_and_centre_cells():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _windows()
    flat = x.reshape(len(x), -1).astype(np.float64)
    ref = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(flat, y)
    lg = _fit("logistic", x, y)(torch.from_numpy(x))
    np.testing.assert_allclose(torch.softmax(lg, 1).numpy(), ref.predict_proba(flat), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose((lg[:, 1] - lg[:, 0]).numpy(), ref.decision_function(flat))  # the margin: no ties
    cells = x[:, :, 2:4, 2:4].astype(np.float64).reshape(len(x), x.shape[1], 4).mean(2)  # 6 x 6: the 2 x 2 centre
    np.testing.assert_allclose(centre_cells(x), cells, rtol=1e-12)
    ref = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(cells, y)
    lg = _fit("logistic_cell", x, y)(torch.from_numpy(x))
    np.testing.assert_allclose(torch.softmax(lg, 1).numpy(), ref.predict_proba(cells), rtol=1e-9, atol=1e-12)
    odd = np.arange(2 * 5 * 5, dtype=np.float32).reshape(1, 2, 5, 5)
    np.testing.assert_array_equal(centre_cells(odd), [[12.0, 37.0]])  # odd side: the centre cell itself


def test_baseline_checkpoint_round_trip_is_safe(tmp_path):
    from geoprospect.models.checkpoint import ModelMeta, load_checkpoint, save_checkpoint

    x, y = _windows()
    for name in ("random_forest", "logistic_cell", "svm"):
        m = _fit(name, x, y)
        save_checkpoint(tmp_path / name, m, ModelMeta(name, 3, ["a", "b", "c"], [0.0] * 3, [1.0] * 3, 6, 3))
        assert set(torch.load(tmp_path / name / "model.pt", weights_only=True)) == {"_extra_state"}
        back, meta = load_checkpoint(tmp_path / name, ["a", "b", "c"])
        # a random forest sums its trees' votes in the order its threads finish (n_jobs=-1): equal to rounding
        torch.testing.assert_close(back(torch.from_numpy(x)), m(torch.from_numpy(x)), rtol=1e-6, atol=1e-9)
    # bytes naming a type outside the allow-list are refused before anything is built
    import skops.io as sio

    evil = torch.frombuffer(bytearray(sio.dumps({"f": print})), dtype=torch.uint8)  # a function: not an estimator
    state = {"_extra_state": evil}
    with pytest.raises(ModelError, match="refusing"):
        build_model("logistic", 3, 2, 6).load_state_dict(state)


def test_baseline_errors():
    x, y = _windows()
    with pytest.raises(ModelError, match="unknown baseline"):
        SklearnModel("xgboost", "flattened", 3, 6)
    with pytest.raises(InputError, match="both classes"):
        _fit("knn", x, np.zeros(len(x), int))
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        flatten_windows(bad)
    with pytest.raises(InputError, match=r"\(N, C, H, W\)"):
        flatten_windows(x[0])
    m = _fit("decision_tree", x, y)
    with pytest.raises(InputError, match="built for"):
        m(torch.from_numpy(x[:, :2]))
    with pytest.raises(ModelError, match="not fitted"):
        build_model("svm", 3, 2, 6)(torch.from_numpy(x))


def test_fit_trains_a_baseline_through_the_one_entry_point(tmp_path):
    from geoprospect.training.config import TrainConfig
    from geoprospect.training.fit import fit
    from geoprospect.windows.dataset import WindowDataset

    x, y = _windows(n=40, w=8)
    data = np.concatenate(list(x), axis=2)  # windows side by side: (C, 8, 40 * 8)
    ds = WindowDataset(data, np.stack([np.zeros(40, int), np.arange(40) * 8], 1), 8, y)
    cfg = TrainConfig(model="random_forest_cell", crop=6, seed=3, device="cpu", options={"n_estimators": 20})
    model, hist = fit(None, ds, cfg, val_ds=ds, out_dir=tmp_path)
    assert isinstance(model, SklearnModel) and model.input_shape == (3, 6, 6) and model.pipeline[-1].n_estimators == 20
    assert model.pipeline[-1].random_state == 3
    assert [r["epoch"] for r in hist.rows] == [1] and hist.rows[0]["accuracy"] >= 0.8 and "val_loss" in hist.rows[0]
    assert (tmp_path / "curves.csv").read_text().startswith("epoch,loss,accuracy,val_loss")
    again, _ = fit("random_forest_cell", ds, cfg)
    xt = torch.from_numpy(x[:, :, 1:7, 1:7].copy())  # centre crops, as scored
    torch.testing.assert_close(again(xt), model(xt), rtol=1e-6, atol=1e-9)  # seeded (tree votes summed in thread order)
    # the history's loss (scored in one chunk) is scikit-learn's log loss of the model's probabilities
    from sklearn.metrics import log_loss

    p = torch.softmax(model(xt).double(), 1)[:, 1].numpy()
    assert hist.rows[0]["loss"] == pytest.approx(log_loss(y, p, labels=[0, 1]), rel=1e-9)
    assert hist.rows[0]["accuracy"] == pytest.approx(float(((p > 0.5) == y).mean()))


# ---------------------------------------------------------------- paper 004
def _factor_scores(n=400, k=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centres = rng.normal(scale=3.0, size=(k, 5))
    return centres[y] + rng.normal(size=(n, 5)), y


def test_split_is_75_10_15_and_disjoint():
    tr, va, te = split_indices(1000)
    assert (len(tr), len(va), len(te)) == (750, 100, 150)
    assert len(np.unique(np.concatenate([tr, va, te]))) == 1000
    with pytest.raises(InputError):
        split_indices(10, (0.5, 0.5, 0.5))


def test_sample_model_learns_and_reports():
    x, y = _factor_scores()
    res = train_sample_model(x, y, epochs=60, class_names=["a", "b", "c", "d"])
    rep = res.test_report
    assert rep["accuracy"] >= 0.85
    assert rep["classes"] == ["a", "b", "c", "d"] and len(rep["auc"]) == 4
    cm = np.array(rep["confusion_matrix"])
    assert cm.sum() == len(res.test_idx) and np.trace(cm) / cm.sum() == pytest.approx(rep["accuracy"])
    assert res.model.net[1].__class__.__name__ == "ReLU" and res.model.net[0].out_features == 20  # paper 004's FC(20)


def test_classification_report_matches_sklearn():
    from sklearn.metrics import f1_score, roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 200)
    p = rng.dirichlet(np.ones(3), 200)
    rep = classification_report(y, p)
    np.testing.assert_allclose(rep["f1"], f1_score(y, p.argmax(1), average=None, labels=[0, 1, 2]))
    assert rep["auc"][1] == pytest.approx(roc_auc_score(y == 1, p[:, 1]))
    rep = classification_report(np.zeros(5, int), np.full((5, 2), 0.5))
    assert rep["auc"] == [None, None]  # undefined with a single class, not invented


def test_sample_probability_map_uses_idw():
    from pyproj import CRS

    from geoprospect.evidence.idw import idw
    from geoprospect.grid import GridSpec

    x, y = _factor_scores(n=120)
    res = train_sample_model(x, y, epochs=5)
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1000, size=(len(x), 2)) + [500000, 7000000]
    grid = GridSpec.from_bounds((500000, 7000000, 501000, 7001000), 100, CRS.from_epsg(32750))
    m = probability_map(res.model, xy, x, grid, power=2, neighbors=8)
    assert m.shape == (4, 10, 10)
    np.testing.assert_allclose(m, idw(xy, predict_proba(res.model, x), grid, power=2, neighbors=8))
    np.testing.assert_allclose(np.nansum(m, 0), 1.0, atol=1e-5)  # IDW of probabilities stays a distribution


def test_sample_model_bad_input():
    with pytest.raises(InputError, match="NaN"):
        train_sample_model(np.array([[np.nan, 1.0], [1.0, 2.0]]), np.array([0, 1]))
    with pytest.raises(InputError, match="integer"):
        train_sample_model(np.ones((4, 2)), np.array([0.5, 1, 0, 1]))


def test_blend_cell_is_the_mean_of_its_z_scored_members_and_round_trips(tmp_path):
    """blend_cell = (z(logit P_forest) + z(logistic decision)) / 2, z over the training cells; saved and loaded bit for bit."""
    import io

    from imblearn.ensemble import BalancedRandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from geoprospect.models.registry import build_model

    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3, 5, 5)).astype(np.float32)
    y = (x[:, 0, 2, 2] + 0.5 * x[:, 1, 2, 2] > 1.2).astype(int)
    m = build_model("blend_cell", 3, 2, 5)
    m.fit_arrays(x, y)
    got = m(torch.from_numpy(x)).numpy()
    feats = StandardScaler().fit(x[:, :, 2, 2].astype(np.float64)).transform(x[:, :, 2, 2].astype(np.float64))
    rf = BalancedRandomForestClassifier(n_estimators=100, sampling_strategy="all", replacement=True, bootstrap=False, max_features="sqrt", random_state=0).fit(feats, y)
    p = np.clip(rf.predict_proba(feats)[:, 1], 1e-15, 1 - 1e-15)
    a = np.log(p) - np.log1p(-p)
    b = LogisticRegression(C=1.0, max_iter=2000).fit(feats, y).decision_function(feats)
    want = 0.5 * ((a - a.mean()) / (a.std() + 1e-12) + (b - b.mean()) / (b.std() + 1e-12))
    np.testing.assert_allclose(got[:, 1], want, rtol=0, atol=1e-9)
    assert np.all(got[:, 0] == 0)
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    m2 = build_model("blend_cell", 3, 2, 5)
    m2.load_state_dict(torch.load(buf, weights_only=True))
    np.testing.assert_allclose(m2(torch.from_numpy(x)).numpy(), got, rtol=1e-6, atol=1e-9)  # torch's CPU kernels: not bit-reproducible
