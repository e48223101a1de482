"""QGIS plugin entry: registers the Processing provider (GUI QGIS and qgis_process alike) and,
in the desktop, the environment panel (Plugins ▸ geoprospect ▸ Environment… and a page of
Settings ▸ Options under Processing)."""

from __future__ import annotations

from qgis.core import QgsApplication

MENU = "&geoprospect"


class GeoprospectPlugin:
    def __init__(self, iface=None) -> None:
        self.iface = iface
        self.provider = None
        self.action = None
        self.options_factory = None

    def initProcessing(self) -> None:  # noqa: N802
        from .provider import GeoprospectProvider

        if self.provider is None:
            self.provider = GeoprospectProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()
        if self.iface is None or not hasattr(self.iface, "addPluginToMenu"):
            return
        from qgis.PyQt.QtGui import QIcon
        from qgis.PyQt.QtWidgets import QAction

        from .env_panel import options_factory
        from .provider import PLUGIN_DIR

        self.action = QAction(QIcon(str(PLUGIN_DIR / "icon.svg")), "Environment… (install / update geoprospect)", self.iface.mainWindow())
        self.action.triggered.connect(self.show_environment)
        self.iface.addPluginToMenu(MENU, self.action)
        self.options_factory = options_factory()
        if self.options_factory is not None and hasattr(self.iface, "registerOptionsWidgetFactory"):
            self.iface.registerOptionsWidgetFactory(self.options_factory)

    def show_environment(self) -> None:
        from .env_panel import EnvironmentDialog

        EnvironmentDialog(self.iface.mainWindow() if self.iface is not None else None).exec_()

    def unload(self) -> None:
        if self.action is not None and self.iface is not None:
            self.iface.removePluginMenu(MENU, self.action)
            self.action = None
        if self.options_factory is not None and self.iface is not None and hasattr(self.iface, "unregisterOptionsWidgetFactory"):
            self.iface.unregisterOptionsWidgetFactory(self.options_factory)
            self.options_factory = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
