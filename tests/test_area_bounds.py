"""Issue 24: areas in km² from the CRS's linear unit, and the bounded P-A classes and targets
(geoprospect/evaluation/area_bounds.py): high at most the top share of the area, targets of
bounded size and number, no class and no target from a constant map."""

import numpy as np
import pytest
import shapely
from pyproj import CRS

from geoprospect.evaluation.area_bounds import AreaBounds, cap_regions, flat_reason, top_cut
from geoprospect.evaluation.targets import bounded_targets, bounded_thresholds, classify, target_areas
from geoprospect.grid import AREA_KM2, AREA_MAP_UNITS, GridSpec, area_of_cells, cell_areas, metres_per_unit, polygon_areas, to_crs

LOCAL_METRE = 'LOCAL_CS["mine grid",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
LOCAL_FOOT = 'LOCAL_CS["mine grid",UNIT["foot",0.3048],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
LOCAL_UNKNOWN = 'LOCAL_CS["mine grid",UNIT["unknown",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'


@pytest.mark.parametrize(("crs", "metres"), [("EPSG:32649", 1.0), ("EPSG:2227", 1200 / 3937), (LOCAL_METRE, 1.0), (LOCAL_FOOT, 0.3048), (LOCAL_UNKNOWN, None), ("EPSG:4326", None)])
def test_metres_per_unit_from_the_axis_unit(crs, metres):
    got = metres_per_unit(to_crs(crs))
    assert got == (None if metres is None else pytest.approx(metres, rel=1e-12))


def test_polygon_and_cell_areas_in_km2():
    square = shapely.box(0, 0, 1000, 1000)  # 1000 x 1000 map units
    assert polygon_areas([square], CRS("EPSG:32649")) == (pytest.approx([1.0]), AREA_KM2)
    km2, unit = polygon_areas([square], CRS("EPSG:2227"))  # US survey feet
    assert unit == AREA_KM2 and km2[0] == pytest.approx((1200 / 3937) ** 2, rel=1e-12)
    assert polygon_areas([square], to_crs(LOCAL_FOOT))[0][0] == pytest.approx(0.3048**2)
    assert polygon_areas([square], to_crs(LOCAL_UNKNOWN)) == (pytest.approx([1e6]), AREA_MAP_UNITS)  # unit unknown: said so
    deg, unit = polygon_areas([shapely.box(0, 0, 1, 1)], CRS("EPSG:4326"))  # geodesic: ~111.3 x 110.6 km at the equator
    assert unit == AREA_KM2 and deg[0] == pytest.approx(12309, rel=2e-3)
    g = GridSpec.from_bounds((0, 0, 3000, 2000), 100, "EPSG:2227")
    per_row, unit = cell_areas(g)
    assert unit == AREA_KM2 and per_row.shape == (20,) and per_row[0] == pytest.approx(1e4 * (1200 / 3937) ** 2 / 1e6)
    assert area_of_cells(g, np.ones(g.shape, dtype=bool))[0] == pytest.approx(6e6 * (1200 / 3937) ** 2 / 1e6)
    geo = GridSpec.from_bounds((110, -60, 111, 0), 1, "EPSG:4326")  # cells shrink towards the pole
    rows, unit = cell_areas(geo)
    assert unit == AREA_KM2 and rows[0] > rows[-1] and rows[0] == pytest.approx(12309, rel=2e-3)  # row 0: the top, at the equator


@pytest.mark.parametrize(("crs", "column", "per_cell"), [("EPSG:32649", "area_km2", 0.01), ("EPSG:2227", "area_km2", 1e4 * (1200 / 3937) ** 2 / 1e6),
                                                         (LOCAL_UNKNOWN, "area_map_units2", 1e4)])
def test_target_areas_carry_km2_from_the_crs(crs, column, per_cell):
    g = GridSpec.from_bounds((0, 0, 2000, 2000), 100, crs)
    s = np.zeros(g.shape)
    s[2:5, 3:7] = 1.0  # 12 cells
    t = target_areas(s, classify(s, bounded_thresholds(s, s, np.array([], dtype=int))), g, np.zeros((0, 2)))
    assert len(t) == 1 and column in t.columns and "area" not in t.columns
    assert t.loc[0, column] == pytest.approx(12 * per_cell) and t.loc[0, "area_pct"] == pytest.approx(3.0)


def test_top_cut_never_splits_ties():
    s = np.array([5.0, 4, 4, 4, 3, 2, 1, 1, 1, 0])
    assert top_cut(s, 0.1) == (5.0, 1)
    assert top_cut(s, 0.3) == (5.0, 1)  # the 4s straddle the bound: left out whole
    assert top_cut(s, 0.4) == (4.0, 4)
    assert top_cut(np.full(10, 2.0), 0.1) == (float("inf"), 0)  # one tie over the bound: no class
    assert top_cut(s, 1.0) == (0.0, 10)


