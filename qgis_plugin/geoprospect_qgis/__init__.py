"""geoprospect QGIS plugin: a Processing provider that runs the geoprospect CLI.

Nothing here imports geoprospect, numpy or torch: the work runs in the geoprospect
environment named in the provider settings (DESIGN.md decision 10).
"""


def classFactory(iface):  # noqa: N802 - QGIS entry point
    from .plugin import GeoprospectPlugin

    return GeoprospectPlugin(iface)
