"""Run the ``geoprospect`` CLI as a child process and feed its JSON progress lines to QGIS.

This module deliberately imports nothing from geoprospect, numpy or torch: QGIS's own Python
only starts a process (no shell) in the environment where geoprospect is installed
(DESIGN.md decision 10). The feedback object is a ``QgsProcessingFeedback`` (duck-typed here,
so the same code runs under qgis_process, the toolbox and tests).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

#: Environment variable read when the provider setting is empty (handy for qgis_process and CI).
ENV_EXECUTABLE = "GEOPROSPECT_EXECUTABLE"
#: Extra PYTHONPATH handed to the geoprospect process (e.g. a source checkout).
ENV_PYTHONPATH = "GEOPROSPECT_PYTHONPATH"

SETTING_HELP = (
    "In Plugins ▸ geoprospect ▸ Environment…, install it in one click (Install / update geoprospect) or point at an existing "
    "one (Use an existing geoprospect: for example /home/me/venvs/geo/bin/python or /home/me/venvs/geo/bin/geoprospect), "
    f"or set the environment variable {ENV_EXECUTABLE} before starting QGIS."
)

#: Seconds between two progress lines of text in the log (the bar moves on every line).
TEXT_INTERVAL_S = 5.0

#: Seconds the CLI gets to stop cleanly after SIGTERM before it is killed.
TERMINATE_GRACE_S = 5.0


class GeoprospectRunError(Exception):
    """The CLI could not be found, failed, or was cancelled; the message is meant for the user."""


class CancelledError(GeoprospectRunError):
    """The user cancelled the run; the process was stopped."""


@dataclass
class RunResult:
    """What one CLI run reported."""

    returncode: int
    outputs: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stderr_tail: list[str] = field(default_factory=list)
    seconds: float = 0.0
    in_error: bool = False  # reading click's "Error: …" block on stderr


def _is_python(path: str) -> bool:
    name = Path(path).name.lower()
    return name.startswith("python") or name.startswith("pythonw")


def resolve_command(setting: str | None) -> list[str]:
    """The argv prefix that starts the CLI.

    ``setting`` is the provider setting: a ``geoprospect`` executable, or a Python interpreter
    (then ``-m geoprospect`` is appended). When empty, ``$GEOPROSPECT_EXECUTABLE`` and then
    ``geoprospect`` on PATH are tried. Raises GeoprospectRunError with what to set otherwise.
    """
    value = (setting or "").strip() or os.environ.get(ENV_EXECUTABLE, "").strip()
    if value:
        found = shutil.which(value) if not os.path.sep in value else (value if os.path.isfile(value) else None)
        if not found:
            raise GeoprospectRunError(f"The geoprospect executable or Python interpreter {value!r} does not exist. {SETTING_HELP}")
        if not os.access(found, os.X_OK):
            raise GeoprospectRunError(f"{found!r} is not executable. {SETTING_HELP}")
        return [found, "-m", "geoprospect"] if _is_python(found) else [found]
    found = shutil.which("geoprospect")
    if not found:
        raise GeoprospectRunError(f"The geoprospect command was not found on PATH. {SETTING_HELP}")
    return [found]


def child_environment(extra_pythonpath: str | None = None) -> dict[str, str]:
    """Environment for the CLI: QGIS's own Python variables removed so the other interpreter
    does not import QGIS's numpy or site-packages; optional PYTHONPATH for a source checkout."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONEXECUTABLE"}}
    extra = (extra_pythonpath or "").strip() or os.environ.get(ENV_PYTHONPATH, "").strip()
    if extra:
        env["PYTHONPATH"] = extra
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


