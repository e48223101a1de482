import numpy as np
import pytest
import rasterio
from affine import Affine

from geoprospect.errors import CRSError, GridError
from geoprospect.grid import GridSpec


def test_from_bounds_shape_and_transform():
    g = GridSpec.from_bounds((100.0, 200.0, 1100.0, 700.0), 10.0, "EPSG:32649")
    assert g.shape == (50, 100)
    assert g.transform == Affine(10, 0, 100, 0, -10, 700)
    assert g.bounds == (100.0, 200.0, 1100.0, 700.0)
    assert g.crs.to_epsg() == 32649


def test_bounds_not_a_multiple_are_covered():
    g = GridSpec.from_bounds((0, 0, 105, 95), 10, "EPSG:3857")
    assert g.width == 11 and g.height == 10
    xmin, ymin, xmax, ymax = g.bounds
    assert xmax >= 105 and ymin <= 0


def test_cell_centres_are_pixel_centres():
    g = GridSpec.from_bounds((0, 0, 40, 30), (10, 5), "EPSG:32633")
    assert np.allclose(g.x_centers(), [5, 15, 25, 35])
    assert np.allclose(g.y_centers(), [27.5, 22.5, 17.5, 12.5, 7.5, 2.5])
    c = g.cell_centers(1, 2, 2, 2)
    assert np.allclose(c, [[25, 22.5], [35, 22.5], [25, 17.5], [35, 17.5]])
    # rasterio agrees on where cell centres are
    assert rasterio.transform.xy(g.transform, 1, 2) == (25.0, 22.5)


def test_rowcol_and_contains():
    g = GridSpec.from_bounds((0, 0, 100, 100), 10, "EPSG:32633")
    r, c = g.rowcol(np.array([5, 99.9, 100.0, -0.1]), np.array([95, 0.1, 50, 50]))
    assert r.tolist() == [0, 9, 5, 5] and c.tolist() == [0, 9, 10, -1]
    assert g.contains(np.array([5, 100.0]), np.array([95, 50])).tolist() == [True, False]


def test_from_raster_round_trip(tmp_path):
    g = GridSpec.from_bounds((500000, 2800000, 500640, 2800320), (20, 10), "EPSG:32649")
    p = tmp_path / "t.tif"
    with rasterio.open(p, "w", **g.profile(1)) as dst:
        dst.write(np.zeros((1, *g.shape), dtype="float32"))
    g2 = GridSpec.from_raster(p)
    assert g2.same_as(g)
    assert GridSpec.from_dict(g.to_dict()).same_as(g)


@pytest.mark.parametrize("bounds,res", [((0, 0, -1, 1), 1), ((0, 0, 1, 1), 0), ((0, 0, 1, 1), -2), ((0, 0, float("nan"), 1), 1)])
def test_bad_grid_is_refused(bounds, res):
    with pytest.raises(GridError):
        GridSpec.from_bounds(bounds, res, "EPSG:32649")


def test_bad_crs_is_refused():
    with pytest.raises(CRSError, match="cannot understand"):
        GridSpec.from_bounds((0, 0, 1, 1), 1, "EPSG:999999")
