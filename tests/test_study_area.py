"""The study area: grid bounds from it, nodata outside it in the stack and on `distance`,
deposits outside it left out of capture (counts worked out by hand)."""

import logging

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from pyproj import Transformer
from shapely.geometry import LineString, Polygon, box

from geoprospect.cli import cli
from geoprospect.evaluation.metrics import deposit_capture, deposit_flat
from geoprospect.grid import GridSpec, to_crs
from geoprospect.pipeline import stages
from geoprospect.pipeline.config import RunConfig
from geoprospect.stack.area import StudyArea, deposits_in_area, read_area
from geoprospect.stack.build import build_stack
from geoprospect.stack.layers import array_layer, distance_layer

UTM = "EPSG:32650"


def _triangle_utm() -> Polygon:
    return Polygon([(500010, 2800010), (501990, 2800010), (500010, 2801970)])  # no edge through a cell centre


def _write_area(path, poly_utm: Polygon, crs: str) -> None:
    """Write the polygon (given in UTM) to a GeoPackage in ``crs``."""
    gpd.GeoDataFrame(geometry=[poly_utm], crs=UTM).to_crs(crs).to_file(path)


def _centres_inside(grid: GridSpec, poly_utm: Polygon) -> np.ndarray:
    """Independent reference: cell centres (in the grid's CRS) inside the UTM polygon."""
    xy = grid.cell_centers()
    if not grid.crs.equals(to_crs(UTM)):
        x, y = Transformer.from_crs(grid.crs, UTM, always_xy=True).transform(xy[:, 0], xy[:, 1])
        xy = np.column_stack([x, y])
    return shapely.contains_xy(poly_utm, xy[:, 0], xy[:, 1]).reshape(grid.shape)


def test_grid_bounds_default_to_the_area_snapped_outwards():
    area = StudyArea(np.array([Polygon([(500050, 2800020), (501930, 2800020), (500050, 2801390)])], dtype=object), to_crs(UTM))
    g = stages.make_grid(None, resolution=100, area=area)
    assert g.crs.equals(to_crs(UTM))
    assert g.bounds == (500000.0, 2800000.0, 502000.0, 2801400.0)
    assert g.shape == (14, 20)
    # explicit bounds win over the area
    g2 = stages.make_grid(None, crs=UTM, resolution=100, bounds=(0, 0, 500, 500), area=area)
    assert g2.bounds == (0.0, 0.0, 500.0, 500.0)


@pytest.mark.parametrize("area_crs", [UTM, "EPSG:4326"])
def test_stack_is_nodata_outside_the_area(tmp_path, area_crs):
    _write_area(tmp_path / "area.gpkg", _triangle_utm(), area_crs)
    area = read_area(tmp_path / "area.gpkg")
    grid = stages.make_grid(None, crs=UTM, resolution=100, area=area)
    assert grid.shape == (20, 20)
    inside = _centres_inside(grid, _triangle_utm())
    assert 150 < inside.sum() < 250  # about half the square
    ones = np.ones(grid.shape, dtype=np.float32)
    layers = [array_layer(["one"], ones, grid), distance_layer([LineString([(500000, 2799000), (503000, 2799000)])], "dist")]
    st = build_stack(layers, grid, tmp_path / "stack.tif", block_size=16, area=area)  # several blocks
    with rasterio.open(st.path) as src:
        assert src.nodata == -9999.0
        assert src.tags()["GEOPROSPECT_AREA"] == "area.gpkg (1 polygon(s))"
        for b in (1, 2):
            raw = src.read(b)
            assert (raw[~inside] == -9999.0).all()
            assert (raw[inside] != -9999.0).all()
            assert ((src.read_masks(b) > 0) == inside).all()
        np.testing.assert_array_equal(src.read(1)[inside], 1.0)
    assert st.stats[0]["valid"] == int(inside.sum())


