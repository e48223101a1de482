"""Geology polygons to one-hot bands; written with write_raster and read back."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from geoprospect.errors import ColumnError, GeometryError, InputError
from geoprospect.evidence.categorical import categorical_bands
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import read_stack, write_raster

X0, Y0 = 300_000.0, 7_000_000.0


def _geology(crs="EPSG:32750"):
    polys = [
        shapely.box(X0, Y0, X0 + 500, Y0 + 1000),               # granite, left half
        shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 600),          # greenstone, lower right
        shapely.box(X0 + 500, Y0 + 600, X0 + 900, Y0 + 1000),    # greenstone, upper right (not to the edge)
        shapely.box(X0 + 210, Y0 + 210, X0 + 240, Y0 + 240),     # small dyke inside granite
    ]
    return gpd.GeoDataFrame({"unit": ["granite", "greenstone", "greenstone", "dyke"]}, geometry=polys, crs=crs)


def _grid(crs="EPSG:32750"):
    return GridSpec.from_bounds((X0, Y0, X0 + 1000, Y0 + 1000), 100.0, crs)


def test_one_hot_bands_with_names_and_centre_rule():
    bands, names = categorical_bands(_geology(), _grid(), "unit", outside=0.0)
    assert names == ["dyke", "granite", "greenstone"]
    assert bands.shape == (3, 10, 10) and bands.dtype == np.float32
    g = dict(zip(names, bands))
    assert np.all(g["granite"][:, :5] == 1) and np.all(g["granite"][:, 5:] == 0)
    assert np.all(g["greenstone"][:, 5:9] == 1) and np.all(g["greenstone"][:4, 9] == 0)
    # the 40 m dyke contains no cell centre (cell centres at 150, 250): no cell without all_touched
    assert g["dyke"].sum() == 0
    # one class per cell at most with the centre rule
    assert bands.sum(axis=0).max() == 1


def test_all_touched_single_class_and_outside_nan():
    (dyke,), names = categorical_bands(_geology(), _grid(), "unit", classes=["dyke"], all_touched=True)
    assert names == ["dyke"] and np.nansum(dyke) >= 1
    bands, _ = categorical_bands(_geology(), _grid(), "unit", outside=np.nan)
    assert np.all(np.isnan(bands[:, :4, 9]))  # upper right corner: no polygon
    assert not np.isnan(bands[:, :, :9]).any()


def test_unmapped_cells_are_nodata_by_default_and_warned(caplog):
    with caplog.at_level("WARNING"):
        bands, _ = categorical_bands(_geology(), _grid(), "unit")
    assert np.all(np.isnan(bands[:, :4, 9])) and int(np.isnan(bands[0]).sum()) == 4
    assert "4.0% of the grid lies outside every geology polygon" in caplog.text


def test_misspelt_class_field_suggests_the_column():
    with pytest.raises(ColumnError, match="did you mean `unit`"):
        categorical_bands(_geology(), _grid(), "Unit ")


def test_reprojected_layer_and_write_read_back(tmp_path):
    geo = _geology().to_crs("EPSG:4326")
    grid = _grid()
    bands, names = categorical_bands(geo, grid, "unit", classes=["granite", "greenstone"], outside=0.0)
    assert bands[0][:, :4].all() and bands[1][:, 6:8].all()
    out = write_raster(tmp_path / "geology.tif", bands, grid, names)
    with rasterio.open(out) as src:
        assert list(src.descriptions) == names
        assert src.crs.to_epsg() == 32750
    st = read_stack(out)
    assert st.band_names == names
    np.testing.assert_array_equal(st.data, bands)


def test_bad_input():
    grid = _grid()
    with pytest.raises(ColumnError, match="no column 'rock'") as ei:
        categorical_bands(_geology(), grid, "rock")
    assert "unit" in str(ei.value)
    with pytest.raises(InputError, match="do not occur"):
        categorical_bands(_geology(), grid, "unit", classes=["BIF"])
    empty = gpd.GeoDataFrame({"unit": []}, geometry=[], crs="EPSG:32750")
    with pytest.raises(GeometryError, match="no features"):
        categorical_bands(empty, grid, "unit")
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 500, Y0 + 500), (X0 + 500, Y0), (X0, Y0 + 500)])
    bad = gpd.GeoDataFrame({"unit": ["a", "b"]}, geometry=[shapely.box(X0, Y0, X0 + 1, Y0 + 1), bowtie], crs="EPSG:32750")
    with pytest.raises(GeometryError) as ei:
        categorical_bands(bad, grid, "unit")
    assert ei.value.feature == 1
    lines = gpd.GeoDataFrame({"unit": ["a"]}, geometry=[shapely.LineString([(X0, Y0), (X0 + 9, Y0 + 9)])], crs="EPSG:32750")
    with pytest.raises(GeometryError, match="must be polygons"):
        categorical_bands(lines, grid, "unit")
    nulls = _geology()
    nulls["unit"] = None
    with pytest.raises(InputError, match="no class values"):
        categorical_bands(nulls, grid, "unit")
    with pytest.raises(InputError, match="GeoDataFrame"):
        categorical_bands([shapely.box(X0, Y0, X0 + 1, Y0 + 1)], grid, "unit")


def test_unmapped_share_is_the_study_areas_and_says_what_becomes_of_those_cells(caplog):
    """Geology covering the west half of a 10 x 10 km box; the study area is the west 6 km: 50 % of
    the box but 1/6 of the area is unmapped, and the warning says that share and those cells' fate."""
    import logging

    import geopandas as gpd
    import shapely

    from geoprospect.grid import GridSpec
    from geoprospect.stack.area import StudyArea
    from geoprospect.stack.layers import categorical_layer

    crs = "EPSG:32649"
    grid = GridSpec.from_bounds((500000, 2800000, 510000, 2810000), 100, crs)
    geol = gpd.GeoDataFrame({"unit": ["a", "b"]}, geometry=[shapely.box(500000, 2800000, 505000, 2805000), shapely.box(500000, 2805000, 505000, 2810000)], crs=crs)
    area = StudyArea(np.array([shapely.box(500000, 2800000, 506000, 2810000)], dtype=object), grid.crs)
    with caplog.at_level(logging.WARNING, logger="geoprospect"):
        categorical_layer(geol, grid, "unit")
    assert "50.0% of the grid lies outside every geology polygon" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="geoprospect"):
        categorical_layer(geol, grid, "unit", area=area)
    assert "16.7% of the study area lies outside every geology polygon" in caplog.text
    assert "left out of training, scoring and the ranking" in caplog.text
