"""Folds of a window table: spatial blocks by default (deposit-stratified), random only on request.

Spatial block folds (DESIGN.md decision 6): the stack is cut into square blocks of
``block_size`` pixels (the block grid optionally shifted by ``offset`` of a block in both
axes); a window belongs to the block holding its centre pixel. Blocks are dealt to ``k`` folds
so that deposits spread over them: blocks sorted by deposit count (then positive windows),
largest first, each to the fold with the fewest deposits so far (then fewest positive windows,
then fewest windows; blocks without deposits balance positive windows, then windows); ties are
broken by a seeded shuffle. Without deposits or labels to
stratify on (or with ``stratify=False``) blocks are dealt by a plain seeded shuffle. For fold f:

- test windows: the windows of the fold's blocks;
- excluded area: the fold's blocks and every test window's footprint, dilated by ``buffer``
  pixels (default half a window, DESIGN.md pitfall "a window near a fold's edge sees evidence
  from the held-out block");
- training windows: the other windows whose footprint does not touch the excluded area.

A table of cells (every cell a sample) is folded at its centre cells (:func:`fold_geometry`):
a training cell lies more than ``buffer`` cells (its patch's context radius) from every test
block, so no training patch reads a cell of a test block.

So a test window is never scored by a model that saw its block, an overlapping window, or a
window within half a window of it. When labels (or deposits) are given, a layout in which a
fold's test windows hold no positive window is refused (:class:`FoldError`) before any training.
A random split (windows dealt to folds at random) is available and is always labelled
``RANDOM_LABEL`` because overlapping windows leak across it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
from scipy.ndimage import maximum_filter

from geoprospect.errors import FoldError, GridError
from geoprospect.grid import GridSpec

log = logging.getLogger(__name__)

SPATIAL_LABEL = "spatial blocks"
RANDOM_LABEL = "random (windows overlap: optimistic)"
BLOCKS_HINT = (
    "use smaller blocks (evaluate-cv --block-size, run config evaluation.block_size) "
    "or fewer folds (evaluate-cv --folds, run config evaluation.folds)"
)
FOLDS_HINT = "use fewer folds (evaluate-cv --folds, run config evaluation.folds)"


@dataclass
class Fold:
    """One fold: indices into the window table.

    Attributes:
        k: fold number (0-based).
        test: windows scored by this fold's model.
        train: windows this fold's model may learn from (never overlapping ``test`` or its blocks).
        excluded: windows used for neither (the buffer).
        blocks: block ids of the fold (spatial folds only).
        positives: positive windows among ``test`` (None when no labels were given).
        deposits: deposits lying in the fold's blocks (None when no deposits were given).
    """

    k: int
    test: np.ndarray
    train: np.ndarray
    excluded: np.ndarray
    blocks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    positives: int | None = None
    deposits: int | None = None


@dataclass
class CVSplit:
    """A set of folds over one window table, and how they were made."""

    folds: list[Fold]
    kind: Literal["spatial", "random"]
    label: str
    block_size: int | None = None
    buffer: int | None = None
    block_of_window: np.ndarray | None = None  # (N,) block id of each window (spatial)
    fold_of_block: np.ndarray | None = None  # (n_blocks,) fold of each block (spatial)
    block_grid: tuple[int, int] | None = None  # (block rows, block cols)
    offset: int = 0  # pixels the block grid is shifted by, in both axes (spatial)
    stratified: bool = False  # blocks dealt by deposit count (else a plain seeded shuffle)

    def fold_of_window(self, n: int) -> np.ndarray:
        """(n,) fold number that scores each window (-1 if none)."""
        out = np.full(n, -1, dtype=np.int64)
        for f in self.folds:
            out[f.test] = f.k
        return out

    def block_of_pixel(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Block id of pixels (row, col) inside the stack (spatial splits only)."""
        if self.block_size is None or self.block_grid is None:
            raise GridError("a random split has no blocks")
        s, bs = self.offset, self.block_size
        return ((np.asarray(rows) + s) // bs) * self.block_grid[1] + (np.asarray(cols) + s) // bs

    def describe(self) -> dict:
        """How the folds were made, with per-fold window, positive-window and deposit counts."""
        return {
            "kind": self.kind,
            "label": self.label,
            "k": len(self.folds),
            "block_size_px": self.block_size,
            "buffer_px": self.buffer,
            "offset_px": self.offset if self.kind == "spatial" else None,
            "stratified": self.stratified,
            "windows_per_fold": {"test": [int(f.test.size) for f in self.folds], "train": [int(f.train.size) for f in self.folds], "excluded": [int(f.excluded.size) for f in self.folds]},
            "positives_per_fold": None if any(f.positives is None for f in self.folds) else [f.positives for f in self.folds],
            "deposits_per_fold": None if any(f.deposits is None for f in self.folds) else [f.deposits for f in self.folds],
        }


def deposit_pixels(grid: GridSpec, deposits_xy: np.ndarray) -> np.ndarray:
    """(M, 2) int64 (row, col) of the deposits (map x, y in the grid's CRS) that lie inside ``grid``."""
    xy = np.asarray(deposits_xy, dtype=np.float64).reshape(-1, 2)
    inside = grid.contains(xy[:, 0], xy[:, 1])
    r, c = grid.rowcol(xy[inside, 0], xy[inside, 1])
    return np.column_stack([r, c]).astype(np.int64).reshape(-1, 2)


def _box_any(mask: np.ndarray, row_off: np.ndarray, col_off: np.ndarray, size: int) -> np.ndarray:
    """For each window (row_off, col_off, size), whether ``mask`` holds any True pixel in it."""
    s = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
    s[1:, 1:] = np.cumsum(np.cumsum(mask.astype(np.int64), axis=0), axis=1)
    r0 = np.clip(row_off, 0, mask.shape[0])
    c0 = np.clip(col_off, 0, mask.shape[1])
    r1 = np.clip(row_off + size, 0, mask.shape[0])
    c1 = np.clip(col_off + size, 0, mask.shape[1])
    return (s[r1, c1] - s[r0, c1] - s[r1, c0] + s[r0, c0]) > 0


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Square (Chebyshev) dilation by ``r`` pixels."""
    if r <= 0:
        return mask
    return maximum_filter(mask.astype(np.uint8), size=2 * r + 1, mode="constant", cval=0).astype(bool)


def _deal_blocks(used: np.ndarray, n_blocks: int, k: int, rng: np.random.Generator, weights: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> np.ndarray:
    """(n_blocks,) fold of each block (-1 for blocks without windows).

    ``weights``: per-block (deposits, positive windows, windows), or None for a plain shuffle
    with balanced block counts. Stratified: blocks by deposits then positive windows, largest
    first (a seeded shuffle breaks ties); a block holding deposits goes to the fold with the
    fewest deposits (ties: fewest positive windows, then windows), one holding only positive
    windows to the fold with the fewest positive windows, any other to the fold with the
    fewest windows.
    """
    fold_of_block = np.full(n_blocks, -1, dtype=np.int64)
    order = rng.permutation(used)
    if weights is None:
        fold_of_block[order] = np.arange(used.size) % k
        return fold_of_block
    dep, pos, win = weights
    order = order[np.lexsort((-pos[order], -dep[order]))]  # stable: the shuffle breaks ties
    load = np.zeros((k, 3), dtype=np.int64)  # per fold: deposits, positive windows, windows
    for b in order:
        # balance what the block holds: deposits first, then positive windows, then windows
        first = 0 if dep[b] else (1 if pos[b] else 2)
        f = int(np.lexsort(tuple(load[:, j] for j in range(2, first - 1, -1)))[0])
        fold_of_block[b] = f
        load[f] += (dep[b], pos[b], win[b])
    return fold_of_block


def _block_fold(f: int, fold_of_block: np.ndarray, block: np.ndarray, row_off: np.ndarray, col_off: np.ndarray, size: int, shape: tuple[int, int], block_size: int, shift: int, nbc: int, buffer: int) -> Fold:
    """Test, training and excluded windows of fold ``f`` (see the module docstring)."""
    H, W = shape
    test = np.flatnonzero(fold_of_block[block] == f)
    area = np.zeros((H, W), dtype=bool)
    for b in np.flatnonzero(fold_of_block == f):
        br, bc = divmod(int(b), nbc)
        r0, c0 = max(br * block_size - shift, 0), max(bc * block_size - shift, 0)
        area[r0 : (br + 1) * block_size - shift, c0 : (bc + 1) * block_size - shift] = True
    for r, c in zip(row_off[test], col_off[test]):
        area[max(r, 0) : r + size, max(c, 0) : c + size] = True
    touch = _box_any(_dilate(area, buffer), row_off, col_off, size)
    is_test = np.zeros(row_off.size, dtype=bool)
    is_test[test] = True
    return Fold(f, test, np.flatnonzero(~touch & ~is_test), np.flatnonzero(touch & ~is_test), np.flatnonzero(fold_of_block == f))


def _count_and_check(split: CVSplit, labels: np.ndarray | None, deposits_rc: np.ndarray | None, hint: str) -> None:
    """Fill each fold's positive-window and deposit counts; refuse a fold without any (FoldError)."""
    if labels is not None:
        for f in split.folds:
            f.positives = int(np.count_nonzero(labels[f.test]))
    if deposits_rc is not None and split.kind == "spatial":
        blocks = split.block_of_pixel(deposits_rc[:, 0], deposits_rc[:, 1])
        fold = split.fold_of_block[blocks] if split.fold_of_block is not None else np.zeros(0, np.int64)
        for f in split.folds:
            f.deposits = int(np.count_nonzero(fold == f.k))
    counts = [f.positives if labels is not None else f.deposits for f in split.folds]
    if counts[0] is None:
        return
    empty = [f.k for f, c in zip(split.folds, counts) if c == 0]
    if empty:
        what = "positive window (no deposit)" if labels is not None else "deposit"
        layout = f" ({split.block_size}-px blocks shifted {split.offset} px)" if split.kind == "spatial" else ""
        raise FoldError(
            f"fold{'s' if len(empty) > 1 else ''} {', '.join(map(str, empty))} of {len(split.folds)}{layout} would hold no {what} among "
            f"its test windows, so it cannot be evaluated; positive windows per fold {_fmt([f.positives for f in split.folds])}, "
            f"deposits per fold {_fmt([f.deposits for f in split.folds])}",
            hint=hint,
        )


def _fmt(counts: list[int | None]) -> str:
    return "n/a" if any(c is None for c in counts) else str(counts)


def _auto_block_size(height: int, width: int, size: int, k: int) -> int:
    """Default block side (pixels): 4 windows or 1/8 of the shorter side, halved (not below one
    window) until the stack holds at least 2k blocks, so small areas still make k folds."""
    block = max(4 * size, min(height, width) // 8)
    while block > size and -(-height // block) * -(-width // block) < 2 * k:
        block = max(size, block // 2)
    return block


_NICE = (1.0, 2.0, 2.5, 5.0)  # block sides are rounded down to 1, 2, 2.5 or 5 x 10^n map units


def nice_floor(x: float) -> float:
    """The largest 1, 2, 2.5 or 5 x 10^n not above ``x`` (> 0): block sides read as round numbers and
    repeat at other resolutions of the same area."""
    e = 10.0 ** np.floor(np.log10(x))
    return float(max(m * e for m in _NICE if m * e <= x * (1 + 1e-12)))


@dataclass
class BlockChoice:
    """The automatic block side (:func:`auto_block_side`) and why."""

    side: float  # map units
    cells: int  # the side in cells of the grid (rounded)
    area: float  # area with data, map units²
    deposits: int
    target_blocks: int
    blocks_with_deposits: int

    def describe(self) -> str:
        return (f"{self.side:g}-map-unit blocks ({self.cells} cells) chosen automatically: {self.area / self.side ** 2:.0f} blocks of the area with data "
                f"for {self.deposits} deposit cells (aim: {self.target_blocks} blocks, from 4 to 10 per fold), {self.blocks_with_deposits} blocks hold deposits")


def auto_block_side(grid: GridSpec, valid: np.ndarray, deposits_rc: np.ndarray, k: int, *, context: int = 0) -> BlockChoice:
    """Side in map units of the spatial CV blocks, from the area's size and deposit count.

    Aim for one block per deposit cell, but at least 4 and at most 10 blocks per fold
    (``clip(deposits, 4k, 10k)`` blocks over the cells with data); the side is rounded down to a
    round number (:func:`nice_floor`) and halved (on the same round steps) until at least ``k``
    blocks hold a deposit, and kept at least ``2 * context + 2`` cells (a model's context must
    fit in a block with room for a centre). Only map units enter the rule, so two resolutions
    of one area get the same side.
    """
    res = float(max(abs(grid.transform.a), abs(grid.transform.e)))
    area = float(np.count_nonzero(valid)) * abs(grid.transform.a * grid.transform.e)
    rc = np.asarray(deposits_rc, dtype=np.int64).reshape(-1, 2)
    n_dep = int(np.unique(rc[:, 0] * grid.width + rc[:, 1]).size) if rc.size else 0
    target = int(np.clip(n_dep, 4 * k, 10 * k))
    least = max(2 * context + 2, 2) * res
    side = max(nice_floor(np.sqrt(max(area, res * res) / target)), least)
    while True:
        cells = max(1, int(round(side / res)))
        holding = int(np.unique((rc[:, 0] // cells) * (grid.width // cells + 1) + rc[:, 1] // cells).size) if rc.size else 0
        smaller = nice_floor(side * 0.999)
        if holding >= k or smaller < least:
            return BlockChoice(side, cells, area, n_dep, target, holding)
        side = smaller


def spatial_block_folds(
    row_off: np.ndarray,
    col_off: np.ndarray,
    size: int,
    shape: tuple[int, int],
    *,
    k: int = 5,
    block_size: int | None = None,
    buffer: int | None = None,
    seed: int = 0,
    labels: np.ndarray | None = None,
    deposits_rc: np.ndarray | None = None,
    offset: float = 0.0,
    stratify: bool = True,
) -> CVSplit:
    """k folds of contiguous square blocks over a stack of ``shape`` (rows, cols) pixels.

    Args:
        row_off, col_off: (N,) upper-left pixel of each window.
        size: window size in pixels.
        shape: the stack's (rows, cols).
        k: number of folds (>= 2).
        block_size: block side in pixels (default: 4 windows or 1/8 of the shorter side, halved
            down to one window until the stack holds at least 2k blocks).
        buffer: pixels kept free between training windows and the test area (default size // 2).
        seed: breaks ties (stratified) or shuffles (plain) the blocks dealt to folds.
        labels: (N,) window labels (1 = a deposit lies in the window): folds are stratified
            on them, counted, and a fold without a positive test window is refused.
        deposits_rc: (M, 2) deposit (row, col) pixels (see :func:`deposit_pixels`): folds are
            stratified on them first and counted.
        offset: shift of the block grid, as a fraction of a block, in both axes (0 <= offset < 1).
        stratify: deal blocks by deposit count (needs ``labels`` or ``deposits_rc``); False
            deals them by a plain seeded shuffle with balanced block counts.

    Raises:
        GridError: impossible settings (k < 2, fewer blocks than folds).
        FoldError: a fold's test windows would hold no positive window (or no deposit).
    """
    row_off = np.asarray(row_off, dtype=np.int64).ravel()
    col_off = np.asarray(col_off, dtype=np.int64).ravel()
    if k < 2:
        raise GridError(f"cross-validation needs at least 2 folds, got k={k}", hint="evaluate-cv --folds, run config evaluation.folds")
    H, W = int(shape[0]), int(shape[1])
    if block_size is None:
        block_size = _auto_block_size(H, W, size, k)
    block_size = int(block_size)
    if block_size < 1:
        raise GridError(f"block size must be at least 1 pixel, got {block_size}", hint=BLOCKS_HINT)
    if not 0 <= offset < 1:
        raise GridError(f"the block offset is a fraction of a block in [0, 1), got {offset}")
    shift = int(round(offset * block_size)) % block_size
    buffer = size // 2 if buffer is None else int(buffer)
    nbr, nbc = -(-(H + shift) // block_size), -(-(W + shift) // block_size)
    if nbr * nbc < k:
        raise GridError(f"{nbr * nbc} blocks of {block_size} px cannot make {k} folds", hint=BLOCKS_HINT)
    cr = (np.clip(row_off + size // 2, 0, H - 1) + shift) // block_size
    cc = (np.clip(col_off + size // 2, 0, W - 1) + shift) // block_size
    block = cr * nbc + cc
    used = np.unique(block)
    if used.size < k:
        raise GridError(f"the windows fall in only {used.size} blocks, fewer than k={k} folds", hint=BLOCKS_HINT)
    if labels is not None:
        labels = np.asarray(labels).ravel()
        if labels.size != row_off.size:
            raise GridError(f"{labels.size} labels for {row_off.size} windows")
    if deposits_rc is not None:
        deposits_rc = np.asarray(deposits_rc, dtype=np.int64).reshape(-1, 2)
        deposits_rc = deposits_rc[(deposits_rc[:, 0] >= 0) & (deposits_rc[:, 0] < H) & (deposits_rc[:, 1] >= 0) & (deposits_rc[:, 1] < W)]
    weights = _block_weights(block, nbr * nbc, labels, deposits_rc, shift, block_size, nbc) if stratify else None
    fold_of_block = _deal_blocks(used, nbr * nbc, k, np.random.default_rng(seed), weights)
    folds = [_block_fold(f, fold_of_block, block, row_off, col_off, size, (H, W), block_size, shift, nbc, buffer) for f in range(k)]
    split = CVSplit(folds, "spatial", SPATIAL_LABEL, block_size, buffer, block, fold_of_block, (nbr, nbc), shift, weights is not None)
    _count_and_check(split, labels, deposits_rc, BLOCKS_HINT)
    log.info(
        "spatial CV: %d folds of %d-px blocks (shifted %d px, %s), buffer %d px; test %s, train %s windows; positive windows %s, deposits %s",
        k, block_size, shift, "deposit-stratified" if split.stratified else "shuffled", buffer, [f.test.size for f in folds], [f.train.size for f in folds],
        _fmt([f.positives for f in folds]), _fmt([f.deposits for f in folds]),
    )
    return split


def _block_weights(block: np.ndarray, n_blocks: int, labels: np.ndarray | None, deposits_rc: np.ndarray | None, shift: int, block_size: int, nbc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per-block (deposits, positive windows, windows) to stratify on; None without labels or deposits."""
    if labels is None and deposits_rc is None:
        return None
    win = np.bincount(block, minlength=n_blocks)
    pos = np.bincount(block[labels > 0], minlength=n_blocks) if labels is not None else np.zeros(n_blocks, np.int64)
    dep = np.zeros(n_blocks, dtype=np.int64)
    if deposits_rc is not None and deposits_rc.size:
        db = ((deposits_rc[:, 0] + shift) // block_size) * nbc + (deposits_rc[:, 1] + shift) // block_size
        dep = np.bincount(db, minlength=n_blocks).astype(np.int64)
    return dep, pos, win


def spatial_fold_layouts(
    row_off: np.ndarray,
    col_off: np.ndarray,
    size: int,
    shape: tuple[int, int],
    *,
    layouts: int = 3,
    **kwargs,
) -> list[CVSplit]:
    """Several shifted block layouts: offsets 0, 1/layouts, 2/layouts, ... of a block in both axes.

    Each layout is made by :func:`spatial_block_folds` (same ``kwargs``: k, block_size, labels,
    deposits_rc, seed...), so an evaluation can report the mean and spread of its figures over
    layouts. Raises FoldError if any layout leaves a fold without a deposit.
    """
    if layouts < 1:
        raise GridError(f"at least one block layout is needed, got layouts={layouts}")
    if "offset" in kwargs:
        raise GridError("spatial_fold_layouts sets the offsets itself (0, 1/layouts, ...)")
    return [spatial_block_folds(row_off, col_off, size, shape, offset=i / layouts, **kwargs) for i in range(layouts)]


def random_folds(n: int, *, k: int = 5, seed: int = 0, labels: np.ndarray | None = None) -> CVSplit:
    """k folds of windows dealt at random: overlapping windows leak across them (optimistic).

    With ``labels``, each fold's positive windows are counted and a fold without one is refused.
    """
    if k < 2:
        raise GridError(f"cross-validation needs at least 2 folds, got k={k}")
    if n < k:
        raise GridError(f"{n} windows cannot make {k} folds", hint=FOLDS_HINT)
    fold = np.empty(n, dtype=np.int64)
    fold[np.random.default_rng(seed).permutation(n)] = np.arange(n) % k
    folds = [Fold(f, np.flatnonzero(fold == f), np.flatnonzero(fold != f), np.zeros(0, dtype=np.int64)) for f in range(k)]
    split = CVSplit(folds, "random", RANDOM_LABEL)
    _count_and_check(split, None if labels is None else np.asarray(labels).ravel(), None, FOLDS_HINT)
    log.warning("random CV split: %s", RANDOM_LABEL)
    return split


def make_folds(
    row_off: np.ndarray,
    col_off: np.ndarray,
    size: int,
    shape: tuple[int, int],
    *,
    kind: Literal["spatial", "random"] = "spatial",
    k: int = 5,
    block_size: int | None = None,
    buffer: int | None = None,
    seed: int = 0,
    labels: np.ndarray | None = None,
    deposits_rc: np.ndarray | None = None,
    offset: float = 0.0,
    stratify: bool = True,
) -> CVSplit:
    """Spatial block folds (default, deposit-stratified) or random folds (on request, labelled optimistic)."""
    if kind == "spatial":
        return spatial_block_folds(row_off, col_off, size, shape, k=k, block_size=block_size, buffer=buffer, seed=seed, labels=labels, deposits_rc=deposits_rc, offset=offset, stratify=stratify)
    if kind == "random":
        return random_folds(np.asarray(row_off).size, k=k, seed=seed, labels=labels)
    raise GridError(f"unknown cross-validation kind {kind!r}", hint="spatial or random")


def fold_geometry(table: Mapping[str, Any], buffer: int | None) -> tuple[np.ndarray, np.ndarray, int, int | None]:
    """What the folds of a sample table keep apart: ``(row_off, col_off, size, buffer)`` in pixels,
    for :func:`make_folds` / :func:`spatial_fold_layouts`.

    - Window table (the papers' recipe, :mod:`geoprospect.windows.tiling`): the windows. A
      window's label covers its whole footprint, so a training window neither overlaps nor comes
      within ``buffer`` (default half a window) of a test window.
    - Cell table (``footprint`` 1, :mod:`geoprospect.windows.cells`): the sample is its centre
      cell, so the folds guard the centres. A training cell lies more than ``buffer`` cells from
      every test block (default its patch's context radius, ``size // 2``), so no training patch
      reads a cell of a test block. Guarding the patches themselves kept training cells three
      radii away (test patch, buffer, training patch): with dense_cnn's 15-cell patches on
      Murchison's 25-cell blocks only 18-36 % of the other cells were left to train on.
    """
    size = int(np.asarray(table["size"])[0])
    if "footprint" in table and int(np.asarray(table["footprint"])[0]) == 1:
        return np.asarray(table["row"]), np.asarray(table["col"]), 1, size // 2 if buffer is None else int(buffer)
    return np.asarray(table["row_off"]), np.asarray(table["col_off"]), size, buffer


# A fit-and-score function: (train indices, test indices, fold number) -> (prob, margin) of the test windows.
FitScore = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


#: training windows each fold model scores to standardise its test scores (a seeded sample when
#: the fold has more): their mean and standard deviation are estimated to about 1 % from 10,000.
REFERENCE_WINDOWS = 10_000


@dataclass
class OutOfFold:
    """Out-of-fold scores: each window scored once, by the model of the fold holding it out."""

    prob: np.ndarray  # (N,) float64, NaN if no fold scored it
    margin: np.ndarray  # (N,) float64 logit margin (ranks without sigmoid ties)
    fold: np.ndarray  # (N,) int fold number, -1 if none
    split: CVSplit
    scales: dict[int, tuple[float, float]] = field(default_factory=dict)  # fold -> (mean, std) of its model's training-window margins

    @property
    def ranking(self) -> np.ndarray:
        """(N,) the one ranking of all folds: :func:`pooled_ranking` of the margins (the margins
        themselves when no fold was standardised)."""
        return pooled_ranking(self.margin, self.fold, self.scales)


def pooled_ranking(margin: np.ndarray, fold: np.ndarray, scales: Mapping[int, tuple[float, float]]) -> np.ndarray:
    """(N,) ``margin`` with each fold's windows z-scored by that fold's ``scales`` (mean, std);
    windows of a fold without scales keep their margin."""
    if not scales:
        return margin
    out = np.array(margin, dtype=np.float64)
    for k, (mu, sd) in scales.items():
        sel = fold == k
        out[sel] = (out[sel] - mu) / sd
    return out


def _reference(train: np.ndarray, k: int, size: int, seed: int) -> np.ndarray:
    """Up to ``size`` of a fold's training windows (all of them, or a sample seeded by ``seed`` and ``k``)."""
    if train.size <= size:
        return train
    return np.sort(np.random.default_rng([seed, int(k)]).choice(train, size, replace=False))


def cross_val_scores(split: CVSplit, n: int, fit_score: FitScore, *, reference: int = 0, seed: int = 0) -> OutOfFold:
    """Run ``fit_score`` once per fold and gather the out-of-fold scores of all ``n`` windows.

    With ``reference`` > 0 each fold's model also scores up to ``reference`` of its own training
    windows (in the same call), and :attr:`OutOfFold.scales` holds their mean and standard
    deviation, against which :attr:`OutOfFold.ranking` z-scores every test margin. Pooling needs it: the fold models' raw margins need not share one scale (a
    logistic regression's intercept follows its fold's deposit rate), and one fold's windows
    would then rank above another's for that alone. Standardising uses training windows only.
    """
    prob = np.full(n, np.nan)
    margin = np.full(n, np.nan)
    fold = np.full(n, -1, dtype=np.int64)
    scales: dict[int, tuple[float, float]] = {}
    for f in split.folds:
        if f.test.size == 0:
            continue
        ref = _reference(f.train, f.k, reference, seed) if reference > 0 else f.train[:0]
        p, m = fit_score(f.train, np.concatenate([f.test, ref]), f.k)
        p, m = np.asarray(p, dtype=np.float64), np.asarray(m, dtype=np.float64)
        nt = f.test.size
        prob[f.test], margin[f.test], fold[f.test] = p[:nt], m[:nt], f.k
        if reference > 0:
            r = m[nt:][np.isfinite(m[nt:])]
            mu, sd = (float(r.mean()), float(r.std())) if r.size else (0.0, 1.0)
            scales[int(f.k)] = (mu, sd if sd > 0 else 1.0)
    return OutOfFold(prob, margin, fold, split, scales)


def logit(p: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """log(p / (1 - p)) in float64, clipped to +-log(1/eps) (for models that give probabilities)."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), the inverse of :func:`logit` (float64; overflow to 0 without a warning)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def overlapping_pairs(row_off_a: Sequence[int], col_off_a: Sequence[int], row_off_b: Sequence[int], col_off_b: Sequence[int], size: int, gap: int = 0) -> int:
    """Number of (a, b) window pairs whose footprints overlap or come within ``gap`` pixels (a check)."""
    ra, ca = np.asarray(row_off_a)[:, None], np.asarray(col_off_a)[:, None]
    rb, cb = np.asarray(row_off_b)[None, :], np.asarray(col_off_b)[None, :]
    close = (np.abs(ra - rb) < size + gap) & (np.abs(ca - cb) < size + gap)
    return int(close.sum())
