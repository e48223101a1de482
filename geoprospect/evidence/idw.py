"""Inverse distance weighting with the semantics of ``gdal_grid -a invdistnn``.

For each cell centre, the ``neighbors`` nearest samples within ``radius`` (``d² <= r²``) get
weights ``1 / (d² + smoothing²)^(power/2)``; a cell with fewer than ``min_points`` such
samples (or none) is NaN; a sample with ``d² + smoothing² < 1e-13`` gives its value
directly. ``neighbors=None`` uses every sample (within ``radius`` if given): the papers'
formula ``Σ wᵢ zᵢ / Σ wᵢ`` over all N samples.

Every element shares the sample locations, so one neighbour search serves all elements
with the same missing-value pattern (DESIGN.md decision 4).

How it is fast (and still exact): cell centres form a regular lattice, so the grid is cut
into small chunks (see ``_chunks``). For each chunk centre c, a k-d tree gives d_k(c), the
distance to its k-th nearest sample. Any cell x of the chunk lies within h (the chunk's
half-diagonal) of c, so x has k samples within d_k(c) + h, and every sample x needs lies
within min(radius, d_k(c) + h) + h of c. One ball query per chunk therefore yields a
candidate set that contains every cell's exact neighbour set; the rest is per-cell arithmetic
over the chunk's candidates: squared distances, the k-th smallest, weights and the weighted
means of all elements, in a compiled kernel on CPU (:mod:`geoprospect.evidence._idw_kernel`,
numba, on all cores) or as dense (chunks, cells, candidates) arrays on a torch device (CUDA when
present). Arithmetic is float64 relative to each chunk's centre (DESIGN.md pitfall on large
projected coordinates; float32 is an option).

Ties: when several samples are exactly as far as the k-th nearest, all of them are used
(gdal_grid keeps whichever its quadtree met first); results then differ from gdal_grid only
at such cells, where the choice is arbitrary anyway.
"""

from __future__ import annotations

import logging
import sys
from typing import Callable, Sequence

import numpy as np

from geoprospect.errors import ConfigError, InputError
from geoprospect.evidence._chunks import chunks_for, csr_from_lists, default_workers, padded_batches, run_batches
from geoprospect.grid import GridSpec

log = logging.getLogger(__name__)

_EXACT_D2 = 1e-13  # gdal_grid's threshold for "sample on the node"
_BATCH_ELEMS = 1_000_000  # torch on CPU: cells x candidates per batch, 4-8 MB per temporary (cache-sized)
_BATCH_ELEMS_GPU = 32_000_000  # few, large batches: launch and transfer overheads dominate on a GPU
_CHUNK_FACTOR = 0.35  # chunk side as a fraction of the typical k-th neighbour distance


