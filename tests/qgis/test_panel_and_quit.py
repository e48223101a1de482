"""The environment panel as a new user meets it, and QGIS's exit.

- Pointing the panel at an existing geoprospect names it in the provider's setting (and refuses a
  Python without geoprospect, naming the field); one interpreter is listed once.
- The panel's check does not import torch (it is what Settings ▸ Options opens) and its task never
  holds up quitting QGIS.
- Quitting QGIS after the Processing plugin's modules were unloaded (qgis.utils does so, plugin by
  plugin) raised ``KeyError: 'GEOPROSPECT_EXECUTABLE'`` from the provider's unload.
- The plugin uses no deprecated QGIS API and leaves no file open.
"""

from __future__ import annotations

import gc
import os
import sys
import time
import warnings

import pytest


def _wait(task, timeout: float = 120.0) -> None:
    from qgis.core import QgsTask
    from qgis.PyQt import sip
    from qgis.PyQt.QtWidgets import QApplication

    def over() -> bool:  # the task manager deletes a finished task
        return sip.isdeleted(task) or task.status() in (QgsTask.Complete, QgsTask.Terminated)

    t0 = time.monotonic()
    while not over() and time.monotonic() - t0 < timeout:
        QApplication.processEvents()
        time.sleep(0.02)
    for _ in range(20):  # finished() and its signals reach the panel
        QApplication.processEvents()
        time.sleep(0.01)
    assert over(), "task did not finish"


def test_quit_after_processing_was_unloaded_raises_nothing(provider):
    """The trigger: at exit qgis.utils unloads the Processing plugin first and drops its modules from
    sys.modules; the provider's unload then imported ProcessingConfig again, got a new class with
    no settings, and ``del settings['GEOPROSPECT_EXECUTABLE']`` raised KeyError."""
    from geoprospect_qgis.provider import GeoprospectProvider
    from geoprospect_qgis.settings import EXECUTABLE, register_settings
    from processing.core.ProcessingConfig import ProcessingConfig

    other = GeoprospectProvider()
    assert other.load() and EXECUTABLE in ProcessingConfig.settings
    saved = {name: mod for name, mod in sys.modules.items() if name == "processing" or name.startswith("processing.")}
    try:
        for name in saved:  # as qgis.utils._unloadPluginModules("processing") does
            del sys.modules[name]
        other.unload()  # KeyError before the fix
    finally:
        sys.modules.update(saved)
    assert EXECUTABLE not in ProcessingConfig.settings  # removed from the class it was added to
    other.unload()  # a second unload is harmless too
    register_settings(provider)  # the session's provider keeps its settings
    assert EXECUTABLE in ProcessingConfig.settings


def test_panel_points_at_an_existing_geoprospect(provider, qgis_app, geoprospect_python, tmp_path):
    from geoprospect_qgis import cli_info, env_panel
    from processing.core.ProcessingConfig import ProcessingConfig

    before = ProcessingConfig.getSetting("GEOPROSPECT_EXECUTABLE")
    try:
        panel = env_panel.EnvironmentPanel(profile_dir=str(tmp_path))
        results: list = []
        panel.installed.connect(lambda ok, msg: results.append((ok, msg)))
        assert panel.use_existing(str(tmp_path / "nothing" / "python")) is None
        assert results[-1][0] is False and "pick the python" in results[-1][1]
        panel.existing.setText(geoprospect_python)
        panel.use_button.click()
        _wait(panel.probe_task)
        assert results[-1][0], results
        assert ProcessingConfig.getSetting("GEOPROSPECT_EXECUTABLE") == geoprospect_python
        assert "Found:" in panel.status.text() and ".." not in panel.status.text()
    finally:
        ProcessingConfig.setSettingValue("GEOPROSPECT_EXECUTABLE", before or "")
        cli_info.clear()


def test_panel_refuses_a_python_without_geoprospect(provider, qgis_app, tmp_path):
    from geoprospect_qgis import env_panel
    from processing.core.ProcessingConfig import ProcessingConfig

    before = ProcessingConfig.getSetting("GEOPROSPECT_EXECUTABLE")
    panel = env_panel.EnvironmentPanel(profile_dir=str(tmp_path))
    results: list = []
    panel.installed.connect(lambda ok, msg: results.append((ok, msg)))
    _wait(panel.use_existing("/usr/bin/python3"))  # QGIS's own Python: no geoprospect there
    assert results and results[-1][0] is False and "cannot be imported" in results[-1][1], results
    assert ProcessingConfig.getSetting("GEOPROSPECT_EXECUTABLE") == before  # unchanged
    assert ".." not in panel.status.text()


