"""Censored values: parsing of the real-world forms, substitution, Cohen's MLE vs independent fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from geoprospect.errors import CensoredValueError, CensoringError
from geoprospect.geochem.censored import (
    censored_mle,
    cohen_estimate,
    conditional_mean_below,
    parse_censored,
    replace_censored,
    substitute,
)


def test_parse_all_forms():
    s = pd.Series(["12.5", "<0.5", "< 0.5", "<=1", "-2", "BDL", "n.d.", "", "NA", ">1000", "0", " 3 "])
    col = parse_censored(s, column="Au")
    assert col.censored.tolist() == [False, True, True, True, True, True, True, False, False, False, False, False]
    # BDL / n.d. get the smallest limit seen (0.5)
    np.testing.assert_allclose(col.limit[col.censored], [0.5, 0.5, 1, 2, 0.5, 0.5])
    assert col.counts["less_than"] == 3 and col.counts["negative"] == 1 and col.counts["code"] == 2
    assert col.counts["missing"] == 2 and col.counts["over"] == 1 and col.counts["zero"] == 1
    assert col.values[9] == 1000 and col.values[11] == 3 and np.isnan(col.values[7])
    assert col.limits_seen == [0.5, 1.0, 2.0]
    assert any("smallest limit" in w for w in col.warnings)
    assert any("exactly 0" in w for w in col.warnings)


def test_unknown_limit_missing_and_no_limit_anywhere():
    col = parse_censored(pd.Series(["1", "<0.5", "BDL"]), unknown_limit="missing")
    assert col.censored.tolist() == [False, True, False]
    col = parse_censored(pd.Series(["1", "2", "BDL"]))  # no limit stated anywhere: the smallest reported value (issue 15)
    assert col.n_censored == 1 and col.limit[2] == 1.0 and any("smallest reported value" in w for w in col.warnings)
    col = parse_censored(pd.Series(["1", "2", "BDL"]), detection_limit=0.2)  # a stated limit wins
    assert col.n_censored == 1 and col.limit[2] == 0.2
    col = parse_censored(pd.Series(["", "BDL"]))  # nothing to take a limit from: missing, said so
    assert col.n_censored == 0 and any("no limit and no detected value" in w for w in col.warnings)


def test_flag_rule_for_zeros_with_other_flags():
    col = parse_censored(pd.Series(["0", "0", "3", "", "5"]), flag=pd.Series(["!", "n.a.", "!", "!", ""]))
    assert np.isnan(col.values[[0, 1, 3]]).all() and col.values[2] == 3 and col.values[4] == 5
    assert col.n_censored == 0 and col.counts["zero_flagged"] == 2 and col.counts["missing"] == 1


def test_flag_column_marks_zeros_and_limits():
    vals = pd.Series(["0", "0.5", "3", "4"])
    flag = pd.Series(["<", "<", "", "N"])
    col = parse_censored(vals, flag=flag)
    assert col.censored.tolist() == [True, True, False, False]
    np.testing.assert_allclose(col.limit[:2], [0.5, 0.5])  # the zero gets the smallest limit seen
    assert col.counts["flag"] == 2


def test_negative_not_censored_is_error_with_row():
    with pytest.raises(CensoredValueError) as ei:
        parse_censored(pd.Series(["1", "-2"]), column="Cu", path="x.csv", row_numbers=np.array([2, 3]), negative_is_censored=False)
    assert ei.value.row == 3 and "negative" in str(ei.value)


@pytest.mark.parametrize("bad", ["abc", "1,5", "<", "<0", "<-1"])
def test_garbage_is_error(bad):
    with pytest.raises(CensoredValueError) as ei:
        parse_censored(pd.Series(["1", bad]), column="Zn", path="f.csv", row_numbers=np.array([2, 3]))
    assert ei.value.row == 3 and ei.value.path == "f.csv"


def test_substitute_fractions():
    col = parse_censored(pd.Series(["<2", "5", "<4"]))
    np.testing.assert_allclose(substitute(col), [1, 5, 2])
    np.testing.assert_allclose(substitute(col, 0.25), [0.5, 5, 1])
    with pytest.raises(ValueError):
        substitute(col, 0)


def _censored_sample(mu, sigma, n, h, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(mu, sigma, n)
    lim = float(np.quantile(z, h))
    return z[z >= lim], int((z < lim).sum()), lim


def _direct_mle(obs, c, lim):
    """Independent: maximise the censored-normal log-likelihood with scipy.optimize (BFGS)."""
    def nll(p):
        mu, ls = p
        s = np.exp(ls)
        return -(stats.norm.logpdf(obs, mu, s).sum() + c * stats.norm.logcdf(lim, mu, s))
    r = optimize.minimize(nll, [obs.mean(), np.log(obs.std())], method="BFGS", options={"gtol": 1e-10})
    return r.x[0], float(np.exp(r.x[1]))


@pytest.mark.parametrize("h", [0.05, 0.25, 0.5, 0.7])
def test_cohen_matches_direct_mle_and_scipy_censoreddata(h):
    obs, c, lim = _censored_sample(1.0, 0.5, 3000, h, seed=int(h * 100))
    fit = cohen_estimate(obs, c, lim)
    mu, sigma = _direct_mle(obs, c, lim)
    assert fit.mu == pytest.approx(mu, abs=1e-5) and fit.sigma == pytest.approx(sigma, abs=1e-5)
    ref_mu, ref_sigma = stats.norm.fit(stats.CensoredData(uncensored=obs, left=np.full(c, lim)))
    assert fit.mu == pytest.approx(ref_mu, abs=1e-3) and fit.sigma == pytest.approx(ref_sigma, abs=1e-3)
    # and it recovers the known parameters (n = 3000: well within 0.05)
    assert abs(fit.mu - 1.0) < 0.05 and abs(fit.sigma - 0.5) < 0.05
    # Cohen's lambda identity: mu = xbar - lambda (xbar - x0)
    assert fit.mu == pytest.approx(obs.mean() - fit.lam * (obs.mean() - lim), rel=1e-12)


def test_naive_mean_is_biased_but_cohen_is_not():
    obs, c, lim = _censored_sample(0.0, 1.0, 5000, 0.4, seed=3)
    assert obs.mean() > 0.4  # ignoring the censored values biases the mean up
    assert abs(cohen_estimate(obs, c, lim).mu) < 0.05


def test_multi_limit_mle_matches_scipy():
    rng = np.random.default_rng(5)
    z = rng.normal(0.5, 0.3, 2000)
    lims = rng.choice([0.2, 0.35], size=z.size)
    cen = z < lims
    fit = censored_mle(z[~cen], lims[cen])
    ref_mu, ref_sigma = stats.norm.fit(stats.CensoredData(uncensored=z[~cen], left=lims[cen]))
    assert fit.mu == pytest.approx(ref_mu, abs=1e-3) and fit.sigma == pytest.approx(ref_sigma, abs=1e-3)


def test_conditional_mean_below_against_truncnorm():
    mu, s, lim = 1.0, 0.4, 0.7
    ref = stats.truncnorm.mean(-np.inf, (lim - mu) / s, loc=mu, scale=s)
    assert conditional_mean_below(mu, s, np.array([lim]))[0] == pytest.approx(ref, rel=1e-10)


def test_replace_cohen_values_below_limit():
    rng = np.random.default_rng(1)
    x = 10 ** rng.normal(1.0, 0.3, 500)
    raw = [f"<{5:g}" if v < 5 else f"{v:.4f}" for v in x]
    col = parse_censored(pd.Series(raw))
    vals, info = replace_censored(col, "cohen")
    assert info["fit"] == "cohen" and np.all(vals[col.censored] < 5) and np.all(vals[col.censored] > 0)
    assert info["log10_mu"] == pytest.approx(1.0, abs=0.05)
    assert np.isfinite(vals).all()


def test_all_censored_is_error():
    col = parse_censored(pd.Series(["<1", "<1", "BDL", ""]))
    for method in ("half", "cohen"):
        with pytest.raises(CensoringError, match="below detection"):
            replace_censored(col, method)


def test_cohen_needs_detected_values_and_positive_values():
    with pytest.raises(CensoringError):
        cohen_estimate(np.array([1.0]), 3, 0.5)
    col = parse_censored(pd.Series(["0", "1", "2", "<0.5"]))
    with pytest.raises(CensoringError, match="<= 0"):
        replace_censored(col, "cohen")
    with pytest.raises(ValueError):
        replace_censored(col, "bogus")
