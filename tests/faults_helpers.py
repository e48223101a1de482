"""Helpers for the fault tests: a tiny run configuration and a killable `geoprospect run`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import rasterio
import yaml
from conftest import make_deposits_gpkg, make_lines_gpkg, make_points_csv

ROOT = Path(__file__).resolve().parent.parent
BOUNDS = (500000.0, 2800000.0, 505000.0, 2805000.0)


def tiny_config(d: Path, *, epochs: int = 3) -> Path:
    """A 5 x 5 km, 100 m grid (50 x 50 cells), 8-pixel windows, a few epochs on the CPU."""
    d.mkdir(parents=True, exist_ok=True)
    make_points_csv(d / "pts.csv", crs_bounds=BOUNDS)
    make_lines_gpkg(d / "faults.gpkg", bounds=BOUNDS)
    make_deposits_gpkg(d / "dep.gpkg", [[501000, 2804000], [503500, 2801500], [504000, 2800500], [501200, 2803900], [502100, 2802200], [500700, 2800800]])
    cfg = {
        "name": "tiny",
        "points": {"path": "pts.csv", "crs": "EPSG:32649", "elements": ["Au", "As", "Cu"]},
        "grid": {"resolution": 100, "bounds": list(BOUNDS)},
        "vectors": [{"name": "dist_faults", "path": "faults.gpkg"}],
        "deposits": {"path": "dep.gpkg"},
        "windows": {"unit": "window", "size": 8, "stride": 4, "test_fraction": 0.3},  # the papers' windows: these tests are about faults and resume
        "evaluation": {"folds": 3, "block_size": 1500},  # 15-cell blocks: the 6 deposits spread over 3 folds
        "train": {"model": "resnet18", "epochs": epochs, "batch_size": 32, "device": "cpu", "seed": 0},  # a torch model: the kill/resume tests stop it mid-epoch
    }
    p = d / "cfg.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    # one thread: identical float results between runs, and no thread oversubscription on a busy CI box
    e["OMP_NUM_THREADS"] = "1"
    e["MKL_NUM_THREADS"] = "1"
    return e


def run_cli(args: list[str], *, kill_when: Callable[[dict], bool] | None = None, prelude: str = "", timeout: float = 300) -> tuple[int, list[dict], str]:
    """Run ``geoprospect --progress json ARGS`` in a subprocess; SIGKILL it as soon as a JSON
    line satisfies ``kill_when``. ``prelude`` is Python run before the CLI (fault injection).

    Returns (exit code, JSON lines, stderr).
    """
    code = f"{prelude}\nfrom geoprospect.cli import main\nimport sys\nsys.argv=['geoprospect']+{['--progress', 'json', *args]!r}\nmain()\n"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=str(ROOT))
    lines: list[dict] = []
    killed = False
    assert proc.stdout is not None
    for raw in proc.stdout:
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            continue
        lines.append(obj)
        if kill_when is not None and not killed and kill_when(obj):
            proc.send_signal(signal.SIGKILL)
            killed = True
    proc.wait(timeout=timeout)
    err = proc.stderr.read() if proc.stderr else ""
    return proc.returncode, lines, err


def assert_outputs_complete(out: Path) -> list[str]:
    """Every GeoTIFF/GeoPackage/JSON present opens and reads fully; returns the names checked."""
    import geopandas as gpd

    from geoprospect.io.atomic import is_temp_name

    seen = []
    for p in sorted(out.rglob("*")):
        if not p.is_file() or is_temp_name(p.name):
            continue
        if p.suffix == ".tif":
            with rasterio.open(p) as src:
                a = src.read()
                assert a.shape == (src.count, src.height, src.width)
        elif p.suffix == ".gpkg":
            assert len(gpd.read_file(p)) > 0
        elif p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix == ".pt":
            import torch

            torch.load(p, weights_only=True)
        seen.append(str(p.relative_to(out)))
    return seen


def read_band_data(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()
