"""Window sources: the z-scored stack in memory or memory-mapped (a stack larger than the budget)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from geoprospect.cli import cli
from geoprospect.errors import ConfigError
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import read_stack, write_raster
from geoprospect.windows.dataset import normalise
from geoprospect.windows.store import SCRATCH, memory_budget_mb, open_windows_source


@pytest.fixture(params=["EPSG:32750", "EPSG:3577"])
def stack_tif(tmp_path, request):
    """A 3-band 300 x 280 stack (tile 256, so strips cross tile rows) with nodata holes."""
    r = np.random.default_rng(3)
    grid = GridSpec.from_bounds((400000.0, 6000000.0, 400000.0 + 280 * 25.0, 6000000.0 + 300 * 25.0), 25.0, request.param)
    data = r.normal(5.0, 2.0, (3, grid.height, grid.width)).astype(np.float32)
    data[0, 10:20, 30:40] = np.nan
    data[2, -5:, :7] = np.nan
    return write_raster(tmp_path / "stack.tif", data, grid, ["Au", "As", "dist_faults"])


def test_mapped_source_equals_in_memory(stack_tif, tmp_path):
    mem = open_windows_source(stack_tif, memory_mb=1e6)
    assert not mem.mapped
    with open_windows_source(stack_tif, memory_mb=0.01, scratch_dir=tmp_path / "scr") as mm:
        assert mm.mapped and isinstance(mm.norm, np.memmap) and isinstance(mm.stack.data, np.memmap)
        assert (tmp_path / "scr" / "norm.f32").exists()
        np.testing.assert_array_equal(mm.stack.data, mem.stack.data)  # NaN where nodata, in both
        np.testing.assert_array_equal(mm.norm, mem.norm)
        np.testing.assert_array_equal(mm.stack.valid, mem.stack.valid)
        assert mm.mean == mem.mean and mm.stack.band_names == ["Au", "As", "dist_faults"]
        # the strip-wise z-score is the plain formula
        st = read_stack(stack_tif)
        m = np.array(mm.mean, dtype=np.float32)[:, None, None]
        s = np.array(mm.std, dtype=np.float32)[:, None, None]
        np.testing.assert_allclose(mm.norm, np.nan_to_num((st.data - m) / s), rtol=1e-6, atol=1e-6)
        assert not np.isnan(mm.norm).any()
    assert not (tmp_path / "scr").exists()  # the memory maps are removed when done


def test_normalise_into_given_array(stack_tif):
    st = read_stack(stack_tif)
    out = np.full(st.data.shape, 7.0, dtype=np.float32)
    res = normalise(st.data, [0, 0, 0], [1, 1, 1], out=out)
    assert res is out
    np.testing.assert_array_equal(out, np.nan_to_num(st.data))


def test_memory_budget():
    assert memory_budget_mb(123) == 123.0
    assert memory_budget_mb() > 0
    with pytest.raises(ConfigError, match="positive"):
        memory_budget_mb(0)


def test_train_memory_mapped_gives_the_same_model(tiny_inputs):
    """`train --memory-mb` tiny: windows read from memory maps; same seeded weights; scratch removed."""
    d, b = tiny_inputs["dir"], tiny_inputs["bounds"]

    def invoke(*args):
        return CliRunner().invoke(cli, ["--progress", "none", *map(str, args)], catch_exceptions=False)

    torch.set_num_threads(1)
    assert invoke("interpolate", tiny_inputs["points"], "--out", d / "idw.tif", "--crs", "EPSG:32649", "--elements", "Au,As", "--bounds", *b, "--resolution", 100, "--radius", 1500).exit_code == 0
    assert invoke("tile", d / "idw.tif", "--deposits", tiny_inputs["deposits"], "--out", d / "w.gpkg", "--size", 16, "--stride", 8, "--test-fraction", 0.4).exit_code == 0
    common = ["--device", "cpu", "--model", "resnet18", "--epochs", 1, "--batch-size", 8, "--seed", 3]
    for name, extra in (("mem", []), ("mapped", ["--memory-mb", 0.001])):
        r = invoke("train", d / "idw.tif", d / "w.gpkg", "--out", d / name, *common, *extra)
        assert r.exit_code == 0, r.output
        assert not (d / name / SCRATCH).exists()
    a = torch.load(d / "mem" / "model.pt", weights_only=True)
    b_ = torch.load(d / "mapped" / "model.pt", weights_only=True)
    for k in a:
        assert torch.equal(a[k], b_[k]), k
    assert json.loads((d / "mapped" / "model.json").read_text())["window_size"] == 16
