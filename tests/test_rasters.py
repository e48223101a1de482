import numpy as np
import pytest
import rasterio

from geoprospect.errors import InputError
from geoprospect.grid import GridSpec
from geoprospect.io.atomic import atomic_path
from geoprospect.io.rasters import read_stack, write_raster


@pytest.mark.parametrize("crs", ["EPSG:32649", "EPSG:20350", "EPSG:3577"])
def test_write_raster_is_read_back_right_by_gdal(tmp_path, crs):
    g = GridSpec.from_bounds((400000, 6000000, 400000 + 300 * 30, 6000000 + 300 * 20), 30, crs)
    data = np.random.default_rng(0).normal(size=(2, 200, 300)).astype("float32")
    data[0, :10, :10] = np.nan
    p = write_raster(tmp_path / "r.tif", data, g, ["a", "b"])
    with rasterio.open(p) as src:
        assert src.crs.to_epsg() == int(crs.split(":")[1])
        assert src.transform == g.transform
        assert src.nodatavals == (-9999.0, -9999.0)
        assert src.descriptions == ("a", "b")
        assert src.profile["tiled"] and src.compression.name.lower() == "zstd" and src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "3"
        assert src.overviews(1) == [2]
        m = src.read(1, masked=True)
        assert m.mask[:10, :10].all() and not m.mask[10:, 10:].any()
        assert float(src.tags(2)["STATISTICS_MEAN"]) == pytest.approx(float(data[1].mean()), rel=1e-5)
    st = read_stack(p)
    assert np.isnan(st.data[0, :10, :10]).all()
    assert np.allclose(st.data[1], data[1])
    assert st.band_names == ["a", "b"]
    assert not list(tmp_path.glob(".*tmp*"))


def test_a_list_of_bands_is_written_by_strips_as_the_array_would_be(tmp_path, monkeypatch):
    """write_raster([band, band]) (large score maps: no (bands, rows, cols) copy) writes the same
    cells, nodata and overviews as the stacked array, in strips of STRIP_ROWS rows."""
    import geoprospect.io.rasters as rasters

    monkeypatch.setattr(rasters, "STRIP_ROWS", 64)  # several strips on a small grid
    g = GridSpec.from_bounds((400000, 6000000, 400000 + 96 * 30, 6000000 + 200 * 30), 30, "EPSG:32750")
    rng = np.random.default_rng(1)
    prob, margin = rng.random((200, 96)), rng.normal(size=(200, 96)).astype("float32")
    prob[150:, :5] = np.nan
    a = write_raster(tmp_path / "array.tif", np.stack([prob, margin]).astype("float32"), g, ["p", "m"])
    b = write_raster(tmp_path / "list.tif", [prob, margin], g, ["p", "m"])
    with rasterio.open(a) as sa, rasterio.open(b) as sb:
        assert np.array_equal(sa.read(masked=True).filled(np.nan), sb.read(masked=True).filled(np.nan), equal_nan=True)
        assert sb.overviews(1) == sa.overviews(1) and sb.descriptions == ("p", "m")
        assert float(sb.tags(1)["STATISTICS_MEAN"]) == pytest.approx(float(np.nanmean(prob.astype("float32"))), rel=1e-5)
    with pytest.raises(Exception, match="does not match grid"):
        write_raster(tmp_path / "bad.tif", [prob, margin[:-1]], g, ["p", "m"])


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_truncated_geotiff_is_a_clear_error(tmp_path):
    g = GridSpec.from_bounds((0, 0, 640, 640), 10, "EPSG:32649")
    p = write_raster(tmp_path / "r.tif", np.ones((1, 64, 64), "float32"), g, ["a"], overviews=False)
    bad = tmp_path / "trunc.tif"
    bad.write_bytes(p.read_bytes()[:300])
    with pytest.raises(InputError, match="trunc.tif"):
        read_stack(bad)


def test_a_coarser_grid_averages_and_logs_both_resolutions(tmp_path, caplog):
    """A 10 m raster onto a 5x coarser grid: each cell is the mean of its 25 source cells (average),
    not a bilinear sample of 4; the log names both resolutions and the method."""
    import logging

    from rasterio.transform import from_origin

    from geoprospect.stack.rasters import read_onto_grid

    r = np.random.default_rng(3)
    data = r.normal(size=(100, 100)).astype("float32")
    path = tmp_path / "fine.tif"
    with rasterio.open(path, "w", driver="GTiff", width=100, height=100, count=1, dtype="float32", crs="EPSG:32649", transform=from_origin(500000, 2801000, 10, 10)) as d:
        d.write(data[None])
    grid = GridSpec.from_bounds((500000, 2800000, 501000, 2801000), 50, "EPSG:32649")
    with caplog.at_level(logging.INFO, logger="geoprospect"):
        got, _ = read_onto_grid(path, grid)
    np.testing.assert_allclose(got[0], data.reshape(20, 5, 20, 5).mean(axis=(1, 3)), rtol=0, atol=1e-5)
    assert "10 x 10 -> 50 x 50 map units per cell" in caplog.text and "average resampling" in caplog.text
    fine = GridSpec.from_bounds((500000, 2800000, 501000, 2801000), 5, "EPSG:32649")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="geoprospect"):
        read_onto_grid(path, fine)
    assert "bilinear resampling" in caplog.text  # a finer grid interpolates
