"""`geoprospect prepare-geochem` and `geoprospect select-elements` as a user runs them."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from geoprospect.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, ["--progress", "none", *map(str, args)], catch_exceptions=False)


@pytest.fixture
def survey(tmp_path):
    rng = np.random.default_rng(7)
    n = 160
    xy = rng.uniform(0, 8000, (n, 2)) + [500000, 2800000]
    dep = np.array([[502000, 2802000], [506000, 2806000]])
    near = np.min(np.hypot(*(xy[:, None, :] - dep[None]).transpose(2, 0, 1)), axis=1) < 1200
    au = 10 ** (rng.normal(0, 0.3, n) + 0.8 * near)
    cu = 10 ** rng.normal(1, 0.3, n)
    zn = 10 ** (rng.normal(1.5, 0.2, n) + 0.3 * rng.normal(size=n))
    rows = []
    for (x, y), a, c, z in zip(xy, au, cu, zn):
        rows.append({"E": f"{x:.1f}", "N": f"{y:.1f}", "Au": "<0.4" if a < 0.4 else f"{a:.3f}", "Cu": "BDL" if c < 6 else f"{c:.2f}", "Zn": f"{z:.1f}"})
    rows[5]["Au"] = "n.d."
    rows[6]["Cu"] = ""
    rows.append(dict(rows[0]))  # a duplicate location
    p = tmp_path / "survey.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    d = tmp_path / "deposits.gpkg"
    gpd.GeoDataFrame(geometry=shapely.points(dep), crs="EPSG:32649").to_file(d)
    return p, d


def test_prepare_geochem_cli(survey, tmp_path):
    pts, _ = survey
    out = tmp_path / "prep.gpkg"
    r = invoke("prepare-geochem", pts, "--out", out, "--elements", "Au,Cu,Zn", "--x-field", "E", "--y-field", "N", "--crs", "EPSG:32649",
               "--censored", "cohen", "--outliers", "flag", "--transform", "log10", "--factors", "2", "--factor-method", "pca")
    assert r.exit_code == 0, r.output
    g = gpd.read_file(out)
    assert g.crs.to_epsg() == 32649 and len(g) == 160  # the duplicate was averaged away
    for c in ("Au", "Cu", "Zn", "PC1", "PC1_fuzzy", "PC1_anomaly", "PC2"):
        assert c in g.columns
    # samples with a missing element (Cu "" in row 6) have no score
    fz = g["PC1_fuzzy"].dropna()
    assert 100 < len(fz) < 160 and fz.between(0, 1).all() and set(g["PC1_anomaly"].unique()) <= {0, 1}
    rep = json.loads(out.with_suffix(".prep.json").read_text())
    assert rep["elements"]["Au"]["n_censored"] > 0 and rep["elements"]["Au"]["censored_forms"]["code"] == 1
    # Cu's "BDL" cells state no limit and the column has none: censored at the smallest reported
    # value (issue 15), counted, and said in the report
    cu = rep["elements"]["Cu"]
    assert cu["n_censored"] == cu["censored_forms"]["code"] > 1 and cu["n_missing"] == 1
    assert any("smallest reported value of the element" in w for w in cu["warnings"])
    assert rep["duplicates"]["n_groups"] == 1
    assert rep["settings"]["factors"]["n"] == 2
    assert "| Au |" in out.with_suffix(".prep.md").read_text()
    # CSV output, readable by read_points with the same CRS
    from geoprospect.io.points import read_points

    r = invoke("prepare-geochem", pts, "--out", tmp_path / "prep.csv", "--elements", "Au,Cu", "--x-field", "E", "--y-field", "N", "--crs", "EPSG:32649",
               "--report", tmp_path / "r.md")
    assert r.exit_code == 0, r.output
    t = read_points(tmp_path / "prep.csv", ["Au", "Cu"], x_field="E", y_field="N", crs="EPSG:32649")
    assert len(t) == 160 and (tmp_path / "r.md").exists()


def test_prepare_geochem_cli_errors(survey, tmp_path):
    pts, _ = survey
    r = invoke("prepare-geochem", pts, "--out", tmp_path / "p.csv", "--elements", "Au,Pt", "--x-field", "E", "--y-field", "N", "--crs", "EPSG:32649")
    assert r.exit_code == 2 and "'Pt'" in r.output and "How to fix" in r.output
    r = invoke("prepare-geochem", pts, "--out", tmp_path / "p.csv", "--elements", "Au", "--x-field", "E", "--y-field", "N", "--crs", "EPSG:32649", "--flag-columns", "Au")
    assert r.exit_code == 2 and "ELEMENT=FLAGCOLUMN" in r.output
    r = invoke("prepare-geochem", pts, "--out", tmp_path / "p.txt", "--elements", "Au", "--x-field", "E", "--y-field", "N", "--crs", "EPSG:32649")
    assert r.exit_code == 2 and ".gpkg" in r.output


def test_select_elements_cli(survey, tmp_path):
    pts, dep = survey
    out = tmp_path / "sel.csv"
    r = invoke("select-elements", pts, "--deposits", dep, "--distance", 1200, "--out", out, "--elements", "Au,Cu,Zn",
               "--x-field", "E", "--y-field", "N", "--crs", "EPSG:32649", "--cv", 3, "--report", tmp_path / "prep.md")
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out)
    assert list(t["element"])[0] == "Au" and bool(t.loc[t["element"] == "Au", "selected"].iloc[0])
    assert {"auc_svm", "s_auc_svm", "z_auc_svm", "auc_raw", "z_auc_raw", "n_pos", "n_neg"} <= set(t.columns)
    assert "Selected" in out.with_suffix(".md").read_text() and (tmp_path / "prep.md").exists()
    # json progress mode: result line lists the outputs
    r = CliRunner().invoke(cli, ["--progress", "json", "select-elements", str(pts), "--deposits", str(dep), "--distance", "1200", "--out", str(out),
                                 "--elements", "Au,Zn", "--x-field", "E", "--y-field", "N", "--crs", "EPSG:32649", "--cv", "3"])
    lines = [json.loads(x) for x in r.output.splitlines() if x.startswith("{")]
    assert r.exit_code == 0 and any(x["type"] == "result" for x in lines)


def test_select_elements_cli_errors(survey, tmp_path):
    pts, dep = survey
    r = invoke("select-elements", pts, "--deposits", dep, "--distance", 1, "--out", tmp_path / "s.csv", "--elements", "Au",
               "--x-field", "E", "--y-field", "N", "--crs", "EPSG:32649")
    assert r.exit_code == 2 and "no sample lies near a deposit" in r.output
    r = invoke("select-elements", pts, "--deposits", dep, "--distance", 1000, "--out", tmp_path / "s.csv", "--elements", "Au",
               "--x-field", "E", "--y-field", "N", "--crs", "EPSG:32649", "--work-crs", "EPSG:4326")
    assert r.exit_code == 2 and "geographic" in r.output


def test_kriging_cv_cli(survey, tmp_path):
    pts, _ = survey
    out = tmp_path / "cv.csv"
    r = invoke("kriging-cv", pts, "--out", out, "--elements", "Zn", "--x-field", "E", "--y-field", "N", "--crs", "EPSG:32649", "--transform", "log10")
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out)
    assert list(t["method"]) == ["idw", "ordinary", "universal"] and (t["n"] == 160).all() and (t["rmse"] > 0).all()
    assert "| Zn | ordinary |" in out.with_suffix(".md").read_text()
    r = invoke("kriging-cv", pts, "--out", out, "--elements", "Zn", "--x-field", "E", "--y-field", "N", "--crs", "EPSG:4326", "--drop-missing-xy")
    assert r.exit_code == 2
