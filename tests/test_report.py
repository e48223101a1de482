"""Map products and the HTML report from a synthetic prediction (no training: fast)."""

import re

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from geoprospect.grid import GridSpec
from geoprospect.io.rasters import Stack
from geoprospect.prediction.fullres import blend_windows
from geoprospect.prediction.predict import Prediction, stride_grid
from geoprospect.report import write_report
from geoprospect.report.outputs import PRODUCTS, write_map_products
from geoprospect.windows.tiling import make_windows, window_grid_shape


@pytest.fixture
def synthetic(tmp_path):
    grid = GridSpec.from_bounds((300000.0, 6000000.0, 304800.0, 6004800.0), 100.0, "EPSG:32750")  # 48 x 48
    H, W = grid.shape
    rr, cc = np.mgrid[0:H, 0:W]
    signal = np.exp(-(((rr - 12) ** 2 + (cc - 30) ** 2) / 40.0)) + np.exp(-(((rr - 38) ** 2 + (cc - 10) ** 2) / 40.0))
    dist = np.hypot(rr - 38, cc - 10).astype(np.float32) * 100  # a "distance to" layer
    data = np.stack([signal.astype(np.float32), dist, np.random.default_rng(0).normal(size=(H, W)).astype(np.float32)])
    stack = Stack(data, grid, ["signal", "dist_feature", "noise"], [{"mean": 0, "std": 1}] * 3)
    t = grid.transform
    cells = [(12, 30), (13, 31), (11, 29), (38, 10), (37, 11), (39, 9), (5, 5)]
    deps = np.array([[t.c + (c + 0.5) * t.a, t.f + (r + 0.5) * t.e] for r, c in cells])
    size, stride = 8, 4
    windows, _ = make_windows(stack.valid, grid, deps, size=size, stride=stride, test_fraction=0.4)
    nr, nc = window_grid_shape(H, W, size, stride)
    prob = np.zeros((nr, nc))
    for i in range(nr):
        for j in range(nc):
            prob[i, j] = signal[i * stride : i * stride + size, j * stride : j * stride + size].mean()
    prob = np.clip(prob / prob.max(), 1e-4, 1 - 1e-4)
    pred = Prediction(prob, np.log(prob / (1 - prob)), stride_grid(grid, size, stride), size, stride)
    return stack, windows, deps, pred


def test_map_products_and_report(synthetic, tmp_path):
    stack, windows, deps, pred = synthetic
    # an out-of-fold map: the oracle's map with its top weakened (a different model's scale)
    ii, jj = np.nonzero(np.isfinite(pred.prob))
    fmap = blend_windows(stack.grid, ii * pred.stride, jj * pred.stride, pred.size, pred.prob[ii, jj] * 0.5, pred.margin[ii, jj] - 1, valid=stack.valid)
    table = {"oracle": {"role": "model", "success_rate_auc": 0.9, "capture_top_5pct": 0.5, "capture_top_10pct": 0.6, "capture_top_20pct": 0.8, "roc_auc": 0.9, "per_fold": []},
             "best_layer": {"role": "baseline", "success_rate_auc": 0.8, "capture_top_5pct": 0.3, "capture_top_10pct": 0.4, "capture_top_20pct": 0.7, "roc_auc": 0.8, "per_fold": []}}
    m = write_map_products(tmp_path, pred, stack, windows, deps, oof_map=fmap, table=table, evaluation={"label": "spatial blocks"}, oof_window_prob=[0.5] * len(windows),
                           title="synthetic", model_name="oracle", history=[{"epoch": 1, "loss": 0.7, "val_loss": 0.8}, {"epoch": 2, "loss": 0.5, "val_loss": 0.6}], settings={"a": 1})
    for p in PRODUCTS:
        assert (tmp_path / p).exists(), p
    # P-A classes cut from the out-of-fold scores: same area fractions as the OOF map's P-A plot
    assert "out-of-fold" in m["classes"]["source"]
    assert 0 < m["classes"]["cells"]["high"] < stack.grid.shape[0] * stack.grid.shape[1] / 2
    with rasterio.open(tmp_path / "prospectivity_fullres.tif") as src:
        assert src.shape == stack.grid.shape and src.crs.to_epsg() == 32750
        assert src.descriptions[:2] == ("prospectivity", "logit_margin")
    targets = gpd.read_file(tmp_path / "targets.gpkg")
    assert len(targets) >= 2 and targets["target"].tolist() == list(range(1, len(targets) + 1))
    assert targets["mean_score"].is_monotonic_decreasing
    assert targets["n_deposits"].sum() >= 6  # the two anomalies hold six deposits
    wg = gpd.read_file(tmp_path / "window_grid.gpkg")
    assert len(wg) == 36 and wg["number"].min() == 1 and wg["number"].max() == 36
    assert wg["n_deposits"].sum() == 7
    html = (tmp_path / "report" / "index.html").read_text()
    assert "Out-of-fold skill: model and baselines on the same folds" in html and "spatial blocks" in html
    assert "Pooling the folds: each fold model&#x27;s margins z-scored against its own scores" in html  # the rule stated (HTML-escaped)
    assert "best_layer" in html and "baseline" in html
    for img in re.findall(r"src='([^']+)'", html):
        assert (tmp_path / "report" / img).stat().st_size > 1000, img
    assert "http" not in html.split("<body>")[1].replace("http://mrcc", "")  # readable offline


