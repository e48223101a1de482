"""The private geoprospect environment: find it, describe it, create or update it.

The plugin never installs anything into QGIS's own Python. "Install / update geoprospect"
creates a virtual environment under the QGIS profile folder from a Python >= 3.10 found on
the machine (or picked by the user), installs the geoprospect wheel shipped inside the plugin
zip (``wheels/``) with its dependencies from the package index (CPU or CUDA build of torch),
and names that interpreter in the provider's setting. Every command runs without a shell.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from . import runner
from .versions import mismatch_message, plugin_version  # noqa: F401 - re-exported (env panel, tests)

PLUGIN_DIR = Path(__file__).resolve().parent
#: where build_zip.py puts the geoprospect wheel inside the plugin
WHEEL_DIR = PLUGIN_DIR / "wheels"
MIN_PYTHON = (3, 10)
#: PyTorch's index of CPU-only builds; a mirror of it (behind a firewall) can be named in this
#: environment variable, since the explicit --index-url overrides pip's own PIP_INDEX_URL
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
ENV_TORCH_CPU_INDEX = "GEOPROSPECT_TORCH_CPU_INDEX_URL"
#: torch builds offered by the panel: (label, extra pip arguments for torch)
TORCH_CHOICES = {
    "cpu": ("CPU only (smaller download)", ["--index-url", TORCH_CPU_INDEX]),
    "cuda": ("NVIDIA GPU (CUDA build from the package index)", []),
}


def torch_index_args(torch: str) -> list[str]:
    """pip arguments that pick the torch build: the CPU index (or its mirror) for "cpu"."""
    args = list(TORCH_CHOICES[torch][1])
    if torch == "cpu" and os.environ.get(ENV_TORCH_CPU_INDEX, "").strip():
        args[1] = os.environ[ENV_TORCH_CPU_INDEX].strip()
    return args
PROBE_TIMEOUT_S = 120.0

_PROBE = r"""
import json, sys
out = {"python": sys.version.split()[0], "executable": sys.executable}
try:
    import geoprospect
    out["geoprospect"] = getattr(geoprospect, "__version__", "") or ""
    out["geoprospect_path"] = geoprospect.__file__
except Exception as exc:
    out["error"] = f"geoprospect cannot be imported: {exc}"
try:
    if GPU:  # imports torch: seconds
        import torch
        out["torch"] = torch.__version__
        out["cuda"] = bool(torch.cuda.is_available())
        out["device"] = torch.cuda.get_device_name(0) if out["cuda"] else "CPU"
    else:  # the installed version only, without importing torch
        from importlib.metadata import version
        out["torch"] = version("torch")
except Exception as exc:
    out["torch_error"] = str(exc)
print(json.dumps(out))
"""


class EnvironmentError_(runner.GeoprospectRunError):
    """Creating or probing the environment failed; the message says what to do."""


@dataclass
class EnvInfo:
    """What a geoprospect environment holds (``error`` says why it is unusable)."""

    python: str = ""
    python_version: str = ""
    geoprospect: str = ""
    torch: str = ""
    cuda: bool = False
    device: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.geoprospect)

    def summary(self) -> str:
        if not self.ok:
            return self.error or "geoprospect is not installed"
        torch = f"torch {self.torch}" if self.torch else "torch missing"
        where = f"GPU ({self.device})" if self.cuda else "CPU" if self.device else "GPU not checked"
        return f"geoprospect {self.geoprospect}, {torch}, {where}; Python {self.python_version} ({self.python})"


def default_env_dir(profile_dir: str | None = None) -> Path:
    """The private environment's folder: ``<QGIS profile>/geoprospect/venv``."""
    if not profile_dir:
        from qgis.core import QgsApplication

        profile_dir = QgsApplication.qgisSettingsDirPath()
    return Path(profile_dir) / "geoprospect" / "venv"


def venv_python(env_dir: str | os.PathLike) -> Path:
    """The interpreter inside a virtual environment (Scripts/python.exe on Windows)."""
    env_dir = Path(env_dir)
    return env_dir / "Scripts" / "python.exe" if os.name == "nt" else env_dir / "bin" / "python"


def bundled_wheel(wheel_dir: Path = WHEEL_DIR) -> Path | None:
    """The geoprospect wheel shipped in the plugin (the one matching its version first)."""
    wheels = sorted(wheel_dir.glob("geoprospect-*.whl")) if wheel_dir.is_dir() else []
    if not wheels:
        return None
    mine = [w for w in wheels if w.name.startswith(f"geoprospect-{plugin_version()}-")]
    return (mine or wheels)[-1]


def python_version(exe: str) -> tuple[int, int] | None:
    """(major, minor) of an interpreter; None when it does not run."""
    facts = python_facts(exe)
    return facts[0] if facts else None


