"""Cross-validation of window classifiers: spatial block folds by default, random only on request.

Spatial block folds (DESIGN.md decision 6): the stack is cut into square blocks of
``block_size`` pixels; blocks are dealt to ``k`` folds (seeded shuffle, balanced counts). A
window belongs to the block holding its centre pixel. For fold f:

- test windows: the windows of the fold's blocks;
- excluded area: the fold's blocks and every test window's footprint, dilated by ``buffer``
  pixels (default half a window, DESIGN.md pitfall "a window near a fold's edge sees evidence
  from the held-out block");
- training windows: the other windows whose footprint does not touch the excluded area.

So a test window is never scored by a model that saw its block, an overlapping window, or a
window within half a window of it. A random split (windows dealt to folds at random) is
available and is always labelled ``RANDOM_LABEL`` because overlapping windows leak across it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

import numpy as np

from geoprospect.errors import GridError

log = logging.getLogger(__name__)

SPATIAL_LABEL = "spatial blocks"
RANDOM_LABEL = "random (windows overlap: optimistic)"


@dataclass
class Fold:
    """One fold: indices into the window table.

    Attributes:
        k: fold number (0-based).
        test: windows scored by this fold's model.
        train: windows this fold's model may learn from (never overlapping ``test`` or its blocks).
        excluded: windows used for neither (the buffer).
        blocks: block ids of the fold (spatial folds only).
    """

    k: int
    test: np.ndarray
    train: np.ndarray
    excluded: np.ndarray
    blocks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


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

    def fold_of_window(self, n: int) -> np.ndarray:
        """(n,) fold number that scores each window (-1 if none)."""
        out = np.full(n, -1, dtype=np.int64)
        for f in self.folds:
            out[f.test] = f.k
        return out

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "label": self.label,
            "k": len(self.folds),
            "block_size_px": self.block_size,
            "buffer_px": self.buffer,
            "windows_per_fold": {"test": [int(f.test.size) for f in self.folds], "train": [int(f.train.size) for f in self.folds], "excluded": [int(f.excluded.size) for f in self.folds]},
        }


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
    from scipy.ndimage import maximum_filter

    return maximum_filter(mask.astype(np.uint8), size=2 * r + 1, mode="constant", cval=0).astype(bool)


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
) -> CVSplit:
    """k folds of contiguous square blocks over a stack of ``shape`` (rows, cols) pixels.

    Args:
        row_off, col_off: (N,) upper-left pixel of each window.
        size: window size in pixels.
        shape: the stack's (rows, cols).
        k: number of folds (>= 2).
        block_size: block side in pixels (default: 4 windows, at least 1/8 of the shorter side).
        buffer: pixels kept free between training windows and the test area (default size // 2).
        seed: shuffles which blocks go to which fold.
    """
    row_off = np.asarray(row_off, dtype=np.int64).ravel()
    col_off = np.asarray(col_off, dtype=np.int64).ravel()
    n = row_off.size
    if k < 2:
        raise GridError(f"cross-validation needs at least 2 folds, got k={k}")
    H, W = int(shape[0]), int(shape[1])
    if block_size is None:
        block_size = max(4 * size, min(H, W) // 8)
    block_size = int(block_size)
    if block_size < 1:
        raise GridError(f"block size must be at least 1 pixel, got {block_size}")
    buffer = size // 2 if buffer is None else int(buffer)
    nbr, nbc = -(-H // block_size), -(-W // block_size)
    if nbr * nbc < k:
        raise GridError(f"{nbr * nbc} blocks of {block_size} px cannot make {k} folds", hint="use a smaller block size or fewer folds")
    cr = np.clip(row_off + size // 2, 0, H - 1) // block_size
    cc = np.clip(col_off + size // 2, 0, W - 1) // block_size
    block = cr * nbc + cc
    # deal the blocks that hold windows to folds: seeded shuffle, balanced counts
    used = np.unique(block)
    if used.size < k:
        raise GridError(f"the windows fall in only {used.size} blocks, fewer than k={k} folds", hint="use a smaller block size or fewer folds")
    rng = np.random.default_rng(seed)
    fold_of_block = np.full(nbr * nbc, -1, dtype=np.int64)
    fold_of_block[rng.permutation(used)] = np.arange(used.size) % k
    folds = []
    for f in range(k):
        test = np.flatnonzero(fold_of_block[block] == f)
        area = np.zeros((H, W), dtype=bool)
        for b in np.flatnonzero(fold_of_block == f):
            br, bc = divmod(int(b), nbc)
            area[br * block_size : (br + 1) * block_size, bc * block_size : (bc + 1) * block_size] = True
        for r, c in zip(row_off[test], col_off[test]):
            area[max(r, 0) : r + size, max(c, 0) : c + size] = True
        touch = _box_any(_dilate(area, buffer), row_off, col_off, size)
        is_test = np.zeros(n, dtype=bool)
        is_test[test] = True
        train = np.flatnonzero(~touch & ~is_test)
        excluded = np.flatnonzero(touch & ~is_test)
        folds.append(Fold(f, test, train, excluded, np.flatnonzero(fold_of_block == f)))
    split = CVSplit(folds, "spatial", SPATIAL_LABEL, block_size, buffer, block, fold_of_block, (nbr, nbc))
    log.info("spatial CV: %d folds of %d-px blocks, buffer %d px; test %s, train %s windows", k, block_size, buffer, [f.test.size for f in folds], [f.train.size for f in folds])
    return split


def random_folds(n: int, *, k: int = 5, seed: int = 0) -> CVSplit:
    """k folds of windows dealt at random: overlapping windows leak across them (optimistic)."""
    if k < 2:
        raise GridError(f"cross-validation needs at least 2 folds, got k={k}")
    if n < k:
        raise GridError(f"{n} windows cannot make {k} folds")
    fold = np.empty(n, dtype=np.int64)
    fold[np.random.default_rng(seed).permutation(n)] = np.arange(n) % k
    folds = [Fold(f, np.flatnonzero(fold == f), np.flatnonzero(fold != f), np.zeros(0, dtype=np.int64)) for f in range(k)]
    log.warning("random CV split: %s", RANDOM_LABEL)
    return CVSplit(folds, "random", RANDOM_LABEL)


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
) -> CVSplit:
    """Spatial block folds (default) or random folds (on request, labelled optimistic)."""
    if kind == "spatial":
        return spatial_block_folds(row_off, col_off, size, shape, k=k, block_size=block_size, buffer=buffer, seed=seed)
    if kind == "random":
        return random_folds(np.asarray(row_off).size, k=k, seed=seed)
    raise GridError(f"unknown cross-validation kind {kind!r}", hint="spatial or random")


# A fit-and-score function: (train indices, test indices, fold number) -> (prob, margin) of the test windows.
FitScore = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


@dataclass
class OutOfFold:
    """Out-of-fold scores: each window scored once, by the model of the fold holding it out."""

    prob: np.ndarray  # (N,) float64, NaN if no fold scored it
    margin: np.ndarray  # (N,) float64 logit margin (ranks without sigmoid ties)
    fold: np.ndarray  # (N,) int fold number, -1 if none
    split: CVSplit


def cross_val_scores(split: CVSplit, n: int, fit_score: FitScore) -> OutOfFold:
    """Run ``fit_score`` once per fold and gather the out-of-fold scores of all ``n`` windows."""
    prob = np.full(n, np.nan)
    margin = np.full(n, np.nan)
    fold = np.full(n, -1, dtype=np.int64)
    for f in split.folds:
        if f.test.size == 0:
            continue
        p, m = fit_score(f.train, f.test, f.k)
        prob[f.test] = np.asarray(p, dtype=np.float64)
        margin[f.test] = np.asarray(m, dtype=np.float64)
        fold[f.test] = f.k
    return OutOfFold(prob, margin, fold, split)


def logit(p: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """log(p / (1 - p)) in float64, clipped to +-log(1/eps) (for models that give probabilities)."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def overlapping_pairs(row_off_a: Sequence[int], col_off_a: Sequence[int], row_off_b: Sequence[int], col_off_b: Sequence[int], size: int, gap: int = 0) -> int:
    """Number of (a, b) window pairs whose footprints overlap or come within ``gap`` pixels (a check)."""
    ra, ca = np.asarray(row_off_a)[:, None], np.asarray(col_off_a)[:, None]
    rb, cb = np.asarray(row_off_b)[None, :], np.asarray(col_off_b)[None, :]
    close = (np.abs(ra - rb) < size + gap) & (np.abs(ca - cb) < size + gap)
    return int(close.sum())
