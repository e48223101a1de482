"""Bad raster inputs (issue 8): another CRS/resolution/extent (warped with a note), no nodata
declared, an all-nodata band, the wrong band count for a trained model, corrupted or truncated
GeoTIFFs. Extends test_rasters.py / test_checkpoint.py."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geoprospect.errors import InputError, ModelError
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import read_stack, write_raster
from geoprospect.stack import array_layer, build_stack, read_onto_grid, stack_rasters

UTM = "EPSG:32649"
GRID = GridSpec.from_bounds((500000, 2800000, 503200, 2803200), 100, UTM)  # 32 x 32


def _plain_tif(path, data, transform, crs, nodata=None):
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        data = data[None]
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0], dtype="float32", crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(data)
    return path


def test_other_crs_resolution_and_extent_are_warped_with_a_note(tmp_path, caplog):
    # a 50 m raster in UTM 50N (the neighbouring zone) covering only part of the grid
    from pyproj import Transformer

    x0, y0 = Transformer.from_crs(UTM, "EPSG:32650", always_xy=True).transform(500000, 2803200)
    ramp = np.tile(np.arange(40, dtype=np.float32), (40, 1))
    p = _plain_tif(tmp_path / "z50.tif", ramp, from_origin(x0, y0, 50, 50), "EPSG:32650")
    with caplog.at_level(logging.INFO, logger="geoprospect"):
        arr, names = read_onto_grid(p, GRID)
    assert "warped onto the run's grid" in caplog.text and names == ["z50"]
    assert arr.shape == (1, 32, 32)
    valid = np.isfinite(arr[0])
    assert 0 < valid.mean() < 1  # partial cover: the rest is nodata, not zeros
    assert np.all(np.diff(arr[0, 5, valid[5]]) > 0)  # the ramp survives the warp


def test_no_nodata_declared(tmp_path):
    data = np.full((32, 32), 7.0, np.float32)
    data[0, 0] = -9999.0  # without a declared nodata this is a value, and stays one
    p = _plain_tif(tmp_path / "nonodata.tif", data, GRID.transform, UTM, nodata=None)
    arr, _ = read_onto_grid(p, GRID)
    assert np.isfinite(arr).all() and arr[0, 0, 0] == -9999.0
    st = stack_rasters([p], tmp_path / "stack.tif")
    with rasterio.open(tmp_path / "stack.tif") as src:
        assert src.nodata == -9999.0  # the stack itself always declares nodata
    assert read_stack(st.path).data.shape == (1, 32, 32)


def test_all_nodata_band(tmp_path):
    p = _plain_tif(tmp_path / "empty.tif", np.full((32, 32), -1.0), GRID.transform, UTM, nodata=-1.0)
    with pytest.raises(InputError, match="'empty' holds no valid cells"):
        stack_rasters([p], tmp_path / "stack.tif")
    assert not (tmp_path / "stack.tif").exists()


def test_raster_outside_the_grid_gives_no_valid_cells(tmp_path):
    p = _plain_tif(tmp_path / "far.tif", np.ones((10, 10)), from_origin(700000, 2900000, 100, 100), UTM)
    with pytest.raises(InputError, match="holds no valid cells"):
        stack_rasters([p], tmp_path / "stack.tif", GRID)


def test_raster_without_crs(tmp_path):
    p = _plain_tif(tmp_path / "nocrs.tif", np.ones((32, 32)), GRID.transform, None)
    with pytest.raises(InputError, match="no CRS") as e:
        read_onto_grid(p, GRID)
    assert "gdal_edit" in str(e.value)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupted_or_truncated_geotiff(tmp_path, damage):
    good = write_raster(tmp_path / "good.tif", np.random.default_rng(0).normal(size=(2, 32, 32)), GRID, ["a", "b"], overviews=False)
    raw = good.read_bytes()
    bad = tmp_path / "bad.tif"
    bad.write_bytes({"truncated": raw[: len(raw) // 2], "garbage": b"II*\x00" + b"\x07" * 1000, "empty": b""}[damage])
    for fn in (read_stack, lambda p: read_onto_grid(p, GRID)):
        with pytest.raises(InputError, match="cannot read raster|cannot open") as e:
            fn(bad)
        assert "bad.tif" in str(e.value)


def test_wrong_band_count_for_a_trained_model(tmp_path):
    from geoprospect.models.checkpoint import ModelMeta, load_checkpoint, save_checkpoint
    from geoprospect.models.registry import build_model

    model = build_model("resnet18", 3, 2, 8)
    meta = ModelMeta(architecture="resnet18", in_channels=3, band_names=["a", "b", "c"], mean=[0, 0, 0], std=[1, 1, 1], window_size=8, stride=4)
    save_checkpoint(tmp_path / "m", model, meta)
    with pytest.raises(ModelError, match="2 bands.*3 bands") as e:
        load_checkpoint(tmp_path / "m", ["a", "b"])
    assert "same layers" in str(e.value)
    with pytest.raises(ModelError, match="do not match"):
        load_checkpoint(tmp_path / "m", ["a", "c", "b"])  # same count, another order


def test_stack_with_duplicate_band_names(tmp_path):
    with pytest.raises(InputError, match="duplicate layer names"):
        build_stack([array_layer(["a"], np.ones(GRID.shape), GRID), array_layer(["a"], np.ones(GRID.shape), GRID)], GRID, tmp_path / "s.tif")


def test_stack_rasters_warps_block_by_block_like_the_whole_grid(tmp_path):
    """A raster on another grid is warped per block (sub-grid); the stack equals the whole-grid warp
    up to GDAL fitting its bilinear kernel to each region (unit noise: < 1e-3)."""
    from pyproj import Transformer

    x0, y0 = Transformer.from_crs(UTM, "EPSG:32650", always_xy=True).transform(499000, 2804000)
    r = np.random.default_rng(1)
    p = _plain_tif(tmp_path / "z50.tif", r.normal(size=(60, 70)), from_origin(x0, y0, 70, 70), "EPSG:32650")
    ref, _ = read_onto_grid(p, GRID)
    same = _plain_tif(tmp_path / "same.tif", r.normal(size=(32, 32)), GRID.transform, UTM)
    st = stack_rasters([p, same], tmp_path / "stack.tif", GRID, block_size=16)
    got = read_stack(st.path)
    assert st.band_names == got.band_names == ["z50", "same"] and np.isfinite(ref).all()
    np.testing.assert_allclose(got.data[0], ref[0], rtol=0, atol=1e-3)
    assert np.array_equal(got.data[1], read_onto_grid(same, GRID)[0][0])  # same grid: read as is
