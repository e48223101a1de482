"""Square-ish chunks of a grid, for "candidate set per chunk" computations.

IDW, distance and density all evaluate, for every cell centre, a function of a few nearby
features (samples, segments). The cell centres form a regular lattice, so instead of one
spatial-index query per cell (9.4 M queries at 3072 x 3072), the grid is cut into chunks of a
few dozen cells; one index query per chunk gives a candidate set that provably contains
every feature any cell of the chunk can need, and the per-cell work becomes dense,
vectorised arithmetic on (chunks, cells, candidates) arrays. Coordinates inside a chunk are
relative to the chunk centre (well conditioned even for UTM northings).

(Not the window tiling of :mod:`geoprospect.windows.tiling`, nor the blocks of
:mod:`geoprospect.stack.blocks`: chunks are a few dozen cells, inside one evidence call.)
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from geoprospect.grid import GridSpec


@dataclass(frozen=True)
class CellChunks:
    """A grid cut into ``ny x nx`` chunks of ``cr x cc`` cells (the last ones padded).

    Coordinates are "local": map coordinates minus the grid's upper-left corner.
    """

    grid: GridSpec
    cr: int
    cc: int

    @property
    def ny(self) -> int:
        return -(-self.grid.height // self.cr)

    @property
    def nx(self) -> int:
        return -(-self.grid.width // self.cc)

    @property
    def n_chunks(self) -> int:
        return self.ny * self.nx

    @property
    def half_diagonal(self) -> float:
        """Largest distance (map units) from a chunk centre to one of its cell centres."""
        xres, yres = self.grid.res
        return 0.5 * float(np.hypot((self.cc - 1) * xres, (self.cr - 1) * yres))

    def centres(self) -> np.ndarray:
        """(n_chunks, 2) local coordinates of chunk centres, chunk-row-major."""
        xres, yres = self.grid.res
        cx = (np.arange(self.nx) * self.cc + self.cc / 2.0) * xres
        cy = -(np.arange(self.ny) * self.cr + self.cr / 2.0) * yres
        xx, yy = np.meshgrid(cx, cy)
        return np.column_stack([xx.ravel(), yy.ravel()])

    def cell_offsets(self) -> np.ndarray:
        """(cr*cc, 2) offsets of a chunk's cell centres from the chunk centre, row-major."""
        xres, yres = self.grid.res
        ox = (np.arange(self.cc) + 0.5 - self.cc / 2.0) * xres
        oy = -(np.arange(self.cr) + 0.5 - self.cr / 2.0) * yres
        xx, yy = np.meshgrid(ox, oy)
        return np.column_stack([xx.ravel(), yy.ravel()])

    def scatter(self, out: np.ndarray, ids: np.ndarray, res: np.ndarray, bands: list[int]) -> None:
        """Write per-chunk results ``res`` (B, cr*cc, E) of chunks ``ids`` into ``out[bands]`` ((.., rows, cols))."""
        h, w = self.grid.height, self.grid.width
        nyf, nxf = h // self.cr, w // self.cc
        ty, tx = np.divmod(np.asarray(ids), self.nx)
        full = (ty < nyf) & (tx < nxf)
        blocks = res.reshape(-1, self.cr, self.cc, res.shape[-1]).transpose(0, 3, 1, 2)  # (B, E, cr, cc)
        contiguous = list(bands) == list(range(bands[0], bands[0] + len(bands)))
        if full.any():
            groups = [(slice(bands[0], bands[0] + len(bands)), slice(None))] if contiguous else [(b, j) for j, b in enumerate(bands)]
            for band, j in groups:
                view = out[band, : nyf * self.cr, : nxf * self.cc]
                view = view.reshape(view.shape[:-2] + (nyf, self.cr, nxf, self.cc))
                if view.ndim == 5:
                    view[:, ty[full], :, tx[full], :] = blocks[full][:, j]
                else:
                    view[ty[full], :, tx[full], :] = blocks[full][:, j]
        for b in np.flatnonzero(~full):  # partial chunks on the right/bottom edge
            r0, c0 = ty[b] * self.cr, tx[b] * self.cc
            hh, ww = min(self.cr, h - r0), min(self.cc, w - c0)
            out[bands, r0 : r0 + hh, c0 : c0 + ww] = blocks[b, :, :hh, :ww]

    def unchunk(self, chunks):
        """(n_chunks, cr*cc, E) per-chunk results -> (E, height, width) raster.

        ``chunks`` is a numpy array or a torch tensor (on any device); the result is of the same
        kind, a view cropped to the grid (not necessarily contiguous).
        """
        e = chunks.shape[-1]
        t = chunks.reshape(self.ny, self.nx, self.cr, self.cc, e)
        t = t.permute(4, 0, 2, 1, 3) if hasattr(t, "permute") else t.transpose(4, 0, 2, 1, 3)
        return t.reshape(e, self.ny * self.cr, self.nx * self.cc)[:, : self.grid.height, : self.grid.width]


