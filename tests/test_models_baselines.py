"""scikit-learn baselines on windows (paper 001) and the sample-level net of paper 004."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoprospect.errors import InputError, ModelError
from geoprospect.models.baselines import BASELINES, WindowClassifier, flatten_windows
from geoprospect.models.sample_level import classification_report, predict_proba, probability_map, split_indices, train_sample_model


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


def _windows(n=60, c=3, w=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, w, w)).astype(np.float32)
    y = np.arange(n) % 2
    x[y == 1, 0] += 1.5
    return x, y


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_fit_windows(name):
    x, y = _windows()
    xt, yt = _windows(seed=1)
    clf = WindowClassifier(name).fit(x, y)
    proba = clf.predict_proba(xt)
    assert proba.shape == (len(xt), 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-9)
    assert (clf.predict(xt) == yt).mean() >= 0.8
    s = clf.decision_scores(xt)
    assert s.shape == (len(xt),) and np.isfinite(s).all()


def test_baseline_equals_sklearn_on_flattened_windows():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _windows()
    flat = x.reshape(len(x), -1).astype(np.float64)
    ref = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(flat, y)
    ours = WindowClassifier("logistic").fit(x, y)
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(flat))


def test_baseline_errors():
    x, y = _windows()
    with pytest.raises(ModelError, match="unknown baseline"):
        WindowClassifier("xgboost").fit(x, y)
    with pytest.raises(InputError, match="both classes"):
        WindowClassifier("knn").fit(x, np.zeros(len(x), int))
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        flatten_windows(bad)
    with pytest.raises(InputError, match=r"\(N, C, H, W\)"):
        flatten_windows(x[0])
    clf = WindowClassifier("decision_tree").fit(x, y)
    with pytest.raises(InputError, match="fitted on"):
        clf.predict(x[:, :2])
    with pytest.raises(ModelError, match="not fitted"):
        WindowClassifier("svm").predict(x)


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
