"""The geoprospect Processing provider: one algorithm per pipeline stage."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .settings import PROVIDER_ID, register_settings, unregister_settings

PLUGIN_DIR = Path(__file__).resolve().parent


class GeoprospectProvider(QgsProcessingProvider):
    """Algorithms run the geoprospect CLI in its own Python environment (never inside QGIS)."""

    def id(self) -> str:
        return PROVIDER_ID

    def name(self) -> str:
        return "geoprospect"

    def longName(self) -> str:  # noqa: N802
        return "geoprospect — mineral prospectivity mapping"

    def icon(self) -> QIcon:
        return QIcon(str(PLUGIN_DIR / "icon.svg"))

    def svgIconPath(self) -> str:  # noqa: N802
        return str(PLUGIN_DIR / "icon.svg")

    def load(self) -> bool:
        try:
            register_settings(self)
        except ImportError:  # processing plugin absent: settings come from the environment only
            pass
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        try:
            unregister_settings()
        except ImportError:
            pass

    def supportedOutputRasterLayerExtensions(self):  # noqa: N802
        return ["tif"]

    def supportedOutputVectorLayerExtensions(self):  # noqa: N802
        return ["gpkg"]

    def defaultVectorFileExtension(self, hasGeometry=True):  # noqa: N802,N803
        return "gpkg"

    def defaultRasterFileFormat(self):  # noqa: N802
        return "GTiff"

    def loadAlgorithms(self) -> None:  # noqa: N802
        from .algorithms import ALGORITHMS
        from .algorithms.base import GeoprospectAlgorithm

        # the toolbox's instances must not wait for the environment (torch imports take
        # seconds): it is asked in the background; dialogs and runs create fresh instances
        # that use its answers (cli_info)
        GeoprospectAlgorithm.LOADING = True
        try:
            for cls in ALGORITHMS:
                self.addAlgorithm(cls())
        finally:
            GeoprospectAlgorithm.LOADING = False
