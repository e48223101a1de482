"""Weights of evidence against hand-computed values (Bonham-Carter 1994, ch. 9) and the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from conftest import make_deposits_gpkg

from geoprospect.cli import cli
from geoprospect.errors import ConfigError, DepositError, InputError
from geoprospect.evidence.weights_of_evidence import (
    WeightsOfEvidence,
    categorical_weights,
    conditional_independence,
    cumulative_weights,
    weights,
    weights_from_counts,
)

# A 10 x 10 grid (100 unit cells); the pattern B is rows 0-2 (30 cells); 4 deposits, 3 in B.
#   N(B∩D) = 3, N(B∩¬D) = 27, N(¬B∩D) = 1, N(¬B∩¬D) = 69, N(D) = 4, N(¬D) = 96
DEPOSITS = np.array([[0, 1], [1, 5], [2, 8], [6, 3]])
W_PLUS = math.log((3 / 4) / (27 / 96))  # = ln(8/3)
W_MINUS = math.log((1 / 4) / (69 / 96))  # = ln(8/23)
VAR_W_PLUS = 1 / 3 + 1 / 27
VAR_W_MINUS = 1 / 1 + 1 / 69
CONTRAST = W_PLUS - W_MINUS  # = ln(23/3)
S_CONTRAST = math.sqrt(VAR_W_PLUS + VAR_W_MINUS)


def pattern_rows(first: int = 0, last: int = 2) -> np.ndarray:
    p = np.zeros((10, 10))
    p[first : last + 1] = 1.0
    return p


def test_weights_match_hand_computed_counts():
    w = weights(pattern_rows().astype(bool), DEPOSITS)
    assert (w.n_b, w.n_bd, w.n_notb, w.n_notbd) == (30, 3, 70, 1)
    assert w.w_plus == pytest.approx(math.log(8 / 3), abs=1e-12) and w.w_plus == pytest.approx(W_PLUS, abs=1e-12)
    assert w.w_minus == pytest.approx(math.log(8 / 23), abs=1e-12) and w.w_minus == pytest.approx(W_MINUS, abs=1e-12)
    assert w.contrast == pytest.approx(math.log(23 / 3), abs=1e-12)
    assert w.s_w_plus == pytest.approx(math.sqrt(10 / 27), abs=1e-12)
    assert w.s_w_minus == pytest.approx(math.sqrt(70 / 69), abs=1e-12)
    assert w.s_contrast == pytest.approx(S_CONTRAST, abs=1e-12)
    assert w.studentized == pytest.approx(CONTRAST / S_CONTRAST, abs=1e-12)
    assert weights_from_counts(30, 3, 70, 1) == w


def test_weights_nodata_and_unit_cells():
    # a nodata cell in the pattern, one outside it holding no deposit, and cells outside the study area
    p = pattern_rows()
    p[0, 0], p[9, 9] = np.nan, np.nan
    valid = np.ones((10, 10), bool)
    valid[5, :] = False  # 10 cells outside B leave the study area
    w = weights(p, DEPOSITS, valid)
    # B: 29 cells, 3 deposits; ¬B: 70 - 10 - 1 = 59 cells, 1 deposit; N = 88, N(D) = 4, N(¬D) = 84
    assert w.w_plus == pytest.approx(math.log((3 / 4) / (26 / 84)), abs=1e-12)
    assert w.w_minus == pytest.approx(math.log((1 / 4) / (58 / 84)), abs=1e-12)
    # unit cell of 2 grid cells: areas halve, deposits stay
    w2 = weights(pattern_rows(), DEPOSITS, cells_per_unit=2.0)
    assert (w2.n_b, w2.n_notb) == (15, 35)
    assert w2.w_plus == pytest.approx(math.log((3 / 4) / (12 / 46)), abs=1e-12)
    assert w2.s_w_plus == pytest.approx(math.sqrt(1 / 3 + 1 / 12), abs=1e-12)
    assert w2.s_w_minus == pytest.approx(math.sqrt(1 / 1 + 1 / 34), abs=1e-12)


def test_weights_refuse_empty_pattern_and_bad_deposits():
    with pytest.raises(InputError, match="covers no cell"):
        weights(np.zeros((10, 10), bool), DEPOSITS)
    with pytest.raises(InputError, match="covers every cell"):
        weights(np.ones((10, 10), bool), DEPOSITS)
    with pytest.raises(DepositError, match="outside the 10 x 10 grid"):
        weights(pattern_rows(), np.array([[0, 0], [10, 2]]))
    # undefined weights (no deposit in the pattern) are NaN, not +-inf
    assert math.isnan(weights(pattern_rows(7, 9), DEPOSITS).w_plus)


def test_cumulative_thresholds_and_max_studentized_contrast():
    dist = np.repeat(np.arange(10.0), 10).reshape(10, 10)  # "distance" = row index: near is good
    tab = cumulative_weights(dist, DEPOSITS, direction="ascending")
    assert list(tab["threshold"]) == list(np.arange(10.0))
    for t, row in tab.iterrows():
        ref = weights(dist <= t, DEPOSITS) if t < 9 else None
        if ref is None:  # the pattern covers everything: undefined
            assert math.isnan(row["studentized"])
            continue
        assert row["w_plus"] == pytest.approx(ref.w_plus, abs=1e-12, nan_ok=True)
        assert row["studentized"] == pytest.approx(ref.studentized, abs=1e-12, nan_ok=True)
    model = WeightsOfEvidence().fit({"dist": dist}, DEPOSITS)
    fit = model.layers_["dist"]
    stud = tab["studentized"].to_numpy()
    assert fit.kind == "ascending" and fit.threshold == float(np.nanargmax(stud))
    # rows 0-2 hold 3 of 4 deposits in 30 cells: the hand example is the best pattern
    assert fit.threshold == 2.0 and fit.table["W+"].iloc[0] == pytest.approx(W_PLUS, abs=1e-12)
    desc = cumulative_weights(-dist, DEPOSITS, direction="descending")
    np.testing.assert_allclose(desc["studentized"].to_numpy()[::-1], stud, atol=1e-12)
    # direction "auto": high is good for the negated layer
    neg = WeightsOfEvidence().fit({"neg": -dist}, DEPOSITS).layers_["neg"]
    assert neg.kind == "descending" and neg.threshold == -2.0


def test_posterior_of_one_layer_is_the_conditional_probability():
    model = WeightsOfEvidence(thresholds={"b": 0.5}, directions={"b": "descending"}).fit({"b": pattern_rows()}, DEPOSITS)
    post, var = model.predict()
    assert model.prior_logit_ == pytest.approx(math.log(4 / 96), abs=1e-12)
    np.testing.assert_allclose(post[:3], 3 / 30, atol=1e-12)  # N(B∩D) / N(B)
    np.testing.assert_allclose(post[3:], 1 / 70, atol=1e-12)  # N(¬B∩D) / N(¬B)
    np.testing.assert_allclose(var[:3], (3 / 30) ** 2 * (1 / 4 + VAR_W_PLUS), atol=1e-15)
    np.testing.assert_allclose(var[3:], (1 / 70) ** 2 * (1 / 4 + VAR_W_MINUS), atol=1e-15)
    tab = model.table()
    assert list(tab["class"]) == [">= 0.5", "< 0.5"]
    np.testing.assert_allclose(tab["weight"], [W_PLUS, W_MINUS], atol=1e-12)
    np.testing.assert_allclose(tab["studentized_C"], [CONTRAST / S_CONTRAST, -CONTRAST / S_CONTRAST], atol=1e-12)
    # nodata on the layer: weight 0, posterior = prior; outside the study area: NaN
    layer = pattern_rows()
    layer[5, 5] = np.nan
    valid = np.ones((10, 10), bool)
    valid[9, 9] = False
    post2, _ = model.predict({"b": layer}, valid)
    assert post2[5, 5] == pytest.approx(4 / 100, abs=1e-12) and np.isnan(post2[9, 9])


def test_categorical_weights_per_class_and_generalised():
    geo = np.repeat(np.array([1, 1, 1, 2, 2, 2, 2, 3, 3, 3], float), 10).reshape(10, 10)
    # class 1: 30 cells, 3 deposits; class 2: 40 cells, 1 deposit; class 3: 30 cells, none
    cw = categorical_weights(geo, DEPOSITS)
    assert list(cw["class"]) == [1.0, 2.0, 3.0] and list(cw["deposits"]) == [3, 1, 0]
    assert cw["w_plus"][0] == pytest.approx(W_PLUS, abs=1e-12)
    assert cw["w_plus"][1] == pytest.approx(math.log((1 / 4) / (39 / 96)), abs=1e-12)
    assert cw["w_minus"][1] == pytest.approx(math.log((3 / 4) / (57 / 96)), abs=1e-12)
    assert cw["s_w_plus"][1] == pytest.approx(math.sqrt(1 / 1 + 1 / 39), abs=1e-12)
    assert cw["s_contrast"][1] == pytest.approx(math.sqrt(1 / 1 + 1 / 39 + 1 / 3 + 1 / 57), abs=1e-12)
    assert math.isnan(cw["w_plus"][2]) and list(cw["generalised"]) == [False, False, True]
    assert cw["weight"][2] == 0.0  # pooled class without deposits: no evidence either way
    model = WeightsOfEvidence(categorical=["geo"]).fit({"geo": geo}, DEPOSITS)
    post, _ = model.predict()
    np.testing.assert_allclose(post[:3], 3 / 30, atol=1e-12)  # D_k / N_k in every class with deposits
    np.testing.assert_allclose(post[3:7], 1 / 40, atol=1e-12)
    np.testing.assert_allclose(post[7:], 4 / 100, atol=1e-12)  # the prior
    # generalised: class 1 has C/s(C) = 1.73, class 2 -0.61: with 1.5 classes 2 and 3 pool
    # into 70 cells holding 1 deposit, whose W+ is the hand example's W-
    assert cw["studentized"][0] == pytest.approx(CONTRAST / S_CONTRAST, abs=1e-12)
    g = categorical_weights(geo, DEPOSITS, min_studentized=1.5)
    assert list(g["generalised"]) == [False, True, True]
    np.testing.assert_allclose(g["weight"], [W_PLUS, W_MINUS, W_MINUS], atol=1e-12)
    np.testing.assert_allclose(g["s_weight"], [math.sqrt(VAR_W_PLUS), math.sqrt(VAR_W_MINUS), math.sqrt(VAR_W_MINUS)], atol=1e-12)
    g = categorical_weights(geo, DEPOSITS, min_studentized=10.0)
    assert list(g["generalised"]) == [True, True, True] and (g["weight"] == 0).all()


def test_conditional_independence_hand_values_and_violation():
    model = WeightsOfEvidence(thresholds={"b": 0.5}, directions={"b": "descending"}).fit({"b": pattern_rows()}, DEPOSITS)
    ci = model.conditional_independence()
    var_in = (3 / 30) ** 2 * (1 / 4 + VAR_W_PLUS)
    var_out = (1 / 70) ** 2 * (1 / 4 + VAR_W_MINUS)
    assert ci.observed == 4 and ci.expected == pytest.approx(30 * 0.1 + 70 / 70, abs=1e-12)
    assert ci.s_expected == pytest.approx(math.sqrt(30**2 * var_in + 70**2 * var_out), abs=1e-12)
    assert ci.p_value == pytest.approx(0.5, abs=1e-9) and not ci.violated()

    # two identical layers (perfect dependence): far more deposits expected than observed
    rng = np.random.default_rng(3)
    x = rng.random((100, 100))
    p = np.exp(-4 * x).ravel()
    rc = np.column_stack(np.unravel_index(rng.choice(x.size, 80, replace=False, p=p / p.sum()), x.shape))
    one = WeightsOfEvidence().fit({"a": x}, rc).conditional_independence()
    two = WeightsOfEvidence().fit({"a": x, "b": x.copy()}, rc).conditional_independence()
    assert one.expected == pytest.approx(80, abs=1e-9) and not one.violated()
    assert two.expected > 1.5 * two.observed and two.ratio < 0.85 and two.violated() and two.z > 1.645
    assert "REJECTED" in two.summary()
    # the free function on given conditions
    post = np.full((2, 2), 0.25)
    ci = conditional_independence(post, np.full((2, 2), 0.01), np.array([[0, 0], [1, 1]]), 1)
    assert ci.expected == pytest.approx(1.0) and ci.s_expected == pytest.approx(math.sqrt(2 * 4 * 0.01))


def test_estimator_errors():
    with pytest.raises(ConfigError, match="not fitted"):
        WeightsOfEvidence().predict()
    with pytest.raises(Exception, match="thresholds name layers that are not given: nope"):
        WeightsOfEvidence(thresholds={"nope": 1}).fit({"b": pattern_rows()}, DEPOSITS)
    with pytest.raises(InputError, match="covers no cell"):
        WeightsOfEvidence(thresholds={"b": 5.0}, directions={"b": "descending"}).fit({"b": pattern_rows()}, DEPOSITS)
    with pytest.raises(DepositError, match="no deposit lies in the study area"):
        WeightsOfEvidence().fit({"b": pattern_rows()}, DEPOSITS, np.zeros((10, 10), bool))


# --- the command line -------------------------------------------------------------------------

CRS = "EPSG:32649"
X0, Y0, RES = 500000.0, 2805000.0, 100.0


def _stack(path, bands: dict[str, np.ndarray]):
    profile = {"driver": "GTiff", "width": 10, "height": 10, "count": len(bands), "dtype": "float32", "crs": CRS,
               "transform": Affine(RES, 0.0, X0, 0.0, -RES, Y0), "nodata": -9999.0}
    with rasterio.open(path, "w", **profile) as dst:
        for i, (name, a) in enumerate(bands.items(), 1):
            dst.write(np.where(np.isfinite(a), a, -9999.0).astype("float32"), i)
            dst.set_band_description(i, name)
    return path


def _cell_xy(rc):
    rc = np.asarray(rc, float)
    return np.column_stack([X0 + (rc[:, 1] + 0.5) * RES, Y0 - (rc[:, 0] + 0.5) * RES])


def invoke(*args):
    return CliRunner().invoke(cli, ["--progress", "none", *map(str, args)], catch_exceptions=False)


def test_cli_weights_of_evidence(tmp_path):
    b = pattern_rows()
    b[9, 9] = np.nan  # a nodata cell outside the pattern: N(¬B) = 69
    dist = np.repeat(np.arange(10.0), 10).reshape(10, 10)
    stack = _stack(tmp_path / "stack.tif", {"pattern": b, "dist": dist})
    dep = make_deposits_gpkg(tmp_path / "dep.gpkg", _cell_xy(DEPOSITS), crs=CRS)
    out, table = tmp_path / "woe.tif", tmp_path / "weights.csv"
    r = invoke("weights-of-evidence", stack, "--deposits", dep, "--out", out, "--bands", "pattern",
               "--threshold", "pattern=1", "--direction", "pattern=descending", "--table", table)
    assert r.exit_code == 0, r.output
    assert "Agterberg-Cheng test: observed n = 4, expected T = 4.000" in r.output and "W+" in r.output
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32649 and src.transform == Affine(RES, 0.0, X0, 0.0, -RES, Y0)
        assert src.nodata == -9999.0 and src.descriptions == ("posterior", "posterior_variance")
        assert src.tags()["GEOPROSPECT_KIND"] == "weights_of_evidence"
        post = src.read(1, masked=True)
    assert post.mask[9, 9] and post.mask.sum() == 1
    np.testing.assert_allclose(post[:3], 0.1, rtol=1e-6)
    np.testing.assert_allclose(post[3:9], 1 / 69, rtol=1e-6)
    import pandas as pd

    t = pd.read_csv(table)
    assert list(t["class"]) == [">= 1", "< 1"] and t["W+"][0] == pytest.approx(math.log((3 / 4) / (27 / 95)), abs=1e-12)
    # every band, the threshold chosen by maximum studentized contrast
    r = invoke("weights-of-evidence", stack, "--deposits", dep, "--out", tmp_path / "all.tif", "--categorical", "pattern")
    assert r.exit_code == 0, r.output


def test_cli_weights_of_evidence_errors(tmp_path):
    stack = _stack(tmp_path / "stack.tif", {"pattern": pattern_rows()})
    dep = make_deposits_gpkg(tmp_path / "dep.gpkg", _cell_xy(DEPOSITS), crs=CRS)
    r = invoke("weights-of-evidence", stack, "--deposits", dep, "--out", tmp_path / "o.tif", "--bands", "Pattern")
    assert r.exit_code == 2 and "--bands" in r.output and "'Pattern'" in r.output and "pattern" in r.output
    r = invoke("weights-of-evidence", stack, "--deposits", dep, "--out", tmp_path / "o.tif", "--threshold", "pattern=7", "--direction", "pattern=descending")
    assert r.exit_code == 2 and "covers no cell" in r.output and "--threshold" in r.output
    r = invoke("weights-of-evidence", stack, "--deposits", dep, "--out", tmp_path / "o.tif", "--threshold", "pattern:7")
    assert r.exit_code == 2 and "BAND=VALUE" in r.output
    far = make_deposits_gpkg(tmp_path / "far.gpkg", _cell_xy(DEPOSITS) + 1e5, crs=CRS)
    r = invoke("weights-of-evidence", stack, "--deposits", far, "--out", tmp_path / "o.tif")
    assert r.exit_code == 2 and "inside the stack's grid" in r.output and "--deposits" in r.output
    assert not (tmp_path / "o.tif").exists()
