"""density, geology and interpolate --method kriging from the command line."""

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from click.testing import CliRunner

from geoprospect.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, ["--progress", "none", *map(str, args)], catch_exceptions=False)


GRID = ("--bounds", 500000, 2800000, 505000, 2805000, "--resolution", 250, "--grid-crs", "EPSG:32649")


def test_density_and_distance_density(tiny_inputs):
    d = tiny_inputs["dir"]
    r = invoke("density", tiny_inputs["faults"], "--radius", 1000, "--out", d / "den.tif", *GRID)
    assert r.exit_code == 0, r.output
    r = invoke("density", tiny_inputs["faults"], "--radius", 1000, "--mode", "distance-density", "--out", d / "dd.tif", "--template", d / "den.tif")
    assert r.exit_code == 0, r.output
    with rasterio.open(d / "den.tif") as a, rasterio.open(d / "dd.tif") as b:
        assert a.crs.to_epsg() == 32649 and a.transform == b.transform and (a.width, a.height) == (20, 20)
        assert a.descriptions == ("density_faults",) and b.descriptions == ("distdens_faults",)
        den, dd = a.read(1), b.read(1)
        assert den.min() >= 0 and den.max() > 0
        assert ((dd > 0) == (den > 0)).mean() > 0.9  # both reach as far as the kernel radius


def test_geology_one_hot(tmp_path):
    polys = [shapely.box(500000, 2800000, 502500, 2805000), shapely.box(502500, 2800000, 505000, 2805000)]
    gpd.GeoDataFrame({"unit": ["granite", "greenstone"]}, geometry=polys, crs="EPSG:32649").to_file(tmp_path / "g.gpkg", driver="GPKG")
    r = invoke("geology", tmp_path / "g.gpkg", "--field", "unit", "--out", tmp_path / "geo.tif", *GRID)
    assert r.exit_code == 0, r.output
    with rasterio.open(tmp_path / "geo.tif") as src:
        assert src.descriptions == ("granite", "greenstone")
        a = src.read()
        assert np.array_equal(a[0][:, :10], np.ones((20, 10))) and a[0][:, 10:].sum() == 0
        assert np.array_equal(a.sum(axis=0), np.ones((20, 20)))
    r = invoke("geology", tmp_path / "g.gpkg", "--field", "rock", "--out", tmp_path / "x.tif", *GRID)
    assert r.exit_code == 2 and "rock" in r.output


def test_interpolate_by_kriging(tiny_inputs):
    d = tiny_inputs["dir"]
    r = invoke("interpolate", tiny_inputs["points"], "--crs", "EPSG:32649", "--elements", "Au", "--method", "kriging", "--variance", "--out", d / "k.tif", *GRID)
    assert r.exit_code == 0, r.output
    with rasterio.open(d / "k.tif") as src:
        assert src.descriptions == ("Au", "Au_variance")
        est, var = src.read(1), src.read(2)
        assert np.isfinite(est).all() and (var >= 0).all()


def test_kriging_streams_by_blocks_with_the_whole_map_values(tiny_inputs):
    """interpolate --method kriging writes block by block (variograms fitted once): the cells
    equal one whole-grid kriging call with the same variogram, whatever the block size."""
    from geoprospect.evidence.kriging import fit_variogram, kriging
    from geoprospect.grid import GridSpec
    from geoprospect.io.points import read_points

    d = tiny_inputs["dir"]
    r = invoke("interpolate", tiny_inputs["points"], "--crs", "EPSG:32649", "--elements", "Au", "--method", "kriging", "--variance",
               "--neighbors", 12, "--block-size", 256, "--out", d / "kb.tif", "--bounds", 500000, 2800000, 505000, 2805000, "--resolution", 10, "--grid-crs", "EPSG:32649")
    assert r.exit_code == 0, r.output
    pts = read_points(tiny_inputs["points"], ["Au"], crs="EPSG:32649")
    grid = GridSpec.from_bounds((500000, 2800000, 505000, 2805000), 10, "EPSG:32649")
    vario = fit_variogram(pts.xy, pts.values[:, 0], "spherical")
    est, var = kriging(pts.xy, pts.values, grid, variogram=vario, neighbors=12)
    with rasterio.open(d / "kb.tif") as src:
        assert src.block_shapes[0] == (256, 256) and src.descriptions == ("Au", "Au_variance")
        np.testing.assert_allclose(src.read(1), est[0], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(src.read(2), var[0], rtol=1e-5, atol=1e-6)