class ProgressMapper:
    """Turns progress lines into one 0-100 bar.

    When the algorithm declares its stages in order (names, or (name, weight) pairs), each
    stage owns a slice of the bar in proportion to its weight; an undeclared stage sweeps the
    whole bar on its own.
    """

    def __init__(self, stages: Sequence[str | tuple[str, float]] = (), reserve: float = 0.0) -> None:
        pairs = [(s, 1.0) if isinstance(s, str) else (str(s[0]), float(s[1])) for s in stages]
        #: the end of the bar kept for the work after the last progress line (a run's evaluation
        #: and report): 100 % is set when the process has finished, not before
        self.top = 100.0 - max(0.0, min(99.0, reserve))
        total = sum(w for _, w in pairs) or 1.0
        self.slices: dict[str, tuple[float, float]] = {}
        start = 0.0
        for name, w in pairs:
            self.slices[name] = (start, w / total)
            start += w / total
        self._high = 0.0
        self._text_stage = ""
        self._text_time = 0.0
        self._text_tenth = -1

    def wants_text(self, stage: str, done: float, total: float, now: float | None = None) -> bool:
        """Whether a progress line deserves a line of text in the log: a new stage, its end, or
        at most one line per tenth of the stage and per TEXT_INTERVAL_S (not 96 "train n/96" lines)."""
        now = time.monotonic() if now is None else now
        tenth = int(10 * float(done) / float(total)) if total else -1
        if stage != self._text_stage or (total and done >= total) or (tenth != self._text_tenth and now - self._text_time >= TEXT_INTERVAL_S):
            self._text_stage, self._text_time, self._text_tenth = stage, now, tenth
            return True
        return False

    def percent(self, stage: str, done: float, total: float) -> float:
        frac = 0.0 if not total else max(0.0, min(1.0, float(done) / float(total)))
        if stage in self.slices:
            start, width = self.slices[stage]
            # a stage may run several times (one distance raster per vector, a model per fold): never go back
            self._high = max(self._high, self.top * (start + frac * width))
            return self._high
        return self.top * frac


