"""How much of a map may be called "high", and how large a target may be (issue 24).

The rule, applied to the cells with a score (inside the study area), ranked by score:

- **high** = the best-ranked cells up to ``min(P-A share, high_share)`` of that area, where the
  P-A share is the area fraction at the prediction-area intersection of the OUT-OF-FOLD map
  (every deposit scored by a model that never saw it). Why the bound: a ranking that knows
  nothing puts its P-A intersection at 50 % of the area (deposits captured = area ranked), and a
  class of 40-55 % of the area does not narrow the search. ``high_share`` (10 % by default) is the
  area of the "top 10 %" capture figure the run reports out of fold.
- **medium** = the next cells, up to the same share again (the top ``2 x high`` in all).
- **Ties are never split**: a group of cells sharing one score that straddles a bound is left out
  of the class (the class holds less than the bound). When the best-scoring group alone is larger
  than the bound, the map cannot single out a high class: there is none, and no target.
- **A (near) constant map** (every score within ``FLAT_RTOL`` of the others, relative to the
  largest magnitude, at least 1) has no high or medium class and no target; the log, the report
  and ``metrics.json`` say why.
- **Targets** = connected (8-neighbour) regions of high cells. A region larger than
  ``max_target_share`` of the area keeps only its best-ranked cells up to that size (its threshold
  raised locally, ties not split), which may split it into several targets; the
  ``max_targets`` best by mean score are written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: relative span under which a map counts as constant (float32 scores carry ~7 digits)
FLAT_RTOL = 1e-6


@dataclass(frozen=True)
class AreaBounds:
    """Upper bounds of the high class and the targets, as shares of the ranked area (0-1).

    Attributes:
        high_share: the high class holds at most this share (the medium class as much again).
        max_target_share: one target holds at most this share.
        max_targets: at most this many targets are written (the best by mean score).
    """

    high_share: float = 0.10
    max_target_share: float = 0.01
    max_targets: int = 30

    def describe(self) -> str:
        """One sentence stating the bounds (log, report, metrics.json)."""
        return (f"high = the best-ranked cells up to the smaller of the out-of-fold P-A intersection's area and {100 * self.high_share:g} % of the ranked area "
                "(a ranking that knows nothing has its P-A intersection at half the area: a class that large does not narrow the search), "
                f"medium = as much again (ties never split); targets = connected high regions of at most {100 * self.max_target_share:g} % of the area each "
                f"(a larger region keeps its best cells), the {self.max_targets} best by mean score")


def flat_reason(scores: np.ndarray, rtol: float = FLAT_RTOL) -> str | None:
    """Why ``scores`` (any shape, NaN = no score) cannot rank anything, or None when they can:
    no finite value, or every value within ``rtol`` x max(1, largest magnitude) of the others."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return "the map holds no score"
    lo, hi = float(s.min()), float(s.max())
    if hi - lo <= rtol * max(1.0, abs(lo), abs(hi)):
        return f"the map is constant (every score between {lo:.6g} and {hi:.6g}): it ranks no cell above another"
    return None


def top_cut(scores: np.ndarray, share: float) -> tuple[float, int]:
    """The score threshold ``t`` taking the best-ranked cells up to ``share`` of the finite
    ``scores`` (cells with ``score >= t``), never splitting a group of tied scores, and how many
    cells it takes. ``(inf, 0)`` when even the best-scoring group is larger than the share."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    s = -np.sort(-s[np.isfinite(s)])  # descending
    k = int(np.floor(share * s.size + 1e-9))
    if k <= 0:
        return float("inf"), 0
    if k >= s.size:
        return float(s[-1]), int(s.size)
    # cells scoring strictly above the first cell left out: a tie straddling k is dropped whole
    n = int(np.searchsorted(-s, -s[k], side="left"))
    return (float(s[n - 1]), n) if n > 0 else (float("inf"), 0)


def cap_regions(lab: np.ndarray, rank: np.ndarray, max_cells: int) -> tuple[np.ndarray, int, int]:
    """Limit every labelled region to its ``max_cells`` best-ranked cells.

    Args:
        lab: (H, W) int labels (0 = outside every region), e.g. from ``scipy.ndimage.label``.
        rank: (H, W) ranking score (higher = better; NaN never kept in a capped region).
        max_cells: the largest region kept whole.

    Returns:
        (labels, n, capped): the regions relabelled (8-neighbour) after each region larger than
        ``max_cells`` kept only its best cells (its threshold raised, ties not split, so it may
        split in several), their count, and how many regions were capped.
    """
    from scipy import ndimage

    keep = lab > 0
    sizes = np.bincount(lab.ravel())
    big = [i for i in np.flatnonzero(sizes > max_cells) if i > 0]
    slices = ndimage.find_objects(lab)
    r = np.asarray(rank, dtype=np.float64)
    for i in big:
        sl = slices[i - 1]
        mine = lab[sl] == i
        t, _ = top_cut(np.where(mine, r[sl], np.nan), max_cells / mine.sum())
        sub = keep[sl]
        sub[mine & ~(r[sl] >= t)] = False
    out, n = ndimage.label(keep, structure=np.ones((3, 3), dtype=bool))
    return out, int(n), len(big)
