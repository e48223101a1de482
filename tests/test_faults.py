"""Faults: kills mid-write, resume after a kill, full disks and read-only folders.

Kills are real SIGKILLs of a subprocess (no cleanup code runs). The full disk is a real 1 MiB
tmpfs where the test may mount one (root), else ENOSPC is simulated by monkeypatching; the
read-only folder is a read-only tmpfs mount (chmod does not stop root), else simulated.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from conftest import assert_tree_close
from faults_helpers import ROOT, assert_outputs_complete, env, read_band_data, run_cli, tiny_config

from geoprospect.errors import OutputError
from geoprospect.grid import GridSpec
from geoprospect.io.atomic import atomic_path, is_temp_name, remove_stale_temps, write_json
from geoprospect.io.rasters import write_raster

GRID = GridSpec.from_bounds((500000, 2800000, 506400, 2806400), 50, "EPSG:32649")  # 128 x 128


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.is_file() and is_temp_name(p.name)]


# -- atomic writes -----------------------------------------------------------------------------

KILL_IN_BAND_2 = """
import os, signal
import geoprospect.io.rasters as r
_orig, _n = r.statistics_tags, [0]
def statistics_tags(st, n):
    _n[0] += 1
    if _n[0] == 2:  # the pixels are in the temporary file, band 1's tags too, band 2's being written
        os.kill(os.getpid(), signal.SIGKILL)
    return _orig(st, n)
r.statistics_tags = statistics_tags
"""


def test_sigkill_mid_write_leaves_the_previous_raster(tmp_path):
    target = tmp_path / "layer.tif"
    old = np.arange(GRID.width * GRID.height, dtype=np.float32).reshape(1, *GRID.shape)
    write_raster(target, old, GRID, ["old"])
    before = target.read_bytes()
    code = KILL_IN_BAND_2 + f"""
import numpy as np
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import write_raster
g = GridSpec.from_dict({GRID.to_dict()!r})
write_raster({str(target)!r}, np.ones((3, g.height, g.width), np.float32), g, ["a", "b", "c"])
"""
    p = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == -9, p.stderr  # really killed
    assert target.read_bytes() == before  # the previous file, untouched
    assert np.array_equal(read_band_data(target), old)
    left = _temps(tmp_path)
    assert left and all(t.name.startswith(".layer.") and ".tmp" in t.name for t in left)  # clearly named
    assert remove_stale_temps(tmp_path) == sorted(left)
    assert not _temps(tmp_path) and target.exists()


def test_remove_stale_temps_touches_only_temporary_names(tmp_path):
    keep = [tmp_path / n for n in ("stack.tif", ".hidden", "a.tmp.tif", ".stack.tif", "notes.tmp")]
    drop = [tmp_path / n for n in (".stack.ab_12xyz.tmp.tif", ".scores.k2j4h5g6.tmp.gpkg-journal", ".model.abcdefgh.tmp.pt", ".p.abcdefgh.tmp.tif.aux.xml")]
    (tmp_path / "model").mkdir()
    drop.append(tmp_path / "model" / ".model.zzzzzzzz.tmp.pt")
    for p in keep + drop:
        p.write_text("x")
    assert sorted(remove_stale_temps(tmp_path)) == sorted(drop)
    assert all(p.exists() for p in keep)


def test_failed_write_keeps_previous_output_and_no_temp(tmp_path):
    target = write_json(tmp_path / "m.json", {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"v": 2')  # half written
            raise RuntimeError("writer crashed")
    assert json.loads(target.read_text()) == {"v": 1} and not _temps(tmp_path)


# -- disk full ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _tmpfs(where: Path, size: str, readonly: bool = False):
    """Mount a tiny tmpfs at ``where`` (root only); skip the test when that is not allowed."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_disk_full_real_tmpfs(tmp_path):
    with _tmpfs(tmp_path / "small", "1m") as d:
        small = GridSpec.from_bounds((0, 0, 3200, 3200), 100, "EPSG:32649")
        write_raster(d / "prev.tif", np.ones((1, 32, 32), np.float32), small, ["a"])
        before = (d / "prev.tif").read_bytes()
        noise = np.random.default_rng(0).normal(size=(24, *GRID.shape)).astype(np.float32)  # 64 KiB a band, incompressible: 1.5 MiB
        with pytest.raises(OutputError, match="disk is full") as e:
            write_raster(d / "prev.tif", noise, GRID, [f"b{i}" for i in range(24)], overviews=False)
        assert "prev.tif" in str(e.value) and "earlier outputs were kept" in str(e.value)
        assert (d / "prev.tif").read_bytes() == before
        assert not _temps(d)
        with pytest.raises(OutputError, match="disk is full"):
            write_json(d / "big.json", {"x": "y" * 2_000_000})
        assert not (d / "big.json").exists() and not _temps(d)


