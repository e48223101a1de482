import warnings

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


def test_deposit_area_ranks_add_up_to_the_success_rate_auc_ties_included():
    from geoprospect.evaluation.metrics import deposit_area_ranks

    rng = np.random.default_rng(4)
    s = np.round(rng.normal(size=(40, 50)), 1)  # many ties
    s[:2] = np.nan
    dep = np.concatenate([rng.integers(100, 2000, 30), [5]])  # the last one on an unranked cell
    r = deposit_area_ranks(s, dep)
    assert np.isnan(r[-1]) and np.isfinite(r[:-1]).all()
    v = s.ravel()[np.isfinite(s.ravel())]
    # independent reference: the share of ranked cells scoring above, plus half of those tied with it
    ref = [(np.sum(v > s.ravel()[d]) + 0.5 * np.sum(v == s.ravel()[d])) / v.size for d in dep[:-1]]
    np.testing.assert_allclose(r[:-1], ref, rtol=0, atol=1e-12)
    assert 1 - np.nanmean(r) == pytest.approx(success_rate(s, dep).auc, abs=1e-12)


def test_paired_block_bootstrap_gives_the_auc_difference_and_resamples_whole_blocks():
    from geoprospect.evaluation.metrics import deposit_area_ranks, paired_block_bootstrap

    rng = np.random.default_rng(5)
    base = rng.normal(size=(60, 60))
    dep = rng.choice(3600, 40, replace=False)
    better = base.copy()
    better.ravel()[dep[:20]] += 1.0  # half the deposits ranked higher by the second map
    a = np.stack([deposit_area_ranks(better, dep), deposit_area_ranks(better + 0.0, dep)])
    b = np.stack([deposit_area_ranks(base, dep)] * 2)
    blocks = np.repeat(np.arange(8), 5)  # 8 blocks of 5 deposits
    out = paired_block_bootstrap(a, b, blocks, seed=1)
    assert out["difference"] == pytest.approx(success_rate(better, dep).auc - success_rate(base, dep).auc, abs=1e-12)
    assert out["low"] <= out["difference"] <= out["high"] and out["clusters"] == 8
    assert paired_block_bootstrap(a, b, blocks, seed=1) == out  # seeded
    same = paired_block_bootstrap(b, b, blocks)
    assert same["difference"] == same["low"] == same["high"] == 0.0
    # the gain sits in blocks 0-3 only: resampling blocks is wider than resampling deposits one by one
    iid = paired_block_bootstrap(a, b, np.arange(40), seed=1)
    assert out["high"] - out["low"] > iid["high"] - iid["low"]
    # a deposit no layout of one map ranked is left out of the pair, without a warning
    a2, b2 = a.copy(), b.copy()
    b2[:, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = paired_block_bootstrap(a2, b2, blocks, seed=1)
    assert got["difference"] == pytest.approx(np.mean(b[0, 1:] - a[0, 1:]), abs=1e-12)
