"""Kriging through pykrige: against a hand-solved ordinary kriging system, drift exactness,
blocks, variogram units, LOO comparison with IDW, errors."""

from __future__ import annotations

import numpy as np
import pytest

from geoprospect.errors import KrigingError
from geoprospect.evidence.kriging import Variogram, fit_variogram, kriging, loo_cv
from geoprospect.grid import GridSpec

CRS = "EPSG:32750"
X0, Y0 = 500000.0, 7000000.0


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10000, (n, 2)) + [X0, Y0]
    z = np.sin((xy[:, 0] - X0) / 2000) + np.cos((xy[:, 1] - Y0) / 3000) + rng.normal(0, 0.05, n)
    return xy, z


def _grid(res=500.0):
    return GridSpec.from_bounds((X0, Y0, X0 + 10000, Y0 + 10000), res, CRS)


def _spherical(h, psill, rng_, nugget):
    h = np.asarray(h, dtype=np.float64)
    g = np.where(h < rng_, nugget + psill * (1.5 * h / rng_ - 0.5 * (h / rng_) ** 3), nugget + psill)
    return np.where(h == 0, 0.0, g)


def _ok_by_hand(xy, z, p, vario):
    """Independent ordinary kriging: solve [Γ 1; 1ᵀ 0][λ; μ] = [γ0; 1] in map units (paper 004 eq. 14-17)."""
    n = len(z)
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    a = np.ones((n + 1, n + 1))
    a[:n, :n] = _spherical(d, **vario)
    a[n, n] = 0
    b = np.ones(n + 1)
    b[:n] = _spherical(np.hypot(*(xy - p).T), **vario)
    sol = np.linalg.solve(a, b)
    lam, mu = sol[:n], sol[n]
    return float(lam @ z), float(lam @ b[:n] + mu)


def test_ordinary_kriging_matches_hand_solved_system():
    xy, z = _data(40)
    vario = {"psill": 0.8, "rng_": 6000.0, "nugget": 0.01}
    v = Variogram("spherical", {"psill": 0.8, "range": 6000.0, "nugget": 0.01})
    g = _grid(2500.0)
    est, var = kriging(xy, z, g, variogram=v)
    assert est.shape == var.shape == (1, 4, 4) and est.dtype == np.float32
    centres = g.cell_centers()
    for k in (0, 5, 15):
        ze, se = _ok_by_hand(xy, z, centres[k], vario)
        assert est[0].ravel()[k] == pytest.approx(ze, abs=1e-5)
        assert var[0].ravel()[k] == pytest.approx(se, abs=1e-5)


