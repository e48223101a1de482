"""The raster writer (ZSTD on all cores, optional COG) against the previous one (DEFLATE), read
back with rasterio and with GDAL's own `gdalinfo -stats -json`; the standalone evidence commands,
now computed and written block by block, against the whole-array computation; memory that
grows with the block, not with the map."""

from __future__ import annotations

import json
import shutil
import subprocess
import tracemalloc

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from click.testing import CliRunner

from geoprospect.cli import cli
from geoprospect.evidence.categorical import categorical_bands
from geoprospect.evidence.density import feature_density
from geoprospect.evidence.distance import distance_to_features
from geoprospect.evidence.idw import idw
from geoprospect.grid import GridSpec
from geoprospect.io.points import read_points
from geoprospect.io.rasters import creation_options, write_raster
from geoprospect.io.vectors import read_vectors
from geoprospect.stack.blocks import Block
from geoprospect.stack.build import write_behind
from geoprospect.stack.layers import idw_layer
from geoprospect.stack.single import write_layer

GDALINFO = shutil.which("gdalinfo")
needs_gdalinfo = pytest.mark.skipif(GDALINFO is None, reason="gdalinfo (GDAL command-line tools) not installed")
GRID = GridSpec.from_bounds((500000.0, 2800000.0, 500000.0 + 300 * 25, 2800000.0 + 280 * 25), 25, "EPSG:32649")


