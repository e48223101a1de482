"""Factor analysis / PCA scores, fuzzy factor scores and anomalous samples (paper 004)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from geoprospect.errors import ConstantElementError, GeochemError
from geoprospect.geochem.factors import anomalous_samples, factor_scores, fuzzy_scores, kaiser_count


def _two_factor_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 2))
    load = np.array([[0.9, 0], [0.8, 0], [0.85, 0], [0, 0.9], [0, 0.8], [0, 0.85]])
    x = f @ load.T + 0.35 * rng.normal(size=(n, 6))
    return x, f


def test_kaiser_and_factor_structure():
    x, f = _two_factor_data()
    k, ev = kaiser_count(x)
    assert k == 2 and ev[1] > 1 > ev[2]
    res = factor_scores(x, list("ABCDEF"))
    assert res.names == ["F1", "F2"] and res.scores.shape == (400, 2) and res.loadings.shape == (6, 2)
    L = res.loadings_table()
    j_abc = int(np.argmax(np.abs(L.loc["A"].to_numpy())))
    assert np.all(np.abs(L.iloc[:3, j_abc]) > 0.7) and np.all(np.abs(L.iloc[3:, j_abc]) < 0.2)
    assert (res.loadings[np.argmax(np.abs(res.loadings), axis=0), [0, 1]] > 0).all()  # oriented
    r = np.corrcoef(res.scores[:, j_abc], f[:, 0])[0, 1]
    assert r > 0.9


def test_pca_matches_sklearn_and_missing_rows():
    x, _ = _two_factor_data()
    x[:3, 2] = np.nan
    res = factor_scores(x, list("ABCDEF"), method="pca", n_factors=3)
    assert np.isnan(res.scores[:3]).all() and np.isfinite(res.scores[3:]).all()
    z = x[3:]
    z = (z - z.mean(0)) / z.std(0, ddof=1)
    ref = PCA(3).fit(z)
    ref_scores = ref.transform(z) / np.sqrt(ref.explained_variance_)
    for j in range(3):
        assert abs(np.corrcoef(res.scores[3:, j], ref_scores[:, j])[0, 1]) == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(res.scores[3:].std(axis=0, ddof=1), 1.0, rtol=1e-9)


def test_fuzzy_scores_and_anomalies():
    s = np.array([[-800.0, 0.0], [0.0, 1.0], [2.0, 3.0], [np.nan, 40.0]])
    mu = fuzzy_scores(s)
    np.testing.assert_allclose(mu[:3, 1], 1 / (1 + np.exp(-s[:3, 1])))
    assert mu[0, 0] == 0.0 and np.isnan(mu[3, 0]) and np.nanmax(mu) <= 1.0
    mm = fuzzy_scores(s, "minmax")
    assert np.nanmin(mm, axis=0).tolist() == [0, 0] and np.nanmax(mm, axis=0).tolist() == [1, 1]
    rng = np.random.default_rng(1)
    sc = rng.normal(size=(500, 2))
    sc[:5, 0] = 10
    flags, thr = anomalous_samples(sc)
    q1, q3 = np.percentile(sc[:, 0], [25, 75])
    assert thr[0] == pytest.approx(q3 + 1.5 * (q3 - q1))
    assert flags[:5, 0].all() and flags[:, 0].sum() < 15
    f2, t2 = anomalous_samples(sc, "sd", k=2.0)
    assert t2[1] == pytest.approx(sc[:, 1].mean() + 2 * sc[:, 1].std(ddof=1))
    f3, _ = anomalous_samples(sc[:, 0], 5.0)
    assert f3.sum() == 5
    with pytest.raises(ValueError):
        anomalous_samples(sc, "median")
    with pytest.raises(ValueError):
        fuzzy_scores(sc, "gauss")


def test_factor_errors():
    x, _ = _two_factor_data(50)
    with pytest.raises(GeochemError, match="at least 2"):
        factor_scores(x[:, :1], ["A"])
    y = x.copy()
    y[:45, 0] = np.nan
    with pytest.raises(GeochemError, match="every element analysed"):
        factor_scores(y, list("ABCDEF"))
    with pytest.raises(GeochemError, match="n_factors"):
        factor_scores(x, list("ABCDEF"), n_factors=9)
    c = x.copy()
    c[:, 4] = 1.0
    with pytest.raises(ConstantElementError):
        factor_scores(c, list("ABCDEF"))
    with pytest.raises(ValueError):
        factor_scores(x, list("ABCDEF"), method="ica")
