"""The study-area polygon on every algorithm that makes a grid: ``--area`` on the command line,
``area: {path: ...}`` in the configuration written by the whole-pipeline form."""

from __future__ import annotations

import json
import subprocess
import tempfile

import pytest
from conftest import SOURCE, X0, Y0, csv_layer, write_gpkg
from test_process import _run, parse_argv

GRID_ALGORITHMS = ["interpolate", "distance", "density", "geology", "run_layers"]


def _area(tmp_path):
    square = f"POLYGON(({X0 + 500} {Y0 + 500}, {X0 + 2500} {Y0 + 500}, {X0 + 2500} {Y0 + 2500}, {X0 + 500} {Y0 + 2500}, {X0 + 500} {Y0 + 500}))"
    return write_gpkg(tmp_path / "study_area.gpkg", [square], layer="study_area")


@pytest.mark.parametrize("name", GRID_ALGORITHMS)
def test_grid_algorithms_offer_an_optional_polygon_area(provider, name):
    from qgis.core import QgsApplication, QgsProcessing, QgsProcessingParameterDefinition

    alg = QgsApplication.processingRegistry().createAlgorithmById(f"geoprospect:{name}")
    p = alg.parameterDefinition("AREA")
    assert p is not None and p.flags() & QgsProcessingParameterDefinition.FlagOptional
    assert p.dataTypes() == [QgsProcessing.TypeVectorPolygon]


def test_area_reaches_the_cli(fake_cli, tiny_faults, tiny_csv, tmp_path):
    area = _area(tmp_path)
    grid = {"GRID_CRS": "EPSG:32649", "EXTENT": f"{X0},{X0 + 3000},{Y0},{Y0 + 3000} [EPSG:32649]", "RESOLUTION": 100}
    _run("geoprospect:distance", {"INPUT": str(tiny_faults), "AREA": str(area), **grid, "OUTPUT": str(tmp_path / "d.tif")})
    pos, opts = parse_argv(json.loads(fake_cli.read_text()))
    assert pos[0] == "distance" and opts["--area"] == str(area)
    _run("geoprospect:distance", {"INPUT": str(tiny_faults), **grid, "OUTPUT": str(tmp_path / "d2.tif")})
    assert "--area" not in parse_argv(json.loads(fake_cli.read_text()))[1]  # empty: not passed (older CLIs still work)

    deposits = write_gpkg(tmp_path / "deposits.gpkg", [f"POINT({X0 + 1000} {Y0 + 1000})"])
    out = tmp_path / "run"
    _run("geoprospect:run_layers", {"POINTS": csv_layer(tiny_csv), "DEPOSITS": str(deposits), "AREA": str(area), "RESOLUTION": 100, "OUTPUT": str(out)})
    cfg = json.loads((out / "config_from_qgis.yaml").read_text().split("\n", 1)[1])
    assert cfg["area"] == {"path": str(area)}


def _cli_has_area(python: str) -> bool:
    env = {"PYTHONPATH": str(SOURCE), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([python, "-m", "geoprospect", "distance", "--help"], capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(), timeout=120)
    return "--area" in r.stdout


def _read(path):
    from osgeo import gdal

    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    arr = band.ReadAsArray().astype("float64")
    nodata = band.GetNoDataValue()
    if nodata is not None:
        arr[arr == nodata] = float("nan")
    return arr, ds.GetGeoTransform()


def test_area_limits_the_real_distance_raster(real_cli, tiny_faults, tmp_path):
    """With the study area, cells outside it are nodata or left out of the grid (runs once the CLI has --area)."""
    if not _cli_has_area(real_cli):
        pytest.skip("this geoprospect CLI has no --area option yet")
    import numpy as np

    grid = {"GRID_CRS": "EPSG:32649", "EXTENT": f"{X0},{X0 + 3000},{Y0},{Y0 + 3000} [EPSG:32649]", "RESOLUTION": 100}
    _run("geoprospect:distance", {"INPUT": str(tiny_faults), **grid, "OUTPUT": str(tmp_path / "all.tif")})
    _run("geoprospect:distance", {"INPUT": str(tiny_faults), "AREA": str(_area(tmp_path)), **grid, "OUTPUT": str(tmp_path / "area.tif")})
    whole, _ = _read(tmp_path / "all.tif")
    part, gt = _read(tmp_path / "area.tif")
    assert np.isfinite(whole).all()
    valid = np.isfinite(part)
    assert 0 < valid.sum() < whole.size  # fewer valid cells than the whole square
    # every valid cell's centre lies inside the study area (500 m inset square)
    rows, cols = np.nonzero(valid)
    xs = gt[0] + (cols + 0.5) * gt[1]
    ys = gt[3] + (rows + 0.5) * gt[5]
    assert xs.min() >= X0 + 500 - 1e-6 and xs.max() <= X0 + 2500 + 1e-6
    assert ys.min() >= Y0 + 500 - 1e-6 and ys.max() <= Y0 + 2500 + 1e-6