def test_flat_maps_are_named():
    assert flat_reason(np.full((5, 5), 0.182)) is not None
    assert flat_reason(0.182 + 1e-9 * np.random.default_rng(0).normal(size=(5, 5))) is not None  # float noise only
    assert flat_reason(np.full((5, 5), np.nan)) == "the map holds no score"
    assert flat_reason(np.linspace(0, 1, 25)) is None


def _grid():
    return GridSpec.from_bounds((500000.0, 2800000.0, 510000.0, 2810000.0), 100.0, "EPSG:32649")  # 100 x 100 cells of 0.01 km²


def test_high_is_bounded_when_the_oof_pa_plot_knows_nothing(rng):
    g = _grid()
    final = rng.normal(size=g.shape)
    oof = rng.normal(size=g.shape)  # out-of-fold scores unrelated to the deposits: P-A intersection near half the area
    dep = rng.choice(g.width * g.height, 40, replace=False)
    th = bounded_thresholds(final, oof, dep)
    cls = classify(final, th)
    assert th.high_share == pytest.approx(0.10) and (cls == 3).mean() == pytest.approx(0.10)
    assert (cls == 2).mean() == pytest.approx(0.10) and "above the 10 % bound" in th.source
    # a skilled out-of-fold map whose P-A intersection lies below the bound: its share is kept
    oof2 = -np.hypot(*(np.mgrid[0:100, 0:100] - 50.0))
    centre = (np.mgrid[0:100, 0:100] - 50.0)
    near = np.flatnonzero(np.hypot(*centre).ravel() < 8)[:40]
    th2 = bounded_thresholds(final, oof2, near, AreaBounds(high_share=0.2))
    assert 0 < th2.high_share < 0.2 and "above" not in th2.source


def test_targets_are_bounded_in_size_count_and_area(rng):
    g = _grid()
    yy, xx = np.mgrid[0:100, 0:100]
    final = np.sin(xx / 6.0) + 0.01 * rng.normal(size=g.shape)  # long ridges: connected high regions far over 1 %
    th = bounded_thresholds(final, final, np.array([], dtype=int))
    cls = classify(final, th)
    b = AreaBounds()
    t, note = bounded_targets(final, final, cls, g, np.zeros((0, 2)), b)
    assert 0 < len(t) <= b.max_targets and (t["area_pct"] <= 100 * b.max_target_share + 1e-9).all()
    assert t["area_pct"].sum() <= 100 * b.high_share + 1e-9
    assert t["area_km2"].max() <= 1.0 + 1e-9 and t["area_km2"].to_numpy() == pytest.approx(0.01 * t["n_cells"].to_numpy())
    assert t.geometry.area.to_numpy() / 1e6 == pytest.approx(t["area_km2"].to_numpy())
    assert "km²" in note and "kept only their best cells" in note
    fewer, note = bounded_targets(final, final, cls, g, np.zeros((0, 2)), AreaBounds(max_targets=3))
    assert len(fewer) == 3 and "not listed" in note and fewer["target"].tolist() == [1, 2, 3]


def test_a_constant_map_gets_no_class_and_no_target():
    g = _grid()
    flat = np.full(g.shape, 0.182)
    th = bounded_thresholds(flat, np.random.default_rng(1).normal(size=g.shape), np.array([5, 50, 500]))
    cls = classify(flat, th)
    assert th.flat is not None and th.high == np.inf and set(np.unique(cls)) == {1}
    t, note = bounded_targets(flat, flat, cls, g, np.zeros((0, 2)), AreaBounds(), flat=th.flat)
    assert len(t) == 0 and note.startswith("no target written: the map is constant")
    # a plateau holding the best 30 % of the cells: no high class can be cut from it
    plateau = np.where(np.arange(g.width * g.height).reshape(g.shape) < 3000, 1.0, np.linspace(0, 0.5, g.width * g.height).reshape(g.shape))
    th = bounded_thresholds(plateau, plateau, np.array([], dtype=int))
    assert (classify(plateau, th) == 3).sum() == 0 and "no high class" in th.source


def test_cap_regions_keeps_the_best_cells_of_a_large_region():
    lab = np.zeros((20, 20), dtype=np.int64)
    lab[0:20, 0:10] = 1  # 200 cells
    lab[0:3, 15:18] = 2  # 9 cells
    rank = np.tile(np.arange(20.0), (20, 1)) + np.arange(20.0)[:, None] * 0.01
    out, n, capped = cap_regions(lab, rank, 50)
    assert capped == 1 and (out > 0).sum() == 50 + 9
    kept = rank[(out > 0) & (lab == 1)]
    assert kept.min() >= rank[lab == 1][np.argsort(-rank[lab == 1])[49]]  # the 50 best-ranked cells of region 1
    assert np.bincount(out.ravel())[1:].max() <= 50 and n >= 2
