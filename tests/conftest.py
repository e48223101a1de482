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