def test_stack_area_in_another_crs_than_the_grid(tmp_path):
    """Grid in geographic WGS 84 cells, area in UTM: the mask follows cell centres in the grid's CRS."""
    _write_area(tmp_path / "area.gpkg", _triangle_utm(), UTM)
    area = read_area(tmp_path / "area.gpkg")
    grid = stages.make_grid(None, crs="EPSG:4326", resolution=0.001, area=area)
    inside = _centres_inside(grid, _triangle_utm())
    assert inside.any() and (~inside).any()
    ones = np.ones(grid.shape, np.float32)
    st = build_stack([array_layer(["one"], ones, grid)], grid, tmp_path / "s.tif", area=area)
    with rasterio.open(st.path) as src:
        assert ((src.read_masks(1) > 0) == inside).all()
    assert (ones == 1.0).all()  # the caller's bands are not masked in place (a single layer's block is its own view)


def test_capture_counts_cells_and_deposits_inside_the_area_only(caplog):
    grid = GridSpec.from_bounds((0, 0, 1000, 1000), 100, UTM)  # 10 x 10
    rr, cc = np.mgrid[0:10, 0:10]
    scores = (cc * 10 + rr).astype(np.float64)  # distinct, rising to the east
    def xy(r, c):
        return (c * 100 + 50, 1000 - (r * 100 + 50))
    deposits = np.array([xy(0, 4), xy(5, 0), xy(2, 9), xy(3, 8)], dtype=np.float64)
    # whole map: top 10 % = the 10 cells of column 9 (scores 90-99): (2, 9) only -> 1/4;
    # top 20 % = columns 8-9 (scores 80-99): (2, 9) and (3, 8) -> 2/4
    whole = deposit_capture(scores, deposit_flat(grid, deposits))
    assert whole["n_cells"] == 100 and whole["n_deposits"] == 4
    assert whole["capture_top_10pct"] == pytest.approx(0.25)
    assert whole["capture_top_20pct"] == pytest.approx(0.5)
    # study area = western half (columns 0-4): 50 cells; the two eastern deposits are left out.
    area = StudyArea(np.array([box(0, 0, 500, 1000)], dtype=object), to_crs(UTM), "west.gpkg")
    with caplog.at_level(logging.WARNING):
        dep = deposits_in_area(deposits, area, grid.crs)
    assert "2 of 4 deposits lie outside the study area" in caplog.text
    assert len(dep) == 2
    masked = np.where(area.mask(grid), scores, np.nan)
    # top 10 % = 5 cells (scores 45-49): none; top 20 % = 10 cells (scores 40-49): (0, 4) -> 1/2
    inside = deposit_capture(masked, deposit_flat(grid, dep))
    assert inside["n_cells"] == 50 and inside["n_deposits"] == 2
    assert inside["capture_top_10pct"] == pytest.approx(0.0)
    assert inside["capture_top_20pct"] == pytest.approx(0.5)


def test_distance_command_writes_nodata_outside_the_area(tmp_path):
    _write_area(tmp_path / "area.gpkg", _triangle_utm(), "EPSG:4326")
    gpd.GeoDataFrame(geometry=[LineString([(500000, 2799000), (503000, 2799000)])], crs=UTM).to_file(tmp_path / "faults.gpkg")
    r = CliRunner().invoke(cli, ["--progress", "none", "distance", str(tmp_path / "faults.gpkg"), "--out", str(tmp_path / "d.tif"),
                                 "--resolution", "100", "--grid-crs", UTM, "--area", str(tmp_path / "area.gpkg")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    grid = GridSpec.from_raster(tmp_path / "d.tif")
    assert grid.bounds == (500000.0, 2800000.0, 502000.0, 2802000.0)  # the area's extent
    inside = _centres_inside(grid, _triangle_utm())
    with rasterio.open(tmp_path / "d.tif") as src:
        assert src.nodata == -9999.0
        d = src.read(1)
        assert ((src.read_masks(1) > 0) == inside).all()
    yc = grid.cell_centers()[:, 1].reshape(grid.shape)
    np.testing.assert_allclose(d[inside], (yc - 2799000)[inside], rtol=1e-6)


def test_run_config_area_is_optional_and_resolved(tmp_path):
    raw = {"points": {"path": "p.csv"}, "grid": {"resolution": 100}, "deposits": {"path": "d.gpkg"}}
    assert RunConfig.model_validate(raw).area is None
    cfg = RunConfig.model_validate({**raw, "area": {"path": "a.gpkg", "layer": "hull"}}).resolve(tmp_path)
    assert cfg.area.path == tmp_path / "a.gpkg" and cfg.area.layer == "hull"
    assert tmp_path / "a.gpkg" in cfg.input_files()