def _pick(n: int, target: float, lo: int, hi: int) -> int:
    """A chunk size near ``target`` cells, preferring one that divides ``n`` (no partial chunks)."""
    t = int(np.clip(round(target), lo, hi))
    if t >= n:
        return n
    divs = [d for d in range(max(lo, int(t / 1.4)), min(hi, int(t * 1.4)) + 1) if n % d == 0]
    return min(divs, key=lambda d: abs(d - t)) if divs else t


def chunks_for(grid: GridSpec, side: float, *, lo: int = 4, hi: int = 64) -> CellChunks:
    """Chunks about ``side`` map units on a side (``lo``..``hi`` cells), square in map units."""
    xres, yres = grid.res
    return CellChunks(grid, _pick(grid.height, side / yres, lo, hi), _pick(grid.width, side / xres, lo, hi))


def csr_from_lists(cands: list) -> tuple[np.ndarray, np.ndarray]:
    """A list of index lists -> (counts, flat) (compressed rows)."""
    counts = np.fromiter(map(len, cands), dtype=np.int64, count=len(cands))
    flat = np.fromiter(itertools.chain.from_iterable(cands), dtype=np.int64, count=int(counts.sum()))
    return counts, flat


def padded_batches(counts: np.ndarray, flat: np.ndarray, fill: int, max_elems: int, per_row: int):
    """Group chunks with similar candidate counts; yield (chunk_ids, (B, C) index array padded with ``fill``).

    ``counts[t]`` candidates of chunk t are ``flat[starts[t] : starts[t] + counts[t]]``.
    ``per_row`` is the number of array elements one candidate costs per chunk (cells per
    chunk); a batch holds about ``max_elems`` (B * per_row * C) elements at most.
    """
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    order = np.argsort(counts, kind="stable")
    sorted_counts = counts[order]
    i = 0
    n = len(order)
    while i < n:
        c_min = max(int(sorted_counts[i]), 1)
        # a batch spans counts up to 25 % (+4) above its first chunk's, so padding stays small
        hi = int(np.searchsorted(sorted_counts, 1.25 * c_min + 4, side="right"))
        width = max(int(sorted_counts[min(hi, n) - 1]), 1)
        b = max(1, max_elems // (per_row * width))
        j = max(i + 1, min(n, i + b, hi))
        ids = order[i:j]
        width = max(int(sorted_counts[j - 1]), 1)
        cnt = counts[ids]
        pos = starts[ids][:, None] + np.arange(width)[None, :]
        mask = np.arange(width)[None, :] < cnt[:, None]
        idx = np.where(mask, flat[np.where(mask, pos, 0)] if flat.size else fill, fill)
        yield ids, idx
        i = j


def default_workers() -> int:
    """Threads for the dense kernels (numpy releases the GIL in its array loops)."""
    return max(1, min(os.cpu_count() or 1, 8))


def run_batches(batches, work, workers: int, on_done=None) -> None:
    """Call ``work(ids, idx)`` for every batch, on ``workers`` threads; ``on_done(n_chunks)`` after each.

    Each call writes its own chunks (disjoint parts of the output), so no locking is
    needed for the results; at most ``workers`` batches are in memory at a time.
    """
    lock = threading.Lock()

    def task(batch):
        work(*batch)
        if on_done is not None:
            with lock:
                on_done(len(batch[0]))

    if workers <= 1:
        for batch in batches:
            task(batch)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = []
        for batch in batches:
            pending.append(pool.submit(task, batch))
            if len(pending) >= 2 * workers:
                pending.pop(0).result()
        for f in pending:
            f.result()


def row_reporter(progress, height: int, n_chunks: int):
    """``on_done`` for run_batches: turns finished chunks into rows for ``progress(rows)``."""
    if progress is None:
        return None
    state = [0, 0]

    def on_done(n: int) -> None:
        state[0] += n
        rows = height * state[0] // n_chunks
        if rows > state[1]:
            progress(rows - state[1])
            state[1] = rows

    return on_done


def by_chunk(pairs: np.ndarray) -> np.ndarray:
    """(2, P) (chunk, feature) pairs from an STRtree query, sorted by chunk (a no-op when they are)."""
    if pairs.shape[1] > 1 and np.any(np.diff(pairs[0]) < 0):
        pairs = pairs[:, np.argsort(pairs[0], kind="stable")]
    return pairs
