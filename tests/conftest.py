"""Shared fixtures: tiny, real GeoTIFF/GeoPackage/CSV inputs generated in tmp folders."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
SHARED = ROOT.parent / "shared" / "datasets"

collect_ignore = ["qgis"]  # run under QGIS's own Python (see tests/qgis/README or the README)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


def make_points_csv(path: Path, n: int = 60, *, crs_bounds=(500000.0, 2800000.0, 505000.0, 2805000.0), seed: int = 0, elements=("Au", "As", "Cu")) -> Path:
    """A CSV of n random points with log-normal element values."""
    import pandas as pd

    r = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = crs_bounds
    df = pd.DataFrame({"x": r.uniform(xmin, xmax, n), "y": r.uniform(ymin, ymax, n)})
    for e in elements:
        df[e] = np.round(r.lognormal(1.0, 0.5, n), 4)
    df.to_csv(path, index=False)
    return path


def make_lines_gpkg(path: Path, crs: str = "EPSG:32649", bounds=(500000.0, 2800000.0, 505000.0, 2805000.0), n: int = 5, seed: int = 1) -> Path:
    import geopandas as gpd
    import shapely

    r = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = bounds
    lines = [shapely.LineString([(r.uniform(xmin, xmax), r.uniform(ymin, ymax)), (r.uniform(xmin, xmax), r.uniform(ymin, ymax))]) for _ in range(n)]
    gpd.GeoDataFrame({"id": range(n)}, geometry=lines, crs=crs).to_file(path, driver="GPKG")
    return path


def make_deposits_gpkg(path: Path, xy, crs: str = "EPSG:32649") -> Path:
    import geopandas as gpd
    import shapely

    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    gpd.GeoDataFrame({"id": range(len(xy))}, geometry=shapely.points(xy), crs=crs).to_file(path, driver="GPKG")
    return path


# Torch (and BLAS) on the CPU is not bit-reproducible between two calls: intra-op threads split
# reductions differently when the machine is loaded (differences of ~1e-8 seen on a shared runner).
# Scores of one model by two code paths, or two runs, are compared within float32 rounding; bit
# equality is asserted only where the same numpy path runs twice.
PROB_ATOL, MARGIN_ATOL = 1e-6, 1e-5


def assert_scores_close(a, b, *, atol_prob: float = PROB_ATOL, atol_margin: float = MARGIN_ATOL) -> None:
    """Two predictions (``.prob``, ``.margin``) agree: the same NaN cells, values within float32 rounding."""
    assert np.array_equal(np.isnan(a.prob), np.isnan(b.prob))
    np.testing.assert_allclose(a.prob, b.prob, rtol=0, atol=atol_prob)
    np.testing.assert_allclose(a.margin, b.margin, rtol=0, atol=atol_margin)


def assert_tree_close(a, b, *, rel: float = 1e-5, abs_: float = 1e-6, where: str = "") -> None:
    """Nested dicts/lists (metrics.json) equal, floats within ``rel``/``abs_`` (torch results)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_tree_close(a[k], b[k], rel=rel, abs_=abs_, where=f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_tree_close(x, y, rel=rel, abs_=abs_, where=f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, str):
        assert b == pytest.approx(a, rel=rel, abs=abs_, nan_ok=True), where
    else:
        assert a == b, where


@pytest.fixture
def tiny_inputs(tmp_path: Path) -> dict:
    """Points CSV, faults and deposits over a 5 x 5 km UTM 49N area."""
    b = (500000.0, 2800000.0, 505000.0, 2805000.0)
    return {
        "bounds": b,
        "points": make_points_csv(tmp_path / "pts.csv", crs_bounds=b),
        "faults": make_lines_gpkg(tmp_path / "faults.gpkg", bounds=b),
        "deposits": make_deposits_gpkg(tmp_path / "dep.gpkg", [[501000, 2804000], [503500, 2801500], [504000, 2800500], [501200, 2803900]]),
        "dir": tmp_path,
    }


@pytest.fixture(autouse=True)
def _geoprospect_logger_propagates():
    """CLI tests configure the 'geoprospect' logger for the terminal (propagate=False); let
    pytest's caplog see its records again in every test."""
    import logging

    logger = logging.getLogger("geoprospect")
    logger.propagate = True
    for h in list(logger.handlers):
        logger.removeHandler(h)
    yield


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module (``pytestmark = pytest.mark.usefixtures(...)``): on a
    shared 2-core runner, OpenMP threads that wait for each other make tiny models tens of
    times slower."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def deposit_area(n_dep: int = 12, *, spread: bool = False, jitter: float = 0.0, seed: int = 1):
    """A 64 x 64-cell Stack (EPSG:32750, 100 m) with ``n_dep`` deposits in the north-west corner (or
    spread over the area), bands: distance to them (+ uniform noise of up to ``jitter`` cells),
    noise, a trend; returns ``(stack, windows (8-cell, stride 4), deposits_xy)``."""
    from geoprospect.grid import GridSpec
    from geoprospect.io.rasters import Stack
    from geoprospect.windows.tiling import make_windows

    grid = GridSpec.from_bounds((300000.0, 6000000.0, 306400.0, 6006400.0), 100.0, "EPSG:32750")
    H, W = grid.shape
    rr, cc = np.mgrid[0:H, 0:W]
    rng = np.random.default_rng(seed)
    step = (14, 20) if spread else (5, 7)
    cells = np.array([(3 + step[0] * i, 3 + step[1] * j) for i in range(4) for j in range(3)])[:n_dep]  # 12 distinct cells
    dist = np.min([np.hypot(rr - r, cc - c) for r, c in cells], axis=0)
    if jitter:
        dist = dist + rng.uniform(0, jitter, size=(H, W))
    data = np.stack([dist.astype(np.float32), rng.normal(size=(H, W)).astype(np.float32), (rr + cc).astype(np.float32)])
    stack = Stack(data, grid, ["dist", "noise", "trend"], [{"mean": float(b.mean()), "std": float(b.std())} for b in data])
    t = grid.transform
    deps = np.array([[t.c + (c + 0.5) * t.a, t.f + (r + 0.5) * t.e] for r, c in cells])
    windows, _ = make_windows(stack.valid, grid, deps, size=8, stride=4, check_split=False)
    return stack, windows, deps
