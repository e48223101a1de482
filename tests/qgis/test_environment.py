"""The environment panel in a real (headless) QGIS: its install path end to end, and the plugin
zip (with the geoprospect wheel inside) installed into a clean QGIS profile.

The install test builds the plugin zip, unzips it as QGIS does, and clicks the panel's
"Install / update geoprospect" with "Offline" ticked: a virtual environment in a temporary
folder, made from the Python that already has geoprospect's dependencies
(--system-site-packages), with the bundled wheel pip-installed (--no-deps). The provider's
setting then names the new interpreter and the distance algorithm runs through it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import PLUGIN_ROOT, X0, Y0
from test_provider import EXPECTED


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "geoprospect_qgis.zip"
    r = subprocess.run([sys.executable, str(PLUGIN_ROOT / "build_zip.py"), "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    return out


def test_zip_holds_the_matching_wheel_and_valid_metadata(plugin_zip):
    import configparser

    with zipfile.ZipFile(plugin_zip) as zf:
        names = zf.namelist()
        meta = zf.read("geoprospect_qgis/metadata.txt").decode()
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read_string(meta)
    general = cp["general"]
    for key in ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email", "repository", "tracker"):
        assert general.get(key, "").strip(), key
    assert general["repository"].startswith("https://") and general["tracker"].startswith("https://")
    wheels = [n for n in names if n.startswith("geoprospect_qgis/wheels/") and n.endswith(".whl")]
    assert wheels == [f"geoprospect_qgis/wheels/geoprospect-{general['version']}-py3-none-any.whl"]


def test_build_zip_refuses_metadata_without_tracker(tmp_path, monkeypatch):
    import importlib.util
    import shutil

    spec = importlib.util.spec_from_file_location("build_zip", PLUGIN_ROOT / "build_zip.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    root = tmp_path / "geoprospect_qgis"
    shutil.copytree(PLUGIN_ROOT / "geoprospect_qgis", root, ignore=shutil.ignore_patterns("__pycache__"))
    text = (root / "metadata.txt").read_text()
    (root / "metadata.txt").write_text("\n".join(line for line in text.splitlines() if not line.startswith("tracker=")))
    with pytest.raises(SystemExit, match="tracker"):
        mod.check_metadata(root)
    assert mod.check_metadata(PLUGIN_ROOT / "geoprospect_qgis")["version"]


def test_zip_installs_into_a_clean_profile(plugin_zip, tmp_path):
    """Unzip into <profile>/python/plugins and start it with qgis.utils in a fresh QGIS."""
    profile = tmp_path / "profiles"
    plugins = profile / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(plugin_zip) as zf:
        zf.extractall(plugins)
    code = f"""
import json, sys
from qgis.core import QgsApplication
app = QgsApplication([], False); app.initQgis()
sys.path.insert(0, '/usr/share/qgis/python/plugins')
from processing.core.Processing import Processing
Processing.initialize()
import qgis.utils
qgis.utils.plugin_paths = [{str(plugins)!r}]
sys.path.insert(0, {str(plugins)!r})
qgis.utils.updateAvailablePlugins()
assert 'geoprospect_qgis' in qgis.utils.available_plugins, qgis.utils.available_plugins
assert qgis.utils.loadPlugin('geoprospect_qgis')
assert qgis.utils.startProcessingPlugin('geoprospect_qgis')
prov = QgsApplication.processingRegistry().providerById('geoprospect')
import geoprospect_qgis
from geoprospect_qgis import environment
print(json.dumps({{"algs": sorted(a.name() for a in prov.algorithms()), "file": geoprospect_qgis.__file__,
                  "wheel": str(environment.bundled_wheel()), "settings": QgsApplication.qgisSettingsDirPath()}}))