def test_random_split_is_flagged(synthetic, tmp_path):
    stack, windows, deps, pred = synthetic
    g = stack.grid
    dep = np.array([g.rowcol(x, y) for x, y in deps])
    flat = dep[:, 0] * g.width + dep[:, 1]
    from geoprospect.ensemble import ore_statistics

    stats = ore_statistics({"a": np.array([1, 0, 1]), "b": np.array([1, 1, 0])}, {"mean": np.array([1, 0.6, 0.5])}, np.array([1, 0, -1]))
    p = write_report(tmp_path / "r", title="t", split_label="random (windows overlap: optimistic)", grid=g, deposits_xy=deps, scores={"m": stack.data[0]}, deposit_cells=flat, ensemble_stats=stats, element_table=[{"element": "Au", "auc": 0.8}])
    html = p.read_text()
    assert "class='warn'>random (windows overlap: optimistic)" in html
    assert "Table 2" in html and "Element selection" in html and "<td>Au</td>" in html


def test_map_figure_has_legend_scale_bar_and_north_arrow_and_keeps_the_backend(synthetic, tmp_path):
    import matplotlib
    from matplotlib.figure import Figure
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    from geoprospect.report import figures

    stack, windows, deps, pred = synthetic
    backend = matplotlib.get_backend()
    drawn = {}
    real_save = figures._save

    def keep(fig, out):
        drawn["fig"] = fig
        return real_save(fig, out)

    held = np.zeros(len(deps), dtype=bool)
    held[:3] = True
    try:
        figures._save = keep
        out = figures.map_figure(pred.prob, pred.grid, deps, tmp_path / "map.png", title="t", held_out=held, test_line=("y", 6002000.0))
    finally:
        figures._save = real_save
    assert out.stat().st_size > 1000 and matplotlib.get_backend() == backend
    fig = drawn["fig"]
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # the map and its colour bar
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["known deposit (training area)", "held-out deposit", "test block edge"]
    bars = [a for a in ax.artists if isinstance(a, AnchoredSizeBar)]
    assert len(bars) == 1 and bars[0].txt_label.get_text() == "500 m"  # 4.4 km wide window grid: a fifth rounded down to 500 m
    assert any(t.get_text() == "N" for t in ax.texts)


def test_loss_figure_draws_loss_and_accuracy(tmp_path):
    from geoprospect.report.figures import loss_figure

    rows = [{"epoch": 1, "loss": 0.7, "accuracy": 0.6, "val_loss": None}, {"epoch": 2, "loss": 0.5, "accuracy": 0.7, "val_loss": 0.6}]
    assert loss_figure(rows, tmp_path / "loss.png").stat().st_size > 1000


def test_area_percentile_ranks_cells_and_keeps_nodata():
    """map.png's colour scale (issue 24): the ranking, whatever the probabilities' range."""
    from geoprospect.report.figures import area_percentile

    s = np.array([[0.11, 0.12, np.nan], [0.17, 0.12, 0.13]])
    p = area_percentile(s)
    assert np.isnan(p[0, 2]) and p[1, 0] == pytest.approx(90.0) and p[0, 0] == pytest.approx(10.0)
    assert p[0, 1] == p[1, 1] == pytest.approx(40.0)  # ties share their mean rank
