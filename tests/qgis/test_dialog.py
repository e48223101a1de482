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


@pytest.mark.parametrize("name", ["train", "evaluate_cv", "run_layers"])
def test_model_picker_hides_what_a_model_does_not_use(fake_cli, provider, qgis_app, name, monkeypatch):
    """The stand-in CLI lists random_forest (a baseline, the default: first) and tinynet (a network):
    epochs and batch size show only while the network is picked."""
    import processing.gui.ParametersPanel as panel_mod
    from geoprospect_qgis import cli_info
    from geoprospect_qgis.model_widget import ModelWidgetWrapper
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from qgis.core import QgsApplication
    from qgis.PyQt.QtWidgets import QApplication

    monkeypatch.setattr(panel_mod, "iface", None)
    cli_info.clear()
    dlg = AlgorithmDialog(QgsApplication.processingRegistry().createAlgorithmById(f"geoprospect:{name}"))
    dlg.show()
    QApplication.processEvents()
    wrappers = dlg.mainWidget().wrappers
    model = wrappers["MODEL"]
    assert isinstance(model, ModelWidgetWrapper)
    assert model.widget.itemText(0).startswith("random_forest — recommended")
    epochs = wrappers["EPOCHS"]
    assert epochs.wrappedWidget().isHidden() and epochs.wrappedLabel().isHidden()
    model.widget.setCurrentIndex(1)  # tinynet
    QApplication.processEvents()
    assert not epochs.wrappedWidget().isHidden() and not epochs.wrappedLabel().isHidden()
    assert model.value() == 1
    dlg.close()
