"""Issue 24, "Done when": a synthetic area with no association (random deposits over evidence
that knows nothing of them) run by `geoprospect run` with the default model, folds, layouts and
bounds: the first line about skill says the evidence does not rank held-out deposits better than
chance; the map is not constant; the high class and the targets are bounded; target areas are in
km² (a metre CRS); the success-rate figure states the out-of-fold table's AUC. Also the map
figures' study-area outline and titles that are never clipped."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
import yaml
from click.testing import CliRunner
from rasterio.transform import from_origin
from scipy.ndimage import gaussian_filter

from geoprospect.cli import cli
from geoprospect.evaluation.area_bounds import AreaBounds
from geoprospect.grid import GridSpec
from geoprospect.report import figures

X0, Y0, N, RES = 400000.0, 6900000.0, 60, 100.0  # 6 x 6 km, 100 m cells, UTM 50S


def null_area(d: Path, seed: int = 3) -> Path:
    """Two smooth random evidence rasters, 20 deposits drawn uniformly (independent of them),
    a quadrilateral study area; returns the run config (defaults, but one baseline and no
    attribution: what this test checks does not need them)."""
    d.mkdir(parents=True, exist_ok=True)
    r = np.random.default_rng(seed)
    for i in range(2):
        f = gaussian_filter(r.standard_normal((N + 10, N + 10)), 4)
        with rasterio.open(d / f"ev{i}.tif", "w", driver="GTiff", width=N + 10, height=N + 10, count=1, dtype="float32", crs="EPSG:32750",
                           transform=from_origin(X0 - 500, Y0 + N * RES + 500, RES, RES), nodata=-9999) as dst:
            dst.write(f.astype("float32")[None])
    xy = np.column_stack([r.uniform(X0 + 100, X0 + N * RES - 100, 20), r.uniform(Y0 + 100, Y0 + N * RES - 100, 20)])
    gpd.GeoDataFrame(geometry=shapely.points(xy), crs="EPSG:32750").to_file(d / "deposits.gpkg")
    area = shapely.Polygon([(X0 + 300, Y0 + 200), (X0 + N * RES - 200, Y0 + 500), (X0 + N * RES - 400, Y0 + N * RES - 300), (X0 + 500, Y0 + N * RES - 200)])
    gpd.GeoDataFrame(geometry=[area], crs="EPSG:32750").to_file(d / "area.gpkg")
    cfg = {"name": "no association", "grid": {"resolution": RES, "bounds": [X0, Y0, X0 + N * RES, Y0 + N * RES]},
           "rasters": [{"name": "a", "path": "ev0.tif"}, {"name": "b", "path": "ev1.tif"}], "deposits": {"path": "deposits.gpkg", "label": "random points"},
           "area": {"path": "area.gpkg"}, "attribution": {"enabled": False}, "evaluation": {"baselines": ["best_layer"], "mc_dropout": 0}}
    (d / "c.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return d / "c.yaml"


@pytest.fixture(scope="module")
def null_run(tmp_path_factory):
    cfg = null_area(tmp_path_factory.mktemp("null"))
    out = cfg.parent / "out"
    res = CliRunner().invoke(cli, ["--progress", "none", "run", str(cfg), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out, res.output, json.loads((out / "metrics.json").read_text())


def test_no_skill_is_said_first_and_the_map_is_not_flat(null_run):
    out, console, m = null_run
    first = next(line for line in console.splitlines() if "skill" in line.lower() or "auc" in line.lower())
    assert "NO SKILL" in first and "better than chance" in first  # the log line, then the console summary: both before any figure
    assert m["model"] == "blend_cell" and not m["skill"]["any_beats_chance"]
    with rasterio.open(out / "prospectivity.tif") as src:
        p = src.read(1, masked=True)
    assert p.count() > 0 and float(p.max()) > float(p.min())


def test_classes_and_targets_are_bounded_with_km2(null_run):
    out, console, m = null_run
    b = AreaBounds()
    with rasterio.open(out / "classes.tif") as src:
        cls = src.read(1, masked=True)
        tags = src.tags()
    scored = cls.count()
    assert 0 < (cls == 3).sum() <= b.high_share * scored and (cls == 2).sum() <= b.high_share * scored
    assert float(tags["GEOPROSPECT_HIGH_SHARE"]) <= b.high_share
    assert m["classes"]["high_share"] <= b.high_share and m["classes"]["area_unit"] == "km²"
    assert m["classes"]["high_area"] == pytest.approx(0.01 * (cls == 3).sum())  # 100 m cells: 0.01 km² each
    t = gpd.read_file(out / "targets.gpkg")
    assert 0 < len(t) <= b.max_targets and t["target"].tolist() == list(range(1, len(t) + 1))
    assert "area_km2" in t.columns and t["area_km2"].to_numpy() == pytest.approx(0.01 * t["n_cells"].to_numpy())
    assert t.geometry.area.to_numpy() / 1e6 == pytest.approx(t["area_km2"].to_numpy())
    assert (t["n_cells"] <= b.max_target_share * scored).all() and t["n_cells"].sum() <= b.high_share * scored
    assert t["mean_score"].nunique() > 1  # never "N targets all at the same score"
    assert "targets.gpkg:" in console and "km²" in console and "10 % bound" in console
    html = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert "area (km²)" in html and "map units²" not in html and "does not narrow the search" in html


def test_the_success_rate_figure_states_the_tables_auc(null_run):
    out, console, m = null_run
    table = m["out_of_fold"]["blend_cell"]["success_rate_auc"]
    stated = json.loads((out / "report" / "figures.json").read_text())["success_rate"]
    assert stated == m["figures"]["success_rate"]
    assert stated["auc"] == pytest.approx(table, abs=1e-12) and len(stated["layouts"]) == 3
    assert f"AUC {table:.3f}" in stated["label"] and "out of fold" in stated["label"]
    assert next(line for line in console.splitlines() if line.startswith("blend_cell")).split()[2] == f"{table:.3f}"


def test_map_draws_the_study_area_or_the_edge_of_the_data():
    from matplotlib.figure import Figure

    g = GridSpec.from_bounds((0, 0, 2000, 2000), 100, "EPSG:32649")
    s = np.random.default_rng(0).normal(size=g.shape)
    s[:3] = np.nan
    for outline, label in (([shapely.box(200, 200, 1800, 1700)], "study area"), (None, "edge of the data")):
        ax = Figure().subplots()
        figures._draw_outline(ax, s, g, outline)
        assert label in ax.get_legend_handles_labels()[1]


def test_long_titles_are_wrapped_inside_the_figure(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 6.5), dpi=120)
    ax = fig.subplots()
    ax.imshow(np.zeros((5, 5)))
    title = "Murchison gold province, greenstone belts west of the Youanmi fault, 2025 reassessment with every evidence layer: blend_cell (final model)"
    figures._fit_titles(fig, {ax: title})
    box = ax.title.get_window_extent(FigureCanvasAgg(fig).get_renderer())
    assert "\n" in ax.title.get_text() and box.x0 >= 0 and box.x1 <= fig.bbox.width
    assert " ".join(ax.title.get_text().split()) == title
