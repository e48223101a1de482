"""Provider settings (Processing ▸ Options ▸ Providers ▸ geoprospect)."""

from __future__ import annotations

PROVIDER_ID = "geoprospect"
EXECUTABLE = "GEOPROSPECT_EXECUTABLE"
PYTHONPATH = "GEOPROSPECT_PYTHONPATH"


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


def register_settings(provider) -> None:
    from processing.core.ProcessingConfig import ProcessingConfig, Setting

    ProcessingConfig.settingIcons[provider.name()] = provider.icon()
    ProcessingConfig.addSetting(
        Setting(
            provider.name(),
            EXECUTABLE,
            "geoprospect executable or Python interpreter (empty: $GEOPROSPECT_EXECUTABLE, then geoprospect on PATH; set by Plugins ▸ geoprospect ▸ Environment… ▸ Install / update geoprospect)",
            "",
            valuetype=Setting.FILE,
        )
    )
    ProcessingConfig.addSetting(
        Setting(
            provider.name(),
            PYTHONPATH,
            "Extra PYTHONPATH for that environment (e.g. a geoprospect source checkout; usually empty)",
            "",
            valuetype=Setting.FOLDER,
        )
    )
    ProcessingConfig.readSettings()


def unregister_settings() -> None:
    from processing.core.ProcessingConfig import ProcessingConfig

    ProcessingConfig.removeSetting(EXECUTABLE)
    ProcessingConfig.removeSetting(PYTHONPATH)
