"""Bad point inputs (issue 8): each case gives a clear message naming the file, the row and a fix,
or is read correctly (encodings, BOM, separators, decimal commas). Extends test_points.py."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from geoprospect.errors import ColumnError, CRSError, InputError, ValueParseError
from geoprospect.io.points import read_points, sparse_points_warning

UTM = "EPSG:32649"
HEAD = "x,y,Au,Cu\n"
ROWS = "500100,2800100,1.5,10\n500900,2800400,2.5,20\n501700,2801200,0.7,30\n"


def _csv(tmp_path, text: str, name: str = "p.csv", encoding: str = "utf-8") -> object:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def _msg(exc) -> str:
    return str(exc.value)


# -- coordinates ----------------------------------------------------------------------------------

def test_missing_x_in_a_row(tmp_path):
    p = _csv(tmp_path, HEAD + ROWS + ",2801000,1.0,5\n")
    with pytest.raises(InputError, match="no coordinates") as e:
        read_points(p, ["Au"], crs=UTM)
    assert "row 5" in _msg(e) and "p.csv" in _msg(e) and "How to fix" in _msg(e)


def test_missing_coordinate_columns(tmp_path):
    p = _csv(tmp_path, "east_m,north_m,Au\n1,2,3\n")
    with pytest.raises(ColumnError, match="which column holds x") as e:
        read_points(p, ["Au"], crs=UTM)
    assert "east_m" in _msg(e) and "--x-field" in _msg(e)


def test_x_y_swapped_in_utm(tmp_path):
    p = _csv(tmp_path, "x,y,Au\n2800100,500100,1\n2800400,500900,2\n")
    with pytest.raises(CRSError, match="swapped") as e:
        read_points(p, ["Au"], crs=UTM)
    assert "row 2" in _msg(e) and "swap --x-field and --y-field" in _msg(e)


def test_degrees_declared_as_utm_metres(tmp_path):
    p = _csv(tmp_path, "lon,lat,Au\n111.5,25.3,1\n111.6,25.4,2\n")
    with pytest.raises(CRSError, match="look like degrees") as e:
        read_points(p, ["Au"], crs=UTM)
    assert "EPSG:4326" in _msg(e)
    assert read_points(p, ["Au"], crs="EPSG:4326").to_crs(UTM).xy[:, 0].min() > 100000  # the fix works


def test_lon_lat_swapped(tmp_path):
    p = _csv(tmp_path, "lon,lat,Au\n-27.1,117.2,1\n-27.3,117.5,2\n")
    with pytest.raises(CRSError, match="swapped") as e:
        read_points(p, ["Au"], crs="EPSG:4326")
    assert "row 2" in _msg(e)


def test_lon_lat_out_of_range(tmp_path):
    p = _csv(tmp_path, "lon,lat,Au\n117.1,-27.2,1\n190.5,-27.3,2\n")
    with pytest.raises(CRSError, match=r"outside \+-180") as e:
        read_points(p, ["Au"], crs="EPSG:4326")
    assert "row 3" in _msg(e)


def test_points_in_another_hemisphere_are_refused(tmp_path):
    # northings near 0 declared in a northern zone whose area starts at the equator: fine;
    # the same points in a UTM zone of the other side of the world: far outside
    p = _csv(tmp_path, "x,y,Au\n-5500000,-9000000,1\n-5400000,-9100000,2\n")
    with pytest.raises(CRSError, match="far outside") as e:
        read_points(p, ["Au"], crs=UTM)
    assert "row 2" in _msg(e) and "UTM zone" in _msg(e)


# -- values ---------------------------------------------------------------------------------------

def test_text_in_a_numeric_column(tmp_path):
    p = _csv(tmp_path, HEAD + ROWS + "501000,2801000,high,5\n")
    with pytest.raises(ValueParseError, match="'high'") as e:
        read_points(p, ["Au"], crs=UTM)
    assert "row 5" in _msg(e) and "'Au'" in _msg(e)


@pytest.mark.parametrize("value", ["<0.5", "< 0.5", "BDL", "bdl", "n.d.", "N.D.", "ND", "<DL"])
def test_censored_values_are_refused_with_a_hint(tmp_path, value):
    p = _csv(tmp_path, HEAD + ROWS + f"501000,2801000,{value},5\n")
    with pytest.raises(ValueParseError, match="censored") as e:
        read_points(p, ["Au"], crs=UTM)
    assert "row 5" in _msg(e) and repr(value.strip()) in _msg(e)


def test_negative_detection_limit_is_read_and_refused_by_log10(tmp_path):
    from geoprospect.pipeline.stages import log10_values

    p = _csv(tmp_path, HEAD + ROWS + "501000,2801000,-0.5,5\n")
    t = read_points(p, ["Au"], crs=UTM)
    assert t.values[-1, 0] == -0.5  # the reader keeps it: the geochemistry module decides
    with pytest.raises(ValueParseError, match="below detection") as e:
        log10_values(t)
    assert "row 5" in _msg(e)


def test_empty_cells_are_missing_values(tmp_path):
    p = _csv(tmp_path, HEAD + ROWS + "501000,2801000,,5\n")
    t = read_points(p, ["Au", "Cu"], crs=UTM)
    assert np.isnan(t.values[-1, 0]) and t.values[-1, 1] == 5


def test_all_censored_element(tmp_path):
    p = _csv(tmp_path, "x,y,Au,Cu\n500100,2800100,<0.5,1\n500900,2800400,<0.5,2\n")
    with pytest.raises(ValueParseError, match="2 such values"):
        read_points(p, ["Au"], crs=UTM)


def test_all_empty_element(tmp_path):
    p = _csv(tmp_path, "x,y,Au,Cu\n500100,2800100,,1\n500900,2800400,,2\n")
    with pytest.raises(ColumnError, match="'Au' holds no values"):
        read_points(p, ["Au", "Cu"], crs=UTM)


def test_constant_element_warns(tmp_path, caplog):
    p = _csv(tmp_path, "x,y,Au,Cu\n500100,2800100,1,1\n500900,2800400,1,2\n")
    with caplog.at_level(logging.WARNING, logger="geoprospect"):
        read_points(p, ["Au", "Cu"], crs=UTM)
    assert "'Au' is constant" in caplog.text and "'Cu' is constant" not in caplog.text


def test_infinite_value(tmp_path):
    p = _csv(tmp_path, HEAD + ROWS + "501000,2801000,inf,5\n")
    with pytest.raises(ValueParseError, match="infinite") as e:
        read_points(p, ["Au"], crs=UTM)
    assert "row 5" in _msg(e)


def test_decimal_commas_with_semicolons_are_read(tmp_path):
    p = _csv(tmp_path, "x;y;Au;Cu\n500100,5;2800100;1,5;10\n500900;2800400,25;2,5;20\n")
    t = read_points(p, ["Au", "Cu"], crs=UTM)
    assert t.values[:, 0].tolist() == [1.5, 2.5] and t.xy[0, 0] == 500100.5 and t.xy[1, 1] == 2800400.25


def test_decimal_commas_in_a_comma_separated_file(tmp_path):
    p = _csv(tmp_path, "x,y,Au\n500100,2800100,1,5\n")
    with pytest.raises(InputError, match="malformed CSV") as e:
        read_points(p, ["Au"], crs=UTM)
    assert "decimal commas" in _msg(e)


def test_duplicate_locations_warn(tmp_path, caplog):
    p = _csv(tmp_path, HEAD + ROWS + "500100,2800100,3.0,40\n")
    with caplog.at_level(logging.WARNING, logger="geoprospect"):
        t = read_points(p, ["Au"], crs=UTM)
    assert len(t) == 4 and "share a location" in caplog.text and "row 2" in caplog.text


def test_a_handful_of_points_for_a_large_grid():
    assert sparse_points_warning(3, 100) is not None
    assert "cells per point" in sparse_points_warning(50, 10_000_000)
    assert sparse_points_warning(500, 250_000) is None


def test_a_handful_of_points_warns_in_interpolation(caplog):
    from pyproj import CRS

    from geoprospect.grid import GridSpec
    from geoprospect.io.points import PointTable
    from geoprospect.pipeline.stages import interpolate

    g = GridSpec.from_bounds((0, 0, 10000, 10000), 100, UTM)
    pts = PointTable(np.array([[500.0, 500.0], [9000.0, 9000.0]]), np.array([[1.0], [2.0]]), ["Au"], CRS.from_user_input(UTM), "few.csv", np.array([2, 3]))
    with caplog.at_level(logging.WARNING, logger="geoprospect"):
        interpolate(pts, g)
    assert "only 2 sample points" in caplog.text


# -- file formats -----------------------------------------------------------------------------------

def test_latin1_header(tmp_path):
    p = _csv(tmp_path, "x,y,Au_Ø,Cu µg\n500100,2800100,1.5,3\n500900,2800400,2.5,4\n", encoding="latin-1")
    t = read_points(p, ["Au_Ø", "Cu µg"], crs=UTM)
    assert t.elements == ["Au_Ø", "Cu µg"] and t.values[:, 0].tolist() == [1.5, 2.5]


def test_utf8_bom(tmp_path):
    p = _csv(tmp_path, "\ufeffx,y,Au\n500100,2800100,1.5\n500900,2800400,2.5\n")
    t = read_points(p, ["Au"], crs=UTM)  # "x" is found although the BOM precedes it
    assert t.xy[0, 0] == 500100


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_separators(tmp_path, sep):
    p = _csv(tmp_path, (HEAD + ROWS).replace(",", sep))
    t = read_points(p, ["Au", "Cu"], crs=UTM)
    assert t.values[:, 1].tolist() == [10, 20, 30]


def test_empty_file(tmp_path):
    with pytest.raises(InputError, match="empty"):
        read_points(_csv(tmp_path, ""), ["Au"], crs=UTM)


def test_header_only(tmp_path):
    with pytest.raises(InputError, match="no rows"):
        read_points(_csv(tmp_path, HEAD), ["Au"], crs=UTM)


def test_single_column_file_hints_at_the_separator(tmp_path):
    with pytest.raises(InputError, match="separator"):
        read_points(_csv(tmp_path, "x y Au\n1 2 3\n"), ["Au"], crs=UTM)


def test_spreadsheet_is_named(tmp_path):
    p = tmp_path / "p.csv"
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(InputError, match="spreadsheet"):
        read_points(p, ["Au"], crs=UTM)


def test_duplicate_column_names(tmp_path):
    with pytest.raises(ColumnError, match="duplicate column"):
        read_points(_csv(tmp_path, "x,y,Au,Au\n500100,2800100,1,2\n"), ["Au"], crs=UTM)


def test_unknown_crs(tmp_path):
    with pytest.raises(CRSError, match="cannot understand"):
        read_points(_csv(tmp_path, HEAD + ROWS), ["Au"], crs="EPSG:999999")


# -- vector point files -----------------------------------------------------------------------------

def test_points_layer_choice_in_a_multi_layer_geopackage(tmp_path):
    import geopandas as gpd
    import shapely

    p = tmp_path / "m.gpkg"
    for name in ("soil", "stream"):
        gpd.GeoDataFrame({"Au": [1.0, 2.0]}, geometry=shapely.points([[500100, 2800100], [500200, 2800300]]), crs=UTM).to_file(p, layer=name, driver="GPKG")
    with pytest.raises(InputError, match="2 layers") as e:
        read_points(p, ["Au"])
    assert "soil" in _msg(e) and "stream" in _msg(e) and "--layer" in _msg(e)
    with pytest.raises(InputError, match="no layer 'rock'"):
        read_points(p, ["Au"], layer="rock")
    assert len(read_points(p, ["Au"], layer="stream")) == 2


def test_points_with_z_and_single_part_multipoints(tmp_path):
    import geopandas as gpd
    import shapely

    p = tmp_path / "z.gpkg"
    geoms = [shapely.Point(500100, 2800100, 300), shapely.MultiPoint([(500200, 2800300, 310)])]
    gpd.GeoDataFrame({"Au": [1.0, 2.0]}, geometry=geoms, crs=UTM).to_file(p, driver="GPKG")
    t = read_points(p, ["Au"])
    assert t.xy.tolist() == [[500100, 2800100], [500200, 2800300]]


def test_polygons_given_as_points_name_the_feature(tmp_path):
    import geopandas as gpd
    import shapely

    p = tmp_path / "poly.gpkg"
    geoms = [shapely.Point(500100, 2800100), shapely.box(500000, 2800000, 500500, 2800500)]
    gpd.GeoDataFrame({"Au": [1.0, 2.0]}, geometry=geoms, crs=UTM).to_file(p, driver="GPKG")
    with pytest.raises(InputError, match="expected point geometries") as e:
        read_points(p, ["Au"])
    assert "feature 2" in _msg(e)


def test_corrupt_vector_file(tmp_path):
    p = tmp_path / "broken.gpkg"
    p.write_bytes(b"SQLite format 3\x00" + b"\x13" * 500)
    with pytest.raises(InputError, match="cannot read"):
        read_points(p, ["Au"])


def test_geojson_in_metres_without_crs_member(tmp_path):
    p = tmp_path / "p.geojson"
    p.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"Au":1.5},"geometry":{"type":"Point","coordinates":[500100,2800100]}}]}')
    with pytest.raises(CRSError, match=r"outside \+-180"):
        read_points(p, ["Au"])  # GDAL takes it as WGS 84
    t = read_points(p, ["Au"], crs=UTM)
    assert t.crs.to_epsg() == 32649 and t.xy.tolist() == [[500100, 2800100]]


def test_decimal_commas_reach_the_geochemistry_reader_converted(tmp_path):
    """read_raw_points (used by prepare-geochem) converts decimal commas, censored forms included."""
    from geoprospect.io.points import read_raw_points

    p = _csv(tmp_path, "x;y;Au;Note\n500100;2800100;<0,5;a,b\n500900;2800400;1,25;c\n")
    raw = read_raw_points(p, crs=UTM)
    assert raw.table["Au"].tolist() == ["<0.5", "1.25"]
    assert raw.table["Note"].tolist() == ["a,b", "c"]  # text columns are left alone