def gdalinfo(path, *extra) -> dict:
    out = subprocess.run([GDALINFO, "-json", *extra, str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def _data(rng) -> np.ndarray:
    y, x = np.mgrid[0:280, 0:300]
    data = np.stack([np.sin(x / 17.0) + np.cos(y / 23.0) + rng.normal(0, 0.01, x.shape), rng.lognormal(size=x.shape), np.hypot(x - 100, y - 80) * 25.0]).astype(np.float32)
    data[0, :30, :50] = np.nan
    data[2, 200:, 250:] = np.nan
    return data


def _read(path) -> tuple[dict, np.ndarray, dict]:
    with rasterio.open(path) as src:
        meta = {"crs": src.crs, "transform": src.transform, "nodata": src.nodatavals, "names": src.descriptions, "shape": (src.count, src.height, src.width),
                "tags": src.tags(), "dtype": src.dtypes, "overviews": src.overviews(1)}
        return meta, src.read(), {i: src.tags(i) for i in range(1, src.count + 1)}


@needs_gdalinfo
@pytest.mark.parametrize("cog", [False, True])
def test_writer_output_equals_the_previous_writer(tmp_path, rng, cog):
    """Values, CRS, transform, nodata, band names, tags and statistics are those of the previous
    writer (DEFLATE, level 6, predictor 3), whether read by rasterio or by GDAL's gdalinfo."""
    data = _data(rng)
    names = ["smooth", "noise", "dist"]
    old = write_raster(tmp_path / "old.tif", data, GRID, names, tags={"GEOPROSPECT_KIND": "x"}, compress="deflate")
    new = write_raster(tmp_path / "new.tif", data, GRID, names, tags={"GEOPROSPECT_KIND": "x"}, cog=cog)
    (m_old, a_old, t_old), (m_new, a_new, t_new) = _read(old), _read(new)
    assert m_new == m_old and m_new["names"] == tuple(names) and m_new["nodata"] == (-9999.0,) * 3 and m_new["overviews"] == [2, 4]
    assert np.array_equal(a_new, a_old)  # bit for bit, nodata included
    assert np.array_equal(a_new == -9999.0, ~np.isfinite(data))
    assert t_new == t_old
    with rasterio.open(new) as src:
        assert src.compression.name.lower() == "zstd" and src.profile["tiled"] and src.block_shapes[0] == (256, 256)
        assert np.array_equal(src.read(1, out_shape=(140, 150)), rasterio.open(old).read(1, out_shape=(140, 150)))  # overviews too
    g_old, g_new = gdalinfo(old, "-stats"), gdalinfo(new, "-stats")
    assert g_new["coordinateSystem"]["wkt"] == g_old["coordinateSystem"]["wkt"] and g_new["geoTransform"] == g_old["geoTransform"]
    for i, (bo, bn) in enumerate(zip(g_old["bands"], g_new["bands"], strict=True)):
        v = data[i][np.isfinite(data[i])].astype(np.float64)
        assert bn["description"] == bo["description"] == names[i] and bn["noDataValue"] == bo["noDataValue"] == -9999.0
        assert bn["type"] == "Float32"
        md, md_old = bn["metadata"][""], bo["metadata"][""]
        for key, tag, ref in (("minimum", "MINIMUM", v.min()), ("maximum", "MAXIMUM", v.max()), ("mean", "MEAN", v.mean()), ("stdDev", "STDDEV", v.std())):
            assert bn[key] == bo[key] == pytest.approx(ref, abs=1e-3), (names[i], key)  # gdalinfo prints 3 decimals
            assert float(md[f"STATISTICS_{tag}"]) == pytest.approx(float(md_old[f"STATISTICS_{tag}"]), rel=1e-12)
            assert float(md[f"STATISTICS_{tag}"]) == pytest.approx(ref, rel=1e-9), (names[i], key)
        valid = float(md["STATISTICS_VALID_PERCENT"])
        assert valid == pytest.approx(100.0 * v.size / data[i].size, rel=1e-9)
    layout = g_new["metadata"].get("IMAGE_STRUCTURE", {})
    assert layout.get("COMPRESSION") == "ZSTD" and layout.get("PREDICTOR") == "3"
    assert (layout.get("LAYOUT") == "COG") == cog
    assert not list(tmp_path.glob(".*tmp*"))


def test_creation_options():
    assert creation_options() == {"compress": "zstd", "zstd_level": 1, "predictor": 3, "num_threads": "ALL_CPUS"}
    assert creation_options("deflate")["compress"] == "deflate"
    with pytest.raises(ValueError, match="lz4"):
        creation_options("lz4")


def test_cog_failure_leaves_no_file(tmp_path):
    from geoprospect.errors import OutputError
    from geoprospect.io.rasters import RasterWriter

    with pytest.raises(OutputError, match="blocks are missing"):
        with RasterWriter(tmp_path / "c.tif", GRID, ["a"], cog=True) as w:
            w.write(np.ones((1, 64, 64), np.float32))
    assert not list(tmp_path.iterdir())


# -- the standalone commands, block by block ----------------------------------------------------
def invoke(*args):
    return CliRunner().invoke(cli, ["--progress", "none", *map(str, args)], catch_exceptions=False)


BOUNDS = ("--bounds", 500000, 2800000, 505000, 2805000, "--resolution", 50, "--grid-crs", "EPSG:32649")
G100 = GridSpec.from_bounds((500000.0, 2800000.0, 505000.0, 2805000.0), 50, "EPSG:32649")


def _band(path, i=1) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(i, masked=True).filled(np.nan)


def test_interpolate_by_blocks_equals_whole_map(tiny_inputs):
    d = tiny_inputs["dir"]
    r = invoke("interpolate", tiny_inputs["points"], "--crs", "EPSG:32649", "--elements", "Au,Cu", "--radius", 400, "--block-size", 32, "--out", d / "i.tif", *BOUNDS)
    assert r.exit_code == 0, r.output
    pts = read_points(tiny_inputs["points"], ["Au", "Cu"], crs="EPSG:32649")
    whole = idw(pts.xy, pts.values, G100, neighbors=12, radius=400.0)
    assert np.isnan(whole).any() and np.isfinite(whole).any()
    for e in range(2):
        got = _band(d / "i.tif", e + 1)
        assert np.array_equal(np.isnan(got), np.isnan(whole[e]))
        np.testing.assert_allclose(got, whole[e], rtol=1e-6)
    with rasterio.open(d / "i.tif") as src:
        assert src.descriptions == ("Au", "Cu") and src.tags()["GEOPROSPECT_KIND"] == "idw" and src.crs.to_epsg() == 32649
    assert (d / "i.qml").exists()


def test_distance_density_geology_by_blocks_equal_whole_map(tiny_inputs, tmp_path):
    geoms = read_vectors(tiny_inputs["faults"]).geometry.values
    for args, whole, tol in [
        (("distance", tiny_inputs["faults"]), distance_to_features(geoms, G100), 1e-3),  # float32 chunk-local arithmetic
        (("density", tiny_inputs["faults"], "--radius", 700), feature_density(geoms, G100, 700.0), 1e-9),
    ]:
        out = tmp_path / f"{args[0]}.tif"
        r = invoke(*args, "--block-size", 32, "--out", out, *BOUNDS)
        assert r.exit_code == 0, r.output
        got = _band(out)
        np.testing.assert_allclose(got, whole, rtol=1e-6, atol=tol)
    polys = [shapely.box(500000, 2800000, 502530, 2805000), shapely.box(502530, 2800000, 505000, 2803000)]
    gdf = gpd.GeoDataFrame({"unit": ["granite", "basalt"]}, geometry=polys, crs="EPSG:32649")
    gdf.to_file(tmp_path / "g.gpkg", driver="GPKG")
    r = invoke("geology", tmp_path / "g.gpkg", "--field", "unit", "--block-size", 32, "--out", tmp_path / "geo.tif", *BOUNDS)
    assert r.exit_code == 0, r.output
    whole, names = categorical_bands(gdf, G100, "unit")
    with rasterio.open(tmp_path / "geo.tif") as src:
        assert list(src.descriptions) == names == ["basalt", "granite"]
        assert np.array_equal(src.read(masked=True).filled(np.nan), whole, equal_nan=True)


@needs_gdalinfo
def test_command_writes_a_valid_cog(tiny_inputs):
    d = tiny_inputs["dir"]
    r = invoke("distance", tiny_inputs["faults"], "--cog", "--out", d / "c.tif", *BOUNDS)
    assert r.exit_code == 0, r.output
    r = invoke("distance", tiny_inputs["faults"], "--compress", "deflate", "--out", d / "p.tif", *BOUNDS)
    assert r.exit_code == 0, r.output
    info = gdalinfo(d / "c.tif")
    assert info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"] == "COG"
    assert "LAYOUT" not in gdalinfo(d / "p.tif")["metadata"]["IMAGE_STRUCTURE"]
    assert np.array_equal(_band(d / "c.tif"), _band(d / "p.tif"))


def test_memory_grows_with_the_block_not_the_map(tmp_path, rng):
    """Peak numpy memory of writing an 8-band IDW map block by block: the same for a map 16
    times larger, and far below the map itself (tracemalloc sees numpy's allocations)."""
    xy = rng.uniform(0, 20_000, (200, 2)) + [500000, 2800000]
    vals = rng.lognormal(size=(200, 8))
    lay = idw_layer(xy, vals, [f"e{i}" for i in range(8)], neighbors=4)

    def peak(side: int) -> int:
        g = GridSpec.from_bounds((500000, 2800000, 520000, 2820000), 20_000 / side, "EPSG:32649")
        tracemalloc.start()
        write_layer(lay, g, tmp_path / f"m{side}.tif", "idw", block_size=128)
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p

    small, big = peak(256), peak(1024)
    whole_big = 8 * 1024 * 1024 * 4  # the 8-band float32 map: 32 MiB
    print(f"peak traced memory: {small / 2**20:.1f} MiB on 256 x 256, {big / 2**20:.1f} MiB on 1024 x 1024 (map: 32 MiB)")
    assert big < 0.5 * whole_big  # measured 2048 x 2048 (128 MiB): 12 MiB
    assert big < 1.5 * small


# -- the background writer (stack.build.write_behind) ---------------------------------------------
class _Recorder:
    """A stand-in RasterWriter recording the blocks written (and failing on request)."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.written: list[tuple[int, int]] = []
        self.fail_at = fail_at

    def write(self, data, row_off, col_off):
        if self.fail_at is not None and len(self.written) == self.fail_at:
            raise OSError("disk full")
        self.written.append((row_off, col_off))


def _blocks(n):
    return [(Block(i * 256, 0, 256, 256), np.full((1, 2, 2), i, np.float32)) for i in range(n)]


def test_write_behind_writes_every_block_in_order():
    w, seen = _Recorder(), []
    write_behind(w, iter(_blocks(7)), seen.append, depth=2)
    assert w.written == [(i * 256, 0) for i in range(7)]
    assert seen == [1] * 7


def test_write_behind_raises_a_writer_failure_and_stops_computing():
    pulled = []

    def results():
        for item in _blocks(50):
            pulled.append(item)
            yield item

    with pytest.raises(OSError, match="disk full"):
        write_behind(_Recorder(fail_at=2), results(), depth=1)
    assert len(pulled) < 50  # the computation stopped soon after the failure


def test_write_behind_raises_a_compute_failure():
    def results():
        yield from _blocks(3)
        raise ValueError("layer failed")

    w = _Recorder()
    with pytest.raises(ValueError, match="layer failed"):
        write_behind(w, results())
    assert len(w.written) == 3  # the thread was joined: no write after the call returned


# -- overviews reduced from the blocks while writing (geoprospect.io.overviews) -----------------
def _gdal_reference(path, data, grid) -> list[np.ndarray]:
    """GDAL's own average overviews of ``data`` (the independent reference): full resolution
    written with rasterio, then ``build_overviews(..., Resampling.average)``."""
    from rasterio.enums import Resampling

    from geoprospect.io.rasters import overview_factors

    prof = grid.profile(count=data.shape[0])
    prof.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(np.where(np.isfinite(data), data, -9999.0).astype(np.float32))
        dst.build_overviews(overview_factors(grid), Resampling.average)
    return _levels(path)


def _levels(path) -> list[np.ndarray]:
    with rasterio.open(path) as src:
        n = len(src.overviews(1))
    out = []
    for i in range(n):
        with rasterio.open(path, overview_level=i) as src:
            out.append(src.read())
    return out


def _ovr_data(rng, h, w, bands=3) -> np.ndarray:
    data = (rng.lognormal(size=(bands, h, w)) * 100).astype(np.float32)
    data[rng.random(data.shape) < 0.3] = np.nan  # uneven nodata: mean of means != mean of cells
    data[0, :40, :70] = np.nan
    data[1, :, :3] = np.nan
    return data


def _write_blocks(path, data, grid, block, compress="deflate", **kw):
    from geoprospect.io.rasters import RasterWriter
    from geoprospect.stack.blocks import iter_blocks

    with RasterWriter(path, grid, [f"b{i}" for i in range(data.shape[0])], compress=compress, **kw) as w:
        spool = w._spool
        for b in iter_blocks(grid.height, grid.width, block):
            w.write(data[:, b.slices[0], b.slices[1]], b.row_off, b.col_off)
        levels = None if spool is None else spool.levels
    return levels


OVR_GRIDS = {"EPSG:32649": (500000.0, 2800000.0, 25.0), "EPSG:4326": (116.0, -31.0, 0.0002)}


@pytest.mark.parametrize("crs", sorted(OVR_GRIDS))
@pytest.mark.parametrize(("h", "w", "block", "exact"), [
    (384, 512, 128, 2),     # every level from the blocks
    (1280, 1204, 512, 2),   # 1204 / 8 is not whole: levels 2 and 4 from the blocks, 8 and 16 by GDAL from 4
    (640, 640, 100, 2),     # blocks of 100 cells align to 4, not 8: levels 2 and 4 from the blocks
    (640, 640, 75, 0),      # blocks at odd offsets: GDAL's builder for all levels
    (777, 1001, 256, None),  # odd sides: GDAL's builder (it weights partial cells there)
])
def test_overviews_from_blocks_equal_gdal_average(tmp_path, rng, crs, h, w, block, exact):
    """The overviews reduced from the blocks are bit for bit GDAL's average overviews (nodata
    aware, cascaded level from level); on grids or blocks where they cannot be, GDAL builds them."""
    x0, y0, res = OVR_GRIDS[crs]
    grid = GridSpec.from_bounds((x0, y0, x0 + w * res, y0 + h * res), res, crs)
    assert grid.shape == (h, w)
    data = _ovr_data(rng, h, w)
    ref = _gdal_reference(tmp_path / "ref.tif", data, grid)
    assert exact == _write_blocks(tmp_path / "ours.tif", data, grid, block)
    got = _levels(tmp_path / "ours.tif")
    assert [g.shape for g in got] == [r.shape for r in ref] == [(3, -(-h // f), -(-w // f)) for f in (2, 4, 8, 16, 32)[: len(ref)]]
    for g, r in zip(got, ref, strict=True):
        assert np.array_equal(g, r)
    with rasterio.open(tmp_path / "ours.tif") as src:
        assert src.tags(ns="rio_overview") == {"resampling": "average"} and src.compression.name.lower() == "deflate"
        assert np.array_equal(src.read(), np.where(np.isfinite(data), data, -9999.0))
    with rasterio.open(tmp_path / "ours.tif", overview_level=0) as src:
        assert src.tags(1)["RESAMPLING"] == "AVERAGE"
        # levels created for the spool are stored uncompressed (RasterWriter._open_spool); GDAL's own are compressed like the image
        assert (src.compression is None) if exact is not None else (src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.tif", "ref.tif"]  # no scratch left


def test_halve_is_the_nodata_aware_mean_of_2x2_cells():
    from geoprospect.io.overviews import halve

    nd = -9999.0
    a = np.array([[[1, 2, nd, nd], [3, 4, nd, 5]], [[nd, nd, 7, 7], [nd, nd, 7, 8]]], dtype=np.float32)
    got = halve(a, nd)
    assert got.dtype == np.float32 and got.shape == (2, 1, 2)
    assert got[0].tolist() == [[2.5, 5.0]]  # (1+2+3+4)/4 and the one valid cell
    assert got[1, 0, 0] == nd and got[1, 0, 1] == np.float32(29 / 4)


def test_spool_is_used_where_it_pays(tmp_path):
    from geoprospect.io.rasters import RasterWriter

    grid = GridSpec.from_bounds((500000.0, 2800000.0, 500000.0 + 512 * 25, 2800000.0 + 384 * 25), 25, "EPSG:32649")
    used = {}
    for compress, cog in (("deflate", False), ("zstd", False), ("zstd", True)):
        with RasterWriter(tmp_path / f"{compress}{cog}.tif", grid, ["a"], compress=compress, cog=cog) as w:
            used[compress, cog] = w._spool is not None
            w.write(np.ones((1, *grid.shape), np.float32))
    assert used["deflate", False] and used["zstd", False]
    assert not used["zstd", True]  # the COG driver copies GDAL's levels


@needs_gdalinfo
def test_overviews_from_blocks_read_back_like_gdal_builder(tmp_path, rng):
    """The spool path (DEFLATE, ZSTD) and GDAL's builder (COG) give the same file contents as
    read by rasterio and by gdalinfo -stats: values, overviews, CRS, nodata, names, statistics."""
    grid = GridSpec.from_bounds((500000.0, 2800000.0, 500000.0 + 512 * 25, 2800000.0 + 384 * 25), 25, "EPSG:32649")
    data = _ovr_data(rng, 384, 512)
    assert _write_blocks(tmp_path / "d.tif", data, grid, 128) == 2
    assert _write_blocks(tmp_path / "z.tif", data, grid, 128, compress="zstd") == 2
    assert _write_blocks(tmp_path / "c.tif", data, grid, 128, compress="deflate", cog=True) is None
    (m_d, a_d, t_d), (m_z, a_z, t_z), (m_c, a_c, t_c) = _read(tmp_path / "d.tif"), _read(tmp_path / "z.tif"), _read(tmp_path / "c.tif")
    assert m_d == m_z == m_c and t_d == t_z == t_c and m_d["overviews"] == [2, 4]
    assert np.array_equal(a_d, a_z) and np.array_equal(a_d, a_c)
    for lz, ld, lc in zip(_levels(tmp_path / "z.tif"), _levels(tmp_path / "d.tif"), _levels(tmp_path / "c.tif"), strict=True):
        assert np.array_equal(ld, lz) and np.array_equal(ld, lc)
    g_d, g_z = gdalinfo(tmp_path / "d.tif", "-stats"), gdalinfo(tmp_path / "z.tif", "-stats")
    assert g_d["coordinateSystem"] == g_z["coordinateSystem"] and g_d["geoTransform"] == g_z["geoTransform"]
    for bd, bz in zip(g_d["bands"], g_z["bands"], strict=True):
        assert bd["metadata"] == bz["metadata"] and bd["noDataValue"] == bz["noDataValue"] == -9999.0
        assert [bd[k] for k in ("description", "minimum", "maximum", "mean", "stdDev")] == [bz[k] for k in ("description", "minimum", "maximum", "mean", "stdDev")]
        assert [o["size"] for o in bd["overviews"]] == [o["size"] for o in bz["overviews"]]
    assert gdalinfo(tmp_path / "c.tif")["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"] == "COG"


def test_spool_scratch_is_removed_on_error(tmp_path, rng):
    from geoprospect.io.rasters import RasterWriter

    grid = GridSpec.from_bounds((500000.0, 2800000.0, 500000.0 + 512 * 25, 2800000.0 + 384 * 25), 25, "EPSG:32649")
    with pytest.raises(RuntimeError, match="stop"):
        with RasterWriter(tmp_path / "x.tif", grid, ["a"], compress="deflate") as w:
            w.write(np.ones((1, 128, 128), np.float32), 0, 0)
            assert w._spool is not None and w._spool.path.exists()
            raise RuntimeError("stop")
    assert not list(tmp_path.iterdir())
