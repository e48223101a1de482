import numpy as np
import pytest
from sklearn import metrics as skm

from geoprospect.evaluation.metrics import deposit_capture, success_rate, window_metrics


def test_window_metrics_are_sklearns(rng):
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.3 + rng.uniform(0, 0.7, 200), 0, 1)
    m = window_metrics(y, p)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert m["f1"] == pytest.approx(skm.f1_score(y, p >= 0.5))
    assert m["confusion_matrix"] == skm.confusion_matrix(y, p >= 0.5).tolist()


def test_success_rate_without_ties_matches_brute_force(rng):
    s = rng.normal(size=(20, 30))
    dep = rng.choice(s.size, 12, replace=False)
    sr = success_rate(s, dep)
    order = np.argsort(-s.ravel())
    rank = np.empty(s.size, int)
    rank[order] = np.arange(s.size)
    for f in (0.05, 0.1, 0.2, 0.5):
        k = int(round(f * s.size))
        assert sr.capture_at(f) == pytest.approx(np.mean(rank[dep] < k))
    # AUC = mean over deposits of the fraction of cells ranked below (+ half a cell)
    assert sr.auc == pytest.approx(np.mean(1 - (rank[dep] + 0.5) / s.size), abs=1e-9)


def test_ties_are_spread_not_flattering():
    s = np.zeros(100)  # a saturated model: every cell scores the same
    sr = success_rate(s, np.array([1, 2, 3, 4]))
    assert sr.capture_at(0.1) == pytest.approx(0.1)
    assert sr.auc == pytest.approx(0.5)


def test_nan_cells_are_outside_the_area():
    s = np.array([3.0, 2.0, np.nan, 1.0])
    c = deposit_capture(s, np.array([0, 2]), fractions=(1 / 3,))
    assert c["n_cells"] == 3 and c["n_deposits"] == 1
    assert c["capture_top_33pct"] == pytest.approx(1.0)
