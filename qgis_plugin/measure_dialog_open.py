"""Measure how long opening a geoprospect dialog holds QGIS (the figures of docs/qgis.md).

    QT_QPA_PLATFORM=offscreen GEOPROSPECT_EXECUTABLE=/path/to/python [GEOPROSPECT_PYTHONPATH=.] \\
        /usr/bin/python3 qgis_plugin/measure_dialog_open.py [ALGORITHM]

Opens the dialog of ALGORITHM (default geoprospect:train, which lists the models and shows the
run configuration's defaults) in a real QGIS, offscreen, three ways:

1. first use ever: nothing known about the environment. Measured twice: as a script or
   ``qgis_process`` sees it (it waits for ``models --json`` and ``config-schema``: what every first
   dialog of a session did before the answers were kept), and as QGIS Desktop's GUI thread sees
   it (``stages._gui_thread`` answering True: the form waits at most ``DIALOG_WAIT_S``, then
   opens without the answers);
2. again in the same session (answers in memory);
3. a new session: answers from the disk cache of the last one (``<profile>/geoprospect/cli_info.json``),
   the environment asked again in the background.

Prints the seconds of each; nothing is asserted (the machine's load changes them).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QGIS_CUSTOM_CONFIG_PATH", tempfile.mkdtemp(prefix="qgis-measure-"))
sys.path.insert(0, str(HERE))
sys.path.append("/usr/share/qgis/python/plugins")


def open_dialog(alg_id: str) -> float:
    """Seconds from asking for the algorithm to its dialog built (as the toolbox does)."""
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from qgis.core import QgsApplication

    t0 = time.perf_counter()
    alg = QgsApplication.processingRegistry().createAlgorithmById(alg_id)
    dlg = AlgorithmDialog(alg)
    seconds = time.perf_counter() - t0
    dlg.close()
    return seconds


def main(alg_id: str = "geoprospect:train") -> dict[str, float]:
    from qgis.core import QgsApplication

    app = QgsApplication([], True)
    app.initQgis()
    from processing.core.Processing import Processing

    Processing.initialize()
    import processing.gui.ParametersPanel as panel_mod

    panel_mod.iface = None  # standalone: no main window
    import geoprospect_qgis
    from geoprospect_qgis import cli_info

    plugin = geoprospect_qgis.classFactory(None)  # kept: the provider's Python objects live with it
    plugin.initProcessing()
    from geoprospect_qgis.algorithms import stages

    cli_info.clear()  # nothing known: no memory, no disk
    figures = {"first use, script / qgis_process (waits for the environment)": open_dialog(alg_id),
               "same session (answers in memory)": open_dialog(alg_id)}
    cli_info.clear()
    desktop = stages._gui_thread
    stages._gui_thread = lambda: True  # the desktop's GUI thread (QgsApplication.platform() == "desktop")
    try:
        figures["first use, QGIS Desktop (waits at most DIALOG_WAIT_S)"] = open_dialog(alg_id)
    finally:
        stages._gui_thread = desktop
    for thread in list(cli_info._pending.values()):
        thread.join()
    with cli_info._lock:
        cli_info._cache.clear()  # a new session: memory empty, the disk cache of the last one
    figures["new session (answers from the disk cache)"] = open_dialog(alg_id)
    for what, s in figures.items():
        print(f"{alg_id} dialog, {what}: {s:.2f} s")
    return figures


if __name__ == "__main__":
    main(*sys.argv[1:2])