def python_facts(exe: str) -> tuple[tuple[int, int], str] | None:
    """((major, minor), identity) of an interpreter; the identity (its prefix and real executable)
    is the same for every name of one interpreter (python3, python3.11, a pyenv shim)."""
    code = "import os, sys; print('%d.%d' % sys.version_info[:2]); print(sys.prefix + '|' + os.path.realpath(sys.executable))"
    try:
        r = subprocess.run([exe, "-c", code], capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL, env=runner.child_environment())
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = r.stdout.strip().splitlines() if r.returncode == 0 else []
    m = re.fullmatch(r"(\d+)\.(\d+)", lines[0]) if lines else None
    return ((int(m.group(1)), int(m.group(2))), lines[1] if len(lines) > 1 else exe) if m else None


def find_pythons() -> list[tuple[str, tuple[int, int]]]:
    """Interpreters >= 3.10 on this machine, newest first; QGIS's own Python last (a venv made
    from it is still separate: nothing is installed into QGIS's Python)."""
    names = [f"python3.{m}" for m in range(14, MIN_PYTHON[1] - 1, -1)] + ["python3", "python"]
    candidates = [shutil.which(n) for n in names]
    if os.name == "nt":  # pragma: no cover - the Windows launcher knows the installed versions
        candidates += _windows_pythons()
    seen: set[str] = set()
    found: list[tuple[str, tuple[int, int]]] = []
    own = os.path.realpath(sys.executable) if sys.executable else ""
    for c in candidates:
        if not c:
            continue
        real = os.path.realpath(c)
        facts = python_facts(c) if real not in seen else None
        seen.add(real)
        if facts is None or facts[1] in seen:  # one interpreter under several names: listed once
            continue
        seen.add(facts[1])
        if facts[0] >= MIN_PYTHON:
            found.append((c, facts[0]))
    found.sort(key=lambda cv: (os.path.realpath(cv[0]) == own, tuple(-x for x in cv[1])))
    return found


