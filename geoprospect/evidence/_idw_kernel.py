"""The per-cell IDW arithmetic on CPU, compiled with numba: every cell of a chunk against the
chunk's candidate samples (see :mod:`geoprospect.evidence.idw` for the chunks and candidates).

Written by hand, and compiled, because it must be faster than array code: the vectorised numpy
version materialised (cells x candidates) arrays for d², the k-th smallest (``np.partition``,
a third of its time), the selection mask and the weights — about 290 ns per cell on one core at
the papers' scale (k = 12, ~23-27 candidates). Here each cell keeps its k smallest d² in a
max-heap and sums its selected samples straight into the output: 121 ns per cell (8 elements,
one core; a sorted insertion buffer took 245 ns). The arithmetic is the
same float operations in the same precision: d² = (ox - rx)² + (oy - ry)² (relative to the chunk
centre), the k-th smallest d² (ties: every sample at that distance is used), capped at r²,
weights 1 / (d² + s²)^(p/2); only the summation order of Σ w·z differs (last-bit float64
differences, invisible after the float32 output's rounding).

The function releases the GIL (``nogil``), so the caller's threads run it in parallel, and is
cached on disk by numba (``cache=True``): the first call after installation compiles it (a few
seconds, once), later processes load it.
"""

from __future__ import annotations

import warnings

import numba
import numpy as np


def _compiled(**options):
    """``numba.njit(nogil=True, cache=True, **options)``; without the on-disk cache where numba
    finds no writable place for it (a read-only install and home): compiled in every process then."""

    def wrap(fn):
        try:
            return numba.njit(nogil=True, cache=True, **options)(fn)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available"
            warnings.warn(f"IDW kernel not cached on disk ({exc}); set NUMBA_CACHE_DIR to a writable folder", RuntimeWarning, stacklevel=2)
            return numba.njit(nogil=True, **options)(fn)

    return wrap


@_compiled(error_model="numpy")
def idw_chunks(chunk_ids, starts, counts, flat, pts, vals, centres, ox, oy, nx, height, width, k, consts, min_points, out, bands):  # pragma: no cover - compiled
    """IDW of the cells of chunks ``chunk_ids`` into ``out[bands]`` ((E_all, height, width) float32).

    chunk_ids (B,) int64, chunk t = chunk-row t // nx, chunk-col t % nx; its candidates are
    ``flat[starts[t] : starts[t] + counts[t]]`` (indices into pts (n, 2) float64 local map
    coordinates and vals (n, E) in the working precision); centres (T, 2) float64 chunk centres;
    ox (cc,), oy (cr,) cell-centre offsets from the chunk centre (working precision); k: at most
    k nearest (k <= 0: all); consts: [r², s², -power / 2, 1] in the working precision (float32
    or float64, so that all arithmetic stays in it; r² = inf: no radius; s: smoothing). Cells
    with fewer than min_points samples, or none, are NaN; cells on a sample come out NaN (1/0):
    the caller sets them.
    """
    cr, cc, n_el = oy.shape[0], ox.shape[0], vals.shape[1]
    cmax = 1
    for t in chunk_ids:
        cmax = max(cmax, counts[t])
    rel = np.empty((2, cmax), dtype=ox.dtype)  # candidates relative to the chunk centre
    dy2 = np.empty(cmax, dtype=ox.dtype)
    d2 = np.empty(cmax, dtype=ox.dtype)
    v = np.empty((cmax, n_el), dtype=vals.dtype)
    work = np.empty(max(k, 1) + n_el, dtype=ox.dtype)  # the cell's heap, then its sums
    for t in chunk_ids:
        c = _gather(flat[starts[t] : starts[t] + counts[t]], pts, vals, centres[t], rel, v)
        ty, tx = t // nx, t % nx
        for a in range(min(cr, height - ty * cr)):
            for j in range(c):
                q = oy[a] - rel[1, j]
                dy2[j] = q * q
            for b in range(min(cc, width - tx * cc)):
                for j in range(c):
                    q = ox[b] - rel[0, j]
                    d2[j] = q * q + dy2[j]
                _weighted_mean(d2, v, c, k, consts, min_points, work, out, bands, ty * cr + a, tx * cc + b)


@_compiled(inline="always")
def _gather(cand, pts, vals, centre, rel, v):  # pragma: no cover - compiled
    """The chunk's candidates, nearest to its centre first (so the first k seed each cell's
    heap well and later ones rarely enter it): positions relative to the centre (the difference
    in float64, then the working precision) and values. Returns their number."""
    c = cand.shape[0]
    dc = np.empty(c)
    for j in range(c):
        dc[j] = (pts[cand[j], 0] - centre[0]) ** 2 + (pts[cand[j], 1] - centre[1]) ** 2
    order = np.argsort(dc)
    for jj in range(c):
        i = cand[order[jj]]
        rel[0, jj] = pts[i, 0] - centre[0]
        rel[1, jj] = pts[i, 1] - centre[1]
        for e in range(vals.shape[1]):
            v[jj, e] = vals[i, e]
    return c


@_compiled(error_model="numpy", inline="always")
def _weighted_mean(d2, v, c, k, consts, min_points, work, out, bands, row, col):  # pragma: no cover - compiled
    """One cell from its d² to the c candidates: the k-th smallest d² capped at r² is the
    threshold (every sample at or within it is used), weights 1 / (d² + s²)^(p/2)."""
    r2, s2, ep, one = consts[0], consts[1], consts[2], consts[3]
    thr = r2
    if 0 < k < c:
        # a max-heap of the k smallest d² seen: seeded with the first k, then its top (the k-th
        # smallest so far) is replaced by any smaller one
        for j in range(k):
            work[j] = d2[j]
        for s in range(k // 2 - 1, -1, -1):
            _sift_down(work, s, k)
        for j in range(k, c):
            if d2[j] < work[0]:
                work[0] = d2[j]
                _sift_down(work, 0, k)
        thr = min(work[0], r2)
    n_el, o = v.shape[1], max(k, 1)
    for e in range(n_el):
        work[o + e] = 0
    den = one - one
    n_sel = 0
    for j in range(c):
        if d2[j] <= thr:
            d = d2[j] + s2
            w = one / d if ep == -one else d**ep  # 1/d (exact) for power 2, as gdal_grid
            den += w
            n_sel += 1
            for e in range(n_el):
                work[o + e] += w * v[j, e]
    empty = den <= 0 or n_sel < min_points
    for e in range(n_el):
        out[bands[e], row, col] = np.nan if empty else work[o + e] / den


@_compiled(inline="always")
def _sift_down(h, s, n):  # pragma: no cover - compiled
    """Restore the max-heap h[:n] below position s."""
    x = h[s]
    while True:
        c = 2 * s + 1
        if c >= n:
            break
        if c + 1 < n and h[c + 1] > h[c]:
            c += 1
        if h[c] <= x:
            break
        h[s] = h[c]
        s = c
    h[s] = x
