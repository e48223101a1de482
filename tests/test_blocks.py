"""Block-wise stack building against the whole-map path (same rasters).

Block-wise prediction: tests/test_prediction.py."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely
import torch
from torch import nn

from geoprospect.errors import GridError, InputError, OutputError
from geoprospect.evidence.distance import distance_to_features
from geoprospect.evidence.idw import idw
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import RasterWriter, band_stats, read_stack, write_raster
from geoprospect.io.stats import RunningStats
from geoprospect.stack import StackLayer, array_layer, build_stack, distance_layer, idw_layer
from geoprospect.stack.blocks import Block, align_block_size, iter_blocks, sub_grid

CRSS = {"EPSG:32649": (500000.0, 2800000.0), "EPSG:3577": (-1200000.0, -3000000.0)}


def _inputs(crs: str, h: int = 150, w: int = 230, res: float = 20.0, seed: int = 0):
    x0, y0 = CRSS[crs]
    grid = GridSpec.from_bounds((x0, y0, x0 + w * res, y0 + h * res), res, crs)
    r = np.random.default_rng(seed)
    xy = np.column_stack([r.uniform(x0, x0 + w * res, 120), r.uniform(y0, y0 + h * res, 120)])
    vals = r.lognormal(size=(120, 3))
    vals[::5, 1] = np.nan  # one element not analysed everywhere
    lines = [shapely.LineString(r.uniform([x0, y0], [x0 + w * res, y0 + h * res], (3, 2))) for _ in range(6)]
    return grid, xy, vals, lines


def tiny_model(bands: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(bands, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()


# -- iteration --------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,bs", [((150, 230), 64), ((16, 16), 16), ((300, 17), 100)])
def test_blocks_cover_the_grid_once(shape, bs):
    hits = np.zeros(shape, dtype=int)
    for b in iter_blocks(*shape, bs):
        assert b.height <= bs and b.width <= bs
        hits[b.slices] += 1
    assert (hits == 1).all()


def test_sub_grid_has_the_same_cell_centres():
    grid, *_ = _inputs("EPSG:32649")
    b = Block(64, 128, 40, 50)
    g = sub_grid(grid, b)
    np.testing.assert_allclose(g.cell_centers(), grid.cell_centers(64, 128, 40, 50), rtol=0, atol=1e-6)
    assert b.grow(10, 150, 230) == Block(54, 118, 60, 70)
    assert Block(0, 200, 40, 30).grow(8, 150, 230) == Block(0, 192, 48, 38)  # clipped at the edges


@pytest.mark.parametrize("bs", [0, 8, 12.5])
def test_bad_block_size(bs):
    with pytest.raises(GridError, match="block size"):
        list(iter_blocks(100, 100, bs))


def test_align_block_size():
    assert align_block_size(1000) == 1024 and align_block_size(64) == 64 and align_block_size(256) == 256


def test_running_stats_merge_equals_whole(rng):
    a = rng.normal(5, 3, size=(97, 61)).astype(np.float32)
    a[rng.random(a.shape) < 0.2] = np.nan
    merged = RunningStats()
    for b in iter_blocks(*a.shape, 16):
        merged = merged.merge(RunningStats.of(a[b.slices]))
    ref = band_stats(a)
    got = merged.to_dict()
    assert got["valid"] == ref["valid"] and got["min"] == ref["min"] and got["max"] == ref["max"]
    assert got["mean"] == pytest.approx(ref["mean"], rel=1e-12)
    assert got["std"] == pytest.approx(ref["std"], rel=1e-12)
    assert RunningStats.of(np.full((3, 3), np.nan)).to_dict()["valid"] == 0


# -- writer -----------------------------------------------------------------------------------
def test_block_writer_matches_write_raster(tmp_path, rng):
    grid, *_ = _inputs("EPSG:32649", h=300, w=260)
    data = rng.normal(size=(2, 300, 260)).astype(np.float32)
    data[0, :40, :70] = np.nan
    write_raster(tmp_path / "ref.tif", data, grid, ["a", "b"], tags={"K": "v"}, band_tags=[{"S": "1"}, {"S": "2"}])
    with RasterWriter(tmp_path / "blk.tif", grid, ["a", "b"], tags={"K": "v"}, band_tags=[{"S": "1"}, {"S": "2"}]) as w:
        for b in iter_blocks(300, 260, 128):
            w.write(data[:, b.slices[0], b.slices[1]], b.row_off, b.col_off)
    with rasterio.open(tmp_path / "ref.tif") as r, rasterio.open(tmp_path / "blk.tif") as s:
        assert s.profile == r.profile and s.profile["tiled"] and s.profile["compress"] == "zstd"
        assert s.descriptions == ("a", "b") and s.nodata == -9999.0 and s.crs == r.crs and s.transform == r.transform
        assert np.array_equal(s.read(), r.read())
        assert s.tags() == r.tags()
        for i in (1, 2):
            st, rt = s.tags(i), r.tags(i)
            assert set(st) == set(rt) and st["S"] == rt["S"] and st["STATISTICS_VALID_PERCENT"] == rt["STATISTICS_VALID_PERCENT"]
            for k in ("STATISTICS_MINIMUM", "STATISTICS_MAXIMUM", "STATISTICS_MEAN", "STATISTICS_STDDEV"):
                assert float(st[k]) == pytest.approx(float(rt[k]), rel=1e-12)
        assert s.overviews(1) == r.overviews(1) == [2, 4]
        ov = s.read(1, out_shape=(150, 130))
        assert np.array_equal(ov, r.read(1, out_shape=(150, 130)))
        assert (ov[ov != -9999] != 0).all()
    assert not list(tmp_path.glob(".*tmp*"))


def test_block_writer_refuses_missing_blocks(tmp_path):
    grid, *_ = _inputs("EPSG:32649")
    with pytest.raises(OutputError, match="blocks are missing"):
        with RasterWriter(tmp_path / "x.tif", grid, ["a"]) as w:
            w.write(np.ones((1, 64, 64), np.float32), 0, 0)
    assert not list(tmp_path.iterdir())


def test_block_writer_leaves_nothing_on_error(tmp_path):
    grid, *_ = _inputs("EPSG:32649")
    with pytest.raises(GridError, match="does not match"):
        with RasterWriter(tmp_path / "x.tif", grid, ["a"]) as w:
            w.write(np.ones((2, 64, 64), np.float32), 0, 0)
    assert not list(tmp_path.iterdir())


# -- stack --------------------------------------------------------------------------------------
@pytest.mark.parametrize("crs", sorted(CRSS))
def test_block_stack_equals_whole_map_stack(tmp_path, crs):
    grid, xy, vals, lines = _inputs(crs)
    kw = dict(power=2.0, neighbors=8, radius=350.0, min_points=3)
    ref = np.concatenate([idw(xy, vals, grid, **kw), distance_to_features(lines, grid)[None]])
    names = ["a", "b", "c", "faults"]
    whole_sf = build_stack([array_layer(names, ref, grid)], grid, tmp_path / "whole.tif")  # one block
    whole = read_stack(whole_sf.path)
    assert np.isnan(ref).any()  # the radius leaves nodata: compared too
    assert np.array_equal(whole.data, ref.astype(np.float32), equal_nan=True)
    cut = build_stack([array_layer(names, ref, grid)], grid, tmp_path / "cut.tif", block_size=64)  # in-memory bands, cut into blocks
    assert np.array_equal(read_stack(cut.path).data, whole.data, equal_nan=True)
    sf = build_stack([idw_layer(xy, vals, names[:3], **kw), distance_layer(lines, "faults")], grid, tmp_path / "blocks.tif", block_size=64)
    got = read_stack(sf.path)
    assert got.band_names == names and got.grid.same_as(grid)
    # the evidence kernels work relative to the (sub-)grid's origin, in float32 for distances:
    # a block may differ from the whole map by float32 rounding of coordinates, never more
    assert np.array_equal(np.isnan(got.data), np.isnan(whole.data))
    np.testing.assert_allclose(got.data, whole.data, rtol=1e-6, atol=1e-3)  # float32 distances: < 1 mm
    assert np.array_equal(got.data[:3], whole.data[:3], equal_nan=True)  # IDW (float64 inside): bit for bit
    for a, b in zip(sf.stats, whole_sf.stats):
        assert a["valid"] == b["valid"] and a["mean"] == pytest.approx(b["mean"], rel=1e-6)


def test_density_and_categorical_layers_match_whole_map(tmp_path):
    import geopandas as gpd

    from geoprospect.evidence.categorical import categorical_bands
    from geoprospect.evidence.density import feature_density
    from geoprospect.stack import categorical_layer, density_layer

    grid, xy, vals, lines = _inputs("EPSG:32649", h=90, w=110)
    x0, y0, x1, y1 = grid.bounds
    polys = gpd.GeoDataFrame({"unit": ["granite", "basalt", "granite"]}, geometry=[shapely.box(x0, y0, x0 + 900, y1), shapely.box(x0 + 900, y0, x0 + 1700, y0 + 1200), shapely.box(x0 + 1700, y0 + 300, x1 - 100, y1 - 200)], crs="EPSG:32649")
    dens = feature_density(lines, grid, 300.0)
    cat, names = categorical_bands(polys, grid, "unit")
    lay = [density_layer(lines, "fault_density", 300.0), categorical_layer(polys, grid, "unit")]
    assert lay[1].names == names
    got = read_stack(build_stack(lay, grid, tmp_path / "s.tif", block_size=32).path)
    np.testing.assert_allclose(got.data[0], dens, rtol=1e-5, atol=1e-9)
    assert np.array_equal(got.data[1:], cat.astype(np.float32), equal_nan=True)


def test_idw_blocks_without_samples(tmp_path):
    """A block with no sample inside still gets its (exact) values: idw() alone refuses such a grid."""
    grid, xy, vals, lines = _inputs("EPSG:32649", h=96, w=96)
    x0, y0, x1, y1 = grid.bounds
    keep = (xy[:, 0] < x0 + 600) & (xy[:, 1] > y1 - 600)  # samples only in the upper-left corner
    ref = idw(xy[keep], vals[keep], grid)
    got = read_stack(build_stack([idw_layer(xy[keep], vals[keep], ["a", "b", "c"])], grid, tmp_path / "s.tif", block_size=32).path)
    assert np.array_equal(got.data, ref, equal_nan=True)


def _smooth_fn(size: int):
    from scipy.ndimage import uniform_filter

    def fn(g: GridSpec) -> np.ndarray:
        c = g.cell_centers()
        f = np.sin(c[:, 0] / 300.0) * np.cos(c[:, 1] / 170.0)
        return uniform_filter(f.reshape(g.shape), size=size, mode="nearest").astype(np.float32)

    return fn


def test_halo_layer_matches_whole_map(tmp_path):
    grid, *_ = _inputs("EPSG:32649")
    ref = _smooth_fn(7)(grid)
    sf = build_stack([StackLayer(["smooth"], _smooth_fn(7), halo=3)], grid, tmp_path / "h.tif", block_size=32)
    np.testing.assert_allclose(read_stack(sf.path).data[0], ref, rtol=0, atol=1e-6)
    no_halo = build_stack([StackLayer(["smooth"], _smooth_fn(7), halo=0)], grid, tmp_path / "n.tif", block_size=32)
    assert np.abs(read_stack(no_halo.path).data[0] - ref).max() > 1e-3  # the halo is what makes it right


def test_stack_errors(tmp_path):
    grid, xy, vals, lines = _inputs("EPSG:32649")
    with pytest.raises(InputError, match="duplicate"):
        build_stack([distance_layer(lines, "f"), distance_layer(lines, "f")], grid, tmp_path / "d.tif")
    empty = StackLayer(["empty"], lambda g: np.full(g.shape, np.nan, np.float32))
    with pytest.raises(InputError, match="no valid cells"):
        build_stack([distance_layer(lines, "f"), empty], grid, tmp_path / "e.tif", block_size=64)
    bad = StackLayer(["bad"], lambda g: np.zeros((g.height + 1, g.width), np.float32))
    with pytest.raises(GridError, match="returned"):
        build_stack([bad], grid, tmp_path / "b.tif", block_size=64)
    assert not list(tmp_path.iterdir())


def test_block_statistics_are_numpys_std_exactly(rng):
    """One block's std is np.std's to the last bit: the sum of squares is numpy's pairwise sum, not
    a BLAS dot product whose last digits depend on BLAS's threads (and on concurrent callers)."""
    a = rng.normal(5.0, 3.0, (1500, 1500)).astype(np.float32)
    ref = a.ravel().astype(np.float64)
    st = RunningStats.of(a).to_dict()
    assert st["std"] == float(np.std(ref))
    assert st["mean"] == float(np.mean(ref))
