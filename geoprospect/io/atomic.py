"""Atomic outputs: write to a temporary name beside the target, rename when complete.

A run killed at any moment leaves either the previous file or the new one, never a
half-written output (DESIGN.md decision 9).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

from geoprospect.errors import OutputError


def _explain(exc: OSError, path: Path) -> OutputError:
    if exc.errno == errno.ENOSPC:
        return OutputError("the disk is full", path=path, hint="free some space or choose another output folder; earlier outputs were kept")
    if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return OutputError("the output folder is not writable", path=path, hint="choose a folder you can write to; earlier outputs were kept")
    return OutputError(f"cannot write ({exc})", path=path)


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the same folder as ``final``; rename it on success.

    The temporary name keeps the suffix (drivers choose formats from it). On any error the
    temporary file is removed and ``final`` is untouched.
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
        os.replace(tmp_path, final)
    except OSError as exc:
        _cleanup(tmp_path)
        raise _explain(exc, final) from exc
    except BaseException:
        _cleanup(tmp_path)
        raise


def _cleanup(tmp: Path) -> None:
    for p in (tmp, Path(str(tmp) + ".aux.xml"), Path(str(tmp) + ".ovr")):
        with contextlib.suppress(OSError):
            p.unlink()


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