def test_exact_at_samples_and_blocks_do_not_change_results():
    xy, z = _data(50)
    g = GridSpec.from_bounds((xy[3, 0] - 0.5, xy[3, 1] - 0.5, xy[3, 0] + 0.5, xy[3, 1] + 0.5), 1.0, CRS)
    est, var = kriging(xy, z, g)
    assert est[0, 0, 0] == pytest.approx(z[3], abs=1e-5) and var[0, 0, 0] == pytest.approx(0, abs=1e-6)
    a, va = kriging(xy, z, _grid(), block_cells=7)
    b, vb = kriging(xy, z, _grid(), block_cells=10**6)
    # BLAS may sum differently for other batch shapes (and threads): equal to rounding, not bit for bit
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(va, vb, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("drift,fn", [
    ("linear", lambda x, y: 3 + 2e-3 * x - 1e-3 * y),
    ("quadratic", lambda x, y: 1 + 1e-3 * x + 4e-8 * x * x - 2e-8 * x * y + 3e-8 * y * y),
])
def test_universal_kriging_reproduces_its_drift(drift, fn):
    xy, _ = _data(40, seed=3)
    lx, ly = xy[:, 0] - X0, xy[:, 1] - Y0
    z = fn(lx, ly)
    v = Variogram("spherical", {"psill": 1.0, "range": 4000.0, "nugget": 0.0})
    g = _grid(2000.0)
    est, _ = kriging(xy, z, g, method="universal", drift=drift, variogram=v)
    c = g.cell_centers()
    np.testing.assert_allclose(est[0].ravel(), fn(c[:, 0] - X0, c[:, 1] - Y0), rtol=1e-4, atol=1e-4)


def test_variogram_in_map_units():
    xy, z = _data(80)
    v1 = fit_variogram(xy, z)
    v2 = fit_variogram(xy - [X0, Y0] + [1e6, 2e6], z)
    v3 = fit_variogram((xy - [X0, Y0]) * 2, z)
    assert v1.parameters["range"] == pytest.approx(v2.parameters["range"], rel=1e-6)
    assert v3.parameters["range"] == pytest.approx(2 * v1.parameters["range"], rel=1e-4)
    assert 1000 < v1.parameters["range"] < 50000
    for m in ("exponential", "gaussian", "linear", "power"):
        vm = fit_variogram(xy, z, m)
        back = Variogram.from_scaled_list(m, list(vm.to_scaled(123.0).values()), 123.0)
        for key, val in vm.parameters.items():
            assert back.parameters[key] == pytest.approx(val, rel=1e-9)


def test_several_elements_and_missing_values():
    xy, z = _data(60)
    vals = np.column_stack([z, 2 * z + 1])
    vals[:5, 1] = np.nan
    est, var = kriging(xy, vals, _grid(1000.0))
    assert est.shape == (2, 10, 10) and np.isfinite(est).all() and np.isfinite(var).all()


def test_loo_cv_idw_semantics_and_kriging_wins_on_smooth_field():
    xy, z = _data(70)
    summary, preds = loo_cv(xy, z, max_points=25, seed=1)
    s = summary.set_index("method")
    assert list(s.index) == ["idw", "ordinary", "universal"] and (s["n"] == 25).all()
    # IDW predictions: a direct computation of the 12-nearest, power-2 weighted mean
    for _, r in preds.head(5).iterrows():
        i = int(r["index"])
        others = np.delete(np.arange(len(z)), i)
        d = np.hypot(*(xy[others] - xy[i]).T)
        nn = np.argsort(d)[:12]
        w = 1 / d[nn] ** 2
        assert r["idw"] == pytest.approx(float(w @ z[others][nn] / w.sum()), rel=1e-6)
    err = preds["ordinary"] - preds["observed"]
    assert s.loc["ordinary", "rmse"] == pytest.approx(float(np.sqrt(np.mean(err**2))))
    assert s.loc["ordinary", "rmse"] < s.loc["idw", "rmse"]


def test_kriging_errors():
    xy, z = _data(20)
    g = _grid(2000.0)
    with pytest.raises(KrigingError, match="at least 5"):
        kriging(xy[:3], z[:3], g)
    with pytest.raises(KrigingError, match="same value"):
        kriging(xy, np.ones(20), g)
    dup = np.vstack([xy, xy[:1]])
    with pytest.raises(KrigingError, match="more than one sample"):
        kriging(dup, np.r_[z, 1.0], g)
    with pytest.raises(KrigingError, match="variogram model"):
        kriging(xy, z, g, variogram_model="cubic")
    with pytest.raises(KrigingError, match="method"):
        kriging(xy, z, g, method="simple")
    with pytest.raises(KrigingError, match="drift"):
        kriging(xy, z, g, method="universal", drift="cubic")
    with pytest.raises(KrigingError, match="unknown method"):
        loo_cv(xy, z, methods=("nn",))
    with pytest.raises(ValueError):
        kriging(xy, z[:5], g)


def test_fitted_variogram_fed_back_gives_the_same_map():
    xy, z = _data(60)
    a, va = kriging(xy, z, _grid(1000.0))
    b, vb = kriging(xy, z, _grid(1000.0), variogram=fit_variogram(xy, z))
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(va, vb, atol=1e-5)


@pytest.mark.parametrize("method,drift", [("ordinary", "linear"), ("universal", "linear"), ("universal", "quadratic")])
def test_fast_loo_equals_pykrige_refitted_without_each_sample(method, drift):
    xy, z = _data(35, seed=4)
    v = fit_variogram(xy, z, "exponential")
    fast, pf = loo_cv(xy, z, methods=(method,), variogram=v, drift=drift, kriging_loo="fast")
    slow, ps = loo_cv(xy, z, methods=(method,), variogram=v, drift=drift, kriging_loo="refit")
    np.testing.assert_allclose(pf[method], ps[method], rtol=1e-6, atol=1e-7)
    assert fast["rmse"].iloc[0] == pytest.approx(slow["rmse"].iloc[0], rel=1e-6)


def test_moving_neighbourhood():
    xy, z = _data(40)
    g = _grid(1000.0)
    full, vf = kriging(xy, z, g)
    allnb, va = kriging(xy, z, g, neighbors=40)  # every sample: the global system again
    np.testing.assert_allclose(allnb, full, atol=1e-4)
    np.testing.assert_allclose(va, vf, atol=1e-4)
    local, _ = kriging(xy, z, g, neighbors=8)
    assert np.isfinite(local).all() and np.abs(local - full).max() > 1e-4
    with pytest.raises(KrigingError, match="ordinary kriging only"):
        kriging(xy, z, g, method="universal", neighbors=8)
    with pytest.raises(KrigingError, match="at least 3"):
        kriging(xy, z, g, neighbors=1)
    s, p = loo_cv(xy, z, methods=("idw", "ordinary"), neighbors=8, max_points=10)
    assert (s["n"] == 10).all() and "8 nearest" in s["settings"].iloc[1]
