"""Fixtures for tests that run inside a real QGIS (QGIS's own Python, pytest-qgis).

Run them with QGIS's Python, never with the geoprospect environment:

    bash .ci/install_qgis.sh      # once (root): QGIS 3.40 + /opt/qgis-test-venv
    QT_QPA_PLATFORM=offscreen /opt/qgis-test-venv/bin/python -m pytest -c tests/qgis/pytest.ini tests/qgis -q

Under any Python without QGIS (the main test run) this folder collects nothing.
The geoprospect CLI runs in a child process: its interpreter is $GEOPROSPECT_TEST_PYTHON, or
the first ``python3`` on PATH that is not QGIS's /usr/bin/python3 and can import geoprospect
from this checkout (PYTHONPATH = the repository root).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN_ROOT = REPO / "qgis_plugin"
FAKE_CLI = Path(__file__).resolve().parent / "fake_cli" / "geoprospect"
#: the geoprospect source tree the real-CLI tests run (PYTHONPATH) and whose sample_data they use
SOURCE = Path(os.environ.get("GEOPROSPECT_SOURCE", str(REPO))).resolve()

try:  # the main (non-QGIS) pytest run must not collect these tests
    import qgis.core  # noqa: F401
except ImportError:
    collect_ignore_glob = ["test_*.py"]
else:
    if str(PLUGIN_ROOT) not in sys.path:
        sys.path.insert(0, str(PLUGIN_ROOT))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _find_geoprospect_python() -> tuple[str | None, str]:
    """(interpreter, reason) for the geoprospect environment."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env["PYTHONPATH"] = str(SOURCE)
    candidates = []
    if os.environ.get("GEOPROSPECT_TEST_PYTHON"):
        candidates.append(os.environ["GEOPROSPECT_TEST_PYTHON"])
    for d in os.environ.get("PATH", "").split(os.pathsep):
        for name in ("python3", "python"):
            p = os.path.join(d, name)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                candidates.append(p)
    seen = set()
    for c in candidates:
        real = os.path.realpath(c)
        if real in seen or real.startswith("/usr/bin/python") or real.startswith(sys.prefix):
            continue
        seen.add(real)
        try:
            r = subprocess.run([c, "-m", "geoprospect", "--help"], env=env, capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir())
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            if "--progress" not in r.stdout:
                return None, f"{c}: the geoprospect CLI has no --progress option yet"
            return c, ""
    return None, "no Python with geoprospect found (set GEOPROSPECT_TEST_PYTHON)"


@pytest.fixture(scope="session")
def geoprospect_python() -> str:
    """Interpreter of the geoprospect environment; tests that need the real CLI skip without it."""
    exe, why = _find_geoprospect_python()
    if exe is None:
        pytest.skip(why)
    return exe


@pytest.fixture(scope="session")
def provider(qgis_app, qgis_processing):
    """The geoprospect provider, registered once as QGIS does for a plugin."""
    import geoprospect_qgis
    from qgis.core import QgsApplication

    reg = QgsApplication.processingRegistry()
    if reg.providerById("geoprospect") is None:
        plugin = geoprospect_qgis.classFactory(None)
        plugin.initProcessing()
    prov = reg.providerById("geoprospect")
    assert prov is not None
    return prov


@pytest.fixture
def use_cli(monkeypatch, provider):
    """Point the provider at an executable (through the environment, as qgis_process users do)."""

    def _use(executable: str, pythonpath: str | None = None):
        from processing.core.ProcessingConfig import ProcessingConfig

        ProcessingConfig.setSettingValue("GEOPROSPECT_EXECUTABLE", "")
        ProcessingConfig.setSettingValue("GEOPROSPECT_PYTHONPATH", "")
        monkeypatch.setenv("GEOPROSPECT_EXECUTABLE", executable)
        if pythonpath:
            monkeypatch.setenv("GEOPROSPECT_PYTHONPATH", pythonpath)
        else:
            monkeypatch.delenv("GEOPROSPECT_PYTHONPATH", raising=False)

    return _use


@pytest.fixture
def real_cli(use_cli, geoprospect_python):
    use_cli(geoprospect_python, str(SOURCE))
    return geoprospect_python


@pytest.fixture
def fake_cli(use_cli, monkeypatch, tmp_path):
    use_cli(str(FAKE_CLI))
    monkeypatch.setenv("FAKE_ARGV_LOG", str(tmp_path / "argv.json"))
    return tmp_path / "argv.json"


# ---- tiny data (QGIS/OGR only: QGIS's Python has no pandas/rasterio) ---------------------

X0, Y0 = 500_000.0, 2_500_000.0  # EPSG:32649 (UTM 49N)


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    """30 samples on a 3 km square in EPSG:32649 with Au, As, Cu."""
    import random

    rnd = random.Random(4)
    lines = ["x,y,Au,As,Cu,label"]
    for i in range(30):
        x = X0 + rnd.uniform(0, 3000)
        y = Y0 + rnd.uniform(0, 3000)
        lines.append(f"{x:.2f},{y:.2f},{rnd.uniform(1, 50):.3f},{rnd.uniform(5, 90):.3f},{rnd.uniform(10, 200):.3f},s{i}")
    p = tmp_path / "samples.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def csv_layer(path: Path, crs: str = "EPSG:32649", x: str = "x", y: str = "y"):
    from qgis.core import QgsVectorLayer

    uri = f"file://{path}?type=csv&delimiter=,&xField={x}&yField={y}&crs={crs}&detectTypes=yes&geomType=point"
    layer = QgsVectorLayer(uri, path.stem, "delimitedtext")
    assert layer.isValid(), uri
    return layer


def write_gpkg(path: Path, wkts: list[str], crs: str = "EPSG:32649", layer: str | None = None) -> Path:
    """A GeoPackage with the given WKT geometries (OGR, as shipped with QGIS)."""
    from osgeo import ogr, osr

    drv = ogr.GetDriverByName("GPKG")
    ds = drv.Open(str(path), 1) if path.exists() else drv.CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.SetFromUserInput(crs)
    geom = ogr.CreateGeometryFromWkt(wkts[0])
    lyr = ds.CreateLayer(layer or path.stem, srs, geom.GetGeometryType())
    lyr.CreateField(ogr.FieldDefn("id", ogr.OFTInteger))
    for i, w in enumerate(wkts):
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetField("id", i)
        f.SetGeometry(ogr.CreateGeometryFromWkt(w))
        lyr.CreateFeature(f)
    ds = None
    return path


@pytest.fixture
def tiny_faults(tmp_path) -> Path:
    return write_gpkg(
        tmp_path / "faults.gpkg",
        [f"LINESTRING({X0} {Y0 + 1500}, {X0 + 3000} {Y0 + 1500})", f"LINESTRING({X0 + 1000} {Y0}, {X0 + 1000} {Y0 + 3000})"],
    )


def sample_data() -> Path | None:
    """The repository's sample_data folder, when the lead's data is there."""
    d = SOURCE / "sample_data"
    return d if (d / "samples.csv").exists() and (d / "deposits.gpkg").exists() else None
