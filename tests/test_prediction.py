"""The window-scoring core and its sources: memory, blocks (host cut, prefetch), cut on the device.

Every source must give the scores of an independent per-window computation written here.
(The dask source: tests/test_dask.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_scores_close
from torch import nn

from geoprospect.errors import GridError, InputError, ModelError
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import read_stack, write_raster
from geoprospect.prediction.predict import predict, stride_grid
from geoprospect.prediction.score import Batch, check_model_input, probability_and_margin, score_batches
from geoprospect.prediction.sources import memory_batches, window_blocks
from geoprospect.windows.tiling import window_grid_shape


def tiny_model(bands: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(bands, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()


@pytest.fixture(scope="module")
def holed_stack(tmp_path_factory):
    """A 4-band 120 x 160 stack with a hole: windows over it are dropped, windows near it keep NaN -> 0."""
    rng = np.random.default_rng(0)
    grid = GridSpec.from_bounds((500000.0, 2800000.0, 500000.0 + 160 * 20, 2800000.0 + 120 * 20), 20.0, "EPSG:32649")
    yy, xx = np.mgrid[0:120, 0:160]
    data = np.stack([np.sin(xx / 9.0) * 40 + 100, np.cos(yy / 7.0) + xx / 50.0, rng.lognormal(size=(120, 160)), np.hypot(yy - 60, xx - 80)]).astype(np.float32)
    data[1, 20:70, 30:120] = np.nan
    path = write_raster(tmp_path_factory.mktemp("holed") / "stack.tif", data, grid, ["a", "b", "c", "f"])
    st = read_stack(path)
    return path, st, [s["mean"] for s in st.stats], [s["std"] for s in st.stats]


def expected_scores(model, st, mean, std, size, stride, min_valid=0.5, crop=None):
    """Independent reference: every window scored alone, straight from the stack's pixels."""
    nr, nc = window_grid_shape(*st.grid.shape, size, stride)
    prob, margin = np.full((nr, nc), np.nan), np.full((nr, nc), np.nan)
    m, s = np.asarray(mean, np.float32)[:, None, None], np.asarray(std, np.float32)[:, None, None]
    side = crop or size
    lo = (size - side) // 2
    for i in range(nr):
        for j in range(nc):
            w = st.data[:, i * stride : i * stride + size, j * stride : j * stride + size]
            if np.isfinite(w).all(axis=0).mean() < min_valid:
                continue
            x = np.nan_to_num((w - m) / s)[:, lo : lo + side, lo : lo + side]
            with torch.no_grad():
                lg = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]).double()[0]
            prob[i, j] = float(torch.softmax(lg, 0)[1])
            margin[i, j] = float(lg[1] - lg[0])
    return prob, margin


def _assert_scores(pred, prob, margin):
    assert np.array_equal(np.isnan(pred.prob), np.isnan(prob)) and np.isnan(prob).any() and np.isfinite(prob).any()
    np.testing.assert_allclose(pred.prob, prob, rtol=0, atol=1e-6)
    np.testing.assert_allclose(pred.margin, margin, rtol=0, atol=1e-5)


@pytest.mark.parametrize("crop", [None, 12])
def test_memory_source_equals_scoring_each_window_alone(holed_stack, crop):
    path, st, mean, std = holed_stack
    model = tiny_model(4)
    stats: dict = {}
    pred = predict(model, st, mean, std, size=16, stride=6, device="cpu", batch_size=32, crop=crop, stats=stats)
    assert pred.grid == stride_grid(st.grid, 16, 6) and (pred.size, pred.stride) == (16, 6)
    _assert_scores(pred, *expected_scores(model, st, mean, std, 16, 6, crop=crop))
    assert stats["windows"] == int(np.isfinite(pred.prob).sum())


@pytest.mark.parametrize("size,stride,bs,prefetch", [(16, 8, 64, 2), (12, 5, 40, 0), (32, 32, 1024, 3)])
def test_block_source_equals_scoring_each_window_alone(holed_stack, size, stride, bs, prefetch):
    path, st, mean, std = holed_stack
    model = tiny_model(4)
    stats: dict = {}
    got = predict(model, path, mean, std, size=size, stride=stride, device="cpu", batch_size=32, block_size=bs, prefetch=prefetch, stats=stats)
    assert got.grid == stride_grid(st.grid, size, stride)
    _assert_scores(got, *expected_scores(model, st, mean, std, size, stride))
    assert stats["windows"] == int(np.isfinite(got.prob).sum())
    assert 0.0 <= stats["busy_fraction"] <= 1.0 and stats["device"] == "cpu"
    mem = predict(model, st, mean, std, size=size, stride=stride, device="cpu", batch_size=32)
    assert_scores_close(got, mem)  # same batches of the same windows; torch's CPU threads are not bit-reproducible under load


