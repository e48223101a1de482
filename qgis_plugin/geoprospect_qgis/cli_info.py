"""What the configured geoprospect environment offers: its version, models and run-config schema.

The provider takes its model lists, defaults and choices from here (``geoprospect --version``,
``geoprospect models --json``, ``geoprospect config-schema``) instead of keeping copies that
drift. Answers are cached per QGIS session and per environment (executable + PYTHONPATH).
Nothing here imports geoprospect: the three commands run in the environment's own Python.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import runner
from .settings import executable_setting, pythonpath_setting
from .versions import mismatch_message, plugin_version

PLUGIN_DIR = Path(__file__).resolve().parent
#: seconds each information command may take (listing the models imports torch)
INFO_TIMEOUT_S = 180.0
#: longest model description shown in the model list
LABEL_CHARS = 70


@dataclass
class CliInfo:
    """The environment's answers; ``error`` says why they are missing (then lists are empty)."""

    version: str = ""
    models: list[dict] = field(default_factory=list)
    schema: dict = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def version_warning(self) -> str:
        """A message when the environment's geoprospect differs from the plugin's version ('' if same)."""
        return mismatch_message(self.version, plugin_version())

    def model_names(self) -> list[str]:
        """Model names, the run configuration's default (the recommended model) first."""
        names = [str(m["name"]) for m in self.models if m.get("name")]
        default = self.default("train.model")
        return [default, *(n for n in names if n != default)] if default in names else names

    def model(self, name: str) -> dict:
        return next((m for m in self.models if m.get("name") == name), {})

    def is_network(self, name: str) -> bool:
        """True for a network (trained by epochs and batches); False for a scikit-learn baseline."""
        return (self.model(name).get("kind") or "network") == "network"

    def model_label(self, m: dict) -> str:
        """``name — short description``; the default model says it is the recommended one."""
        short = re.sub(r"\s*\([^)]*\)", "", str(m.get("description") or "")).strip().rstrip(".")
        if len(short) > LABEL_CHARS:
            short = short[: LABEL_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
        name = str(m["name"])
        tag = "recommended: " if name == self.default("train.model") else ""
        return f"{name} — {tag}{short}" if short else f"{name}{' (recommended)' if tag else ''}"

    # ---- the run configuration's JSON schema ---------------------------------------------
    def _resolve(self, node: dict) -> dict:
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            target: Any = self.schema
            for part in ref.lstrip("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def field_schema(self, dotted: str) -> dict:
        """Schema of a config key such as ``train.epochs`` ({} when unknown)."""
        node: dict = self.schema
        for part in dotted.split("."):
            node = self._resolve(node).get("properties", {}).get(part)
            if node is None:
                return {}
        return self._resolve(node)

    def default(self, dotted: str, fallback: Any = None) -> Any:
        """Default of a config key (``train.epochs``) from the schema; ``fallback`` when unknown."""
        f = self.field_schema(dotted)
        if "default" in f:
            return f["default"]
        parent, _, leaf = dotted.rpartition(".")
        if parent:  # a nested model's default object also holds the leaf's default
            d = self.field_schema(parent).get("default")
            if isinstance(d, dict) and leaf in d:
                return d[leaf]
        return fallback

    def choices(self, dotted: str) -> list[str]:
        """Allowed values of a Literal config key ([] when free or unknown)."""
        f = self.field_schema(dotted)
        if "enum" in f:
            return [str(v) for v in f["enum"]]
        for alt in f.get("anyOf", []) or f.get("oneOf", []):
            alt = self._resolve(alt)
            if "enum" in alt:
                return [str(v) for v in alt["enum"]]
        return []

    def description(self, dotted: str) -> str:
        return str(self.field_schema(dotted).get("description", ""))


_cache: dict[tuple[str, str], CliInfo] = {}
_pending: dict[tuple[str, str], threading.Thread] = {}
_lock = threading.Lock()
#: questions still pending that a caller with a timeout has already waited for (no second wait)
_gave_up: set[tuple[str, str]] = set()


def _key() -> tuple[str, str]:
    exe = executable_setting() or os.environ.get(runner.ENV_EXECUTABLE, "")
    return exe, pythonpath_setting() or os.environ.get(runner.ENV_PYTHONPATH, "")


def _ask(prefix: list[str], env: dict[str, str], *args: str) -> str:
    r = subprocess.run(
        [*prefix, "--progress", "none", *args],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=INFO_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        cwd=tempfile.gettempdir(),
    )
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise runner.GeoprospectRunError(f"`geoprospect {' '.join(args)}` failed in {prefix[0]}: {' / '.join(tail)}")
    return r.stdout


def _fetch(executable: str, pythonpath: str) -> CliInfo:
    try:
        prefix = runner.resolve_command(executable)
    except runner.GeoprospectRunError as exc:
        return CliInfo(error=str(exc))
    env = runner.child_environment(pythonpath)
    info = CliInfo()
    # the three questions at once: each starts a Python (listing the models imports torch), and
    # every qgis_process call waits for them
    with ThreadPoolExecutor(max_workers=3) as pool:
        asked = [pool.submit(_ask, prefix, env, *args) for args in (("--version",), ("models", "--json"), ("config-schema",))]
    try:
        info.version = asked[0].result().strip().rsplit(" ", 1)[-1]
        info.models = json.loads(asked[1].result())
        info.schema = json.loads(asked[2].result())
    except (runner.GeoprospectRunError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
        info.error = (
            f"Cannot read the model list and defaults from the geoprospect environment ({exc}). "
            f"The environment may be missing or older than the plugin (version {plugin_version()}). {runner.SETTING_HELP}"
        )
    return info


def cache_file() -> Path | None:
    """The answers kept between QGIS sessions: ``<QGIS profile>/geoprospect/cli_info.json``."""
    try:
        from qgis.core import QgsApplication
    except ImportError:  # pragma: no cover - outside QGIS
        return None
    return Path(QgsApplication.qgisSettingsDirPath()) / "geoprospect" / "cli_info.json"


def _read_disk(path: Path | None, key: tuple[str, str]) -> CliInfo | None:
    try:
        with open(path, encoding="utf-8") as f:  # type: ignore[arg-type]
            entry = json.load(f).get("\x00".join(key))
    except (OSError, TypeError, ValueError, AttributeError):
        return None
    if not isinstance(entry, dict) or not entry.get("models"):
        return None
    return CliInfo(version=str(entry.get("version", "")), models=list(entry["models"]), schema=dict(entry.get("schema") or {}))


def _write_disk(path: Path | None, key: tuple[str, str], info: CliInfo) -> None:
    if path is None or not info.ok:
        return
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {}
    data = data if isinstance(data, dict) else {}
    data["\x00".join(key)] = {"version": info.version, "models": info.models, "schema": info.schema}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.part", "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(f"{path}.part", path)
    except OSError:
        pass


def get(wait: bool = True, timeout: float | None = None) -> CliInfo | None:
    """The answers for the configured environment, never waiting when they are known.

    In memory: this session's answers. On disk (cache_file): the last session's, used at once
    while the environment is asked again in the background (a changed environment shows in the
    next dialog). Asked for the first time, wait=False (QGIS loading the provider) returns None
    and wait=True waits for the environment (listing the models imports torch: seconds), at
    most ``timeout`` seconds when given (None then, the answers coming in the background); the
    ``timeout`` is spent once per question: a form's later parameters do not wait again.
    """
    key = _key()
    disk = cache_file()
    with _lock:
        if key in _cache:
            return _cache[key]
        thread = _pending.get(key)
        if thread is None:
            def work() -> None:
                info = _fetch(*key)
                _write_disk(disk, key, info)
                with _lock:
                    _cache[key] = info
                    _pending.pop(key, None)
                    _gave_up.discard(key)

            thread = threading.Thread(target=work, name="geoprospect-cli-info", daemon=True)
            _pending[key] = thread
            thread.start()
            known = _read_disk(disk, key)
            if known is not None:
                _cache.setdefault(key, known)
                return known
    if not wait:
        return None
    thread.join(0.0 if timeout is not None and key in _gave_up else timeout)
    with _lock:
        if thread.is_alive():
            _gave_up.add(key)
            return None
        return _cache.get(key, CliInfo(error="the geoprospect environment did not answer"))


def prefetch() -> None:
    """Ask the configured environment now, in the background (after the setting changed)."""
    get(wait=False)


def clear() -> None:
    """Forget the answers, in memory and on disk (after the environment setting changed)."""
    with _lock:
        _cache.clear()
    disk = cache_file()
    if disk is not None:
        try:
            disk.unlink()
        except OSError:
            pass
