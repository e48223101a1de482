"""Bad vector inputs (issue 8): empty layers, invalid/self-intersecting, multi-part and 3D
geometries, missing or different CRS, layer choice in a multi-layer GeoPackage."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from geoprospect.errors import CRSError, GeometryError, InputError
from geoprospect.evidence.distance import distance_to_features
from geoprospect.grid import GridSpec
from geoprospect.io.vectors import read_vectors

UTM = "EPSG:32649"
GRID = GridSpec.from_bounds((500000, 2800000, 502000, 2802000), 100, UTM)


def _gpkg(path, geoms, crs=UTM, layer=None, **cols):
    gpd.GeoDataFrame({"id": range(len(geoms)), **cols}, geometry=list(geoms), crs=crs).to_file(path, driver="GPKG", layer=layer)
    return path


def test_empty_layer(tmp_path):
    p = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame({"id": []}, geometry=gpd.GeoSeries([], crs=UTM)).to_file(p, driver="GPKG")
    with pytest.raises(GeometryError, match="faults layer holds no features") as e:
        read_vectors(p, what="faults")
    assert "empty.gpkg" in str(e.value) and "How to fix" in str(e.value)


def test_layer_of_empty_geometries(tmp_path):
    p = _gpkg(tmp_path / "e.gpkg", [shapely.LineString(), shapely.LineString()])
    with pytest.raises(GeometryError, match="all with empty geometries"):
        read_vectors(p, what="faults")


def test_some_null_geometries_are_skipped_and_reported(tmp_path, caplog):
    p = _gpkg(tmp_path / "n.gpkg", [shapely.LineString([(500100, 2800100), (501000, 2801000)]), None])
    with caplog.at_level(logging.WARNING, logger="geoprospect"):
        g = read_vectors(p)
    assert len(g) == 1 and "1 of 2 features have no geometry" in caplog.text


def test_self_intersecting_polygon_is_repaired_and_reported(tmp_path, caplog):
    bowtie = shapely.Polygon([(500200, 2800200), (501800, 2801800), (501800, 2800200), (500200, 2801800)])
    ok = shapely.box(500000, 2800000, 500100, 2800100)
    assert not bowtie.is_valid
    p = _gpkg(tmp_path / "bow.gpkg", [ok, bowtie])
    with caplog.at_level(logging.WARNING, logger="geoprospect"):
        g = read_vectors(p, what="alteration")
    assert g.geometry.is_valid.all()
    assert "repaired 1 invalid geometries (first: feature 2, Self-intersection" in caplog.text
    assert g.geometry.iloc[1].area == pytest.approx(2 * 0.25 * 1600 * 1600)  # two triangles kept
    d = distance_to_features(g.geometry.values, GRID)
    assert np.isfinite(d).all() and d[10, 10] == 0  # the centre of the bow-tie is inside


def test_multipart_lines_give_the_distance_to_the_nearest_part(tmp_path):
    a = shapely.LineString([(500000, 2800050), (502000, 2800050)])
    b = shapely.LineString([(500000, 2801950), (502000, 2801950)])
    p = _gpkg(tmp_path / "multi.gpkg", [shapely.MultiLineString([a, b])])
    g = read_vectors(p)
    d = distance_to_features(g.geometry.values, GRID)
    ys = GRID.y_centers()
    expect = np.minimum(np.abs(ys - 2800050), np.abs(ys - 2801950))
    assert np.allclose(d[:, 3], expect)


def test_3d_geometries_are_flattened(tmp_path, caplog):
    p = _gpkg(tmp_path / "z.gpkg", [shapely.LineString([(500100, 2800100, 250), (501900, 2801900, 300)])])
    with caplog.at_level(logging.INFO, logger="geoprospect"):
        g = read_vectors(p)
    assert not g.geometry.has_z.any() and "dropped Z/M" in caplog.text


def test_measured_geometries_are_flattened(tmp_path):
    p = tmp_path / "m.geojson"
    p.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[500100,2800100,5,1],[501900,2801900,6,2]]}}]}')
    g = read_vectors(p, crs=UTM)
    assert not g.geometry.has_z.any()
    assert shapely.get_coordinates(g.geometry.values).tolist() == [[500100, 2800100], [501900, 2801900]]


def test_no_crs(tmp_path):
    p = tmp_path / "nocrs.gpkg"
    gpd.GeoDataFrame({"id": [0]}, geometry=[shapely.LineString([(500100, 2800100), (501000, 2801000)])]).to_file(p, driver="GPKG")
    with pytest.raises(CRSError, match="faults layer has no CRS") as e:
        read_vectors(p, what="faults")
    assert "crs" in e.value.hint
    assert read_vectors(p, crs=UTM).crs.to_epsg() == 32649


def test_different_crs_is_reprojected_with_a_note(tmp_path, caplog):
    ll = [(111.0, 25.3), (111.02, 25.31)]
    p = _gpkg(tmp_path / "ll.gpkg", [shapely.LineString(ll)], crs="EPSG:4326")
    with caplog.at_level(logging.INFO, logger="geoprospect"):
        g = read_vectors(p, target_crs=UTM)
    assert "reprojected 1 features from WGS 84 to WGS 84 / UTM zone 49N" in caplog.text
    x, y = Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform([c[0] for c in ll], [c[1] for c in ll])
    assert np.allclose(shapely.get_coordinates(g.geometry.values), np.column_stack([x, y]))


def test_layer_choice_in_a_multi_layer_geopackage(tmp_path):
    p = tmp_path / "geo.gpkg"
    _gpkg(p, [shapely.LineString([(500100, 2800100), (501000, 2801000)])], layer="faults")
    _gpkg(p, [shapely.box(500000, 2800000, 500500, 2800500)], layer="alteration")
    with pytest.raises(InputError, match="2 layers") as e:
        read_vectors(p)
    assert "faults" in str(e.value) and "alteration" in str(e.value) and "--layer" in str(e.value)
    with pytest.raises(InputError, match="no layer 'Faults'.*faults"):
        read_vectors(p, layer="Faults")
    assert read_vectors(p, layer="alteration").geom_type.tolist() == ["Polygon"]


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(InputError, match="faults file not found"):
        read_vectors(tmp_path / "nope.gpkg", what="faults")
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(b"not a geopackage at all" * 10)
    with pytest.raises(InputError, match="cannot read faults") as e:
        read_vectors(bad, what="faults")
    assert "bad.gpkg" in str(e.value)


def test_input_vector_is_not_modified(tmp_path):
    bowtie = shapely.Polygon([(500200, 2800200), (501800, 2801800), (501800, 2800200), (500200, 2801800)])
    p = _gpkg(tmp_path / "bow.gpkg", [bowtie])
    before = p.read_bytes()
    read_vectors(p, target_crs="EPSG:4326")
    assert p.read_bytes() == before
