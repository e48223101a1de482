"""Atomic outputs: write to a temporary name beside the target, rename when complete.

A run killed at any moment leaves either the previous file or the new one, never a
half-written output (DESIGN.md decision 9).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from geoprospect.errors import OutputError

log = logging.getLogger(__name__)

#: Temporary names are ``.<stem>.<8 random chars>.tmp<suffix>`` (+ driver side files such as
#: ``-journal``, ``.aux.xml``): hidden, clearly marked, and removed by :func:`remove_stale_temps`.
TEMP_RE = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[^/]*)?$")
_SIDE_FILES = ("", ".aux.xml", ".ovr", "-journal", "-wal", "-shm")
_FULL = ("no space left on device", "disk full", "not enough space", "file too large")
_READONLY = ("read-only file system", "permission denied")


def _explain(exc: BaseException, path: Path) -> OutputError | None:
    """Turn an OS-level write failure (raised by Python or by a GDAL/SQLite driver) into an
    :class:`OutputError`; None when ``exc`` is not one."""
    code = getattr(exc, "errno", None)
    text = str(exc).lower()
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or any(t in text for t in _FULL):
        return OutputError("the disk is full", path=path, hint="free some space or choose another output folder; earlier outputs were kept")
    if code in (errno.EACCES, errno.EROFS, errno.EPERM) or any(t in text for t in _READONLY):
        return OutputError("the output folder is not writable", path=path, hint="choose a folder you can write to; earlier outputs were kept")
    if isinstance(exc, OSError):
        return OutputError(f"cannot write ({exc})", path=path)
    return None


def _disk_full(folder: Path, margin: int = 16 * 1024) -> bool:
    """True when the file system holding ``folder`` has (almost) no space left.

    GDAL drivers report a full disk as a generic write error, and libtiff only prints
    "No space left on device" without failing the write (a truncated GeoTIFF would then be
    renamed into place): this check catches both.
    """
    try:
        return shutil.disk_usage(folder).free < margin
    except OSError:
        return False


@contextlib.contextmanager
def atomic_path(final: str | Path, verify: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield a temporary path in the same folder as ``final``; rename it on success.

    The temporary name keeps the suffix (drivers choose formats from it). On any error the
    temporary file is removed and ``final`` is untouched. Before the rename the disk is
    checked (a full disk means the writer may have silently lost data) and ``verify(tmp)``,
    when given, may read the file back and raise.
    """
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}", dir=final.parent)
        os.close(fd)
        os.unlink(tmp)  # drivers (GDAL, SQLite) want to create the file themselves
    except OSError as exc:
        raise _explain(exc, final) from exc
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if not tmp_path.exists():
            raise OutputError("the writer finished without creating its output", path=final)
        if _disk_full(final.parent):
            raise OSError(errno.ENOSPC, "No space left on device (found after writing)")
        if verify is not None:
            verify(tmp_path)
        os.replace(tmp_path, final)
    except OutputError:
        _cleanup(tmp_path)
        raise
    except Exception as exc:
        full = _disk_full(final.parent)
        _cleanup(tmp_path)
        err = _explain(exc, final)
        if full and (err is None or "disk" not in err.reason):
            err = OutputError("the disk is full", path=final, hint="free some space or choose another output folder; earlier outputs were kept")
        if err is None:
            raise
        raise err from exc
    except BaseException:
        _cleanup(tmp_path)
        raise
    _cleanup_side_files(tmp_path)


def _cleanup(tmp: Path) -> None:
    for side in _SIDE_FILES:
        with contextlib.suppress(OSError):
            Path(str(tmp) + side).unlink()


def _cleanup_side_files(tmp: Path) -> None:
    for side in _SIDE_FILES[1:]:
        with contextlib.suppress(OSError):
            Path(str(tmp) + side).unlink()


def is_temp_name(name: str) -> bool:
    """True for names made by :func:`atomic_path` (and their driver side files)."""
    return bool(TEMP_RE.match(name))


def remove_stale_temps(folder: str | Path, *, recursive: bool = True) -> list[Path]:
    """Remove temporary files left in ``folder`` by a killed run; returns what was removed.

    Only names made by :func:`atomic_path` are touched (``.<stem>.<random>.tmp<suffix>``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.rglob(".*") if recursive else folder.glob(".*")
    removed = []
    for p in sorted(found):
        if p.is_file() and is_temp_name(p.name):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run in %s", len(removed), folder)
    return removed


def write_text(final: str | Path, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(final)


def write_json(final: str | Path, obj: object) -> Path:
    """Write a JSON file atomically (indented, UTF-8)."""
    return write_text(final, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o: object) -> object:
    import numpy as np

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