def idw(
    xy: np.ndarray,
    values: np.ndarray,
    grid: GridSpec,
    *,
    power: float = 2.0,
    neighbors: int | None = 12,
    radius: float | None = None,
    min_points: int = 1,
    smoothing: float = 0.0,
    block_rows: int = 256,
    progress: Callable[[int], None] | None = None,
    backend: str = "auto",
    device: str | None = None,
    names: Sequence[str] | None = None,
    require_inside: bool = True,
    batch_elems: int | None = None,
    precision: str = "float64",
    workers: int | None = None,
) -> np.ndarray:
    """Interpolate point values onto ``grid`` cell centres (gdal_grid ``invdistnn`` semantics).

    Args:
        xy: (N, 2) sample coordinates in the grid's CRS (map units). Samples outside the
            grid are used (they inform cells near the edge); at least one must lie inside unless
            ``require_inside`` is False (blocks of a larger map, single-cell predictions).
        values: (N,) or (N, E) sample values; NaN = not analysed (that sample is skipped
            for that element).
        grid: target grid.
        power: distance exponent (> 0).
        neighbors: at most this many nearest samples (None = all samples: the papers' formula).
        radius: search radius in map units (None = unlimited).
        min_points: fewer neighbours than this within the radius gives NaN.
        smoothing: smoothing distance added in quadrature (map units).
        block_rows: kept for backward compatibility (memory: ``batch_elems`` on torch, a few
            candidate lists per thread on cpu).
        progress: called with a number of rows finished (summing to the grid height).
        backend: "cpu" (the compiled kernel; "numpy" is accepted as its former name), "torch"
            or "auto": torch when ``device`` names a CUDA device, or when torch is already
            imported and sees CUDA; cpu otherwise.
        device: torch device for the torch backend (default "cuda" if available, else "cpu").
        names: element names, used in error messages only.
        batch_elems: torch backend: cells x candidates per batch (bounds memory: ~8 bytes
            each, a few times). Default: 1 M on CPU, 32 M on a CUDA device. The cpu kernel
            needs no batches (its memory is a few candidate lists per thread).
        precision: "float64" (default) or "float32" for the per-cell arithmetic. Both work on
            coordinates relative to a chunk centre (< a few km). float64 reproduces gdal_grid
            at every cell (to the float32 output's rounding). float32 keeps distances to
            ~0.1 mm, but where two samples are within that of the k-th neighbour distance (or
            of the radius) it may pick the other one: measured at
            3072 x 3072, 6 of 9.4 M cells differed from gdal_grid by up to 2 %.
        workers: threads for the cpu kernel (default: CPU count, at most 8).

    Returns:
        (E, rows, cols) float32 array, NaN where undefined.

    Raises:
        InputError: no samples, non-finite coordinates, no sample inside the grid, shape
            mismatch, or an element whose values are all equal (a constant layer).
        ConfigError: invalid power, neighbors, radius, min_points, smoothing or backend.
    """
    _check_params(power, neighbors, radius, min_points, smoothing, backend)
    if precision not in ("float32", "float64"):
        raise ConfigError(f"IDW precision must be 'float32' or 'float64', got {precision!r}")
    xy, vals = _checked_inputs(xy, values, grid, names, require_inside)
    use_torch = _resolve_backend(backend, device)
    if batch_elems is None:
        on_gpu = use_torch and (device or "").startswith("cuda") or (use_torch and device is None and _cuda())
        batch_elems = _BATCH_ELEMS_GPU if on_gpu else _BATCH_ELEMS

    # local origin: keeps float arithmetic well conditioned for large projected coordinates
    local = xy - np.array([grid.transform.c, grid.transform.f])
    settings = (power, neighbors, radius, min_points, smoothing, use_torch, device, batch_elems, precision, workers or default_workers())
    return _idw_groups(local, vals, grid, progress, settings)


def _idw_groups(local: np.ndarray, vals: np.ndarray, grid: GridSpec, progress, settings: tuple) -> np.ndarray:
    """IDW of every element column of ``vals`` at grid-local points -> (E, rows, cols) float32;
    one neighbour search per missing-value pattern. ``settings``: _idw_group's parameters."""
    n_el = vals.shape[1]
    masks = np.isfinite(vals)
    out = np.empty((n_el, grid.height, grid.width), dtype=np.float32)  # every cell is written
    # group elements by missing-value pattern: one neighbour search per group
    groups: dict[bytes, list[int]] = {}
    for e in range(n_el):
        groups.setdefault(np.packbits(masks[:, e]).tobytes(), []).append(e)
    n_groups = len(groups)
    report = _row_reporter(progress, grid.height, n_groups)
    for gi, el_idx in enumerate(groups.values()):
        keep = masks[:, el_idx[0]]
        if not keep.any():
            log.warning("element(s) %s have no values: left empty", el_idx)
            out[el_idx] = np.nan
            report(gi, 1.0)
            continue
        _idw_group(local[keep], vals[keep][:, el_idx], grid, out, el_idx, *settings, lambda frac, gi=gi: report(gi, frac))
    return out


def _checked_inputs(xy, values, grid: GridSpec, names, require_inside: bool) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) float64 coordinates and (N, E) float64 values, checked (InputError naming the problem)."""
    xy = np.asarray(xy, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim == 1:
        vals = vals[:, None]
    if xy.ndim != 2 or xy.shape[1] != 2 or vals.ndim != 2 or vals.shape[0] != xy.shape[0]:
        raise InputError(f"sample coordinates {xy.shape} and values {vals.shape} do not match",
                         hint="give xy as (N, 2) and values as (N,) or (N, E)")
    if xy.shape[0] == 0:
        raise InputError("no sample points to interpolate", hint="check the point layer and its filters")
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        raise InputError("sample coordinates are not finite", row=int(np.flatnonzero(bad)[0]),
                         hint="drop rows without coordinates before interpolating")
    # a whole map with no sample on it is a CRS or column mistake; a block of a map, or the
    # single cell of a leave-one-out prediction, legitimately has none (require_inside=False)
    if require_inside:
        check_samples_inside(xy, grid, grid.contains(xy[:, 0], xy[:, 1]))
    check_varying(vals, names)
    return xy, vals


def check_varying(values: np.ndarray, names: Sequence[str] | None = None, *, path: object = None,
                  hint: str = "drop this element (it carries no evidence) or check its parsing") -> None:
    """InputError naming the first element column of ``values`` ((N, E)) with a single distinct
    value: its interpolated layer would be constant. ``hint``: the caller's way to drop it."""
    masks = np.isfinite(values)
    for e in range(values.shape[1]):
        v = values[masks[:, e], e]
        if v.size and np.all(v == v[0]):
            name = f"element {names[e]!r}" if names is not None else f"element column {e}"
            raise InputError(f"{name} has a single distinct value ({v[0]:g}) over {v.size} samples: its layer would be constant", path=path, hint=hint)