"""
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QGIS_CUSTOM_CONFIG_PATH": str(profile),
           "XDG_RUNTIME_DIR": str(tmp_path), "GEOPROSPECT_EXECUTABLE": "/nonexistent/python"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(got["algs"]) == set(EXPECTED)
    assert got["file"].startswith(str(plugins))
    assert got["wheel"].startswith(str(plugins)) and got["wheel"].endswith(".whl")
    assert got["settings"].startswith(str(profile))


def _wait(task, timeout_s: float = 600) -> None:
    from qgis.core import QgsTask
    from qgis.PyQt.QtWidgets import QApplication

    t0 = time.monotonic()
    while task.status() not in (QgsTask.Complete, QgsTask.Terminated):
        QApplication.processEvents()
        time.sleep(0.05)
        assert time.monotonic() - t0 < timeout_s, "the install task did not finish"
    for _ in range(20):  # let finished() and its signals reach the panel
        QApplication.processEvents()
        time.sleep(0.02)


def test_panel_installs_an_environment_and_an_algorithm_runs_through_it(provider, qgis_app, geoprospect_python, plugin_zip, tmp_path, monkeypatch, tiny_faults):
    """Click Install / update (offline), then the distance algorithm runs in the new environment."""
    import processing
    from geoprospect_qgis import cli_info, env_panel, environment
    from osgeo import gdal
    from processing.core.ProcessingConfig import ProcessingConfig
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    with zipfile.ZipFile(plugin_zip) as zf:
        zf.extractall(tmp_path / "unzipped")
    wheel_dir = tmp_path / "unzipped" / "geoprospect_qgis" / "wheels"
    monkeypatch.setattr(environment, "WHEEL_DIR", wheel_dir)
    monkeypatch.setattr(environment.bundled_wheel, "__defaults__", (wheel_dir,))
    monkeypatch.delenv("GEOPROSPECT_EXECUTABLE", raising=False)
    monkeypatch.delenv("GEOPROSPECT_PYTHONPATH", raising=False)
    before = ProcessingConfig.getSetting("GEOPROSPECT_EXECUTABLE")
    ProcessingConfig.setSettingValue("GEOPROSPECT_PYTHONPATH", "")
    try:
        panel = env_panel.EnvironmentPanel(profile_dir=str(tmp_path / "profile"))
        assert panel.env_dir.text() == str(tmp_path / "profile" / "geoprospect" / "venv")
        assert panel.install_button.isEnabled() and "geoprospect-" in panel.wheel_label.text()
        env_dir = tmp_path / "venv"
        panel.env_dir.setText(str(env_dir))
        panel.python.setEditText(geoprospect_python)
        panel.offline.setChecked(True)
        results = []
        panel.installed.connect(lambda ok, msg: results.append((ok, msg)))
        task = panel.install()
        assert task is not None and not panel.install_button.isEnabled()  # busy while the task runs
        _wait(task)
        assert results and results[-1][0], results
        new_python = environment.venv_python(env_dir)
        assert ProcessingConfig.getSetting("GEOPROSPECT_EXECUTABLE") == str(new_python)
        assert panel.progress.value() == 100 and "Installing geoprospect from the plugin's wheel" in panel.log.toPlainText()
        info = environment.probe(str(new_python))
        assert info.ok and info.geoprospect == environment.plugin_version() and info.torch, info
        where = subprocess.run([str(new_python), "-c", "import geoprospect; print(geoprospect.__file__)"], capture_output=True, text=True,
                               env={"PATH": os.environ["PATH"]}, cwd=str(tmp_path)).stdout.strip()
        assert where.startswith(str(env_dir)), where  # the bundled wheel, not the base Python's copy
        panel.refresh()
        _wait(panel.probe_task, 180)
        assert "geoprospect 0" in panel.status.text() or environment.plugin_version() in panel.status.text()

        cli_info.clear()
        fb = QgsProcessingFeedback()
        ctx = QgsProcessingContext()
        ctx.setProject(QgsProject.instance())
        out = tmp_path / "dist.tif"
        res = processing.run("geoprospect:distance", {"INPUT": str(tiny_faults), "RESOLUTION": 100.0, "GRID_CRS": "EPSG:32649",
                                                          "EXTENT": f"{X0},{X0 + 3000},{Y0},{Y0 + 3000} [EPSG:32649]", "OUTPUT": str(out)}, feedback=fb, context=ctx)
        assert res["COMMAND"].startswith(str(new_python) + " -m geoprospect")
        ds = gdal.Open(str(out))
        assert ds is not None and ds.RasterXSize == 30 and ds.RasterYSize == 30
        arr = ds.GetRasterBand(1).ReadAsArray()
        assert arr.min() < 100 and arr.max() > 500
    finally:
        ProcessingConfig.setSettingValue("GEOPROSPECT_EXECUTABLE", before or "")
        cli_info.clear()


def test_panel_refuses_a_python_too_old_or_missing(provider, qgis_app, tmp_path, monkeypatch):
    from geoprospect_qgis import env_panel, environment

    monkeypatch.setattr(environment, "python_version", lambda exe: (3, 8))
    monkeypatch.setattr(env_panel.envmod, "bundled_wheel", lambda *a: tmp_path / "geoprospect-0.1.0-py3-none-any.whl")
    panel = env_panel.EnvironmentPanel(profile_dir=str(tmp_path))
    panel.python.setEditText("/usr/bin/python3.8")
    got = []
    panel.installed.connect(lambda ok, msg: got.append((ok, msg)))
    assert panel.install() is None
    assert got and not got[0][0] and "3.10" in got[0][1]


def test_install_plan_never_touches_qgis_python(tmp_path):
    from geoprospect_qgis import environment

    wheel = tmp_path / "geoprospect-0.1.0-py3-none-any.whl"
    plan = environment.install_plan("/usr/bin/python3", tmp_path / "env", wheel, "cpu")
    steps = [argv for _, argv in plan.steps]
    assert steps[0] == ["/usr/bin/python3", "-m", "venv", str(tmp_path / "env")]
    # every pip runs with the new environment's interpreter
    assert all(argv[0] == str(plan.python) for argv in steps[1:])
    torch = next(argv for title, argv in plan.steps if "torch" in title)
    assert "https://download.pytorch.org/whl/cpu" in torch
    cuda = environment.install_plan("/usr/bin/python3", tmp_path / "env", wheel, "cuda")
    assert not any("download.pytorch.org" in " ".join(argv) for _, argv in cuda.steps)
    assert [str(wheel) in argv for _, argv in plan.steps].count(True) == 2  # dependencies, then the bundled build itself


def test_version_mismatch_names_the_panel(provider):
    from geoprospect_qgis import environment

    assert environment.mismatch_message(environment.plugin_version()) == ""
    msg = environment.mismatch_message("9.9.9")
    assert "9.9.9" in msg and "Install / update geoprospect" in msg and environment.plugin_version() in msg
