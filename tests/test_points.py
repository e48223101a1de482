import numpy as np
import pandas as pd
import pytest
from conftest import make_points_csv
from pyproj import Transformer

from geoprospect.errors import ColumnError, CRSError, InputError, ValueParseError
from geoprospect.io.points import read_points


def test_csv_read_with_named_columns(tmp_path):
    p = make_points_csv(tmp_path / "p.csv", n=10)
    t = read_points(p, ["Au", "Cu"], x_field="x", y_field="y", crs="EPSG:32649")
    df = pd.read_csv(p)
    assert t.xy.shape == (10, 2) and t.values.shape == (10, 2)
    assert np.array_equal(t.xy[:, 0], df["x"].to_numpy())
    assert np.array_equal(t.values[:, 1], df["Cu"].to_numpy())
    assert t.crs.to_epsg() == 32649
    assert t.rows.tolist() == list(range(2, 12))


def test_csv_guesses_lon_lat_and_reprojects_with_pyproj(tmp_path):
    df = pd.DataFrame({"LONGITUDE": [117.0, 117.5], "LATITUDE": [-27.0, -27.2], "Au_ppb": [1.0, 2.0]})
    p = tmp_path / "ll.csv"
    df.to_csv(p, index=False)
    t = read_points(p, ["Au_ppb"], crs="EPSG:4283")
    u = t.to_crs("EPSG:20350")
    x, y = Transformer.from_crs("EPSG:4283", "EPSG:20350", always_xy=True).transform(df["LONGITUDE"].to_numpy(), df["LATITUDE"].to_numpy())
    assert np.allclose(u.xy[:, 0], x) and np.allclose(u.xy[:, 1], y)


def test_geopackage_points(tmp_path):
    import geopandas as gpd
    import shapely

    gdf = gpd.GeoDataFrame({"Au": [1.0, 2.0, 3.0]}, geometry=shapely.points([[400000, 3000000], [400001, 3000001], [400002, 3000002]]), crs="EPSG:32650")
    p = tmp_path / "p.gpkg"
    gdf.to_file(p, driver="GPKG")
    t = read_points(p, ["Au"])
    assert t.crs.to_epsg() == 32650 and t.values[:, 0].tolist() == [1.0, 2.0, 3.0]


def test_missing_column_is_named(tmp_path):
    p = make_points_csv(tmp_path / "p.csv", n=5)
    with pytest.raises(ColumnError, match="'Zn'.*not found") as e:
        read_points(p, ["Au", "Zn"], crs="EPSG:32649")
    assert str(p) in str(e.value)


def test_non_numeric_value_names_file_row_and_column(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("x,y,Au\n500001,2800002,0.5\n500003,2800004,abc\n500005,2800006,0.7\n")
    with pytest.raises(ValueParseError) as e:
        read_points(p, ["Au"], crs="EPSG:32649")
    msg = str(e.value)
    assert "bad.csv" in msg and "row 3" in msg and "'Au'" in msg and "'abc'" in msg


def test_censored_value_gets_a_hint(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("x,y,Au\n500001,2800002,<0.5\n500003,2800004,1.0\n")
    with pytest.raises(ValueParseError, match="censored"):
        read_points(p, ["Au"], crs="EPSG:32649")


def test_csv_without_crs_is_refused(tmp_path):
    p = make_points_csv(tmp_path / "p.csv", n=5)
    with pytest.raises(CRSError, match="no CRS") as e:
        read_points(p, ["Au"])
    assert "--crs" in str(e.value)


def test_vector_without_crs_is_refused(tmp_path):
    import geopandas as gpd
    import shapely

    p = tmp_path / "nocrs.gpkg"
    gpd.GeoDataFrame({"Au": [1.0]}, geometry=shapely.points([[500000, 2800000]])).to_file(p, driver="GPKG")
    with pytest.raises(CRSError):
        read_points(p, ["Au"])
    assert read_points(p, ["Au"], crs="EPSG:32649").crs.to_epsg() == 32649


def test_metres_declared_as_degrees_are_caught(tmp_path):
    p = make_points_csv(tmp_path / "p.csv", n=5)
    with pytest.raises(CRSError, match="not degrees"):
        read_points(p, ["Au"], crs="EPSG:4326")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_points(tmp_path / "nope.csv", ["Au"], crs="EPSG:4326")


def test_input_file_is_not_modified(tmp_path):
    p = make_points_csv(tmp_path / "p.csv", n=5)
    before = p.read_bytes()
    read_points(p, ["Au"], crs="EPSG:32649").to_crs("EPSG:4326")
    assert p.read_bytes() == before
