"""Where training windows read their pixels from: memory, or a memory map when the stack is too big.

Windows overlap (stride < size), so the z-scored *stack* is held once and windows are views
into it. A stack whose float32 pixels exceed the memory budget is copied strip by strip into
disk-backed ``np.memmap`` files in a scratch folder (raw and z-scored), and the operating
system pages windows in as training touches them: the process never holds the whole map.
"""

from __future__ import annotations

import logging
import os
import shutil
import weakref
from pathlib import Path
from typing import Sequence

import numpy as np

from geoprospect.errors import ConfigError
from geoprospect.io.rasters import Stack, read_stack, stack_nbytes
from geoprospect.windows.dataset import normalise

log = logging.getLogger(__name__)

SCRATCH = ".scratch"  # folder (inside an output folder) for memory maps; removed when done


def memory_budget_mb(memory_mb: float | None = None) -> float:
    """The budget for holding a stack in memory: ``memory_mb``, or a quarter of the RAM available now."""
    if memory_mb is not None:
        if not memory_mb > 0:
            raise ConfigError(f"memory budget must be a positive number of MiB, got {memory_mb}")
        return float(memory_mb)
    return available_memory_mb() / 4


def available_memory_mb() -> float:
    """RAM available to new work (Linux MemAvailable; elsewhere free pages, else 16 GiB)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 16384.0


class WindowSource:
    """A stack and its z-scored pixels, in memory or memory-mapped under ``scratch``.

    ``norm`` is computed on first use (a resumed run that skips training never pays for it)
    and can be dropped after training (:meth:`drop_norm`). Use as a context manager (or call
    :meth:`close`): the memory-map files are removed, also if the process fails.
    """

    def __init__(self, stack: Stack, mean: Sequence[float], std: Sequence[float], scratch: Path | None = None) -> None:
        self.stack = stack
        self.mean = list(mean)
        self.std = list(std)
        self.scratch = scratch
        self._norm: np.ndarray | None = None
        # the memory maps go also when the run fails or the interpreter exits
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(scratch), True) if scratch is not None else None

    @property
    def mapped(self) -> bool:
        return self.scratch is not None

    @property
    def norm(self) -> np.ndarray:
        """(bands, rows, cols) float32 z-scores, NaN -> 0 (an ``np.memmap`` when mapped)."""
        if self._norm is None:
            out = None
            if self.scratch is not None:
                out = np.memmap(self.scratch / "norm.f32", dtype=np.float32, mode="w+", shape=self.stack.data.shape)
            self._norm = normalise(self.stack.data, self.mean, self.std, out=out)
            if isinstance(self._norm, np.memmap):
                self._norm.flush()
        return self._norm

    def drop_norm(self) -> None:
        """Free the z-scored copy (training is done)."""
        self._norm = None
        if self.scratch is not None:
            (self.scratch / "norm.f32").unlink(missing_ok=True)

    def close(self) -> None:
        self._norm = None
        if self.scratch is not None:
            self.stack.data = np.empty((0, 0, 0), dtype=np.float32)  # drop the mapping before its file
            if self._cleanup is not None:
                self._cleanup()
            self.scratch = None

    def __enter__(self) -> "WindowSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_windows_source(
    stack_path: str | Path,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    memory_mb: float | None = None,
    scratch_dir: str | Path | None = None,
) -> WindowSource:
    """Read a stack GeoTIFF for window datasets (z-scores computed on first use of ``.norm``).

    Args:
        stack_path: the stack GeoTIFF.
        mean, std: per-band statistics (default: the stack's own STATISTICS_* tags).
        memory_mb: memory budget; a stack whose raw + z-scored float32 copies exceed it is
            memory-mapped (default: a quarter of the RAM available now).
        scratch_dir: folder for the memory maps (default: ``.scratch`` beside the stack).
    """
    stack_path = Path(stack_path)
    need_mb = 2 * stack_nbytes(stack_path) / 2**20  # raw + z-scored
    budget = memory_budget_mb(memory_mb)
    if need_mb <= budget:
        stack = read_stack(stack_path)
        return WindowSource(stack, *_stats(stack, mean, std))
    scratch = Path(scratch_dir) if scratch_dir is not None else stack_path.parent / SCRATCH
    scratch.mkdir(parents=True, exist_ok=True)
    log.info("stack needs %.0f MiB in memory (budget %.0f MiB): memory-mapping it under %s", need_mb, budget, scratch)
    try:
        stack = read_stack(stack_path, memmap=scratch / "stack.f32")
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return WindowSource(stack, *_stats(stack, mean, std), scratch=scratch)


def _stats(stack: Stack, mean, std) -> tuple[list[float], list[float]]:
    m, s = stack.moments()
    return list(mean) if mean is not None else m, list(std) if std is not None else s
