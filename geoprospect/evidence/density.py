"""Buffer-distance density of structures (paper 003) as true kernels (DESIGN.md decision 5).

``feature_density``: for each cell centre x, the amount of feature inside the disk of
radius R around x, per unit area of the disk:

- lines: total length of line inside the disk / (π R²)   (map units⁻¹; × 1000 = km/km² for metres)
- polygons: area of (dissolved) polygons inside the disk / (π R²)   (fraction, 0..1)
- points: number of points inside the disk / (π R²)   (map units⁻²)

Lengths and areas are exact (analytic segment/disk and polygon/disk intersections), so a
swarm of faults weighs more than a single fault, and a fault weighs by how much of it
passes near the cell, not by how many buffers overlap.

``distance_with_density``: paper 003's "buffer distance density" layer. The paper replaces
discrete buffer rings by a continuous buffer distance and adds density "so that the
radiation range and intensity of areas with numerous faults or large exposed alteration
are increased". Our reading, stated here because the paper gives no formula:

    influence(x) = max(0, 1 - d(x) / R) * (1 + ρ(x) / ρ₁)

where d is the exact distance to the nearest feature (the continuous buffer distance,
1 on the feature falling to 0 at the buffer radius R), ρ the density above with the same
R, and ρ₁ the density of one isolated straight feature through x (lines: 2R / (π R²);
polygons: 1/2, x on a straight edge; points: 1 / (π R²)). A lone fault thus scores 2 on
the fault, two close parallel faults score about 3, and nothing scores beyond R.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import shapely

from geoprospect.errors import ConfigError, GeometryError
from geoprospect.evidence._chunks import by_chunk as _by_chunk
from geoprospect.evidence._chunks import chunks_for, default_workers, padded_batches, row_reporter, run_batches
from geoprospect.evidence._vector import as_geometries, inside_mask, kinds, polygons_dissolved, segments
from geoprospect.evidence.distance import Segments, distance_to_features
from geoprospect.grid import GridSpec

_BATCH_ELEMS = 500_000


def _lines_without_points(geoms: np.ndarray) -> np.ndarray:
    """A line layer with a few point features (zero-length lines, which geometry repair turns
    into points) keeps its lines only: a point has no length to add (logged)."""
    k = kinds(geoms)
    if k == {"line", "point"}:
        pts = np.isin(shapely.get_type_id(geoms), (0, 4))
        if not pts.all():
            logging.getLogger(__name__).warning("density of lines: %d point features (zero-length lines) have no length and are left out", int(pts.sum()))
            return geoms[~pts]
    return geoms


def _kind(geoms: np.ndarray) -> str:
    k = kinds(geoms)
    if len(k) != 1:
        raise GeometryError(
            f"the layer mixes {' and '.join(sorted(k))} features: density needs one kind",
            hint="split the layer by geometry type and make one density layer each",
        )
    return k.pop()


def _check_radius(radius: float, grid: GridSpec) -> float:
    if radius is None or not np.isfinite(radius) or radius <= 0:
        raise ConfigError(f"density radius must be a positive distance in map units, got {radius}")
    return float(radius)


class DensityFeatures:
    """Features checked once for :func:`feature_density`: their kind ("line", "polygon" or
    "point") and their segments (map coordinates; polygons dissolved and oriented first, so
    overlaps count once). A stack layer prepares it once for every block of a map."""

    def __init__(self, geometries: object) -> None:
        geoms = _lines_without_points(as_geometries(geometries))
        self.kind = _kind(geoms)
        if self.kind == "polygon":
            polys = polygons_dissolved(geoms)
            a, b = segments(polys)
            self.segments = Segments(a, b, polys)
        else:
            a, b = segments(geoms)
            self.segments = Segments(a, b, np.empty(0, dtype=object))


def feature_density(
    geometries: object | DensityFeatures,
    grid: GridSpec,
    radius: float,
    *,
    progress: Callable[[int], None] | None = None,
    chunk: int = 16,
    batch_elems: int = _BATCH_ELEMS,
    workers: int | None = None,
) -> np.ndarray:
    """Amount of feature within ``radius`` of each cell centre, per unit area (see module doc).

    Args:
        geometries: lines, polygons or points (one kind) in the grid's CRS, or their
            :class:`DensityFeatures`.
        grid: target grid.
        radius: kernel radius in map units.
        progress: called with a number of rows finished (summing to the grid height).
        chunk: chunk side in cells (speed only).
        batch_elems: cells x candidates per batch (memory bound).
        workers: threads (default: CPU count, at most 8).

    Returns:
        (rows, cols) float32, 0 where no feature is within ``radius``.

    Raises:
        GeometryError: empty layer, invalid polygon, mixed geometry kinds.
        ConfigError: radius not positive.
    """
    r = _check_radius(radius, grid)
    feats = geometries if isinstance(geometries, DensityFeatures) else DensityFeatures(geometries)
    seg = feats.segments
    kernel = {"polygon": _poly_kernel, "line": _line_kernel, "point": _point_kernel}[feats.kind]
    base = np.pi * r * r * inside_mask(seg.polygons, grid) if feats.kind == "polygon" else None
    origin = np.array([grid.transform.c, grid.transform.f])
    a, b = seg.a - origin, seg.b - origin  # grid-local coordinates (float64), as the kernels expect
    out = np.zeros(grid.shape, dtype=np.float64)
    chunks = chunks_for(grid, chunk * max(grid.res), lo=4, hi=128)
    centres = chunks.centres()
    h = chunks.half_diagonal
    pairs = seg.tree.query(shapely.points(centres + origin), predicate="dwithin", distance=r + h + 1e-9 * (1 + r + h))
    pairs = _by_chunk(pairs)
    counts = np.bincount(pairs[0], minlength=len(centres))
    s = a.shape[0]
    # padding: a zero-length "segment" far away contributes nothing
    a_pad = np.vstack([a, [[1e15, 1e15]]])
    d_pad = np.vstack([b - a, [[0.0, 0.0]]])
    offs = chunks.cell_offsets()
    ox, oy = offs[: chunks.cc, 0], offs[:: chunks.cc, 1]
    m = chunks.cr * chunks.cc

    def work(ids, idx):
        rel_a = a_pad[idx] - centres[ids][:, None, :]
        val = kernel(ox, oy, rel_a, d_pad[idx], r)  # (B, cr, cc)
        chunks.scatter(out[None], ids, val.reshape(len(ids), m, 1), [0])

    run_batches(padded_batches(counts, pairs[1], s, batch_elems, m), work, workers or default_workers(),
                row_reporter(progress, grid.height, chunks.n_chunks))
    if base is not None:
        out += base
        np.clip(out, 0.0, np.pi * r * r, out=out)  # rounding at the 1e-12 level
    return (out / (np.pi * r * r)).astype(np.float32)


def _parts(ox, oy, rel_a, d):
    """Separable pieces for segment i = a + t d relative to cell p: A = a - p.

    Returns Ax (B,C,1,cc), Ay (B,C,cr,1), dx, dy, L2 (B,C,1,1), s = A.d and |A|² (B,C,cr,cc).
    """
    ax = rel_a[:, :, None, 0] - ox[None, None, :]  # (B, C, cc)
    ay = rel_a[:, :, None, 1] - oy[None, None, :]  # (B, C, cr)
    dx = d[:, :, 0][:, :, None, None]
    dy = d[:, :, 1][:, :, None, None]
    ax4, ay4 = ax[:, :, None, :], ay[:, :, :, None]
    s = ax4 * dx + ay4 * dy
    aa = ax4 * ax4 + ay4 * ay4
    return ax4, ay4, dx, dy, dx * dx + dy * dy, s, aa


def _chord(s, aa, l2, r):
    """Parameters t1 <= t2 where the segment's line crosses the circle (t1 = t2 if it misses)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = s * s - l2 * (aa - r * r)
        sq = np.sqrt(np.maximum(disc, 0.0))
        inv = np.where(l2 > 0, 1.0 / l2, 0.0)
        t1 = (-s - sq) * inv
        t2 = (-s + sq) * inv
    return t1, t2


