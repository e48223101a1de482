import logging

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoprospect.errors import CRSError, GeometryError, InputError
from geoprospect.evidence.distance import distance_to_features
from geoprospect.grid import GridSpec
from geoprospect.io.vectors import read_vectors


def distance_layer(path, grid: GridSpec) -> np.ndarray:
    """Distance from each cell centre to the features of a vector file read onto the grid's CRS."""
    return distance_to_features(read_vectors(path, target_crs=grid.crs).geometry.values, grid)


def test_layer_in_another_crs_is_reprojected_and_logged(tmp_path, caplog):
    g = GridSpec.from_bounds((500000, 2800000, 505000, 2805000), 100, "EPSG:32649")
    line = shapely.LineString([(500500, 2800500), (504500, 2804000)])
    utm = gpd.GeoDataFrame(geometry=[line], crs="EPSG:32649")
    utm.to_file(tmp_path / "utm.gpkg", driver="GPKG")
    utm.to_crs("EPSG:4326").to_file(tmp_path / "ll.gpkg", driver="GPKG")
    with caplog.at_level(logging.INFO, logger="geoprospect"):
        d_ll = distance_layer(tmp_path / "ll.gpkg", g)
    assert any("reprojected" in r.getMessage() for r in caplog.records)
    d_utm = distance_layer(tmp_path / "utm.gpkg", g)
    # a straight line in UTM is very nearly straight after the round trip through degrees
    assert np.abs(d_ll - d_utm).max() < 1.0


def test_empty_layer(tmp_path):
    gpd.GeoDataFrame({"a": []}, geometry=[], crs="EPSG:32649").to_file(tmp_path / "e.gpkg", driver="GPKG")
    with pytest.raises(GeometryError, match="no features"):
        read_vectors(tmp_path / "e.gpkg", what="faults")


def test_multilayer_needs_a_layer_name(tmp_path):
    p = tmp_path / "m.gpkg"
    for name in ("faults", "dykes"):
        gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 1)])], crs="EPSG:32649").to_file(p, layer=name, driver="GPKG")
    with pytest.raises(InputError, match="2 layers.*faults.*dykes|2 layers.*dykes.*faults"):
        read_vectors(p)
    assert len(read_vectors(p, layer="dykes")) == 1


def test_invalid_polygon_is_repaired_and_reported(tmp_path, caplog):
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    assert not bowtie.is_valid
    gpd.GeoDataFrame(geometry=[bowtie], crs="EPSG:32649").to_file(tmp_path / "b.gpkg", driver="GPKG")
    with caplog.at_level(logging.WARNING, logger="geoprospect"):
        g = read_vectors(tmp_path / "b.gpkg")
    assert g.geometry.is_valid.all() and g.geometry.area.sum() == pytest.approx(50.0)
    assert any("repaired 1 invalid" in r.getMessage() and "feature 1" in r.getMessage() for r in caplog.records)


def test_no_crs(tmp_path):
    gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 1)])]).to_file(tmp_path / "n.gpkg", driver="GPKG")
    with pytest.raises(CRSError, match="no CRS"):
        read_vectors(tmp_path / "n.gpkg")


def test_z_coordinates_are_dropped(tmp_path):
    gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0, 5), (1, 1, 6)])], crs="EPSG:32649").to_file(tmp_path / "z.gpkg", driver="GPKG")
    assert not read_vectors(tmp_path / "z.gpkg").geometry.has_z.any()
