"""Outliers, transforms, duplicates, prepare_table and read_geochem (incl. the real Murchison CSV)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geoprospect.errors import CensoredValueError, CensoringError, ColumnError, ConstantElementError, CRSError, GeochemError, InputError, TransformError
from geoprospect.geochem import prepare_table, read_geochem
from geoprospect.geochem.duplicates import handle_duplicates
from geoprospect.geochem.outliers import flag_outliers, tukey_fences, winsorise
from geoprospect.geochem.transforms import clr, log10, zscore

MURCHISON = Path("/work/shared/datasets/murchison/laterite_geochemistry.csv")


def test_tukey_fences_against_definition():
    v = np.array([1, 2, 3, 4, 5, 6, 7, 8, 100.0, np.nan])
    q1, q3 = np.percentile(v[:-1], [25, 75])
    lo, hi = tukey_fences(v)
    assert (lo, hi) == pytest.approx((q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)))
    low, high = flag_outliers(v)
    assert high.tolist() == [False] * 8 + [True, False] and not low.any()
    w, nl, nh = winsorise(v)
    assert w[8] == pytest.approx(hi) and nh == 1 and nl == 0 and np.isnan(w[9])
    llo, lhi = tukey_fences(v, log=True)
    lq1, lq3 = np.percentile(np.log10(v[:-1]), [25, 75])
    assert lhi == pytest.approx(10 ** (lq3 + 1.5 * (lq3 - lq1)))


def test_tukey_errors():
    with pytest.raises(TransformError):
        tukey_fences(np.array([1.0, 2.0]))
    with pytest.raises(TransformError, match="<= 0"):
        tukey_fences(np.array([0.0, 1, 2, 3, 4]), log=True)


def test_log10_clr_zscore():
    x = np.array([[1.0, 10.0, 100.0], [2.0, 2.0, 2.0], [np.nan, 1.0, 1.0]])
    np.testing.assert_allclose(log10(x)[0], [0, 1, 2])
    c = clr(x)
    np.testing.assert_allclose(c[0], np.log(x[0]) - np.log(x[0]).mean())
    np.testing.assert_allclose(c[:2].sum(axis=1), 0, atol=1e-12)
    assert np.isnan(c[2]).all()
    with pytest.raises(TransformError, match="log10"):
        log10(np.array([[1.0, 0.0]]), names=["Au", "As"])
    with pytest.raises(TransformError):
        clr(np.array([[1.0, -1.0]]))
    with pytest.raises(TransformError):
        clr(np.array([1.0, 2.0]))
    z, m, s = zscore(np.array([[1.0, 5], [2, 6], [3, 9], [np.nan, 8]]))
    np.testing.assert_allclose(np.nanmean(z, axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(np.nanstd(z, axis=0, ddof=1), 1)
    with pytest.raises(ConstantElementError, match="Cu"):
        zscore(np.array([[1.0, 2], [1, 3]]), names=["Cu", "Zn"])


def test_duplicates_average_reject_first_error():
    xy = np.array([[0, 0], [1, 1], [0, 0], [2, 2], [1, 1.0]])
    v = np.array([[1.0, np.nan], [2, 2], [3, 4], [5, 5], [np.nan, 6]])
    r = handle_duplicates(xy, v, np.arange(2, 7), method="average")
    assert r.n_groups == 2 and r.n_removed == 2
    np.testing.assert_allclose(r.xy, [[0, 0], [1, 1], [2, 2]])
    np.testing.assert_allclose(r.values, [[2, 4], [2, 4], [5, 5]])
    assert r.rows.tolist() == [2, 3, 5] and r.groups == [[2, 4], [3, 6]]
    r = handle_duplicates(xy, v, method="reject")
    assert len(r.xy) == 1 and r.values[0, 0] == 5
    r = handle_duplicates(xy, v, method="first")
    np.testing.assert_allclose(r.values[0], [1, np.nan])
    with pytest.raises(GeochemError, match="more than one sample"):
        handle_duplicates(xy, v, method="error")
    r = handle_duplicates(np.array([[0, 0], [0.5, 0], [10, 0]]), np.ones((3, 1)), method="average", tol=1.0)
    assert r.n_groups == 1 and len(r.xy) == 2


def _raw():
    return pd.DataFrame({
        "Au": ["<0.5", "1.2", "3.4", "BDL", "", "0.9", "-0.5", "8", "2.2", "<1"],
        "As": ["5", "6", "7", "8", "9", "10", "11", "12", "400", "13"],
        "K": ["2"] * 10,
    })


def test_prepare_table_report_counts():
    df, rep = prepare_table(_raw(), ["Au", "As", "K"], outliers="flag")
    r = rep.elements["Au"]
    assert r.n_censored == 4 and r.n_missing == 1 and r.n_detected == 5
    assert r.censored_forms == {"less_than": 2, "code": 1, "negative": 1}
    assert df["Au"].tolist()[:4] == [0.25, 1.2, 3.4, 0.25] and df["Au"].iloc[9] == 0.5
    assert rep.censored_counts() == {"Au": 4, "As": 0, "K": 0}
    assert rep.elements["As"].outliers_high == 1
    assert any("constant" in w for w in rep.elements["K"].warnings)
    md = rep.to_markdown()
    assert "| Au | 9 | 5 | 4 | 44.4 |" in md and "constant element" in md


def test_prepare_table_transform_standardise_cohen():
    df, rep = prepare_table(_raw(), ["Au", "As"], censored="cohen", transform="log10", standardise=True, outliers="winsorise")
    assert rep.elements["Au"].replacement["method"] == "cohen"
    assert np.nanmean(df["As"]) == pytest.approx(0, abs=1e-12)
    with pytest.raises(ConstantElementError):
        prepare_table(_raw(), ["Au", "K"], standardise=True)
    df, _ = prepare_table(_raw(), ["As", "K"], transform="clr")
    np.testing.assert_allclose(df.sum(axis=1), 0, atol=1e-12)


def test_prepare_table_errors():
    with pytest.raises(ColumnError, match="'Cu'"):
        prepare_table(_raw(), ["Cu"])
    with pytest.raises(ColumnError):
        prepare_table(_raw(), [])
    with pytest.raises(ColumnError, match="flag column"):
        prepare_table(_raw(), ["Au"], flag_columns={"Au": "Au_flag"})
    bad = pd.DataFrame({"Au": ["<1", "BDL", "<2"]})
    with pytest.raises(CensoringError, match="'Au'"):
        prepare_table(bad, ["Au"])
    with pytest.raises(CensoredValueError) as ei:
        prepare_table(pd.DataFrame({"Au": ["1", "x"]}), ["Au"], path="s.csv", row_numbers=np.array([2, 3]))
    assert ei.value.row == 3
    with pytest.raises(ValueError):
        prepare_table(_raw(), ["Au"], censored="zero")


def _write_csv(tmp_path, text):
    p = tmp_path / "samples.csv"
    p.write_text(text)
    return p


def test_read_geochem_csv(tmp_path):
    p = _write_csv(tmp_path, "x,y,Au,Cu,Au_q\n0,0,<5,10,\n100,0,7,20,\n100,0,9,<2,\n,,3,4,\n200,50,0,30,<\n")
    with pytest.raises(InputError, match="no coordinates"):
        read_geochem(p, ["Au", "Cu"], crs="EPSG:32650")
    t, rep = read_geochem(p, ["Au", "Cu"], crs="EPSG:32650", drop_missing_xy=True, flag_columns={"Au": "Au_q"}, duplicates="average")
    assert len(t) == 3 and t.elements == ["Au", "Cu"] and t.crs.to_epsg() == 32650
    np.testing.assert_allclose(t.values, [[2.5, 10], [8, 10.5], [2.5, 30]])
    assert t.rows.tolist() == [2, 3, 6] and rep.dropped_rows == [5]
    assert rep.duplicates["n_groups"] == 1 and rep.censored_counts() == {"Au": 2, "Cu": 1}
    rep.write(tmp_path / "rep.json")
    assert json.loads((tmp_path / "rep.json").read_text())["elements"]["Au"]["n_censored"] == 2
    rep.write(tmp_path / "rep.md")
    assert "Duplicate locations: 1 groups" in (tmp_path / "rep.md").read_text()
    # elements=None finds censored-looking columns too
    t2, _ = read_geochem(p, None, crs="EPSG:32650", drop_missing_xy=True)
    assert "Au" in t2.elements and "Cu" in t2.elements
    with pytest.raises(CRSError):
        read_geochem(p, ["Au"], drop_missing_xy=True)


@pytest.mark.skipif(not MURCHISON.exists(), reason="real data not available")
def test_murchison_censoring_report():
    t, rep = read_geochem(MURCHISON, ["Au_ppb", "As_ppm", "Cu_ppm"], x_field="LONGITUDE", y_field="LATITUDE",
                          crs="EPSG:4283", drop_missing_xy=True, outliers="flag")
    assert rep.dropped_rows == [5637]  # the one row without coordinates
    # this export has no "<x" forms: every analysed value is a detected number
    assert rep.censored_counts() == {"Au_ppb": 0, "As_ppm": 0, "Cu_ppm": 0}
    assert rep.elements["Au_ppb"].n_detected == 3120 and rep.elements["Au_ppb"].n_missing == 7741 - 3120
    assert rep.duplicates["n_groups"] > 0 and len(t) == 7741 - rep.duplicates["n_removed"]
    assert rep.elements["Au_ppb"].outliers_high > 0


def test_outlier_fences_fall_back_to_linear_with_zeros():
    df = pd.DataFrame({"Cu": ["0", "1", "2", "3", "4", "5", "100"]})
    _, rep = prepare_table(df, ["Cu"], outliers="flag")
    r = rep.elements["Cu"]
    assert r.outliers_high == 1 and any("not on log10" in w for w in r.warnings)
