"""Bad deposit inputs (issue 8): none in the grid, all in one window, outside the stack,
duplicated, multi-part, polygons."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import make_deposits_gpkg

from geoprospect.errors import DepositError, FoldError
from geoprospect.grid import GridSpec
from geoprospect.pipeline.stages import load_deposits
from geoprospect.windows.tiling import make_windows

UTM = "EPSG:32649"
GRID = GridSpec.from_bounds((500000, 2800000, 504000, 2804000), 100, UTM)  # 40 x 40
VALID = np.ones(GRID.shape, dtype=bool)


def _windows(xy, **kw):
    return make_windows(VALID, GRID, np.asarray(xy, dtype=float).reshape(-1, 2), size=8, stride=8, **kw)


def test_no_deposit_in_the_grid(tmp_path):
    p = make_deposits_gpkg(tmp_path / "d.gpkg", [[600000, 2900000], [610000, 2910000]])
    xy = load_deposits(p, GRID)
    with pytest.raises(DepositError, match="none of the 2 deposits lies inside the grid") as e:
        _windows(xy)
    assert "CRS" in e.value.hint


def test_deposits_in_another_crs_are_reprojected(tmp_path):
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True).transform(501050, 2801050)
    p = make_deposits_gpkg(tmp_path / "ll.gpkg", [[lon, lat]], crs="EPSG:4326")
    xy = load_deposits(p, GRID)
    assert np.allclose(xy, [[501050, 2801050]], atol=1e-3)


def test_deposits_declared_in_the_wrong_crs_are_caught(tmp_path):
    # UTM metres saved with a geographic CRS: they cannot be projected, or land nowhere near the grid
    from geoprospect.errors import CRSError

    p = make_deposits_gpkg(tmp_path / "wrong.gpkg", [[120.0, 25.0], [501050, 2801050]], crs="EPSG:4326")
    with pytest.raises(CRSError, match="beyond") as e:
        load_deposits(p, GRID)
    assert "wrong.gpkg" in str(e.value) and "feature 2" in str(e.value)


def test_some_deposits_outside_the_stack_are_counted(caplog):
    with caplog.at_level(logging.WARNING, logger="geoprospect"):
        gdf, summary = _windows([[501050, 2801050], [400000, 2801050], [501050, 2900000]], test_fraction=0.4)
    assert "2 of 3 deposits lie outside the grid and are ignored" in caplog.text
    assert int(gdf["label"].sum()) == 1


def test_all_deposits_in_one_window():
    xy = [[500150, 2803850], [500250, 2803750], [500350, 2803650]]  # north-west corner
    # the default test block (south) holds none of them: refused before any training, fix named
    with pytest.raises(FoldError, match="south 30%.*no deposit") as e:
        _windows(xy)
    assert "windows.test_side" in e.value.hint and "--test-side" in e.value.hint
    assert "split_axis rows, test_side start (north: 1 positive windows)" in e.value.hint
    gdf, summary = _windows(xy, test_side="start")
    pos = gdf[gdf["label"] == 1]
    assert len(pos) == 1 and int(pos["n_deposits"].iloc[0]) == 3
    assert summary.positives_by_split["test"] == 1


def test_duplicated_deposits_are_kept_and_reported(tmp_path, caplog):
    p = make_deposits_gpkg(tmp_path / "dup.gpkg", [[501050, 2801050], [501050, 2801050], [503050, 2803050]])
    with caplog.at_level(logging.WARNING, logger="geoprospect"):
        xy = load_deposits(p, GRID)
    assert len(xy) == 3 and "1 deposits share a location" in caplog.text
    gdf, _ = _windows(xy, test_fraction=0.4)
    assert int(gdf["n_deposits"].sum()) == 3


def test_polygon_and_multipoint_deposits(tmp_path):
    geoms = [shapely.box(501000, 2801000, 501200, 2801200), shapely.MultiPoint([(503050, 2803050), (502050, 2802050)])]
    p = tmp_path / "mixed.gpkg"
    gpd.GeoDataFrame({"id": [0, 1]}, geometry=geoms, crs=UTM).to_file(p, driver="GPKG")
    xy = load_deposits(p, GRID)
    assert len(xy) == 3
    assert any(501000 <= x <= 501200 and 2801000 <= y <= 2801200 for x, y in xy)  # a point on the polygon
    assert {(503050.0, 2803050.0), (502050.0, 2802050.0)} <= {tuple(r) for r in xy}