def _line_kernel(ox, oy, rel_a, d, r):
    """Σ length of segment ∩ disk(cell, r), (B, cr, cc). Written out: it runs per (cell, segment)."""
    _, _, _, _, l2, s, aa = _parts(ox, oy, rel_a, d)
    t1, t2 = _chord(s, aa, l2, r)
    inside = np.clip(np.minimum(t2, 1.0) - np.maximum(t1, 0.0), 0.0, None)
    return (inside * np.sqrt(l2)).sum(axis=1)


def _point_kernel(ox, oy, rel_a, d, r):
    """Number of points within r, (B, cr, cc)."""
    ax, ay, *_ = _parts(ox, oy, rel_a, d)
    aa = ax * ax + ay * ay
    return (aa <= r * r).sum(axis=1).astype(np.float64)


def _poly_kernel(ox, oy, rel_a, d, r):
    """Σ over oriented ring edges of (area of triangle(cell, edge) ∩ disk) - (its sector), (B, cr, cc).

    By Green's theorem area(polygon ∩ disk) = Σ_edges area(triangle(p, A, B) ∩ disk), signed.
    An edge wholly outside the disk contributes its sector R² θ(A, B) / 2, and the sectors
    of all edges add up to π R² (cell inside) or 0, so only edges near the disk are summed
    here and π R² × inside is added by the caller. For an edge whose part inside the disk
    runs from P0 to P1 the term is (cross(P0, P1) - R² θ(P0, P1)) / 2.
    """
    ax, ay, dx, dy, l2, s, aa = _parts(ox, oy, rel_a, d)
    t1, t2 = _chord(s, aa, l2, r)
    s0 = np.clip(t1, 0.0, 1.0)
    s1 = np.clip(t2, 0.0, 1.0)
    cross = (s1 - s0) * (ax * dy - ay * dx)  # cross(P0, P1)
    dot = aa + (s0 + s1) * s + s0 * s1 * l2  # P0 . P1
    term = 0.5 * (cross - r * r * np.arctan2(cross, dot))
    return term.sum(axis=1)