@pytest.mark.parametrize("crop,prefetch", [(None, 2), (12, 0)])
def test_windows_cut_on_the_device_give_the_same_scores(holed_stack, crop, prefetch):
    """The GPU path (block regions sent once, windows cut there) equals the host cut (here on the CPU)."""
    path, st, mean, std = holed_stack
    model = tiny_model(4)
    kw = dict(size=16, stride=6, device="cpu", block_size=48, batch_size=16, crop=crop)
    host = predict(model, path, mean, std, cut_on_device=False, **kw)
    stats: dict = {}
    dev = predict(model, path, mean, std, cut_on_device=True, prefetch=prefetch, stats=stats, **kw)
    _assert_scores(host, *expected_scores(model, st, mean, std, 16, 6, crop=crop))
    assert np.array_equal(np.isnan(host.prob), np.isnan(dev.prob))
    np.testing.assert_allclose(dev.prob, host.prob, rtol=0, atol=1e-6)
    np.testing.assert_allclose(dev.margin, host.margin, rtol=0, atol=1e-5)
    assert stats["windows"] == int(np.isfinite(host.prob).sum())


def test_prefetch_gives_the_same_scores(holed_stack):
    path, st, mean, std = holed_stack
    model = tiny_model(4)
    a = predict(model, path, mean, std, size=16, stride=8, device="cpu", block_size=48, prefetch=0)
    b = predict(model, path, mean, std, size=16, stride=8, device="cpu", block_size=48, prefetch=2)
    assert np.isfinite(a.prob).any()
    assert_scores_close(a, b)


def test_window_blocks_partition_the_window_grid(holed_stack):
    _, st, *_ = holed_stack
    nr, nc = window_grid_shape(*st.grid.shape, 16, 6)
    hits = np.zeros((nr, nc), int)
    for wb in window_blocks(st.grid, 16, 6, 50):
        hits[wb.i0 : wb.i0 + wb.ni, wb.j0 : wb.j0 + wb.nj] += 1
        p = wb.pixels
        assert p.row_off + p.height <= st.grid.height and p.col_off + p.width <= st.grid.width
        assert p.height == (wb.ni - 1) * 6 + 16  # halo: the last window's overhang
    assert (hits == 1).all()


def test_reader_thread_errors_reach_the_caller(holed_stack, monkeypatch):
    import geoprospect.prediction.sources as sources

    path, st, mean, std = holed_stack

    def boom(src, block, pad=0):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sources, "read_region", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        predict(tiny_model(4), path, mean, std, size=16, stride=8, device="cpu", prefetch=2)


def test_prediction_input_errors(holed_stack, tmp_path):
    path, st, mean, std = holed_stack
    for stack in (path, st):  # one check, one message, whatever the source
        with pytest.raises(ModelError, match="trained on 3 bands, the stack has 4") as e:
            predict(tiny_model(3), stack, mean[:3], std[:3], size=16, stride=8, device="cpu")
        assert "How to fix" in str(e.value)
    with pytest.raises(ModelError, match=str(path)):
        predict(tiny_model(3), path, mean[:3], std[:3], size=16, stride=8, device="cpu")
    with pytest.raises(ModelError, match="crop"):
        predict(tiny_model(4), path, mean, std, size=16, stride=8, device="cpu", crop=20)
    with pytest.raises(InputError, match="not found"):
        predict(tiny_model(4), tmp_path / "none.tif", mean, std, size=16, stride=8, device="cpu")
    with pytest.raises(GridError):
        predict(tiny_model(4), path, mean, std, size=16, stride=8, device="cpu", block_size=4)
    assert check_model_input(mean, std, 4, 16, None) == 16 and check_model_input(mean, std, 4, 16, 12) == 12


def test_score_batches_puts_each_score_at_its_index():
    model = tiny_model(2)
    x = torch.randn(5, 2, 8, 8)
    rows, cols = np.array([0, 2, 1, 2, 0]), np.array([1, 0, 2, 2, 0])
    s = score_batches(model, [Batch((rows[:3], cols[:3]), x[:3]), Batch((rows[3:], cols[3:]), x[3:])], (3, 3), "cpu")
    with torch.no_grad():
        lg = model(x).double()
    assert s.windows == 5 and np.isnan(s.prob).sum() == 4
    np.testing.assert_allclose(s.prob[rows, cols], torch.softmax(lg, 1)[:, 1].numpy(), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(s.margin[rows, cols], (lg[:, 1] - lg[:, 0]).numpy())


def test_probability_and_margin_keep_float64_ranks():
    lg = torch.tensor([[0.0, 40.0], [0.0, 41.0], [3.0, 1.0]], dtype=torch.float32)
    p, m = probability_and_margin(lg)
    assert p.dtype == m.dtype == np.float64
    np.testing.assert_array_equal(m, [40.0, 41.0, -2.0])  # ranked where a float32 sigmoid saturates
    np.testing.assert_allclose(p[2], 1 / (1 + np.exp(2.0)), rtol=1e-12)


def test_memory_batches_index_and_progress():
    norm = np.arange(2 * 10 * 10, dtype=np.float32).reshape(2, 10, 10)
    offsets = np.array([[0, 0], [2, 3], [5, 5]])
    got = list(memory_batches(norm, offsets, 4, 2, crop=2))
    assert [b.done for b in got] == [2, 3] and [b.index[0].tolist() for b in got] == [[0, 1], [2]]
    assert torch.equal(got[0].x[1], torch.from_numpy(norm[:, 3:5, 4:6]))  # centre 2 x 2 of the window at (2, 3)
