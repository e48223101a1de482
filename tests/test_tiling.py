import numpy as np
import pytest

from geoprospect.errors import DepositError, GridError
from geoprospect.grid import GridSpec
from geoprospect.windows.tiling import make_windows, split_windows, window_grid_shape


def _grid(h=100, w=80):
    return GridSpec.from_bounds((0, 0, w * 10, h * 10), 10, "EPSG:32633")


def test_window_counts_and_transforms():
    g = _grid()
    gdf, s = make_windows(np.ones(g.shape, bool), g, np.array([[15.0, 985.0]]), size=20, stride=10, test_side="start")  # the deposit is in the north
    assert window_grid_shape(100, 80, 20, 10) == (9, 7)
    assert s.total == 63 and s.kept == 63 and len(gdf) == 63
    w = gdf.iloc[8]  # row 1, col 1
    assert (w.row, w.col, w.row_off, w.col_off) == (1, 1, 10, 10)
    assert w.geometry.bounds == (100.0, 1000.0 - 300, 300.0, 1000.0 - 100)
    assert gdf.crs.to_epsg() == 32633


def test_labels_match_brute_force(rng):
    g = _grid()
    dep = np.column_stack([rng.uniform(0, 800, 15), rng.uniform(0, 1000, 15)])
    gdf, s = make_windows(np.ones(g.shape, bool), g, dep, size=16, stride=8)
    for _, w in gdf.iterrows():
        x0, y0, x1, y1 = w.geometry.bounds
        inside = ((dep[:, 0] >= x0) & (dep[:, 0] < x1) & (dep[:, 1] > y0) & (dep[:, 1] <= y1)).sum()
        assert w.n_deposits == inside and w.label == int(inside > 0)
    assert s.deposits_inside == 15


def test_invalid_windows_are_dropped_and_counted():
    g = _grid()
    valid = np.ones(g.shape, bool)
    valid[:, :40] = False  # left half nodata
    gdf, s = make_windows(valid, g, np.array([[700.0, 500.0]]), size=20, stride=20, min_valid=0.5, split_axis="cols")  # the deposit is in the east
    assert s.total == 20 and s.dropped_invalid == 10 and s.kept == 10
    assert (gdf["valid_frac"] >= 0.5).all()


def test_spatial_split_has_buffer_and_no_overlap():
    g = _grid(h=200, w=50)
    gdf, s = make_windows(np.ones(g.shape, bool), g, np.array([[100.0, 100.0], [100.0, 1900.0]]), size=20, stride=10, test_fraction=0.3)
    test = gdf[gdf.split == "test"]
    train = gdf[gdf.split == "train"]
    assert len(test) and len(train) and (gdf.split == "buffer").any()
    # no training window overlaps or touches the half-window buffer of the test block
    assert train.row_off.max() + 20 <= test.row_off.min() - 10
    assert not train.union_all().intersects(test.union_all().buffer(-1e-6))


def test_split_by_columns_at_start():
    s = split_windows(3, 10, 10, 10, (30, 100), test_fraction=0.2, axis="cols", test_side="start")
    assert (s[:, :2] == "test").all() and (s[:, 2] == "buffer").all() and (s[:, 3:] == "train").all()


def test_no_deposit_inside_the_grid_is_a_clear_error():
    g = _grid()
    with pytest.raises(DepositError, match="none of the 1 deposits"):
        make_windows(np.ones(g.shape, bool), g, np.array([[5000.0, 5000.0]]), size=20, stride=10)


def test_window_larger_than_stack():
    g = _grid(10, 10)
    with pytest.raises(GridError, match="larger than the stack"):
        make_windows(np.ones(g.shape, bool), g, np.array([[5.0, 5.0]]), size=20, stride=10)
