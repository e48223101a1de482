"""Progress reporting: tqdm bars for people, JSON lines for programs (the QGIS provider).

``geoprospect --progress json ...`` prints one JSON object per line on stdout::

    {"type": "progress", "stage": "idw", "done": 3, "total": 8, "message": "Au"}
    {"type": "log", "level": "INFO", "message": "..."}
    {"type": "result", "outputs": {"stack": "out/stack.tif"}}
    {"type": "error", "message": "..."}

From Python the library is silent by default (mode ``none``): a script or notebook that calls
``gp.idw`` or ``ProspectivityModel.fit`` gets no bars unless it asks with ``set_mode("bar")``
(tqdm on stderr) or ``set_mode("json")``. The command line sets the mode from ``--progress``
(default ``bar``).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Literal

from geoprospect.errors import ParameterError

Mode = Literal["bar", "json", "none"]
_lock = threading.Lock()
_mode: Mode = "none"  # library default: silent; the CLI sets --progress (default bar)


def set_mode(mode: Mode) -> None:
    """Choose how progress is shown for the rest of the process."""
    global _mode
    if mode not in ("bar", "json", "none"):
        raise ParameterError(f"progress mode must be bar, json or none, not {mode!r}", hint="--progress bar|json|none")
    _mode = mode


def get_mode() -> Mode:
    return _mode


def emit(obj: dict) -> None:
    """Print one JSON line on stdout (json mode only)."""
    if _mode != "json":
        return
    with _lock:
        sys.stdout.write(json.dumps(obj, default=str) + "\n")
        sys.stdout.flush()


class Task:
    """A unit of work with a known total; use as a context manager."""

    def __init__(self, stage: str, total: int, message: str = "", unit: str = "it") -> None:
        self.stage = stage
        self.total = int(total)
        self.done = 0
        self.message = message
        self._bar = None
        self._last_pct = -1.0
        if _mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=f"{stage}" + (f" {message}" if message else ""), unit=unit, leave=False, file=sys.stderr, dynamic_ncols=True)
        else:
            emit({"type": "progress", "stage": stage, "done": 0, "total": self.total, "message": message})

    def update(self, n: int = 1, message: str | None = None, **postfix: object) -> None:
        self.done += n
        if message is not None:
            self.message = message
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in postfix.items()}, refresh=False)
        elif _mode == "json":
            pct = 100.0 * self.done / max(self.total, 1)
            if pct - self._last_pct >= 1.0 or self.done >= self.total:  # at most ~100 lines a task
                self._last_pct = pct
                emit({"type": "progress", "stage": self.stage, "done": self.done, "total": self.total, "message": self.message, **{k: v for k, v in postfix.items()}})

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Task":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JsonLogHandler(logging.Handler):
    """Logging handler that turns records into JSON log lines."""

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102
        try:
            emit({"type": "log", "level": record.levelname, "message": record.getMessage(), "logger": record.name})
        except Exception:  # pragma: no cover
            self.handleError(record)


def setup_logging(level: str = "INFO") -> None:
    """Configure the 'geoprospect' logger for the current progress mode."""
    logger = logging.getLogger("geoprospect")
    logger.setLevel(level.upper())
    for h in list(logger.handlers):
        logger.removeHandler(h)
    if _mode == "json":
        handler: logging.Handler = JsonLogHandler()
    else:
        handler = _TqdmHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.propagate = False


class _TqdmHandler(logging.StreamHandler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # pragma: no cover
            self.handleError(record)
