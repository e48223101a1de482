"""Every cell a sample (issue 23): centre labels, every valid cell scored (edges included),
folds in map units that do not depend on the resolution, the dense CNN scored densely."""

from pathlib import Path

import numpy as np
import pytest
import torch
from affine import Affine
from rasterio.crs import CRS

from geoprospect.grid import GridSpec
from geoprospect.io.rasters import Stack, write_raster
from geoprospect.models import build_model
from geoprospect.prediction.predict import predict
from geoprospect.prediction.score import score_batches
from geoprospect.prediction.sources import memory_batches
from geoprospect.windows.cells import make_cells
from geoprospect.windows.dataset import normalise
from geoprospect.windows.folds import auto_block_side, deposit_pixels, spatial_block_folds

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _grid(res: float = 100.0, h: int = 20, w: int = 24, crs: str = "EPSG:32649") -> GridSpec:
    return GridSpec(CRS.from_string(crs), Affine(res, 0, 500000.0, 0, -res, 2800000.0), w, h)


def _centre(grid: GridSpec, r: int, c: int) -> list[float]:
    return [float(grid.x_centers(c, 1)[0]), float(grid.y_centers(r, 1)[0])]


def test_a_deposit_labels_its_own_cell_only_unless_a_radius_is_given():
    g = _grid()
    valid = np.ones(g.shape, dtype=bool)
    dep = np.array([_centre(g, 10, 12)])
    cells, summary = make_cells(valid, g, dep, size=15)
    lab = np.zeros(g.shape, dtype=int)
    lab[cells["row"], cells["col"]] = cells["label"]
    assert lab.sum() == 1 and lab[10, 12] == 1  # the patch centred one cell away is not positive
    # patches are centred on their cell: upper-left = cell - size // 2, possibly outside the stack
    first = cells.iloc[0]
    assert (first["row"], first["col"], first["row_off"], first["col_off"]) == (0, 0, -7, -7)
    assert summary.kept == g.height * g.width and summary.positives == 1
    # within 150 m (1.5 cells of 100 m): the 8 neighbours at 100 m and 141 m are positive, with soft weights
    cells, _ = make_cells(valid, g, dep, size=1, radius=150.0)
    pos = cells[cells["label"] == 1]
    assert len(pos) == 9
    w = dict(zip(zip(pos["row"], pos["col"]), pos["weight"]))
    assert w[(10, 12)] == pytest.approx(1.0)
    assert w[(10, 13)] == pytest.approx(np.exp(-(100.0**2) / (2 * 75.0**2)), rel=1e-6)
    assert w[(11, 13)] == pytest.approx(np.exp(-(2 * 100.0**2) / (2 * 75.0**2)), rel=1e-6)
    assert (cells.loc[cells["label"] == 0, "weight"] == 1.0).all()


def test_cells_without_data_are_not_samples():
    g = _grid()
    valid = np.ones(g.shape, dtype=bool)
    valid[:, :3] = False
    cells, summary = make_cells(valid, g, np.array([_centre(g, 19, 23)]), size=1)
    assert summary.kept == g.height * (g.width - 3) and summary.dropped_invalid == 3 * g.height
    assert cells["col"].min() == 3


def _stack_file(tmp_path: Path, g: GridSpec, bands: int = 3, seed: int = 0) -> tuple[Path, np.ndarray]:
    data = np.random.default_rng(seed).normal(size=(bands, *g.shape)).astype(np.float32)
    data[:, 0, 5] = np.nan  # one cell without data
    path = write_raster(tmp_path / "stack.tif", data, g, [f"b{i}" for i in range(bands)])
    return path, data


