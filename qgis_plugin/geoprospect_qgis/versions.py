"""The plugin's version and the message when the geoprospect environment's differs.

Its own module so that cli_info (the environment's answers) and environment (creating it)
both use it without importing each other.
"""

from __future__ import annotations

from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent


def plugin_version() -> str:
    """The plugin's version (metadata.txt)."""
    import configparser

    cp = configparser.ConfigParser(interpolation=None)
    cp.read(PLUGIN_DIR / "metadata.txt", encoding="utf-8")
    return cp.get("general", "version", fallback="")


def mismatch_message(env_version: str, plugin: str | None = None) -> str:
    """'' when the versions agree; otherwise the mismatch and the fix."""
    plugin = plugin_version() if plugin is None else plugin
    if not env_version or not plugin or env_version == plugin:
        return ""
    return (
        f"The geoprospect environment has geoprospect {env_version} but this plugin is {plugin}: forms and commands may not match. "
        f"Fix: Plugins ▸ geoprospect ▸ Environment… ▸ Install / update geoprospect (installs {plugin} from the wheel shipped "
        f"with the plugin), or `python -m pip install geoprospect=={plugin}` in that environment."
    )