def test_disk_full_simulated(tmp_path, monkeypatch):
    """Where no tmpfs can be mounted: ENOSPC raised by the rename and by a write."""
    target = write_json(tmp_path / "m.json", {"v": 1})

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "replace", full)
        with pytest.raises(OutputError, match="disk is full"):
            write_json(target, {"v": 2})
    with pytest.raises(OutputError, match="disk is full"):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            full()
    assert json.loads(target.read_text()) == {"v": 1} and not _temps(tmp_path)


# -- read-only output folder ----------------------------------------------------------------------

def test_read_only_folder_real_mount(tmp_path):
    with _tmpfs(tmp_path / "ro", "1m") as d:
        write_json(d / "m.json", {"v": 1})
        r = subprocess.run(["mount", "-o", "remount,ro", str(d)], capture_output=True)
        if r.returncode:
            pytest.skip("cannot remount read-only")
        with pytest.raises(OutputError, match="not writable") as e:
            write_json(d / "m.json", {"v": 2})
        assert "m.json" in str(e.value)
        with pytest.raises(OutputError, match="not writable"):
            write_raster(d / "x.tif", np.ones((1, *GRID.shape), np.float32), GRID, ["a"])
        assert json.loads((d / "m.json").read_text()) == {"v": 1}


def test_read_only_folder_simulated(tmp_path, monkeypatch):
    import tempfile

    def ro(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", ro)
    with pytest.raises(OutputError, match="not writable"):
        write_json(tmp_path / "m.json", {"v": 2})


def test_run_into_read_only_folder_is_a_clear_cli_error(tmp_path):
    from click.testing import CliRunner

    from geoprospect.cli import cli

    cfg = tiny_config(tmp_path / "in")
    with _tmpfs(tmp_path / "ro", "1m") as d:
        subprocess.run(["mount", "-o", "remount,ro", str(d)], check=True)
        r = CliRunner().invoke(cli, ["--progress", "none", "run", str(cfg), "--out", str(d / "out")])
    assert r.exit_code == 2, r.output
    assert "Error:" in r.output and "out" in r.output and ("not writable" in r.output or "cannot create" in r.output)


# -- resume ---------------------------------------------------------------------------------------

def _tiny_net(in_channels: int, num_classes: int = 2, window_size: int = 8):
    """A small CNN with batch norm (running statistics) and dropout (draws random numbers)."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(in_channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(32, num_classes),
    )


def _tiny_training(tmp_path, epochs, **kw):
    import torch

    from geoprospect.training.config import TrainConfig
    from geoprospect.training.fit import fit
    from geoprospect.windows.dataset import WindowDataset

    r = np.random.default_rng(0)
    data = r.normal(size=(3, 24, 24)).astype(np.float32)
    offs = np.array([(i, j) for i in range(0, 17, 4) for j in range(0, 17, 4)])
    labels = (offs[:, 0] + offs[:, 1] > 16).astype(np.int64)
    torch.manual_seed(123)
    model = _tiny_net(3)
    cfg = TrainConfig(epochs=epochs, batch_size=5, device="cpu", seed=7)
    _, hist = fit(model, WindowDataset(data, offs, 8, labels), cfg, **kw)
    return model, hist


def test_training_resumes_from_the_last_epoch_with_identical_result(tmp_path):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ref, ref_hist = _tiny_training(tmp_path, 3)
        ck = tmp_path / "state"
        _tiny_training(tmp_path, 2, out_dir=str(ck))  # "killed" after epoch 2
        saved = torch.load(ck / "last.pt", weights_only=True)
        assert saved["epoch"] == 2 and len(saved["history"]) == 2
        res, res_hist = _tiny_training(tmp_path, 3, out_dir=str(ck), resume=True)
    finally:
        torch.set_num_threads(threads)
    assert [r["loss"] for r in res_hist.rows] == [r["loss"] for r in ref_hist.rows]
    for k, v in ref.state_dict().items():
        assert torch.equal(v, res.state_dict()[k]), k


def test_crafted_training_state_is_refused(tmp_path):
    from geoprospect.errors import ModelError
    from geoprospect.training.state import load_state

    (tmp_path / "last.pt").write_bytes(_evil_pickle(tmp_path / "pwned"))
    with pytest.raises(ModelError, match="refusing"):
        load_state(tmp_path)
    assert not (tmp_path / "pwned").exists()


def _evil_pickle(marker: Path) -> bytes:
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return pickle.dumps({"format": 1, "x": Evil()})


def _kill_at(stage: str, min_done: int = 0, epoch: int | None = None):
    def when(obj: dict) -> bool:
        return obj.get("type") == "progress" and obj.get("stage") == stage and obj.get("done", 0) >= min_done and (epoch is None or obj.get("epoch", 0) >= epoch)

    return when


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    cfg = tiny_config(d / "in")
    code, lines, err = run_cli(["run", str(cfg), "--out", str(d / "out")])
    assert code == 0, err
    return cfg, d / "out"


def _compare_with_reference(out: Path, ref: Path) -> None:
    # the stack is numpy/numba, cell by cell: bit for bit; what torch computed on CPU threads
    # (weights, scores, losses, metrics) is equal within float32 rounding (conftest.py)
    assert np.array_equal(read_band_data(out / "stack.tif"), read_band_data(ref / "stack.tif"), equal_nan=True)
    np.testing.assert_allclose(read_band_data(out / "prospectivity.tif"), read_band_data(ref / "prospectivity.tif"), rtol=1e-4, atol=1e-5)
    pd.testing.assert_frame_equal(pd.read_csv(out / "history.csv"), pd.read_csv(ref / "history.csv"), rtol=1e-4, atol=1e-6)
    m, mr = json.loads((out / "metrics.json").read_text()), json.loads((ref / "metrics.json").read_text())
    assert_tree_close(m, mr, rel=1e-4, abs_=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize(
    "stage,epoch",
    [
        pytest.param("stack", None, id="interpolation"),  # the block-wise evidence build (IDW, distances)
        pytest.param("train", 2, id="training-epoch-2"),
        pytest.param("predict", None, id="prediction"),
    ],
)
def test_sigkill_then_resume_gives_the_uninterrupted_result(reference_run, tmp_path, stage, epoch):
    cfg, ref = reference_run
    out = tmp_path / "out"
    code, lines, _ = run_cli(["run", str(cfg), "--out", str(out)], kill_when=_kill_at(stage, epoch=epoch))
    assert code == -9, "the run finished before the kill"
    assert_outputs_complete(out)  # whatever is there is complete
    code, lines, err = run_cli(["--log-level", "INFO", "run", str(cfg), "--out", str(out), "--resume"])
    assert code == 0, err
    assert not _temps(out) and not (out / ".resume").exists()
    msgs = " ".join(l.get("message", "") for l in lines if l.get("type") == "log")
    if epoch:
        assert "resuming after epoch" in msgs
    _compare_with_reference(out, ref)


# killed while the prospectivity GeoTIFF's first block is being written: its temporary exists, the
# final name does not (RasterWriter.write looks write_block up in io/rasters.py at each call)
KILL_WRITING_PROSPECTIVITY = """
import os, signal
import geoprospect.io.rasters as r
_orig = r.write_block
def write_block(*a, **k):
    import inspect
    if any('write_prediction' in f.function for f in inspect.stack()):
        os.kill(os.getpid(), signal.SIGKILL)
    return _orig(*a, **k)
r.write_block = write_block
"""


@pytest.mark.slow
def test_sigkill_mid_write_of_prediction_then_resume(reference_run, tmp_path):
    cfg, ref = reference_run
    out = tmp_path / "out"
    code, _, _ = run_cli(["run", str(cfg), "--out", str(out)], prelude=KILL_WRITING_PROSPECTIVITY)
    assert code == -9
    assert not (out / "prospectivity.tif").exists() and _temps(out)  # only a clearly named temporary
    assert_outputs_complete(out)
    code, lines, err = run_cli(["run", str(cfg), "--out", str(out), "--resume"])
    assert code == 0, err
    assert not _temps(out)
    _compare_with_reference(out, ref)
    msgs = " ".join(l.get("message", "") for l in lines if l.get("type") == "log")
    assert "stack.tif already built" in msgs


def test_resume_after_interrupted_training_in_process(tmp_path, monkeypatch):
    """Fast check of the resume path: training stops (as if killed) after epoch 1 of 2."""
    import torch

    from geoprospect.pipeline.config import load_config
    from geoprospect.pipeline.run import run_pipeline
    from geoprospect.training import loop

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = load_config(tiny_config(tmp_path / "in", epochs=2))
        run_pipeline(cfg, tmp_path / "ref")
        orig = loop.save_state

        class Killed(BaseException):
            pass

        def save_then_die(*a, **k):
            orig(*a, **k)
            raise Killed()

        with monkeypatch.context() as m:
            m.setattr(loop, "save_state", save_then_die)
            with pytest.raises(Killed):
                run_pipeline(cfg, tmp_path / "out")
        assert (tmp_path / "out" / ".resume" / "last.pt").exists()
        assert json.loads((tmp_path / "out" / "state.json").read_text())["done"].keys() == {"stack", "tile", "crossval"}
        run_pipeline(cfg, tmp_path / "out", resume=True)
    finally:
        torch.set_num_threads(threads)
    _compare_with_reference(tmp_path / "out", tmp_path / "ref")
    assert not (tmp_path / "out" / ".resume").exists()


@pytest.mark.slow
def test_run_on_a_full_disk_fails_clearly_and_keeps_earlier_outputs(tmp_path):
    """A real 2 MiB tmpfs: the stack and windows fit, the model does not."""
    from click.testing import CliRunner

    from geoprospect.cli import cli

    cfg = tiny_config(tmp_path / "in", epochs=1)
    with _tmpfs(tmp_path / "full", "2m") as d:
        out = d / "out"
        out.mkdir()
        earlier = write_json(out / "metrics.json", {"from": "an earlier run"})
        r = CliRunner().invoke(cli, ["--progress", "none", "run", str(cfg), "--out", str(out), "--overwrite"])
        assert r.exit_code == 2, r.output
        assert "disk is full" in r.output and "earlier outputs were kept" in r.output
        assert json.loads(earlier.read_text()) == {"from": "an earlier run"}
        assert not _temps(out)
        names = assert_outputs_complete(out)
        assert "stack.tif" in names and not (out / "model" / "model.pt").exists()


# "file.py:function" of helpers writing only a path atomic_path gave them: the overview scratch
# files are named after RasterWriter's atomic_path temporary (``.<stem>.<8>.tmp.tif.levels``,
# ``...tail.tif``: TEMP_RE names) and removed on every exit by the writer's ExitStack
REVIEWED: set[str] = {"overviews.py:add", "overviews.py:_gdal_tail"}


def test_every_file_write_in_the_package_goes_through_atomic_path():
    """Static guard: writers (rasterio 'w', to_file, savefig, torch.save, to_csv, open(..., 'w'),
    write_text/write_bytes on paths) must sit inside ``with atomic_path(...)``."""
    import ast

    writers = {"to_file", "savefig", "to_csv", "to_parquet", "write_bytes", "write_text"}
    bad = []
    for f in sorted((ROOT / "geoprospect").rglob("*.py")):
        if f.name == "atomic.py":
            continue
        tree = ast.parse(f.read_text(encoding="utf-8"))
        parents = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node

        def inside_atomic(node, parents=parents, f=f) -> bool:  # bound now: defined per file
            while node in parents:
                node = parents[node]
                if isinstance(node, ast.With) and any("atomic_path" in ast.unparse(i.context_expr) for i in node.items):
                    return True
                # a temporary entered on an ExitStack in the same function (RasterWriter.__enter__)
                if isinstance(node, ast.FunctionDef):
                    if "enter_context(atomic_path(" in ast.unparse(node):
                        return True
                    # reviewed helpers that write only the path they are given, whose every caller
                    # passes atomic_path's temporary (checked below)
                    if f"{f.name}:{node.name}" in REVIEWED:
                        return True
            return False

        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            fn = ast.unparse(node.func)
            last = fn.rsplit(".", 1)[-1]
            mode = next((a.value for a in node.args[1:2] if isinstance(a, ast.Constant)), None) or next((k.value.value for k in node.keywords if k.arg == "mode" and isinstance(k.value, ast.Constant)), None)
            to_string = last in ("to_csv", "to_json") and not node.args and not any(k.arg == "path_or_buf" for k in node.keywords)
            is_write = (
                (last in writers and not to_string and not fn.startswith(("write_text", "write_json")))
                or fn == "torch.save"
                or (fn in ("open", "rasterio.open") and isinstance(mode, str) and any(c in mode for c in "wax"))
            )
            if is_write and not inside_atomic(node):
                bad.append(f"{f.relative_to(ROOT)}:{node.lineno}: {fn}")
    assert not bad, "writes outside atomic_path:\n" + "\n".join(bad)
    # the reviewed helpers are only ever handed atomic_path's temporary
    import re

    for f in sorted((ROOT / "geoprospect").rglob("*.py")):
        for m in re.finditer(r"create_raster\((\w+)", f.read_text(encoding="utf-8")):
            assert m.group(1) in ("tmp", "path"), f"{f}: create_raster({m.group(1)}, ...) must get atomic_path's temporary"


def test_run_with_a_per_cell_baseline(tmp_path):
    """`train: {model: logistic_cell}` runs the whole pipeline through the same fit and scoring."""
    import yaml

    from geoprospect.models.checkpoint import load_checkpoint
    from geoprospect.pipeline.config import load_config
    from geoprospect.pipeline.run import run_pipeline

    p = tiny_config(tmp_path / "in", epochs=1)
    raw = yaml.safe_load(p.read_text())
    raw["train"]["model"] = "logistic_cell"
    raw.pop("windows")  # the default: every cell a sample
    p.write_text(yaml.safe_dump(raw))
    m = run_pipeline(load_config(p), tmp_path / "out")
    assert m["metrics"]["out_of_fold"]["logistic_cell"]["roc_auc"] is not None and m["metrics"]["model"] == "logistic_cell"
    net, meta = load_checkpoint(tmp_path / "out" / "model", m["bands"])
    assert meta.architecture == "logistic_cell" and net.pipeline is not None
    with rasterio.open(tmp_path / "out" / "prospectivity.tif") as pr, rasterio.open(tmp_path / "out" / "stack.tif") as st:
        assert pr.transform == st.transform and pr.shape == st.shape