@pytest.mark.parametrize("model_name,size", [("logistic_cell", 1), ("dense_cnn", 15), ("lenet", 29)])
def test_every_valid_cell_is_scored_edges_included_and_the_map_is_on_the_stack_grid(tmp_path, model_name, size):
    g = _grid()
    path, data = _stack_file(tmp_path, g)
    torch.manual_seed(0)
    model = build_model(model_name, 3, 2, size)
    mean, std = [0.0] * 3, [1.0] * 3
    if model_name == "logistic_cell":
        x = np.random.default_rng(1).normal(size=(40, 3, 1, 1)).astype(np.float32)
        model.fit_arrays(x, np.r_[np.ones(5, int), np.zeros(35, int)])
    pred = predict(model, path, mean, std, size=size, stride=1, device="cpu", centred=True, block_size=16)
    assert pred.grid == g and pred.prob.shape == g.shape
    valid = np.all(np.isfinite(data), axis=0)
    assert np.isfinite(pred.margin[valid]).all() and np.isnan(pred.margin[~valid]).all()
    # the same scores as each centred patch scored alone (pixels beyond the edge = the mean)
    ii, jj = np.nonzero(valid)
    alone = score_batches(model, memory_batches(normalise(data, mean, std), np.column_stack([ii - size // 2, jj - size // 2]), size, 64), (ii.size,), "cpu")
    np.testing.assert_allclose(pred.margin[ii, jj], alone.margin, rtol=1e-5, atol=1e-5)
    # a deposit on the last row and the last column is scored
    assert np.isfinite(pred.margin[g.height - 1, g.width - 1])
    # in memory: the same map
    mem = predict(model, Stack(data, g, ["b0", "b1", "b2"]), mean, std, size=size, stride=1, device="cpu", centred=True)
    np.testing.assert_allclose(mem.margin, pred.margin, rtol=1e-5, atol=1e-5, equal_nan=True)


def test_folds_in_map_units_are_the_same_at_two_resolutions():
    """One area at 100 m and 200 m cells: the automatic block side (map units) and the fold of
    every deposit agree."""
    folds = []
    for res, n in ((100.0, 80), (200.0, 40)):
        g = GridSpec(CRS.from_epsg(32649), Affine(res, 0, 500000.0, 0, -res, 2808000.0), n, n)
        rng = np.random.default_rng(3)
        xy = np.column_stack([500000 + rng.uniform(0, 8000, 30), 2800000 + rng.uniform(0, 8000, 30)])
        valid = np.ones(g.shape, dtype=bool)
        rc = deposit_pixels(g, xy)
        choice = auto_block_side(g, valid, rc, 5)
        cells, _ = make_cells(valid, g, xy, size=1)
        split = spatial_block_folds(cells["row_off"].to_numpy(), cells["col_off"].to_numpy(), 1, g.shape, k=5, block_size=choice.cells,
                                    labels=cells["n_deposits"].to_numpy() > 0, deposits_rc=rc, seed=0)
        fold_of_dep = split.fold_of_block[split.block_of_pixel(rc[:, 0], rc[:, 1])]
        folds.append((choice.side, fold_of_dep))
    assert folds[0][0] == folds[1][0] == 1000.0
    np.testing.assert_array_equal(folds[0][1], folds[1][1])


def test_patch_folds_keep_training_cells_one_context_radius_from_the_test_blocks():
    """Cells seeing 15-cell patches (context radius 7), 20-cell blocks: a training cell's patch never
    reads a cell of a test block, and every other cell more than 7 cells from the test blocks trains
    (guarding whole patches kept them 21 cells away: test patch, buffer, training patch)."""
    from scipy.ndimage import distance_transform_cdt

    from geoprospect.windows.folds import fold_geometry, make_folds

    g = _grid(h=60, w=80)
    valid = np.ones(g.shape, dtype=bool)
    rng = np.random.default_rng(0)
    dep = np.array([_centre(g, int(r), int(c)) for r, c in zip(rng.integers(0, 60, 12), rng.integers(0, 80, 12))])
    cells, _ = make_cells(valid, g, dep, size=15)
    ro, co, size, buffer = fold_geometry(cells, None)
    assert (size, buffer) == (1, 7)
    split = make_folds(ro, co, size, g.shape, k=3, block_size=20, buffer=buffer, labels=cells["label"].to_numpy(), seed=0)
    r, c = cells["row"].to_numpy(), cells["col"].to_numpy()
    nbc = split.block_grid[1]
    for f in split.folds:
        block = np.isin((r // 20) * nbc + c // 20, f.blocks)
        test_area = np.zeros(g.shape, dtype=bool)
        test_area[r[block], c[block]] = True
        far = distance_transform_cdt(~test_area, metric="chessboard") > 7  # cells more than 7 from a test block
        np.testing.assert_array_equal(np.sort(f.test), np.flatnonzero(block))
        np.testing.assert_array_equal(np.sort(f.train), np.flatnonzero(far[r, c]))
        for i in f.train:  # the patch centred on a training cell reads no test-block cell
            assert not test_area[max(r[i] - 7, 0) : r[i] + 8, max(c[i] - 7, 0) : c[i] + 8].any()
    # a window table (the papers' recipe) is still folded by its whole windows
    win = cells.drop(columns="footprint")
    assert fold_geometry(win, None)[2:] == (15, None)


def test_the_dense_cnn_scores_a_block_as_its_patches():
    torch.manual_seed(0)
    m = build_model("dense_cnn", 4, 2, 15).eval()
    x = torch.randn(1, 4, 30, 26)
    with torch.no_grad():
        dense = m.dense_logits(x)[0, 0]
        pad = torch.nn.functional.pad(x, (7, 7, 7, 7))
        for r, c in ((0, 0), (29, 25), (12, 3)):
            assert float(m(pad[:, :, r : r + 15, c : c + 15])[0, 1]) == pytest.approx(float(dense[r, c]), abs=1e-5)


def test_a_deposit_on_a_cell_without_data_stops_the_run_before_training(tmp_path):
    """Issue 23: a deposit that would not be scored is an error naming the cell and the band, not a silent drop."""
    import yaml
    from click.testing import CliRunner
    from conftest import make_deposits_gpkg

    from geoprospect.cli import cli

    g = _grid(res=100.0, h=40, w=40)
    data = np.random.default_rng(0).normal(size=(2, *g.shape)).astype(np.float32)
    data[1, 30:, 30:] = np.nan  # the south-east corner has no data in band "b1"
    write_raster(tmp_path / "ev.tif", data, g, ["b0", "b1"])
    xy = [_centre(g, r, c) for r, c in ((3, 3), (5, 30), (20, 10), (30, 5), (12, 22), (8, 15), (25, 25), (35, 35))]
    make_deposits_gpkg(tmp_path / "dep.gpkg", xy)
    cfg = {"grid": {"resolution": 100}, "rasters": [{"name": "ev", "path": "ev.tif"}], "deposits": {"path": "dep.gpkg"},
           "train": {"model": "logistic_cell"}, "evaluation": {"folds": 2, "baselines": []}, "attribution": {"enabled": False}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(cli, ["--progress", "none", "run", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "out")])
    assert res.exit_code != 0
    assert "1 deposit cell(s) carry no out-of-fold score" in res.output and "row 35, col 35" in res.output
    assert "no data there in" in res.output and "b1" in res.output.split("no data there in")[1][:40]
    assert not (tmp_path / "out" / "out_of_fold.json").exists()  # refused before any training
