"""Synthetic study areas run through the default ``geoprospect run`` (issue 23: every cell a sample).

    python benchmarks/synthetic_areas.py                     # every area (~10 min on 2 cores)
    python benchmarks/synthetic_areas.py --quick             # the two smallest areas
    python benchmarks/synthetic_areas.py --only c500_80 --out /tmp/areas

Each area is seeded and written under ``--out`` (default: a temporary folder, removed at the
end unless ``--keep``), never into the repository: real GeoTIFF evidence rasters, a
stream-sediment points CSV (the run config requires ``points:``), a fault-line GeoPackage, a
deposits GeoPackage and a ``config.yaml`` holding only what a new user writes (``points``,
``grid``, ``rasters``, ``vectors``, ``deposits``: no ``windows:``, ``train:`` or
``evaluation:``, so every run gets the defaults: ``blend_cell``, every cell a sample,
automatic spatial blocks, 3 layouts).

The areas differ in cell size (100 m to 2 km), deposit count (12 to 250), layer count (4 to 12
bands) and noise. Deposits are drawn cell by cell with probability proportional to
``exp(strength * rule)``, where the hidden rule is a weighted sum of a few true evidence fields
(one with a negative sign, distance to faults, a geochemical field and, in the larger areas, a
non-linear "mid-range" term) plus an unobserved smooth field of standard deviation ``noise``.
The rasters and geochemistry the run sees are the true fields plus white measurement noise;
the remaining layers are pure distractors. ``e2k_null`` places its deposits at random: no layer
carries any information, so every row should sit within noise of 0.5.

For every area the script runs ``geoprospect run CONFIG --out DIR`` as a subprocess (no shell),
measures its wall time and CPU time (``resource.getrusage(RUSAGE_CHILDREN)`` before and after),
reads ``metrics.json`` (``out_of_fold``: model and baseline rows) and writes
``benchmarks/results/synthetic_areas.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CRS = "EPSG:32750"
ORIGIN = (400_000.0, 6_900_000.0)
PAD = 5  # cells of margin around the grid in the evidence rasters (a user's rasters overlap the area)


@dataclass(frozen=True)
class AreaSpec:
    """One synthetic study area.

    Attributes:
        name: folder and table name.
        cell: cell size in metres.
        side: cells a side (the grid is side x side).
        deposits: known deposits placed by the hidden rule.
        rasters: single-band evidence GeoTIFFs (the first ``min(rasters, 3)`` carry the rule).
        elements: geochemical elements in the points CSV (the first carries the rule).
        vectors: fault-line layers (distance); the first carries the rule.
        noise: standard deviation of the unobserved field in the rule (and of the measurement noise).
        associated: False places the deposits at random (no layer informs).
        seed: random seed.
    """

    name: str
    cell: float
    side: int
    deposits: int
    rasters: int
    elements: int
    vectors: int
    noise: float
    associated: bool = True
    seed: int = 0

    @property
    def layers(self) -> int:
        """Bands of the evidence stack (one per raster, element and vector layer)."""
        return self.rasters + self.elements + self.vectors


AREAS: tuple[AreaSpec, ...] = (
    AreaSpec("a100_12", 100.0, 160, 12, 2, 1, 1, 0.3, seed=11),
    AreaSpec("b250_40", 250.0, 200, 40, 3, 2, 1, 0.5, seed=12),
    AreaSpec("c500_80", 500.0, 220, 80, 4, 3, 1, 0.8, seed=13),
    AreaSpec("d1k_250", 1000.0, 260, 250, 6, 4, 2, 1.0, seed=14),
    AreaSpec("e2k_null", 2000.0, 150, 30, 3, 2, 1, 0.0, associated=False, seed=15),
)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """A zero-mean, unit-variance Gaussian random field (white noise blurred by ``sigma`` cells)."""
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return (f - f.mean()) / f.std()


def fault_lines(rng: np.random.Generator, spec: AreaSpec, n: int) -> list:
    """``n`` straight fault segments (shapely LineStrings) crossing the area, in map units."""
    import shapely

    span = spec.side * spec.cell
    x0, y0 = ORIGIN
    out = []
    for _ in range(n):
        cx, cy = x0 + rng.uniform(0, span), y0 + rng.uniform(0, span)
        az, half = rng.uniform(0, np.pi), rng.uniform(0.15, 0.5) * span
        dx, dy = half * np.sin(az), half * np.cos(az)
        out.append(shapely.LineString([(cx - dx, cy - dy), (cx + dx, cy + dy)]))
    return out


def distance_cells(lines: list, spec: AreaSpec, grid) -> np.ndarray:
    """(side, side) approximate distance (in cells) from each cell centre to the nearest line."""
    from rasterio.features import rasterize
    from scipy.ndimage import distance_transform_edt

    hit = rasterize([(g, 1) for g in lines], out_shape=grid.shape, transform=grid.transform, all_touched=True, fill=0, dtype="uint8")
    return distance_transform_edt(hit == 0)


def hidden_rule(rng: np.random.Generator, spec: AreaSpec, fields: dict[str, np.ndarray], dist: np.ndarray) -> np.ndarray:
    """(side, side) log-intensity of deposits: the rule on the true fields plus unobserved noise."""
    shape = dist.shape
    if not spec.associated:
        return np.zeros(shape)
    z = 1.0 * fields["r0"] - 0.8 * fields["g0"] * -1.0 - 1.2 * np.minimum(dist, 30.0) / 10.0
    if spec.rasters > 1:
        z = z - 0.8 * fields["r1"]
    if spec.rasters > 2:  # a non-linear term: deposits favour the mid-range of r2
        z = z - 0.6 * fields["r2"] ** 2
    return z + spec.noise * smooth_field(rng, shape, 4.0)


def place_deposits(rng: np.random.Generator, spec: AreaSpec, rule: np.ndarray, grid) -> np.ndarray:
    """(deposits, 2) map coordinates: cells drawn without replacement with p ~ exp(1.5 rule), a random point in each."""
    logit = 1.5 * rule.ravel()
    p = np.exp(logit - logit.max())
    idx = rng.choice(p.size, size=spec.deposits, replace=False, p=p / p.sum())
    rows, cols = np.divmod(idx, spec.side)
    t = grid.transform
    x = t.c + (cols + rng.uniform(0.05, 0.95, idx.size)) * t.a
    y = t.f + (rows + rng.uniform(0.05, 0.95, idx.size)) * t.e
    return np.column_stack([x, y])


def write_rasters(folder: Path, rng: np.random.Generator, spec: AreaSpec, fields: dict[str, np.ndarray]) -> list[dict]:
    """One GeoTIFF per raster layer on the grid padded by ``PAD`` cells: true field + noise (a linear trend and units added)."""
    from geoprospect.grid import GridSpec
    from geoprospect.io.rasters import write_raster

    x0, y0 = ORIGIN
    span = spec.side * spec.cell
    pad = PAD * spec.cell
    big = GridSpec.from_bounds((x0 - pad, y0 - pad, x0 + span + pad, y0 + span + pad), spec.cell, CRS)
    entries = []
    for i in range(spec.rasters):
        true = np.pad(fields[f"r{i}"], PAD, mode="reflect")
        obs = true + max(spec.noise, 0.2) * 0.5 * rng.standard_normal(true.shape)
        scale, offset = 10.0 ** rng.uniform(0, 3), rng.uniform(-50, 500)
        name = f"raster_{i}"
        write_raster(folder / f"{name}.tif", (offset + scale * obs)[None].astype(np.float32), big, [name], overviews=False)
        entries.append({"name": name, "path": f"{name}.tif"})
    return entries


def write_points(folder: Path, rng: np.random.Generator, spec: AreaSpec, fields: dict[str, np.ndarray], grid) -> list[str]:
    """samples.csv: one sample per ~25 cells (at most 3,000), log-normal element values following the geochemical fields."""
    import pandas as pd

    n = int(min(3000, max(300, spec.side**2 // 25)))
    span = spec.side * spec.cell
    x = ORIGIN[0] + rng.uniform(0, span, n)
    y = ORIGIN[1] + rng.uniform(0, span, n)
    r, c = grid.rowcol(x, y)
    r, c = np.clip(np.asarray(r), 0, spec.side - 1), np.clip(np.asarray(c), 0, spec.side - 1)
    cols: dict[str, object] = {"sample_id": [f"S{i:05d}" for i in range(n)], "x": np.round(x, 1), "y": np.round(y, 1)}
    names = [f"E{i}_ppm" for i in range(spec.elements)]
    for i, name in enumerate(names):
        logv = rng.uniform(-1, 2) + 0.3 * fields[f"g{i}"][r, c] + 0.3 * max(spec.noise, 0.2) * rng.standard_normal(n)
        cols[name] = np.round(10.0**logv, 4)
    pd.DataFrame(cols).to_csv(folder / "samples.csv", index=False)
    return names