def _windows_pythons() -> list[str]:  # pragma: no cover - Windows
    try:
        r = subprocess.run(["py", "-0p"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.split()[-1] for line in r.stdout.splitlines() if line.strip().lower().endswith("python.exe")]


def probe(python: str, gpu: bool = False) -> EnvInfo:
    """Ask an interpreter for its geoprospect and torch versions (under a second); gpu=True also
    asks torch for the GPU (imports torch: seconds)."""
    info = EnvInfo(python=python)
    if not python or not os.path.isfile(python):
        info.error = f"No interpreter at {python!r}." if python else "No geoprospect environment is set."
        return info
    try:
        r = subprocess.run([python, "-c", f"GPU = {bool(gpu)}\n{_PROBE}"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                           stdin=subprocess.DEVNULL, env=runner.child_environment(), cwd=tempfile.gettempdir())
    except (OSError, subprocess.TimeoutExpired) as exc:
        info.error = f"{python} did not answer: {exc}"
        return info
    try:
        got = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        info.error = f"{python} failed: {(r.stderr or r.stdout).strip()[-400:]}"
        return info
    info.python_version = got.get("python", "")
    info.geoprospect = got.get("geoprospect", "")
    info.torch = got.get("torch", "")
    info.cuda = bool(got.get("cuda", False))
    info.device = got.get("device", "")
    info.error = got.get("error", "")
    return info


def interpreter_of(setting: str) -> str:
    """The Python of the configured environment: the setting itself, or the python beside a
    ``geoprospect`` executable; '' when unknown."""
    if not setting:
        return ""
    if runner._is_python(setting):
        return setting
    beside = Path(setting).parent / ("python.exe" if os.name == "nt" else "python")
    return str(beside) if beside.exists() else ""


def wheel_requirements(wheel: str | os.PathLike, names: Sequence[str]) -> list[str]:
    """The wheel's own requirements (``Requires-Dist``) on ``names``, e.g. ``torch<=2.14.1,>=2.1``;
    a bare name for one the wheel does not bound (or when the wheel cannot be read)."""
    import zipfile

    found: dict[str, str] = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            meta = next((n for n in zf.namelist() if n.endswith(".dist-info/METADATA")), "")
            text = zf.read(meta).decode("utf-8") if meta else ""
    except (OSError, zipfile.BadZipFile, KeyError):
        text = ""
    for line in text.splitlines():
        m = re.match(r"Requires-Dist:\s*([A-Za-z0-9_.-]+)\s*\(?([^;)]*)\)?\s*(;.*)?$", line)
        if m and m.group(1).lower() in names and not m.group(3):
            found[m.group(1).lower()] = m.group(1).lower() + m.group(2).replace(" ", "")
    return [found.get(n, n) for n in names]


@dataclass
class InstallPlan:
    """The commands that create or update the environment, in order (argv lists, no shell)."""

    env_dir: Path
    steps: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def python(self) -> Path:
        return venv_python(self.env_dir)


def install_plan(
    base_python: str,
    env_dir: str | os.PathLike,
    wheel: str | os.PathLike,
    torch: str = "cpu",
    *,
    system_site_packages: bool = False,
    offline: bool = False,
) -> InstallPlan:
    """Commands that create ``env_dir`` from ``base_python`` and install ``wheel`` in it.

    torch: "cpu" or "cuda" (which build of torch pip takes). offline=True installs the wheel
    alone (``--no-deps``): the dependencies must then come from ``system_site_packages``
    (tests do this to stay fast and offline).
    """
    env_dir = Path(env_dir)
    py = str(venv_python(env_dir))
    wheel = str(wheel)
    venv = [base_python, "-m", "venv", *(["--system-site-packages"] if system_site_packages else []), str(env_dir)]
    steps: list[tuple[str, list[str]]] = []
    if not venv_python(env_dir).exists():
        steps.append(("Creating the environment", venv))
    pip = [py, "-m", "pip", "--disable-pip-version-check", "install"]
    if not offline:
        steps.append(("Updating pip", [*pip, "--upgrade", "pip"]))
        if torch not in TORCH_CHOICES:
            raise EnvironmentError_(f"torch build {torch!r}: choose one of {', '.join(TORCH_CHOICES)}")
        # torch alone first, from the chosen index, within the wheel's own bounds (a torch pip
        # would later replace to meet them would come from PyPI: the CUDA build)
        pins = wheel_requirements(wheel, ("torch", "torchvision"))
        steps.append((f"Installing torch ({torch.upper()})", [*pip, "--upgrade", *pins, *torch_index_args(torch)]))
        steps.append(("Installing geoprospect's dependencies", [*pip, "--upgrade", wheel]))
    # the wheel shipped with the plugin, even when the same version is already there
    steps.append(("Installing geoprospect from the plugin's wheel", [*pip, "--force-reinstall", "--no-deps", wheel]))
    steps.append(("Checking the installation", [py, "-m", "geoprospect", "--version"]))
    return InstallPlan(env_dir, steps)


def run_plan(
    plan: InstallPlan,
    log: Callable[[str], None] = print,
    progress: Callable[[float], None] = lambda p: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> EnvInfo:
    """Run the plan's commands one after the other, streaming their output to ``log``.

    Raises EnvironmentError_ naming the failed step (and its last lines) or a cancel; returns
    the new environment's EnvInfo."""
    n = len(plan.steps)
    for i, (title, argv) in enumerate(plan.steps):
        if cancelled():
            raise EnvironmentError_("Cancelled: the environment may be incomplete; run Install / update again.")
        log(f"[{i + 1}/{n}] {title}: {' '.join(argv)}")
        progress(100.0 * i / n)
        tail = _stream(argv, log, cancelled)
        if tail is not None:
            raise EnvironmentError_(f"{title} failed:\n" + "\n".join(tail[-12:]) + _hint(tail))
    progress(100.0)
    info = probe(str(plan.python))
    if not info.geoprospect:
        raise EnvironmentError_(f"The new environment cannot import geoprospect: {info.error}")
    return info


def _stream(argv: Sequence[str], log: Callable[[str], None], cancelled: Callable[[], bool]) -> list[str] | None:
    """Run one command; None on success, its last lines on failure or cancel."""
    try:
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                encoding="utf-8", errors="replace", env=runner.child_environment(), cwd=tempfile.gettempdir())
    except OSError as exc:
        return [f"cannot start {argv[0]}: {exc}"]
    tail: list[str] = []
    assert proc.stdout is not None
    with proc.stdout:  # closed when done (an open pipe is a ResourceWarning in QGIS's Python log)
        for line in iter(proc.stdout.readline, ""):
            line = line.rstrip()
            tail = (tail + [line])[-40:]
            log(line)
            if cancelled():
                proc.terminate()
                proc.wait()
                return tail + ["cancelled by the user"]
    proc.wait()
    return None if proc.returncode == 0 else tail + [f"(exit code {proc.returncode})"]


def _hint(tail: Sequence[str]) -> str:
    text = "\n".join(tail)
    if "ensurepip" in text or "No module named venv" in text:
        return "\nThis Python cannot create environments: install its venv module (e.g. apt install python3-venv) or pick another Python."
    if "Could not find a version" in text or "Failed to establish a new connection" in text or "NewConnectionError" in text:
        return "\nThe package index could not be reached: check the internet connection or proxy (pip's PIP_PROXY / PIP_INDEX_URL)."
    return ""


def set_provider_interpreter(python: str) -> None:
    """Name ``python`` in the provider's setting (saved in the profile) and forget cached answers."""
    from processing.core.ProcessingConfig import ProcessingConfig

    from . import cli_info
    from .settings import EXECUTABLE

    ProcessingConfig.setSettingValue(EXECUTABLE, str(python))
    cli_info.clear()
    cli_info.prefetch()  # the next dialog finds the models and defaults ready