def check_samples_inside(xy: np.ndarray, grid: GridSpec, inside: np.ndarray, *, path: object = None) -> None:
    """InputError when none of the (N, 2) samples ``xy`` (grid CRS) lies inside ``grid``
    (``inside``: their (N,) grid.contains): a CRS or column mistake. ``path`` names the file."""
    if inside.any():
        return
    xmin, ymin, xmax, ymax = grid.bounds
    raise InputError(
        f"none of the {xy.shape[0]} samples lies inside the grid ({xmin:.6g}, {ymin:.6g}, {xmax:.6g}, {ymax:.6g}); samples span "
        f"x {xy[:, 0].min():.6g}..{xy[:, 0].max():.6g}, y {xy[:, 1].min():.6g}..{xy[:, 1].max():.6g}",
        path=path, hint="reproject the points to the grid's CRS or check x/y columns (swapped?)",
    )


def _row_reporter(progress, height: int, n_groups: int):
    """Turns (group, fraction done) into increments of rows summing to ``height``."""
    done = [0]

    def report(gi: int, frac: float) -> None:
        if progress is None:
            return
        target = int(height * (gi + frac) / n_groups)
        if target > done[0]:
            progress(target - done[0])
            done[0] = target

    return report


def _check_params(power, neighbors, radius, min_points, smoothing, backend) -> None:
    if not np.isfinite(power) or power <= 0:
        raise ConfigError(f"IDW power must be a positive number, got {power}")
    if neighbors is not None and (int(neighbors) != neighbors or neighbors < 1):
        raise ConfigError(f"IDW neighbors must be a positive integer or None, got {neighbors}")
    if radius is not None and (not np.isfinite(radius) or radius <= 0):
        raise ConfigError(f"IDW radius must be positive (map units) or None, got {radius}")
    if int(min_points) != min_points or min_points < 0:
        raise ConfigError(f"IDW min_points must be a non-negative integer, got {min_points}")
    if neighbors is not None and min_points > neighbors:
        raise ConfigError(f"IDW min_points ({min_points}) exceeds neighbors ({neighbors}): every cell would be empty")
    if not np.isfinite(smoothing) or smoothing < 0:
        raise ConfigError(f"IDW smoothing must be >= 0, got {smoothing}")
    if backend not in ("auto", "cpu", "numpy", "torch"):
        raise ConfigError(f"IDW backend must be 'auto', 'cpu' or 'torch', got {backend!r}")


def _cuda() -> bool:
    """CUDA available, asked of torch only if torch is already imported (importing it takes seconds)."""
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_available())


def _resolve_backend(backend: str, device: str | None) -> bool:
    if backend in ("cpu", "numpy"):
        return False
    if backend == "torch":
        try:
            import torch  # noqa: F401
        except ImportError as exc:  # pragma: no cover - torch is a dependency
            raise ConfigError("backend='torch' needs PyTorch installed") from exc
        return True
    # auto: torch only where it brings a GPU (on CPU the compiled kernel is faster and lighter)
    return bool(device and device.startswith("cuda")) or _cuda()