def _pump(stream, tag: str, q: "queue.Queue[tuple[str, str | None]]") -> None:
    try:
        for line in iter(stream.readline, ""):
            q.put((tag, line.rstrip("\r\n")))
    finally:
        q.put((tag, None))


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (the CLI removes its temporary outputs), then SIGKILL after a grace period."""
    if proc.poll() is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGTERM)
        else:  # pragma: no cover - Windows
            proc.terminate()
        proc.wait(TERMINATE_GRACE_S)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)
            else:  # pragma: no cover
                proc.kill()
        except ProcessLookupError:
            pass
        proc.wait()


def _start(argv: Sequence[str], env: dict[str, str] | None, cwd: str | None) -> subprocess.Popen:
    """Start the CLI (no shell) in its own process group, its output read line by line."""
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            env=env if env is not None else child_environment(),
            # not QGIS's working directory: `python -m geoprospect` puts the cwd first on sys.path
            cwd=cwd or tempfile.gettempdir(),
            start_new_session=(os.name == "posix"),  # own process group: cancel reaches workers too
        )
    except OSError as exc:
        raise GeoprospectRunError(f"Cannot start {argv[0]!r}: {exc}. {SETTING_HELP}") from exc


def run_cli(
    prefix: Sequence[str],
    args: Sequence[str],
    feedback=None,
    *,
    stages: Sequence[str] = (),
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    cleanup: Callable[[], None] | None = None,
    reserve: float = 0.0,
) -> RunResult:
    """Run ``prefix + ['--progress', 'json'] + args`` and report to ``feedback``.

    Progress lines move the bar, log lines go to the log, the result line gives the outputs.
    Cancel (``feedback.isCanceled()``) stops the process within about a second (SIGTERM, then
    SIGKILL after TERMINATE_GRACE_S) and raises CancelledError after ``cleanup()``.
    A non-zero exit raises GeoprospectRunError with the CLI's own error message.
    """
    argv = [*prefix, "--progress", "json", *args]
    if feedback is not None:
        feedback.pushCommandInfo(" ".join(_quote(a) for a in argv))
    t0 = time.monotonic()
    proc = _start(argv, env, cwd)

    q: "queue.Queue[tuple[str, str | None]]" = queue.Queue()
    threads = [
        threading.Thread(target=_pump, args=(proc.stdout, "out", q), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "err", q), daemon=True),
    ]
    for t in threads:
        t.start()
    mapper = ProgressMapper(stages, reserve)
    result = RunResult(returncode=-1)
    open_streams = 2
    cancelled = False
    while open_streams:
        if feedback is not None and feedback.isCanceled():
            cancelled = True
            if feedback is not None:
                feedback.pushInfo("Cancel requested: stopping geoprospect…")
            _stop(proc)
            break
        try:
            tag, line = q.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            open_streams -= 1
            continue
        if tag == "err":
            _handle_stderr(line, result, feedback)
        else:
            _handle_stdout(line, result, feedback, mapper)
    if not cancelled:
        # the streams are closed: the process is ending; still honour a late cancel
        while proc.poll() is None:
            if feedback is not None and feedback.isCanceled():
                cancelled = True
                _stop(proc)
                break
            time.sleep(0.05)
    proc.wait()
    for t in threads:
        t.join(timeout=1.0)
    for stream in (proc.stdout, proc.stderr):
        try:
            stream.close()
        except OSError:
            pass
    result.returncode = proc.returncode
    result.seconds = time.monotonic() - t0
    if cancelled:
        if cleanup is not None:
            cleanup()
        raise CancelledError("Cancelled by the user: geoprospect was stopped and left no output.")
    if proc.returncode != 0:
        raise GeoprospectRunError(_error_message(argv, args, result))
    if feedback is not None:
        feedback.setProgress(100)
    return result


def _quote(a: str) -> str:
    return a if a and all(c.isalnum() or c in "-_./:=,+@%" for c in a) else json.dumps(a)


def _handle_stdout(line: str, result: RunResult, feedback, mapper: ProgressMapper) -> None:
    text = line.strip()
    if not text:
        return
    msg = None
    if text.startswith("{"):
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
    if not isinstance(msg, dict) or "type" not in msg:
        if feedback is not None:
            feedback.pushConsoleInfo(line)
        return
    kind = msg.get("type")
    if kind == "progress":
        stage = str(msg.get("stage", ""))
        if feedback is not None:
            done, total = msg.get("done", 0) or 0, msg.get("total", 0) or 0
            feedback.setProgress(mapper.percent(stage, done, total))
            if not mapper.wants_text(stage, done, total):
                return
            extra = {k: v for k, v in msg.items() if k not in {"type", "stage", "done", "total", "message"}}
            text = f"{stage} {msg.get('done')}/{msg.get('total')}"
            if msg.get("message"):
                text += f" {msg['message']}"
            if extra:  # e.g. the training loss
                text += " (" + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in extra.items()) + ")"
            feedback.setProgressText(text)
    elif kind == "log":
        if feedback is not None:
            level = str(msg.get("level", "INFO")).upper()
            message = str(msg.get("message", ""))
            if level in {"WARNING", "ERROR", "CRITICAL"}:
                feedback.reportError(message, False) if level != "WARNING" else feedback.pushWarning(message)
            elif level == "DEBUG":
                feedback.pushDebugInfo(message)
            else:
                feedback.pushInfo(message)
    elif kind == "result":
        outs = msg.get("outputs") or {}
        if isinstance(outs, dict):
            result.outputs.update({str(k): str(v) for k, v in outs.items() if v is not None})
    elif kind == "error":
        result.errors.append(str(msg.get("message", "")))
    elif feedback is not None:
        feedback.pushDebugInfo(line)


def _handle_stderr(line: str, result: RunResult, feedback) -> None:
    result.stderr_tail.append(line)
    del result.stderr_tail[:-40]
    # click's "Error: …" (and its indented "How to fix") repeats the JSON error line, which
    # becomes the QGIS error: not printed twice
    if line.startswith("Error: "):
        result.in_error = True
    elif not line.startswith(" "):
        result.in_error = False
    if feedback is not None and line.strip() and not result.in_error:
        feedback.pushConsoleInfo(line)


def _error_message(argv: Sequence[str], args: Sequence[str], result: RunResult) -> str:
    stderr = "\n".join(result.stderr_tail).strip()
    command = args[0] if args else "?"
    if "No such command" in stderr:
        return (
            f"This geoprospect installation ({argv[0]}) has no '{command}' command. The QGIS algorithm "
            "is ready for it, but the command comes with a newer geoprospect: update geoprospect in that environment."
        )
    if "No module named geoprospect" in stderr or "No module named 'geoprospect'" in stderr:
        return f"geoprospect is not installed for {argv[0]!r} ({stderr.splitlines()[-1]}). {SETTING_HELP}"
    if result.errors:
        return "\n".join(result.errors)
    if stderr:
        # click's usage lines name the command line, not the form
        lines = [ln for ln in stderr.splitlines() if not ln.startswith(("Usage: ", "Try '"))]
        return f"geoprospect {command} failed (exit code {result.returncode}):\n" + "\n".join(lines[-15:])
    return f"geoprospect {command} failed with exit code {result.returncode} and printed no message."
