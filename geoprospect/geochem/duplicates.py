"""Samples sharing a location: averaged, rejected, or the first kept (reported)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from geoprospect.errors import GeochemError, ParameterError


@dataclass
class DuplicateResult:
    """Outcome of :func:`handle_duplicates`.

    Attributes:
        xy: (M, 2) kept locations.
        values: (M, E) kept values.
        rows: (M,) source row of each kept point (the first row of a merged group).
        n_groups: number of locations shared by two or more samples.
        n_removed: samples removed (merged into another or rejected).
        groups: the source rows of each duplicate group (at most the first 100 groups).
    """

    xy: np.ndarray
    values: np.ndarray
    rows: np.ndarray
    n_groups: int
    n_removed: int
    groups: list[list[int]]


def duplicate_groups(xy: np.ndarray, tol: float = 0.0) -> np.ndarray:
    """Group label per point: points within ``tol`` map units (chained) share a label."""
    xy = np.asarray(xy, dtype=np.float64)
    n = xy.shape[0]
    if tol <= 0:
        _, labels = np.unique(xy, axis=0, return_inverse=True)
        return labels.ravel()
    pairs = cKDTree(xy - xy.min(axis=0)).query_pairs(tol, output_type="ndarray")
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else coo_matrix((n, n))
    return connected_components(graph, directed=False)[1]


def handle_duplicates(
    xy: np.ndarray,
    values: np.ndarray,
    rows: np.ndarray | None = None,
    *,
    method: str = "average",
    tol: float = 0.0,
) -> DuplicateResult:
    """Resolve samples at the same location.

    Args:
        xy: (N, 2) coordinates; values: (N, E); rows: (N,) source rows (for the report).
        method: "average" (mean location and NaN-aware mean of values), "reject" (drop every
            sample of a shared location), "first" (keep the first) or "error".
        tol: distance in map units under which two samples count as one location (0 = identical).
    """
    xy = np.asarray(xy, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    vals2 = vals if vals.ndim == 2 else vals[:, None]
    rows = np.arange(1, xy.shape[0] + 1) if rows is None else np.asarray(rows)
    if method not in ("average", "reject", "first", "error"):
        raise ParameterError(f"duplicates method must be average, reject, first or error, got {method!r}", hint="--duplicates (CLI) or points.duplicates (run config)")
    labels = duplicate_groups(xy, tol)
    uniq, first_idx, counts = np.unique(labels, return_index=True, return_counts=True)
    dup_labels = uniq[counts > 1]
    groups = [sorted(int(r) for r in rows[labels == g]) for g in dup_labels[:100]]
    if dup_labels.size and method == "error":
        raise GeochemError(
            f"{dup_labels.size} locations hold more than one sample (first: rows {groups[0]})",
            row=groups[0][1],
            hint="choose duplicates='average', 'reject' or 'first'",
        )
    if dup_labels.size == 0:
        return DuplicateResult(xy, vals, rows, 0, 0, [])
    order = np.sort(first_idx)  # keep source order of first occurrences
    lab_order = labels[order]
    if method == "first":
        keep = order
        return DuplicateResult(xy[keep], vals[keep], rows[keep], int(dup_labels.size), int(xy.shape[0] - keep.size), groups)
    if method == "reject":
        single = np.isin(labels, uniq[counts == 1])
        return DuplicateResult(xy[single], vals[single], rows[single], int(dup_labels.size), int((~single).sum()), groups)
    # average: NaN-aware mean per group (bincount over groups)
    m = lab_order.size
    pos = np.empty(labels.max() + 1, dtype=np.int64)
    pos[lab_order] = np.arange(m)
    g = pos[labels]
    cnt = np.bincount(g, minlength=m).astype(np.float64)
    new_xy = np.column_stack([np.bincount(g, xy[:, k], minlength=m) / cnt for k in range(2)])
    new_vals = np.empty((m, vals2.shape[1]))
    for e in range(vals2.shape[1]):
        ok = np.isfinite(vals2[:, e])
        s = np.bincount(g[ok], vals2[ok, e], minlength=m)
        c = np.bincount(g[ok], minlength=m)
        with np.errstate(invalid="ignore", divide="ignore"):
            new_vals[:, e] = np.where(c > 0, s / np.maximum(c, 1), np.nan)
    if vals.ndim == 1:
        new_vals = new_vals[:, 0]
    return DuplicateResult(new_xy, new_vals, rows[order], int(dup_labels.size), int(xy.shape[0] - m), groups)
