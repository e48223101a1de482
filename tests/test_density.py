"""Density kernels against shapely disk intersections; the distance-with-density layer; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geoprospect.errors import ConfigError, GeometryError
from geoprospect.evidence.density import (
    combine_distance_density,
    distance_with_density,
    feature_density,
    reference_density,
)
from geoprospect.grid import GridSpec

X0, Y0 = 612_000.0, 6_950_000.0


def _grid(res=(50.0, 40.0)):
    return GridSpec.from_bounds((X0, Y0, X0 + 4000.0, Y0 + 3000.0), res, "EPSG:32755")


def _lines(seed=0, n=15):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p0 = rng.uniform(0, 1, 2) * [4000, 3000]
        st = rng.normal(0, 400, (int(rng.integers(1, 6)), 2))
        out.append(shapely.LineString(np.vstack([p0, p0 + np.cumsum(st, 0)]) + [X0, Y0]))
    return out


def _sample(grid, n=250, seed=1):
    rng = np.random.default_rng(seed)
    idx = rng.choice(grid.width * grid.height, n, replace=False)
    return idx, grid.cell_centers()[idx]


@pytest.mark.parametrize("res", [(50.0, 40.0), 100.0])
def test_line_density_is_length_in_disk(res):
    lines = _lines()
    grid = _grid(res)
    r = 300.0
    dens = feature_density(lines, grid, r, chunk=6)
    idx, c = _sample(grid)
    disks = shapely.buffer(shapely.points(c), r, quad_segs=256)
    ref = shapely.length(shapely.intersection(shapely.MultiLineString(lines), disks)) / (np.pi * r * r)
    assert (ref > 0).sum() > 50
    # the reference disk is a 1024-gon: its chords differ from the circle's by ~1e-5 r
    np.testing.assert_allclose(dens.ravel()[idx], ref, rtol=0, atol=1e-4 * ref.max())
    assert np.median(np.abs(dens.ravel()[idx] - ref)[ref > 0] / ref[ref > 0]) < 1e-5


def test_polygon_density_is_area_fraction():
    hole = [(X0 + 1000, Y0 + 900), (X0 + 1200, Y0 + 950), (X0 + 1100, Y0 + 1200)]
    tri = shapely.Polygon([(X0 + 500, Y0 + 500), (X0 + 1500, Y0 + 700), (X0 + 1200, Y0 + 1800)], holes=[hole])
    disk = shapely.Point(X0 + 2500, Y0 + 1500).buffer(600)
    box = shapely.box(X0 + 2000, Y0 + 1000, X0 + 2400, Y0 + 2600)  # overlaps the disk: dissolved
    polys = [tri, disk, box]
    grid = _grid()
    r = 250.0
    dens = feature_density(polys, grid, r)
    idx, c = _sample(grid, 400)
    disks = shapely.buffer(shapely.points(c), r, quad_segs=256)
    ref = shapely.area(shapely.intersection(shapely.union_all(polys), disks)) / (np.pi * r * r)
    assert ((ref > 0.01) & (ref < 0.99)).sum() > 20 and (ref > 0.999).sum() > 5
    np.testing.assert_allclose(dens.ravel()[idx], ref, atol=2e-5)
    assert dens.min() >= 0 and dens.max() <= 1


def test_point_density_counts():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 1, (200, 2)) * [4000, 3000] + [X0, Y0]
    grid = _grid(100.0)
    r = 400.0
    dens = feature_density(shapely.points(xy), grid, r)
    c = grid.cell_centers()
    cnt = (np.hypot(c[:, None, 0] - xy[None, :, 0], c[:, None, 1] - xy[None, :, 1]) <= r).sum(1)
    np.testing.assert_allclose(dens.ravel() * np.pi * r * r, cnt, rtol=1e-5)


def test_swarm_weighs_more_than_single_fault():
    grid = _grid(20.0)
    r = 300.0
    y = Y0 + 1500
    single = [shapely.LineString([(X0 - 1000, y), (X0 + 5000, y)])]
    swarm = [shapely.LineString([(X0 - 1000, y + o), (X0 + 5000, y + o)]) for o in (-60.0, 0.0, 60.0)]
    row, col = grid.rowcol(np.array([X0 + 2010.0]), np.array([y - 10.0]))
    r0, c0 = int(row[0]), int(col[0])
    d1 = feature_density(single, grid, r)
    d3 = feature_density(swarm, grid, r)
    assert d3[r0, c0] > 2.5 * d1[r0, c0]
    # a long straight line 10 m from the centre: chord length 2 sqrt(r² - 10²)
    assert d1[r0, c0] == pytest.approx(2 * np.sqrt(r * r - 100.0) / (np.pi * r * r), rel=1e-5)
    w1 = distance_with_density(single, grid, r)
    w3 = distance_with_density(swarm, grid, r)
    assert w3[r0, c0] > w1[r0, c0]
    # on/near a lone straight fault: (1 - 10/r) * (1 + ~1) ~ 2; nothing beyond r
    assert w1[r0, c0] == pytest.approx((1 - 10.0 / r) * (1 + np.sqrt(1 - (10 / r) ** 2)), rel=1e-4)
    far = np.abs(grid.y_centers() - y) > r
    assert np.all(w1[far] == 0) and np.all(w3[np.abs(grid.y_centers() - y) > r + 60] == 0)


def test_combine_formula_and_reference():
    d = np.array([0.0, 50.0, 100.0, 200.0, np.nan])
    rho = np.array([0.5, 0.5, 0.0, 1.0, 0.2])
    out = combine_distance_density(d, rho, 100.0, 0.5)
    np.testing.assert_allclose(out[:4], [2.0, 1.0, 0.0, 0.0])
    assert np.isnan(out[4])
    assert reference_density("line", 100.0) == pytest.approx(2 / (np.pi * 100.0))
    with pytest.raises(ConfigError):
        combine_distance_density(d, rho, 100.0, 0.0)


def test_progress_and_bad_input():
    grid = _grid(100.0)
    rows: list[int] = []
    distance_with_density(_lines(), grid, 200.0, progress=rows.append)
    assert sum(rows) == grid.height
    with pytest.raises(GeometryError, match="mixes line and polygon"):
        feature_density([_lines()[0], shapely.box(X0, Y0, X0 + 10, Y0 + 10)], grid, 100.0)
    with pytest.raises(GeometryError, match="no features"):
        feature_density([], grid, 100.0)
    with pytest.raises(ConfigError, match="radius"):
        feature_density(_lines(), grid, 0.0)
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 500, Y0 + 500), (X0 + 500, Y0), (X0, Y0 + 500)])
    with pytest.raises(GeometryError, match="invalid polygon"):
        distance_with_density([bowtie], grid, 100.0)