def combine_distance_density(distance: np.ndarray, density: np.ndarray, radius: float, reference: float) -> np.ndarray:
    """influence = max(0, 1 - distance / radius) * (1 + density / reference), float32 (NaN kept)."""
    if not reference > 0:
        raise ConfigError(f"reference density must be positive, got {reference}")
    ramp = np.clip(1.0 - np.asarray(distance, dtype=np.float64) / radius, 0.0, None)
    return (ramp * (1.0 + np.asarray(density, dtype=np.float64) / reference)).astype(np.float32)


def reference_density(kind: str, radius: float) -> float:
    """Density of one isolated straight feature through the cell (see module doc)."""
    return {"line": 2.0 * radius / (np.pi * radius * radius), "polygon": 0.5,
            "point": 1.0 / (np.pi * radius * radius)}[kind]


def distance_with_density(
    geometries: object | DensityFeatures,
    grid: GridSpec,
    radius: float,
    *,
    reference: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Paper 003's buffer-distance density layer (our reading; see the module doc).

    Args:
        geometries: lines, polygons or points (one kind) in the grid's CRS, or their
            :class:`DensityFeatures`.
        grid: target grid.
        radius: buffer radius R in map units (the influence reaches 0 at R).
        reference: density of "one feature" (default: ``reference_density(kind, radius)``).
        progress: called with rows finished (the two passes together sum to the height).

    Returns:
        (rows, cols) float32 influence, 0 beyond R from every feature.
    """
    r = _check_radius(radius, grid)
    feats = geometries if isinstance(geometries, DensityFeatures) else DensityFeatures(geometries)
    half = None
    if progress is not None:
        acc = [0, 0]

        def half(n: int) -> None:  # each pass reports the full height: report half of each
            acc[0] += n
            target = acc[0] // 2
            if target > acc[1]:
                progress(target - acc[1])
                acc[1] = target

    d = distance_to_features(feats.segments, grid, progress=half)  # to the union of polygons = to any polygon
    rho = feature_density(feats, grid, r, progress=half)
    if progress is not None and acc[1] < grid.height:
        progress(grid.height - acc[1])
    return combine_distance_density(d, rho, r, reference or reference_density(feats.kind, r))