def test_each_interpreter_is_listed_once():
    from geoprospect_qgis import environment

    found = environment.find_pythons()
    identities = [environment.python_facts(exe)[1] for exe, _ in found]
    assert len(identities) == len(set(identities)), found


def test_the_panel_check_does_not_import_torch_nor_hold_up_quitting(provider, qgis_app, geoprospect_python, tmp_path, monkeypatch):
    from geoprospect_qgis import env_panel, environment
    from qgis.core import QgsTask

    monkeypatch.setenv("GEOPROSPECT_EXECUTABLE", geoprospect_python)
    from processing.core.ProcessingConfig import ProcessingConfig

    before = ProcessingConfig.getSetting("GEOPROSPECT_EXECUTABLE")
    ProcessingConfig.setSettingValue("GEOPROSPECT_EXECUTABLE", "")
    try:
        panel = env_panel.EnvironmentPanel(profile_dir=str(tmp_path))  # what Settings ▸ Options opens
        task = panel.probe_task
        assert task is not None and not task.gpu
        assert task.flags() & QgsTask.CancelWithoutPrompt  # QGIS quits without the "Active Tasks" prompt
        _wait(task)
    finally:
        ProcessingConfig.setSettingValue("GEOPROSPECT_EXECUTABLE", before or "")
    t0 = time.monotonic()
    light = environment.probe(geoprospect_python)
    seconds = time.monotonic() - t0
    print(f"panel check without torch: {seconds:.2f} s")  # measured, not asserted (shared machine)
    assert light.ok and light.torch and light.device == "" and "GPU not checked" in light.summary()
    assert "GPU not checked" in panel.status.text() or "Found:" in panel.status.text()


def test_no_deprecated_qgis_api_and_no_open_file(provider, qgis_app, fake_cli, tmp_path, tiny_csv):
    """Styles built on real layers, every algorithm's form, the panel and a run: no DeprecationWarning
    raised from the plugin's code, no ResourceWarning."""
    from conftest import csv_layer
    from geoprospect_qgis import env_panel, environment, styles
    from osgeo import gdal
    from qgis.core import QgsApplication, QgsRasterLayer
    from test_process import _run

    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "r.tif"), 8, 8, 2, gdal.GDT_Float32)
    ds.SetGeoTransform((500000, 10, 0, 2500080, 0, -10))
    for b in (1, 2):
        ds.GetRasterBand(b).Fill(float(b))
        ds.GetRasterBand(b).WriteArray(__import__("numpy").arange(64, dtype="float32").reshape(8, 8) * b)
    ds = None
    plugin = os.path.dirname(env_panel.__file__)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = QgsRasterLayer(str(tmp_path / "r.tif"), "r")
        for kind in ("stack", "evidence", "attribution", "prospectivity", "uncertainty"):
            assert styles.apply_style(layer, kind, str(tmp_path / "r.tif"))
        for alg in QgsApplication.processingRegistry().providerById("geoprospect").algorithms():
            alg.createInstance().initAlgorithm()
        env_panel.EnvironmentPanel(profile_dir=str(tmp_path))
        environment._stream([sys.executable, "-c", "print('x')"], lambda line: None, lambda: False)
        _run("geoprospect:interpolate", {"POINTS": csv_layer(tiny_csv), "RESOLUTION": 100, "OUTPUT": str(tmp_path / "o.tif")})
        gc.collect()
    ours = [w for w in caught if issubclass(w.category, DeprecationWarning) and str(w.filename).startswith(plugin)]
    assert not ours, [f"{w.filename}:{w.lineno}: {w.message}" for w in ours]
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]
    assert styles._band_range(layer, 2) == (0.0, 126.0)


@pytest.mark.parametrize("kind", ["stack"])
def test_band_range_of_an_empty_band_is_zero(qgis_app, tmp_path, kind):
    from geoprospect_qgis import styles
    from osgeo import gdal
    from qgis.core import QgsRasterLayer

    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "e.tif"), 4, 4, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((500000, 10, 0, 2500040, 0, -10))
    ds.GetRasterBand(1).SetNoDataValue(-9999)
    ds.GetRasterBand(1).Fill(-9999)
    ds = None
    layer = QgsRasterLayer(str(tmp_path / "e.tif"), "e")
    assert styles._band_range(layer, 1) == (0.0, 0.0)
    assert styles.apply_style(layer, kind, str(tmp_path / "e.tif")) == "built:stack"
