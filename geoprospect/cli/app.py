"""The click group, global options, and how errors and signals end a command."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import traceback
from typing import Any, Callable

import click

from geoprospect import progress
from geoprospect.errors import GeoprospectError

log = logging.getLogger("geoprospect")


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM so that temporary outputs are cleaned up."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Interrupted(f"signal {signum}")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--progress", "progress_mode", type=click.Choice(["bar", "json", "none"]), default="bar", show_default=True,
              help="How to show progress: tqdm bars on stderr, JSON lines on stdout (for the QGIS provider and scripts), or nothing.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False), default="INFO", show_default=True, help="Logging detail.")
@click.version_option(package_name="geoprospect")
def cli(progress_mode: str, log_level: str) -> None:
    """geoprospect: mineral prospectivity mapping with deep learning.

    Geochemistry points and fault/alteration vectors become a georeferenced evidence stack
    (IDW, distances); the stack is tiled into windows labelled by known deposits; a CNN is
    trained on a spatially held-out split and scores every window; the result is a
    prospectivity GeoTIFF, window scores, metrics and a map.

    \b
    Quick start:
      geoprospect run                      # the bundled sample data -> ./geoprospect-out/
      geoprospect run my_area.yaml         # your own data (format: see the README)
      geoprospect COMMAND --help           # one stage at a time
    """
    tune_malloc()
    progress.set_mode(progress_mode)  # type: ignore[arg-type]
    progress.setup_logging(log_level)
    signal.signal(signal.SIGTERM, _on_sigterm)


#: glibc malloc settings for a command's process (bytes): allocations below MMAP come from the
#: heap and up to TRIM of free heap is kept. The evidence kernels allocate and free (B, cells,
#: candidates) temporaries of 4-30 MB per batch on every thread; with glibc's defaults each one is
#: a fresh mmap, i.e. page faults on every batch. Measured, whole `geoprospect interpolate` of
#: 3,072² x 8 (2-core machine, idle): 6.25 s wall / 2.0 s system time -> 5.5 s / 0.85 s, minor
#: page faults 482k -> 148k, peak RSS +14 MiB; `distance` on 5,000²: 2.95 s -> 2.8 s.
MALLOC_MMAP_THRESHOLD = 32 * 2**20  # glibc's largest allowed value (64-bit)
MALLOC_TRIM_THRESHOLD = 256 * 2**20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)


def tune_malloc() -> bool:
    """Apply MALLOC_MMAP_THRESHOLD / MALLOC_TRIM_THRESHOLD with glibc's mallopt (no-op elsewhere,
    or when the user set MALLOC_* variables). Returns whether it was applied."""
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError, AttributeError):
        glibc = None
    if not glibc or any(k.startswith("MALLOC_") or k.startswith("GLIBC_TUNABLES") for k in os.environ):
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD))
    except (OSError, AttributeError):
        return False


def run_command(fn: Callable[[], dict | None]) -> None:
    """Run a command body: report outputs, turn errors into messages and exit codes.

    Exit codes: 0 done, 2 a user error (GeoprospectError), 1 an unexpected failure,
    130 interrupted (SIGINT/SIGTERM; temporary outputs removed).
    """
    try:
        outputs = fn() or {}
    except GeoprospectError as exc:
        progress.emit({"type": "error", "message": str(exc)})
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        progress.emit({"type": "error", "message": "interrupted: no partial output was kept"})
        click.echo("Interrupted: no partial output was kept.", err=True)
        sys.exit(130)
    except click.exceptions.Exit:
        raise
    except Exception as exc:  # a bug: say so, with the traceback in the log
        progress.emit({"type": "error", "message": f"unexpected error: {type(exc).__name__}: {exc}"})
        click.echo(f"Unexpected error (please report it): {type(exc).__name__}: {exc}", err=True)
        log.debug("%s", traceback.format_exc())
        if log.isEnabledFor(logging.DEBUG):
            traceback.print_exc()
        sys.exit(1)
    outputs = {k: str(v) for k, v in outputs.items()}
    progress.emit({"type": "result", "outputs": outputs})
    if progress.get_mode() != "json":
        for k, v in outputs.items():
            click.echo(f"{k}: {v}")


def main() -> None:
    """Console-script entry point (and ``python -m geoprospect``): the command, then a quick exit."""
    try:
        cli(prog_name="geoprospect")
    except SystemExit as exc:
        code = exc.code
        if code is not None and not isinstance(code, int):
            click.echo(code, err=True)
            code = 1
        exit_now(code or 0)


def exit_now(code: int) -> None:
    """End the process once the command is done, without tearing the interpreter down.

    The atexit handlers run (logging flushed, weakref finalizers: scratch folders removed, a
    dask cluster closed) and stdout/stderr are flushed; what is skipped is the destruction of
    every module and object, which took ~0.25 s after an evidence command (numba/LLVM, GDAL,
    scipy; measured on the 3,072² x 8 `interpolate`: 4.34 s -> 4.15 s). With a non-daemon thread
    still running, the normal shutdown (which joins it) is kept.
    """
    import atexit
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)