def _idw_group(pts, vals, grid, out, el_idx, power, neighbors, radius, min_points, smoothing,
               use_torch, device, batch_elems, precision, workers, report) -> None:
    """IDW of the (n, E) values at local (n, 2) points into ``out[el_idx]`` ((E, rows, cols) float32)."""
    n = pts.shape[0]
    k = None if neighbors is None or neighbors >= n else int(neighbors)
    r = np.inf if radius is None else float(radius)
    from scipy.spatial import cKDTree  # here: scipy.spatial costs ~0.2 s to import, which `geoprospect distance` etc. skip

    tree = cKDTree(pts)
    # chunk size: a fraction of the typical k-th neighbour distance (or of the radius),
    # so a chunk's candidate set stays close to k while per-chunk overhead stays small
    span = np.ptp(pts, axis=0)
    area = max(span[0] * span[1], 1e-12, (grid.res[0] * grid.width) * (grid.res[1] * grid.height) * 1e-6)
    d_typ = np.sqrt((k or n) * area / (np.pi * n))
    chunks = chunks_for(grid, _CHUNK_FACTOR * min(d_typ, r))
    h = chunks.half_diagonal
    centres = chunks.centres()
    slack = 1e-9 * (1.0 + h + float(np.abs(pts).max()))  # float rounding of the bounds
    if k is not None:
        dk, _ = tree.query(centres, k=[k], workers=-1)
        cand_r = np.minimum(r, dk[:, 0] + h) + h + slack
    else:
        cand_r = np.full(len(centres), r + h + slack)
    if np.all(np.isinf(cand_r)):
        counts, flat = np.full(len(centres), n), np.tile(np.arange(n), len(centres))
    else:
        counts, flat = csr_from_lists(tree.query_ball_point(centres, cand_r, workers=-1, return_sorted=False))
    offsets = chunks.cell_offsets()
    dtype = np.float64 if precision == "float64" else np.float32
    done = [0]

    def finished(n_chunks):
        done[0] += n_chunks
        report(done[0] / chunks.n_chunks)

    if use_torch:
        # everything after the candidate search stays on the device: samples and chunk centres
        # are uploaded once, each batch sends only its candidate indices, results are kept in
        # a device chunk buffer and copied back once (a host-side gather and scatter cost more
        # than the GPU kernel itself at the papers' scale)
        pts_pad = np.vstack([pts, [np.inf, np.inf]])  # padding sample: infinitely far (never selected), value 0
        vals_pad = np.vstack([vals, np.zeros((1, vals.shape[1]))])
        dev = _TorchDevice(device, dtype, pts_pad, vals_pad, centres, offsets, chunks.n_chunks)
        for ids, idx in padded_batches(counts, flat, n, batch_elems, offsets.shape[0]):
            dev.run(ids, idx, k, r, min_points, smoothing, power)
            finished(len(ids))
        out[el_idx] = dev.raster(chunks)
    else:
        # C-contiguous arrays of one dtype each: one compiled signature per precision (another
        # memory layout would make numba compile, and cache, the kernel once more)
        _cpu_chunks(np.ascontiguousarray(pts, dtype=np.float64), np.ascontiguousarray(vals, dtype=dtype), counts, flat, chunks, np.ascontiguousarray(centres, dtype=np.float64),
                    offsets.astype(dtype), (k, r, min_points, smoothing, power), out, el_idx, workers, finished)
    _fix_on_node(pts, vals, grid, tree, out, el_idx, k, r, min_points, smoothing)


def _fix_on_node(pts, vals, grid, tree, out, el_idx, k, r, min_points, smoothing) -> None:
    """Cells whose centre lies on a sample (d² + s² < 1e-13) take that sample's value (gdal_grid).

    Done exactly, in float64, for the few such cells, so the dense kernel needs no test
    for them (there 1/d² may be inf and the kernel's value NaN).
    """
    xres, yres = grid.res
    col = np.floor(pts[:, 0] / xres).astype(np.int64)
    row = np.floor(-pts[:, 1] / yres).astype(np.int64)
    inside = (row >= 0) & (row < grid.height) & (col >= 0) & (col < grid.width)
    cx = (col + 0.5) * xres
    cy = -(row + 0.5) * yres
    d2 = (pts[:, 0] - cx) ** 2 + (pts[:, 1] - cy) ** 2 + smoothing * smoothing
    on = np.flatnonzero(inside & (d2 < _EXACT_D2))
    if on.size == 0:
        return
    # nearest sample first (gdal_grid walks its neighbours by increasing distance)
    on = on[np.lexsort((on, d2[on]))]
    seen: set[tuple[int, int]] = set()
    for i in on:
        cell = (int(row[i]), int(col[i]))
        if cell in seen:
            continue
        seen.add(cell)
        if min_points > 1:
            n_in = len(tree.query_ball_point([cx[i], cy[i]], r * (1 + 1e-12))) if np.isfinite(r) else len(pts)
            if min(n_in, k if k is not None else n_in) < min_points:
                out[el_idx, cell[0], cell[1]] = np.nan
                continue
        out[el_idx, cell[0], cell[1]] = vals[i]


