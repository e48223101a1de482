"""Calibration of the map's probabilities (evaluation/calibration.py) against hand-computed values,
scikit-learn and scipy."""

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss

from geoprospect.errors import ParameterError
from geoprospect.evaluation.calibration import (
    METHODS,
    Calibrator,
    brier,
    calibration_report,
    cross_fitted,
    expected_calibration_error,
    fit_calibrator,
    reliability_bins,
)


def _scores(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.15).astype(int)
    margin = 1.5 * y + rng.normal(size=n) - 0.3  # deposit windows score higher, with overlap
    return margin, y


def test_brier_by_hand_and_scikit_learn():
    p, y = np.array([0.1, 0.9, 0.8, 0.3, np.nan]), np.array([0, 1, 1, 0, 1])
    assert brier(p, y) == pytest.approx((0.01 + 0.01 + 0.04 + 0.09) / 4)  # the NaN window is skipped
    assert brier(p[:4], y[:4]) == pytest.approx(brier_score_loss(y[:4], p[:4]))


def test_ece_and_reliability_bins_by_hand_and_against_calibration_curve():
    p, y = np.array([0.05, 0.15, 0.15, 0.85, 0.95]), np.array([0, 0, 1, 1, 1])
    # bins [0, .1): |0.05 - 0|; [.1, .2): |0.15 - 0.5| x 2 windows; [.8, .9): |0.85 - 1|; [.9, 1]: |0.95 - 1|
    assert expected_calibration_error(p, y) == pytest.approx((0.05 + 2 * 0.35 + 0.15 + 0.05) / 5)
    bins = reliability_bins(p, y)
    assert [b["n"] for b in bins] == [1, 2, 0, 0, 0, 0, 0, 0, 1, 1]
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    full = [b for b in bins if b["n"]]
    np.testing.assert_allclose([b["observed"] for b in full], prob_true)
    np.testing.assert_allclose([b["mean_prob"] for b in full], prob_pred)
    # a larger random case agrees with scikit-learn too (edges included: 0.1, 0.5 and 1.0 exactly)
    margin, yy = _scores()
    pp = np.concatenate([1 / (1 + np.exp(-margin)), [0.1, 0.5, 1.0]])
    yy = np.concatenate([yy, [0, 1, 1]])
    t, q = calibration_curve(yy, pp, n_bins=10)
    full = [b for b in reliability_bins(pp, yy) if b["n"]]
    np.testing.assert_allclose([b["observed"] for b in full], t)
    np.testing.assert_allclose([b["mean_prob"] for b in full], q)


def test_platt_and_temperature_match_a_direct_likelihood_fit():
    margin, y = _scores()

    def nll(theta, intercept):
        z = theta[0] * margin + (theta[1] if intercept else 0.0)
        return np.sum(np.logaddexp(0, z) - y * z)

    ab = minimize(nll, [1.0, 0.0], args=(True,), method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 5000}).x
    c = fit_calibrator(margin, y, "platt")
    assert (c.slope, c.intercept) == pytest.approx((ab[0], ab[1]), abs=1e-3)
    t = minimize(nll, [1.0, 0.0], args=(False,), method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10}).x
    c = fit_calibrator(margin, y, "temperature")
    assert c.intercept == 0.0 and c.slope == pytest.approx(t[0], abs=1e-3)


def test_isotonic_applies_like_scikit_learn_and_round_trips_through_json():
    margin, y = _scores()
    c = fit_calibrator(margin, y, "isotonic")
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(margin, y)
    new = np.linspace(margin.min() - 1, margin.max() + 1, 101)
    np.testing.assert_allclose(c.apply(new), iso.predict(new), atol=1e-12)
    back = Calibrator.from_dict(c.to_dict())
    np.testing.assert_array_equal(back.apply(new), c.apply(new))
    assert np.isnan(c.apply(np.array([np.nan]))[0])


