"""The dask path (LocalCluster, 2 workers) gives the same rasters and scores as the single-machine path."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

pytest.importorskip("distributed")

from conftest import assert_scores_close  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from test_blocks import _inputs, tiny_model  # noqa: E402

from geoprospect.errors import ConfigError, InputError  # noqa: E402
from geoprospect.io.rasters import read_stack  # noqa: E402
from geoprospect.pipeline.engine import Engine  # noqa: E402
from geoprospect.prediction.predict import predict  # noqa: E402
from geoprospect.stack import DaskExecutor, StackLayer, build_stack, connect, distance_layer, idw_layer  # noqa: E402
from geoprospect.stack.dataarray import stack_dataarray  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def stacks(client, tmp_path_factory):
    d = tmp_path_factory.mktemp("dask")
    grid, xy, vals, lines = _inputs("EPSG:3577", h=200, w=180)
    layers = [idw_layer(xy, vals, ["a", "b", "c"], radius=400.0, min_points=2), distance_layer(lines, "faults", provenance="faults.gpkg")]
    local = build_stack(layers, grid, d / "local.tif", block_size=128)
    dist = build_stack(layers, grid, d / "dask.tif", block_size=128, executor=DaskExecutor(client, in_flight=2))
    return local, dist, layers, grid, d


def test_dask_stack_equals_single_machine(stacks):
    local, dist, *_ = stacks
    a, b = read_stack(local.path), read_stack(dist.path)
    assert np.isnan(a.data).any() and np.isfinite(a.data).any()
    assert np.array_equal(a.data, b.data, equal_nan=True)  # bit for bit
    assert a.band_names == b.band_names == ["a", "b", "c", "faults"]
    assert a.stats == b.stats and local.stats == dist.stats
    with rasterio.open(local.path) as x, rasterio.open(dist.path) as y:
        assert x.profile == y.profile and y.profile["tiled"] and y.nodata == -9999.0 and y.crs == x.crs
        assert [y.tags(i) for i in range(1, 5)] == [x.tags(i) for i in range(1, 5)]
        assert y.tags(4)["GEOPROSPECT_SOURCE"] == "faults.gpkg" and "STATISTICS_MEAN" in y.tags(1)
        assert y.tags()["GEOPROSPECT_KIND"] == "evidence_stack"
    assert not list(dist.path.parent.glob(".*tmp*"))


def test_dask_tiles_and_overviews_are_complete(stacks):
    local, dist, *_ = stacks
    with rasterio.open(dist.path) as y, rasterio.open(local.path) as x:
        # every tile decodes (no corrupt or missing tile): a full read with GDAL's checksum
        for i in range(1, y.count + 1):
            assert y.checksum(i) == x.checksum(i)
        assert y.overviews(1) == x.overviews(1) == [2]
        for f in y.overviews(1):
            shape = (y.height // f, y.width // f)
            ov = y.read(out_shape=(y.count, *shape), masked=True)
            assert np.array_equal(ov.filled(np.nan), x.read(out_shape=(x.count, *shape), masked=True).filled(np.nan), equal_nan=True)
            # not all-zero overviews: their mean is close to the data's
            full = y.read(masked=True)
            for b in range(y.count):
                assert ov[b].count() > 0 and np.abs(ov[b]).max() > 0
                assert float(ov[b].mean()) == pytest.approx(float(full[b].mean()), rel=0.05)


def test_stack_dataarray_is_lazy_and_georeferenced(stacks, client):
    local, _, layers, grid, _ = stacks
    arr = stack_dataarray(layers, grid, block_size=64, client=client)
    assert arr.chunks == ((4,), (64, 64, 64, 8), (64, 64, 52))
    assert arr.rio.crs.to_epsg() == 3577 and tuple(arr.rio.transform())[:6] == tuple(grid.transform)[:6]
    assert list(arr["band"].values) == ["a", "b", "c", "faults"]
    ref = read_stack(local.path).data
    got = arr.compute().values
    # other chunks than the local file's blocks: float32 distances may differ by rounding (< 1 mm)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-3)
    assert np.array_equal(got[:3], ref[:3], equal_nan=True)


def test_dask_prediction_equals_single_machine(stacks, client):
    local, dist, *_ = stacks
    st = read_stack(local.path)
    mean, std = [s["mean"] for s in st.stats], [s["std"] for s in st.stats]
    model = tiny_model(4)
    a = predict(model, local.path, mean, std, size=16, stride=8, device="cpu", batch_size=64, block_size=96)
    b = predict(model, dist.path, mean, std, size=16, stride=8, device="cpu", batch_size=64, block_size=96, client=client)
    assert a.grid == b.grid and np.isfinite(a.prob).any()
    assert_scores_close(a, b)  # torch in dask's worker threads: within float32 rounding, not bit for bit
    eng = Engine(block_size=96, client=client)  # the run's predict stage: one task per window block
    c = eng.predict(model, dist.path, mean, std, size=16, stride=8, device="cpu", batch_size=64)
    assert_scores_close(a, c)
    eng.close()


def test_engine_dispatches_to_the_client(stacks, client):
    local, _, layers, grid, d = stacks
    eng = Engine(block_size=128, client=client)
    assert eng.distributed and eng.describe()["engine"] == "dask"
    sf = eng.build_stack(layers, grid, d / "engine.tif")
    assert np.array_equal(read_stack(sf.path).data, read_stack(local.path).data, equal_nan=True)
    eng.close()
    assert client.status == "running"  # an injected client is not closed
    assert Engine().describe()["engine"] == "blocks"


def test_dask_stack_errors(client, tmp_path):
    grid, xy, vals, lines = _inputs("EPSG:32649", h=64, w=64)
    empty = StackLayer(["empty"], lambda g: np.full(g.shape, np.nan, np.float32))
    with pytest.raises(InputError, match="no valid cells"):
        build_stack([distance_layer(lines, "f"), empty], grid, tmp_path / "e.tif", block_size=32, executor=DaskExecutor(client))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("address,msg", [("nonsense", "not a dask scheduler"), ("local:x", "invalid local cluster"), ("local:0", "at least one worker"), ("tcp://127.0.0.1:9", "cannot reach")])
def test_bad_scheduler_address(address, msg):
    with pytest.raises(ConfigError, match=msg):
        connect(address, timeout=2)


@pytest.mark.slow
def test_run_with_dask_scheduler_gives_the_same_outputs(client, tiny_inputs):
    """`geoprospect run --dask-scheduler ADDRESS`: the stack equals the single-machine one bit for
    bit, and the map equals the block predictor's with the run's own model (slow: it trains)."""
    import json

    import yaml
    from click.testing import CliRunner

    from geoprospect.cli import cli
    from geoprospect.io.points import read_points
    from geoprospect.models.checkpoint import load_checkpoint
    from geoprospect.pipeline import stages
    from geoprospect.pipeline.config import load_config
    from geoprospect.pipeline.layers import pipeline_layers

    cfg = {
        "points": {"path": "pts.csv", "crs": "EPSG:32649", "x_field": "x", "y_field": "y", "elements": ["Au", "As"]},
        "grid": {"resolution": 125},
        "idw": {"radius": 1500},
        "deposits": {"path": "dep.gpkg"},
        "vectors": [{"name": "dist_faults", "path": "faults.gpkg"}],
        "windows": {"unit": "window", "size": 8, "stride": 4, "test_fraction": 0.4},
        # the single test block: 4 deposit cells on 40 x 40 cells cannot fill 5 spatial folds of 8-px windows
        "evaluation": {"method": "block"},
        "train": {"epochs": 1, "batch_size": 16, "device": "cpu"},
        "compute": {"block_size": 16},
    }
    d = tiny_inputs["dir"]
    (d / "c.yaml").write_text(yaml.safe_dump(cfg))
    out = d / "dask"
    r = CliRunner().invoke(cli, ["--progress", "none", "run", str(d / "c.yaml"), "--out", str(out), "--dask-scheduler", client.scheduler.address], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "manifest.json").read_text())["compute"]["engine"] == "dask"
    c = load_config(d / "c.yaml")
    pts = read_points(c.points.path, c.points.elements, x_field="x", y_field="y", crs=c.points.crs)
    grid = stages.make_grid(pts, resolution=c.grid.resolution)
    local = build_stack(pipeline_layers(c, pts, grid), grid, d / "local.tif", block_size=16)
    assert np.array_equal(read_stack(out / "stack.tif").data, read_stack(local.path).data, equal_nan=True)
    model, meta = load_checkpoint(out / "model", local.band_names)
    p = predict(model, local.path, meta.mean, meta.std, size=8, stride=4, device="cpu", block_size=16)
    got = read_stack(out / "prospectivity.tif")
    assert np.isfinite(p.prob).any()
    np.testing.assert_allclose(got.data[0], p.prob.astype(np.float32), rtol=0, atol=1e-6, equal_nan=True)
