"""Run inside the real QGIS Desktop by scripts/qgis_screenshots.sh (``qgis --code THIS_FILE``,
under Xvfb): does what a geologist does and photographs the screen.

1. installs the plugin from its zip through the Plugin Manager's own "Install from ZIP" code
   (pyplugin_installer.installFromZipFile) into the fresh profile the shell script made;
2. loads the sample data as a user adds files (Layer ▸ Add Layer: the CSV as delimited text, the
   GeoPackages), opens the Processing toolbox and types "geoprospect" in its search box
   -> qgis_desktop_toolbox.png;
3. runs "1b · Interpolate geochemistry" from its dialog (Run pressed; output left at QGIS's
   "[Save to temporary file]") -> qgis_desktop_interpolate.png: the styled output on the canvas;
4. opens "Run whole pipeline (from layers)" (layers as the form suggests them)
   -> qgis_desktop_run_dialog.png, runs it -> qgis_desktop_run.png: the run's group (deposits
   and targets above the prospectivity).

Settings come from the environment: GEOPROSPECT_SHOTS_ZIP, _DATA (sample_data), _OUT (PNG
folder), _RUN (output folder of the whole run), _LOG, _DONE (written on success); the provider
finds geoprospect through GEOPROSPECT_EXECUTABLE / GEOPROSPECT_PYTHONPATH. Never imported by the
tests; QGIS's Python only.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

from qgis.core import QgsApplication, QgsLayerTreeLayer, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtWidgets import QApplication, QDockWidget
from qgis.utils import iface

ENV = os.environ
DATA = Path(ENV.get("GEOPROSPECT_SHOTS_DATA", "sample_data"))
OUT = Path(ENV.get("GEOPROSPECT_SHOTS_OUT", "docs/img"))
LOG = Path(ENV.get("GEOPROSPECT_SHOTS_LOG", "/tmp/qgis_screenshots.log"))
WIDTH, HEIGHT = 1280, 800
ELEMENTS = ["Au_ppb", "As_ppm", "Cu_ppm", "Pb_ppm", "Zn_ppm"]


def log(msg: str) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    with LOG.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


def wait_until(cond, timeout: float, what: str, step: float = 0.25):
    """Yield (keeping QGIS's event loop running) until ``cond()`` holds."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        yield step


def pause(seconds: float):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        yield 0.1


def canvas_drawn():
    """Wait for the map canvas to finish rendering (it renders in threads)."""
    canvas = iface.mapCanvas()
    canvas.refreshAllLayers()
    yield from pause(1.0)
    yield from wait_until(lambda: not canvas.isDrawing(), 120, "the map canvas")
    yield from pause(1.0)


def shoot(name: str):
    """The whole X screen (the main window fills it), as the user sees it. Messages of the message
    bar are dismissed first (on a machine without internet QGIS reports a failed download of the
    Open Sans font; "Task complete" covers the map)."""
    iface.messageBar().clearWidgets()
    fit_window()
    yield from canvas_drawn()
    QApplication.processEvents()
    pixmap = QApplication.primaryScreen().grabWindow(0)
    if pixmap.isNull() or pixmap.width() < 100:  # no grab from the X server: the window itself
        pixmap = iface.mainWindow().grab()
    path = OUT / name
    if not pixmap.save(str(path), "PNG"):
        raise RuntimeError(f"could not write {path}")
    log(f"screenshot {path} ({pixmap.width()} x {pixmap.height()})")


def fit_window() -> None:
    """The main window exactly on the 1280 x 800 screen (there is no window manager to do it)."""
    mw = iface.mainWindow()
    mw.showNormal()
    mw.setMinimumSize(0, 0)
    mw.setGeometry(0, 0, WIDTH, HEIGHT)
    QApplication.processEvents()
    log(f"main window {mw.geometry().width()} x {mw.geometry().height()} at {mw.geometry().x()}, {mw.geometry().y()}; "
        f"frame {mw.frameGeometry().width()} x {mw.frameGeometry().height()}; minimum hint {mw.minimumSizeHint().width()} x {mw.minimumSizeHint().height()}")


def window() -> None:
    mw = iface.mainWindow()
    fit_window()
    for name in ("Browser", "Browser2", "BrowserPanel"):  # the Layers panel keeps the left side
        dock = mw.findChild(QDockWidget, name)
        if dock is not None:
            dock.hide()


def install_plugin():
    import pyplugin_installer

    zip_path = ENV["GEOPROSPECT_SHOTS_ZIP"]
    log(f"Plugins ▸ Manage and Install Plugins ▸ Install from ZIP: {zip_path}")
    pyplugin_installer.instance().installFromZipFile(zip_path)
    registry = QgsApplication.processingRegistry()
    yield from wait_until(lambda: registry.providerById("geoprospect") is not None, 60, "the geoprospect provider")
    log(f"provider: {len(registry.providerById('geoprospect').algorithms())} algorithms")


def add_layers() -> dict[str, str]:
    """The sample data, added as a user adds files (layer names: the files')."""
    csv = (DATA / "samples.csv").resolve()
    uri = f"file://{csv}?type=csv&delimiter=,&xField=x&yField=y&crs=EPSG:32649&detectTypes=yes&geomType=point"
    layers = {"samples": iface.addVectorLayer(uri, "samples", "delimitedtext")}
    for name in ("alteration", "fault_lines", "deposits"):
        layers[name] = iface.addVectorLayer(str((DATA / f"{name}.gpkg").resolve()), name, "ogr")
    for name, layer in layers.items():
        if layer is None or not layer.isValid():
            raise RuntimeError(f"could not load {name}")
    iface.mapCanvas().zoomToFullExtent()
    return {name: layer.id() for name, layer in layers.items()}


def toolbox():
    """The Processing toolbox, filtered as a user searches it."""
    from qgis.utils import plugins

    mw = iface.mainWindow()
    tb = plugins["processing"].toolbox
    tb.show()
    tb.raise_()
    layers = mw.findChild(QDockWidget, "Layers")
    docks, widths = ([tb, layers], [470, 250]) if layers is not None else ([tb], [470])
    mw.resizeDocks(docks, widths, Qt.Orientation.Horizontal)  # the algorithms' names unclipped
    tb.searchBox.setText("geoprospect")
    yield from pause(1.0)
    tb.algorithmTree.expandAll()


def run_dialog(alg_id: str, params: dict, timeout: float, shot: str = ""):
    """Open the algorithm's dialog with ``params`` set (the rest as the form shows it; ``shot``:
    photographed then), press Run, wait until it has finished and loaded its results."""
    import processing

    dlg = processing.createAlgorithmDialog(alg_id, params)
    done: list = []
    dlg.algorithmFinished.connect(lambda ok, res: done.append((ok, res)))
    dlg.setGeometry(140, 20, 1000, 760)
    dlg.show()
    yield from pause(1.0)
    if shot:
        yield from shoot(shot)
    log(f"{alg_id}: Run")
    dlg.runAlgorithm()
    yield from wait_until(lambda: bool(done), timeout, alg_id)
    ok, results = done[0]
    if not ok:
        raise RuntimeError(f"{alg_id} failed: {results}")
    log(f"{alg_id}: done {sorted(results)}")
    yield from pause(2.0)
    if dlg.isVisible():
        dlg.close()
    return results


def collapse_except(keep: set[str]) -> None:
    """Fold the legends of the layers not in ``keep`` (the Layers panel stays readable)."""
    for node in QgsProject.instance().layerTreeRoot().findLayers():
        node.setExpanded(node.name() in keep)


def interpolate(ids: dict[str, str]):
    res = yield from run_dialog("geoprospect:interpolate", {"POINTS": ids["samples"], "ELEMENTS": ["Au_ppb"], "RESOLUTION": 200,
                                                            "OUTPUT": "TEMPORARY_OUTPUT"}, 600)
    layer = next((lyr for lyr in QgsProject.instance().mapLayers().values() if isinstance(lyr, QgsRasterLayer)), None)
    if layer is None:
        raise RuntimeError(f"no interpolated raster loaded ({res})")
    log(f"loaded {layer.name()!r} from {layer.source()} (reported {res.get('OUTPUT')})")
    collapse_except({layer.name()})
    iface.setActiveLayer(layer)
    iface.mapCanvas().setExtent(layer.extent())
    return layer


def whole_run(interpolated):
    run = ENV.get("GEOPROSPECT_SHOTS_RUN") or str(Path(ENV.get("TMPDIR", "/tmp")) / "geoprospect-screenshot-run")
    params = {"ELEMENTS": ELEMENTS, "RESOLUTION": 250, "RADIUS": 3000, "FOLDS": 3, "OUTPUT": run, "OVERWRITE": True}
    yield from run_dialog("geoprospect:run_layers", params, 1500, shot="qgis_desktop_run_dialog.png")
    root = QgsProject.instance().layerTreeRoot()
    root.findLayer(interpolated.id()).setItemVisibilityChecked(False)
    group = next(g for g in root.findGroups() if g.name().startswith("geoprospect run:"))
    names = [n.name() for n in group.children()]
    log(f"group {group.name()!r}: {names}")
    collapse_except({"Known deposits", "Targets (rank)", "Prospectivity"})
    for node in root.children():
        if node is not group and not isinstance(node, QgsLayerTreeLayer):
            node.setExpanded(False)
    prosp = next(n.layer() for n in group.findLayers() if n.name() == "Prospectivity")
    iface.setActiveLayer(prosp)
    iface.mapCanvas().setExtent(prosp.extent())


def steps():
    LOG.write_text("", encoding="utf-8")
    OUT.mkdir(parents=True, exist_ok=True)
    window()
    yield from pause(2.0)
    yield from install_plugin()
    ids = add_layers()
    yield from toolbox()
    yield from shoot("qgis_desktop_toolbox.png")
    if ENV.get("GEOPROSPECT_SHOTS_QUICK"):  # the toolbox only (checking the window's layout)
        return
    layer = yield from interpolate(ids)
    yield from shoot("qgis_desktop_interpolate.png")
    yield from whole_run(layer)
    yield from shoot("qgis_desktop_run.png")


class Driver:
    """Runs ``steps()`` one yield at a time from QGIS's event loop (QGIS stays responsive)."""

    def __init__(self, gen) -> None:
        self.gen = gen
        QTimer.singleShot(1000, self.step)

    def step(self) -> None:
        try:
            delay = next(self.gen)
        except StopIteration:
            Path(ENV.get("GEOPROSPECT_SHOTS_DONE", "/tmp/qgis_screenshots.done")).write_text("ok\n", encoding="utf-8")
            log("done")
            self.quit(0)
        except Exception:  # noqa: BLE001 - reported, then QGIS is closed with a failure
            log(traceback.format_exc())
            self.quit(1)
        else:
            QTimer.singleShot(int(delay * 1000), self.step)

    @staticmethod
    def quit(code: int) -> None:
        QgsProject.instance().clear()  # nothing to save: no "save the project?" question
        QTimer.singleShot(15000, lambda: os._exit(code))  # a prompt that blocks the exit
        QTimer.singleShot(500, lambda: QApplication.exit(code))


DRIVER = Driver(steps())
