"""Every algorithm's dialog builds offscreen (real Qt widgets) and shows its parameters."""

from __future__ import annotations

import pytest
from test_provider import EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dialog_builds(provider, qgis_app, name, tmp_path, monkeypatch):
    import processing.gui.ParametersPanel as panel_mod
    from processing.gui.AlgorithmDialog import AlgorithmDialog

    # standalone QGIS, as in qgis_process: no main window (pytest-qgis's stand-in iface has no
    # real browser model, which the panel would hand to Qt)
    monkeypatch.setattr(panel_mod, "iface", None)
    from qgis.core import QgsApplication
    from qgis.PyQt.QtWidgets import QApplication

    alg = QgsApplication.processingRegistry().createAlgorithmById(f"geoprospect:{name}")
    dlg = AlgorithmDialog(alg)
    dlg.resize(900, 700)
    dlg.show()
    QApplication.processEvents()
    panel = dlg.mainWidget()
    for p in alg.parameterDefinitions():
        if not p.name().startswith("_"):
            assert panel.wrappers.get(p.name()) is not None, p.name()
    png = tmp_path / "d.png"
    assert dlg.grab().save(str(png)) and png.stat().st_size > 10_000
    dlg.close()
