"""QGIS plugin entry: registers the Processing provider (GUI QGIS and qgis_process alike)."""

from __future__ import annotations

from qgis.core import QgsApplication


class GeoprospectPlugin:
    def __init__(self, iface=None) -> None:
        self.iface = iface
        self.provider = None

    def initProcessing(self) -> None:  # noqa: N802
        from .provider import GeoprospectProvider

        if self.provider is None:
            self.provider = GeoprospectProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
