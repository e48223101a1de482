"""Render an algorithm dialog offscreen and save it as a PNG (for the README/docs).

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_plugin/screenshot.py [ALGORITHM] [OUT.png]

Default: geoprospect:interpolate -> docs/img/qgis_dialog.png, with the sample samples.csv
loaded as a layer so the field pickers show its columns.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(HERE))
sys.path.append("/usr/share/qgis/python/plugins")


def main(alg_id: str = "geoprospect:interpolate", out: str = str(REPO / "docs" / "img" / "qgis_dialog.png")) -> Path:
    from qgis.core import QgsApplication, QgsProject, QgsVectorLayer

    app = QgsApplication([], True)
    app.initQgis()
    from processing.core.Processing import Processing

    Processing.initialize()
    import geoprospect_qgis

    plugin = geoprospect_qgis.classFactory(None)
    plugin.initProcessing()
    data = Path(os.environ.get("GEOPROSPECT_SOURCE", str(REPO))) / "sample_data"
    samples = data / "samples.csv"
    layer = None
    if samples.exists():
        uri = f"file://{samples}?type=csv&delimiter=,&xField=x&yField=y&crs=EPSG:32649&detectTypes=yes"
        layer = QgsVectorLayer(uri, "samples", "delimitedtext")
        QgsProject.instance().addMapLayer(layer)
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from qgis.PyQt.QtWidgets import QApplication

    alg = QgsApplication.processingRegistry().createAlgorithmById(alg_id)
    dlg = AlgorithmDialog(alg)
    dlg.resize(1100, 820)
    if layer is not None and alg_id.endswith("interpolate"):
        dlg.setParameters({"POINTS": layer, "ELEMENTS": ["Au_ppb", "As_ppm", "Sb_ppm", "Cu_ppm"],
                           "EXTENT": "500000,540000,2800000,2840000 [EPSG:32649]"})
    dlg.show()
    for _ in range(20):
        QApplication.processEvents()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    ok = dlg.grab().save(out)
    dlg.close()
    if not ok:
        raise SystemExit(f"could not save {out}")
    print(out)
    return Path(out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
