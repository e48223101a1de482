"""Deposit-stratified spatial block folds with shifted layouts and a buffer (issue 17 protocol).

A layout cuts the grid into square blocks of ``block`` cells, shifted by ``offset`` cells;
blocks are assigned to ``k`` folds greedily: blocks sorted by deposit count (desc, then cell
count desc) each go to the fold with the fewest deposits (ties: fewest cells, then lowest index).
Training cells of fold f are the area's cells of the other folds farther than ``buffer`` cells
(Chebyshev, i.e. outside a square window) from every cell of fold f.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter


def block_folds(area: np.ndarray, deposits: np.ndarray, block: int, k: int = 5, offset: int = 0) -> np.ndarray:
    """(H, W) int fold map; -1 outside the area. Refuses a layout leaving a fold without deposits."""
    H, W = area.shape
    rr, cc = np.mgrid[0:H, 0:W]
    bid = ((rr + offset) // block) * (W // block + 2) + ((cc + offset) // block)
    bid = np.where(area, bid, -1)
    ids, inv = np.unique(bid[area], return_inverse=True)
    cells = np.bincount(inv, minlength=ids.size)
    dep_b = np.searchsorted(ids, bid.ravel()[deposits])
    deps = np.bincount(dep_b, minlength=ids.size)
    order = np.lexsort((-cells, -deps))
    fd, fc = np.zeros(k), np.zeros(k)
    fold_of = np.empty(ids.size, int)
    for b in order:
        f = np.lexsort((np.arange(k), fc, fd))[0]
        fold_of[b] = f
        fd[f] += deps[b]
        fc[f] += cells[b]
    out = np.full((H, W), -1)
    out[area] = fold_of[inv]
    if (fd == 0).any():
        raise ValueError(f"a fold holds no deposit (per fold: {fd.astype(int).tolist()}): use fewer folds or smaller blocks")
    return out


def train_mask(folds: np.ndarray, test: int | list[int], buffer: int) -> np.ndarray:
    """Cells of the other folds farther than ``buffer`` cells (square) from the test fold(s)."""
    test = [test] if isinstance(test, (int, np.integer)) else list(test)
    t = np.isin(folds, test)
    near = maximum_filter(t.astype(np.uint8), size=2 * buffer + 1, mode="constant") > 0 if buffer > 0 else t
    return (folds >= 0) & ~t & ~near


def inner_splits(folds: np.ndarray, outer: int, buffer: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Nested CV inside the training folds of ``outer``: leave one training fold out at a time.

    Returns (train mask, test mask) pairs; the outer test fold and its buffer are never in either.
    """
    outer_train = train_mask(folds, outer, buffer)
    out = []
    for f in sorted(set(np.unique(folds[folds >= 0]).tolist()) - {outer}):
        te = (folds == f) & outer_train
        tr = train_mask(folds, [outer, f], buffer)
        out.append((tr, te))
    return out
