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

BUILD_LOG: dict[str, str] = {}


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "geoprospect_qgis.zip"
    r = subprocess.run([sys.executable, str(PLUGIN_ROOT / "build_zip.py"), "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    BUILD_LOG["stderr"] = r.stderr
    return out


def _build_zip_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_zip", PLUGIN_ROOT / "build_zip.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_placeholders_warned_and_refused_for_publishing(plugin_zip, tmp_path):
    """The placeholder URLs/e-mail: a plain build warns by name, --publish refuses to build."""
    assert "WARNING" in BUILD_LOG["stderr"] and "repository=https://github.com/geoprospect/geoprospect" in BUILD_LOG["stderr"]
    assert "before publishing" in BUILD_LOG["stderr"]
    out = tmp_path / "pub.zip"
    r = subprocess.run([sys.executable, str(PLUGIN_ROOT / "build_zip.py"), "--out", str(out), "--publish"], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "placeholder" in r.stderr and not out.exists()
    mod = _build_zip_module()
    real = {"repository": "https://gitlab.example.net/geo/gp", "tracker": "https://gitlab.example.net/geo/gp/-/issues",
            "homepage": "https://gitlab.example.net/geo/gp", "email": "team@geo-survey.net"}
    assert mod.check_publishable(real, publish=True) == []


def test_zip_passes_the_plugin_repository_package_checks(plugin_zip, tmp_path):
    """LICENSE inside, one identifier folder, no caches, under 25 MB; a zip without LICENSE is refused."""
    mod = _build_zip_module()
    mod.check_zip(plugin_zip)
    assert plugin_zip.stat().st_size < mod.MAX_ZIP_BYTES
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(plugin_zip) as src, zipfile.ZipFile(bad, "w") as dst:
        for n in src.namelist():
            if not n.endswith("/LICENSE"):
                dst.writestr(n, src.read(n))
        dst.writestr("geoprospect_qgis/__pycache__/x.pyc", b"")
    with pytest.raises(SystemExit, match="LICENSE missing.*__pycache__"):
        mod.check_zip(bad)


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
    assert "geoprospect_qgis/LICENSE" in names and "MIT" in general["license"]
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


def _use_zip_wheel(plugin_zip: Path, tmp_path: Path, monkeypatch) -> None:
    """The panel installs from the wheel inside the built plugin zip, with no executable preset."""
    from geoprospect_qgis import environment

    with zipfile.ZipFile(plugin_zip) as zf:
        zf.extractall(tmp_path / "unzipped")
    wheel_dir = tmp_path / "unzipped" / "geoprospect_qgis" / "wheels"
    monkeypatch.setattr(environment, "WHEEL_DIR", wheel_dir)
    monkeypatch.setattr(environment.bundled_wheel, "__defaults__", (wheel_dir,))
    monkeypatch.delenv("GEOPROSPECT_EXECUTABLE", raising=False)
    monkeypatch.delenv("GEOPROSPECT_PYTHONPATH", raising=False)


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

    _use_zip_wheel(plugin_zip, tmp_path, monkeypatch)
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


def test_install_plan_never_touches_qgis_python(tmp_path, monkeypatch):
    from geoprospect_qgis import environment

    wheel = tmp_path / "geoprospect-0.1.0-py3-none-any.whl"
    monkeypatch.delenv(environment.ENV_TORCH_CPU_INDEX, raising=False)
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
    monkeypatch.setenv(environment.ENV_TORCH_CPU_INDEX, "https://mirror.example.org/torch-cpu")  # a mirror behind a firewall
    mirrored = environment.install_plan("/usr/bin/python3", tmp_path / "env", wheel, "cpu")
    torch = next(argv for title, argv in mirrored.steps if "torch" in title)
    assert "https://mirror.example.org/torch-cpu" in torch and "https://download.pytorch.org/whl/cpu" not in torch


def test_torch_is_bounded_by_the_wheel(tmp_path):
    """The torch step asks for the wheel's own torch bounds, so pip never swaps in another build later."""
    import zipfile as zf_mod

    from geoprospect_qgis import environment

    wheel = tmp_path / "geoprospect-0.1.0-py3-none-any.whl"
    with zf_mod.ZipFile(wheel, "w") as zf:
        zf.writestr("geoprospect-0.1.0.dist-info/METADATA", "Name: geoprospect\nRequires-Dist: numpy>=1.24\nRequires-Dist: torch<=2.14.1,>=2.1\n"
                    "Requires-Dist: torchvision (<=0.29.1,>=0.16)\nRequires-Dist: torch>=3; extra == \"future\"\n")
    assert environment.wheel_requirements(wheel, ("torch", "torchvision")) == ["torch<=2.14.1,>=2.1", "torchvision<=0.29.1,>=0.16"]
    assert environment.wheel_requirements(tmp_path / "missing.whl", ("torch",)) == ["torch"]
    plan = environment.install_plan("/usr/bin/python3", tmp_path / "env", wheel, "cpu")
    torch = next(argv for title, argv in plan.steps if "torch" in title)
    assert "torch<=2.14.1,>=2.1" in torch and "torchvision<=0.29.1,>=0.16" in torch


def test_version_mismatch_names_the_panel(provider):
    from geoprospect_qgis import environment

    assert environment.mismatch_message(environment.plugin_version()) == ""
    msg = environment.mismatch_message("9.9.9")
    assert "9.9.9" in msg and "Install / update geoprospect" in msg and environment.plugin_version() in msg


def _index_unreachable() -> str:
    """Why the package indexes cannot be used from here ('' when both answer)."""
    import urllib.request

    from geoprospect_qgis import environment

    for url in ("https://pypi.org/simple/pip/", environment.torch_index_args("cpu")[1].rstrip("/") + "/torch/"):
        if url.startswith("file://"):  # a local mirror
            if not os.path.isdir(url[len("file://"):]):
                return f"package index mirror missing ({url})"
            continue
        try:
            with urllib.request.urlopen(url, timeout=15) as r:  # noqa: S310 - fixed https URLs
                r.read(64)
        except Exception as exc:  # noqa: BLE001 - any failure means: no index
            return f"package index unreachable ({url}: {exc})"
    return ""


@pytest.mark.slow
@pytest.mark.network
def test_panel_installs_online_with_cpu_torch_and_an_algorithm_runs(provider, qgis_app, plugin_zip, tmp_path, monkeypatch, tiny_faults):
    """The panel's real install: a Python it finds, a fresh venv (no system packages), the
    dependencies from PyPI and torch's CPU build from download.pytorch.org, then the bundled
    wheel; the distance algorithm then runs in that environment. Downloads ~0.5 GB: deselected by
    default (pytest.ini), run with ``-m network``; skipped when the indexes are unreachable."""
    why = _index_unreachable()
    if why:
        pytest.skip(why)
    import processing
    from geoprospect_qgis import cli_info, env_panel, environment
    from osgeo import gdal
    from processing.core.ProcessingConfig import ProcessingConfig

    _use_zip_wheel(plugin_zip, tmp_path, monkeypatch)
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "pip-cache"))  # a clean download, not this machine's cache
    before = ProcessingConfig.getSetting("GEOPROSPECT_EXECUTABLE")
    ProcessingConfig.setSettingValue("GEOPROSPECT_PYTHONPATH", "")
    try:
        panel = env_panel.EnvironmentPanel(profile_dir=str(tmp_path / "profile"))
        base = panel.python.currentText()
        assert base and environment.python_version(base) >= environment.MIN_PYTHON, base  # found by the panel itself
        env_dir = tmp_path / "venv"
        panel.env_dir.setText(str(env_dir))
        panel.torch.setCurrentIndex(panel.torch.findData("cpu"))
        assert not panel.offline.isChecked()
        results = []
        panel.installed.connect(lambda ok, msg: results.append((ok, msg)))
        t0 = time.monotonic()
        task = panel.install()
        assert task is not None
        _wait(task, timeout_s=3600)
        took = time.monotonic() - t0
        print(f"online install took {took:.0f} s")
        assert results and results[-1][0], (results, panel.log.toPlainText()[-4000:])
        log = panel.log.toPlainText()
        torch_line = next(line for line in log.splitlines() if "Installing torch (CPU)" in line)
        assert f"--index-url {environment.torch_index_args('cpu')[1]}" in torch_line and " torch<=" in torch_line  # the wheel's bounds
        new_python = environment.venv_python(env_dir)
        assert ProcessingConfig.getSetting("GEOPROSPECT_EXECUTABLE") == str(new_python)
        cfg = (env_dir / "pyvenv.cfg").read_text()
        assert "include-system-site-packages = false" in cfg  # everything came from the indexes
        info = environment.probe(str(new_python))
        assert info.ok and info.geoprospect == environment.plugin_version(), info
        assert info.torch.endswith("+cpu") and not info.cuda, info  # the CPU build, from the PyTorch CPU index
        where = subprocess.run([str(new_python), "-c", "import geoprospect, torch; print(geoprospect.__file__); print(torch.__file__)"],
                               capture_output=True, text=True, env={"PATH": os.environ["PATH"]}, cwd=str(tmp_path)).stdout.split()
        assert all(w.startswith(str(env_dir)) for w in where), where
        import numpy  # QGIS's own Python is untouched

        assert numpy.__version__.startswith("1.") and "torch" not in sys.modules

        cli_info.clear()
        out = tmp_path / "dist.tif"
        res = processing.run("geoprospect:distance", {"INPUT": str(tiny_faults), "RESOLUTION": 100.0, "GRID_CRS": "EPSG:32649",
                                                      "EXTENT": f"{X0},{X0 + 3000},{Y0},{Y0 + 3000} [EPSG:32649]", "OUTPUT": str(out)})
        assert res["COMMAND"].startswith(str(new_python) + " -m geoprospect")
        ds = gdal.Open(str(out))
        arr = ds.GetRasterBand(1).ReadAsArray()
        # faults: y = Y0 + 1500 and x = X0 + 1000; the cell (row 0, col 29) centre is (X0 + 2950, Y0 + 2950)
        assert arr[0, 29] == pytest.approx(min(2950 - 1500, 2950 - 1000), abs=0.05)
    finally:
        ProcessingConfig.setSettingValue("GEOPROSPECT_EXECUTABLE", before or "")
        cli_info.clear()