@pytest.mark.parametrize("method", METHODS)
def test_calibrated_probabilities_are_monotone_in_the_raw_score(method):
    margin, y = _scores()
    c = fit_calibrator(margin, y, method)
    grid = np.linspace(-6, 6, 500)
    p = c.apply(grid)
    assert np.all(np.diff(p) >= 0) and np.all((0 <= p) & (p <= 1))
    if method in ("platt", "temperature", "none"):
        assert np.all(np.diff(p) > 0)  # strictly: the map's ranking is unchanged


def test_platt_brings_the_probabilities_to_the_positive_rate():
    margin, y = _scores()
    raw = 1 / (1 + np.exp(-(margin + 3)))  # an over-confident model: shifted logits
    p = fit_calibrator(margin + 3, y, "platt").apply(margin + 3)
    assert p.mean() == pytest.approx(y.mean(), abs=1e-4)  # logistic regression matches the base rate
    assert brier(p, y) < brier(raw, y) and expected_calibration_error(p, y) < expected_calibration_error(raw, y)


def test_cross_fitted_scores_each_fold_with_a_calibrator_from_the_other_folds():
    margin, y = _scores()
    g = np.arange(margin.size) % 4
    g[:5] = -1  # windows no fold scored
    p = cross_fitted(margin, y, g, "platt")
    assert np.isnan(p[:5]).all() and np.isfinite(p[5:]).all()
    k = 2
    other = (g >= 0) & (g != k)
    np.testing.assert_allclose(p[g == k], fit_calibrator(margin[other], y[other], "platt").apply(margin[g == k]))
    # not the in-sample fit
    assert not np.allclose(p[g == k], fit_calibrator(margin[g >= 0], y[g >= 0], "platt").apply(margin[g == k]))


def test_report_keys_and_honest_after():
    margin, y = _scores()
    g = np.arange(margin.size) % 5
    prob = 1 / (1 + np.exp(-margin))
    cal, rep = calibration_report(margin, prob, y, g, "platt")
    assert {"method", "brier", "ece", "reliability", "compared", "description", "calibrator"} <= set(rep)
    assert rep["brier"]["before"] == pytest.approx(brier_score_loss(y, prob))
    assert rep["brier"]["after"] == pytest.approx(brier(cross_fitted(margin, y, g, "platt"), y))
    assert rep["compared"]["none"]["brier"] == rep["brier"]["before"]
    assert len(rep["reliability"]["after"]) == 10 and sum(b["n"] for b in rep["reliability"]["after"]) == y.size
    assert Calibrator.from_dict(rep["calibrator"]).slope == cal.slope > 0


def test_a_model_ranking_deposits_last_keeps_its_ranking_said_once_and_bad_methods_are_refused(caplog):
    """Issue 24: a slope <= 0 must not flatten the map: the model's own probability (still ranked), one warning."""
    margin, y = _scores()
    with caplog.at_level("WARNING", logger="geoprospect"):
        c = fit_calibrator(-margin, y, "platt")
    p = c.apply(np.array([-3.0, 0.0, 3.0]))
    assert c.method == "none" and p[0] < p[1] < p[2]  # not a constant map
    assert sum("calibration" in r.message for r in caplog.records) == 1 and "ranking" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="geoprospect"):
        cross_fitted(-margin, y, np.arange(y.size) % 5, "platt")  # the cross-fitted fits stay quiet
    assert not caplog.records
    with pytest.raises(ParameterError) as e:
        fit_calibrator(margin, y, "beta")
    assert "evaluation.calibration" in e.value.hint


def test_a_single_test_block_has_no_honest_after():
    margin, y = _scores()
    cal, rep = calibration_report(margin, 1 / (1 + np.exp(-margin)), y, np.zeros(y.size, dtype=int), "platt")
    assert rep["brier"]["after"] is None and rep["ece"]["after"] is None and rep["brier"]["before"] is not None
    assert cal.slope > 0  # the calibrator itself is still fitted (on the one block's windows)
