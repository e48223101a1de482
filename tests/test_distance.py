"""Distance to features: exact against GEOS at every cell, non-square pixels, polygons, bad input."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoprospect.errors import ConfigError, GeometryError
from geoprospect.evidence.distance import distance_to_features
from geoprospect.grid import GridSpec

X0, Y0 = 612_000.0, 6_950_000.0


def _lines(n=12, ext=(4000.0, 3000.0), seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p0 = rng.uniform(0, 1, 2) * ext
        steps = rng.normal(0, 400, (int(rng.integers(1, 6)), 2))
        out.append(shapely.LineString(np.vstack([p0, p0 + np.cumsum(steps, 0)]) + [X0, Y0]))
    return out


def _geos(geoms, grid):
    """Reference: GEOS distance from every cell centre to the union of the features."""
    c = grid.cell_centers()
    return shapely.distance(shapely.points(c), shapely.union_all(geoms)).reshape(grid.shape)


@pytest.mark.parametrize("res", [50.0, (40.0, 65.0), (90.0, 30.0)])
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_exact_against_geos(res, precision):
    lines = _lines()
    grid = GridSpec.from_bounds((X0, Y0, X0 + 4000.0, Y0 + 3000.0), res, "EPSG:32755")
    d = distance_to_features(lines, grid, precision=precision, chunk=8)
    ref = _geos(lines, grid)
    # float32 output: exact to float precision (far below half a cell)
    np.testing.assert_allclose(d, ref, rtol=2e-6, atol=1e-3)


def test_tile_and_batch_do_not_change_results():
    lines = _lines(seed=2)
    grid = GridSpec.from_bounds((X0, Y0, X0 + 4000.0, Y0 + 3000.0), 37.0, "EPSG:32755")
    a = distance_to_features(lines, grid, chunk=5, batch_elems=1000)
    b = distance_to_features(lines, grid, chunk=40)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-4)


def test_polygons_points_and_mixed_features():
    poly = shapely.Polygon([(X0 + 500, Y0 + 500), (X0 + 1500, Y0 + 700), (X0 + 1200, Y0 + 1800)],
                           holes=[[(X0 + 1000, Y0 + 900), (X0 + 1200, Y0 + 950), (X0 + 1100, Y0 + 1200)]])
    pt = shapely.Point(X0 + 3500, Y0 + 2500)
    line = shapely.LineString([(X0 + 2000, Y0 + 100), (X0 + 3900, Y0 + 1500)])
    geoms = gpd.GeoSeries([poly, pt, line, None], crs="EPSG:32755")
    grid = GridSpec.from_bounds((X0, Y0, X0 + 4000.0, Y0 + 3000.0), (50.0, 40.0), "EPSG:32755")
    d = distance_to_features(geoms, grid)
    ref = _geos([poly, pt, line], grid)
    np.testing.assert_allclose(d, ref, rtol=2e-6, atol=1e-3)
    inside = shapely.contains_xy(poly, *grid.cell_centers().T).reshape(grid.shape)
    assert inside.any() and np.all(d[inside] == 0)
    # a cell inside the hole is not at distance 0
    r, c = grid.rowcol(np.array([X0 + 1100.0]), np.array([Y0 + 1000.0]))
    assert d[r[0], c[0]] > 0


def test_geodataframe_input_and_progress():
    lines = _lines(seed=3)
    gdf = gpd.GeoDataFrame({"name": range(len(lines))}, geometry=lines, crs="EPSG:32755")
    grid = GridSpec.from_bounds((X0, Y0, X0 + 4000.0, Y0 + 3000.0), 100.0, "EPSG:32755")
    rows: list[int] = []
    d = distance_to_features(gdf, grid, progress=rows.append, chunk=4)
    assert sum(rows) == grid.height
    np.testing.assert_allclose(d, _geos(lines, grid), rtol=2e-6, atol=1e-3)


def test_bad_input_errors():
    grid = GridSpec.from_bounds((X0, Y0, X0 + 1000.0, Y0 + 1000.0), 100.0, "EPSG:32755")
    with pytest.raises(GeometryError, match="no features"):
        distance_to_features([], grid)
    with pytest.raises(GeometryError, match="empty geometries"):
        distance_to_features([shapely.LineString(), None], grid)
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 500, Y0 + 500), (X0 + 500, Y0), (X0, Y0 + 500)])
    with pytest.raises(GeometryError, match="invalid polygon") as ei:
        distance_to_features([shapely.Point(X0, Y0), bowtie], grid)
    assert ei.value.feature == 1 and "Fix geometries" in str(ei.value)
    with pytest.raises(GeometryError, match="non-finite"):
        distance_to_features([shapely.LineString([(X0, Y0), (np.inf, Y0)])], grid)
    with pytest.raises(ConfigError):
        distance_to_features([shapely.Point(X0, Y0)], grid, precision="half")


MURCHISON = "/work/shared/datasets/murchison"


@pytest.mark.skipif(not __import__("os").path.exists(f"{MURCHISON}/faults.gpkg"), reason="Murchison data not present")
def test_real_faults_and_greenstone_against_geos():
    """Real data (SOURCE.md there): 3,252 faults and 115 greenstone polygons with holes, 1 km cells."""
    from geoprospect.evidence.density import feature_density

    faults = gpd.read_file(f"{MURCHISON}/faults.gpkg")
    green = gpd.read_file(f"{MURCHISON}/greenstone.gpkg")
    grid = GridSpec.from_bounds(faults.total_bounds, 1000.0, faults.crs)
    rng = np.random.default_rng(0)
    idx = rng.choice(grid.width * grid.height, 300, replace=False)
    pts = shapely.points(grid.cell_centers()[idx])
    for layer, measure in ((faults, shapely.length), (green, shapely.area)):
        union = shapely.union_all(layer.geometry.values)
        d = distance_to_features(layer, grid)
        np.testing.assert_allclose(d.ravel()[idx], shapely.distance(pts, union), rtol=1e-6, atol=0.05)
        rho = feature_density(layer, grid, 3000.0)
        ref = measure(shapely.intersection(union, shapely.buffer(pts, 3000.0, quad_segs=256))) / (np.pi * 3000.0**2)
        np.testing.assert_allclose(rho.ravel()[idx], ref, rtol=0, atol=1e-4 * max(ref.max(), 1e-12))
