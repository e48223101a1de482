"""The model picker of the Processing dialogs: the model list, and the options of network
training (epochs, batch size, optimiser, augmentation) shown only for a network.

Named in the MODEL parameter's metadata (``widget_wrapper``) by its path, so that it is imported
by the dialog only, never by qgis_process.
"""

from __future__ import annotations

from typing import Sequence

from processing.gui.wrappers import WidgetWrapper
from qgis.PyQt.QtWidgets import QComboBox


class ModelWidgetWrapper(WidgetWrapper):
    """A combo box of the models; picking a scikit-learn model hides the network-only fields."""

    def createWidget(self, networks: Sequence[bool] = (), network_only: Sequence[str] = ()):  # noqa: N802 (QGIS API)
        self.networks, self.network_only = list(networks), set(network_only)
        self.others: list = []
        combo = QComboBox()
        for i, option in enumerate(self.parameterDefinition().options()):
            combo.addItem(option, i)
        combo.currentIndexChanged.connect(self._changed)
        return combo

    def setValue(self, value):  # noqa: N802
        self.setComboValue(int(value) if value not in (None, "") else 0)

    def value(self):
        return self.widget.currentData()

    def postInitialize(self, wrappers):  # noqa: N802
        self.others = [w for w in wrappers if w is not self and w.parameterDefinition().name() in self.network_only]
        self.show_fields()

    def _changed(self, _index: int) -> None:
        self.show_fields()
        self.widgetValueHasChanged.emit(self)

    def is_network(self) -> bool:
        i = self.widget.currentIndex()
        return self.networks[i] if 0 <= i < len(self.networks) else True

    def show_fields(self) -> None:
        """Show the network-only fields for a network, hide them for a scikit-learn model."""
        show = self.is_network()
        for w in self.others:
            for part in _parts(w):
                part.setVisible(show)


def _parts(wrapper) -> list:
    """The label and the widget of a wrapper (C++ wrappers and Python ones name them differently)."""
    if isinstance(wrapper, WidgetWrapper):
        parts = [wrapper.widget, wrapper.label]
    else:
        parts = [wrapper.wrappedWidget(), wrapper.wrappedLabel()]
    return [p for p in parts if p is not None]
