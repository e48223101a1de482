"""Provider settings (Processing ▸ Options ▸ Providers ▸ geoprospect)."""

from __future__ import annotations

PROVIDER_ID = "geoprospect"
EXECUTABLE = "GEOPROSPECT_EXECUTABLE"
PYTHONPATH = "GEOPROSPECT_PYTHONPATH"
#: short, so that the value stays in view in Processing ▸ Options (Plugins ▸ geoprospect ▸
#: Environment… sets it and explains it)
SETTING_LABEL = "geoprospect's Python (or geoprospect executable)"


def _get(name: str) -> str:
    try:
        from processing.core.ProcessingConfig import ProcessingConfig
    except ImportError:  # pragma: no cover - processing plugin missing
        return ""
    try:
        value = ProcessingConfig.getSetting(name)
    except Exception:  # noqa: BLE001 - setting not registered yet
        return ""
    return str(value or "").strip()


def executable_setting() -> str:
    """The geoprospect executable or Python interpreter named in the settings ('' = not set)."""
    return _get(EXECUTABLE)


def pythonpath_setting() -> str:
    """Extra PYTHONPATH for the geoprospect environment ('' = none)."""
    return _get(PYTHONPATH)


#: the ProcessingConfig class the settings were added to. At QGIS's exit the Processing plugin
#: may be unloaded first (qgis.utils drops its modules from sys.modules): importing it again in
#: unregister_settings would give a new class with no settings (KeyError on quitting)
_registered_in: list = []


def register_settings(provider) -> None:
    from processing.core.ProcessingConfig import ProcessingConfig, Setting

    _registered_in[:] = [ProcessingConfig]
    ProcessingConfig.settingIcons[provider.name()] = provider.icon()
    ProcessingConfig.addSetting(
        Setting(
            provider.name(),
            EXECUTABLE,
            SETTING_LABEL,
            "",
            valuetype=Setting.FILE,
        )
    )
    ProcessingConfig.addSetting(
        Setting(
            provider.name(),
            PYTHONPATH,
            "Extra PYTHONPATH for geoprospect (usually empty)",
            "",
            valuetype=Setting.FOLDER,
        )
    )
    ProcessingConfig.readSettings()


def unregister_settings() -> None:
    """Remove the settings from the ProcessingConfig they were added to (never a re-imported one)."""
    if not _registered_in:
        return
    config = _registered_in.pop()
    for name in (EXECUTABLE, PYTHONPATH):
        config.settings.pop(name, None)