def _cpu_chunks(pts, vals, counts, flat, chunks, centres, offsets, params, out, el_idx, workers, finished) -> None:
    """The compiled per-cell kernel over every chunk, in row-major runs of chunks on ``workers``
    threads (it releases the GIL); ``vals`` and ``offsets`` are in the working precision."""
    # imported here: numba costs ~0.2 s to import, which the commands without IDW skip
    from geoprospect.evidence._idw_kernel import idw_chunks

    k, r, min_points, smoothing, power = params
    dtype = offsets.dtype.type
    consts = np.array([r * r, smoothing * smoothing, -0.5 * power, 1.0], dtype=dtype)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    counts, flat = np.asarray(counts, dtype=np.int64), np.asarray(flat, dtype=np.int64)
    ox, oy = np.ascontiguousarray(offsets[: chunks.cc, 0]), np.ascontiguousarray(offsets[:: chunks.cc, 1])
    bands = np.asarray(el_idx, dtype=np.int64)
    grid, kk = chunks.grid, -1 if k is None else int(k)

    def work(ids):
        idw_chunks(ids, starts, counts, flat, pts, vals, centres, ox, oy, chunks.nx, grid.height, grid.width, kk, consts, int(min_points), out, bands)

    step = int(np.clip(chunks.n_chunks // (8 * max(workers, 1)), 1, 256))  # runs of chunks: balance and progress
    runs = ((np.arange(i, min(i + step, chunks.n_chunks), dtype=np.int64),) for i in range(0, chunks.n_chunks, step))
    run_batches(runs, work, workers, finished)


class _TorchDevice:
    """The dense IDW on a torch device (CUDA when present), with samples and results kept there.

    float64 arithmetic is exact on CPU and fast enough on a GPU; float32 is the fast option.
    The padding sample (index n) is infinitely far and never selected.
    """

    def __init__(self, device: str | None, dtype, pts_pad: np.ndarray, vals_pad: np.ndarray, centres: np.ndarray, offsets: np.ndarray, n_chunks: int) -> None:
        import torch

        self.torch = torch
        self.dtype = torch.float64 if dtype == np.float64 else torch.float32
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dev = self.device
        self.pts = torch.as_tensor(pts_pad, dtype=torch.float64, device=dev)  # (n + 1, 2) local map units
        self.vals = torch.as_tensor(vals_pad, device=dev).to(self.dtype)  # (n + 1, E)
        self.centres = torch.as_tensor(centres, dtype=torch.float64, device=dev)  # (T, 2)
        self.off = torch.as_tensor(offsets, dtype=self.dtype, device=dev)  # (M, 2)
        self.out = torch.empty((n_chunks, offsets.shape[0], vals_pad.shape[1]), dtype=torch.float32, device=dev)

    def run(self, ids: np.ndarray, idx: np.ndarray, k, r, min_points, smoothing, power) -> None:
        """IDW of the chunks ``ids`` ((B,)) from their candidate samples ``idx`` ((B, C), padded with n)."""
        torch = self.torch
        ids_t = torch.as_tensor(ids, device=self.device)
        idx_t = torch.as_tensor(idx, device=self.device)
        # chunk-local candidate positions: subtracted in float64 (large projected coordinates), then cast
        rel = (self.pts[idx_t] - self.centres[ids_t][:, None, :]).to(self.dtype)  # (B, C, 2)
        off = self.off
        d2 = (off[None, :, None, 0] - rel[:, None, :, 0]).square_()  # (B, M, C)
        d2 += (off[None, :, None, 1] - rel[:, None, :, 1]).square_()
        c = d2.shape[2]
        sel = d2 <= r * r if np.isfinite(r) else torch.isfinite(d2)
        if k is not None and c > k:
            kth = torch.kthvalue(d2, k, dim=2, keepdim=True).values
            sel &= d2 <= kth
        if smoothing:
            d2 += smoothing * smoothing
        w = d2.reciprocal_() if power == 2.0 else d2.pow_(-0.5 * power)
        w *= sel
        num = torch.bmm(w, self.vals[idx_t])  # (B, M, E)
        den = w.sum(dim=2, keepdim=True)
        res = num / den
        empty = den <= 0
        if min_points > 1:
            empty |= sel.sum(dim=2, keepdim=True) < min_points
        self.out[ids_t] = res.masked_fill_(empty, float("nan")).to(torch.float32)

    def raster(self, chunks) -> np.ndarray:
        """(E, rows, cols) float32: the chunks put in place on the device, then copied to the host once."""
        return chunks.unchunk(self.out).contiguous().cpu().numpy()
