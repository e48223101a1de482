"""Evidence stacks for the model comparison (issue 17): Murchison (real) and seeded synthetic areas.

Every area is returned as an :class:`Area`: ``X`` (C, H, W) float32 evidence (NaN = no data),
``area`` (H, W) bool (the cells that are ranked and trained on: inside the study area and valid),
``deposits`` flat cell indices (one per deposit; a cell may repeat), band names, cell size.
Murchison is read from ``../shared/datasets/murchison`` (never copied) and cached as .npz.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from murchison import fault_density  # noqa: E402  (benchmarks/murchison.py: the same kernel, one copy)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "datasets" / "murchison"
ELEMENTS = ["Au_ppb", "As_ppm", "Sb_ppm", "Cu_ppm", "Pb_ppm", "Zn_ppm", "Mo_ppm"]
CRS = "EPSG:20350"
log = logging.getLogger("skill.data")


@dataclass
class Area:
    name: str
    X: np.ndarray  # (C, H, W) float32
    area: np.ndarray  # (H, W) bool
    deposits: np.ndarray  # flat indices into (H, W), one per deposit
    bands: list[str]
    cell_km: float = 1.0

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape[1:]


def idw_knn(xy: np.ndarray, values: np.ndarray, cx: np.ndarray, cy: np.ndarray, k: int = 8, power: float = 2.0) -> np.ndarray:
    """IDW of one variable (gdal_grid invdistnn, no radius), float64 with a local origin."""
    from scipy.spatial import cKDTree

    ok = np.isfinite(values)
    xy, values = xy[ok], values[ok]
    o = xy.mean(axis=0)
    tree = cKDTree(xy - o)
    q = np.column_stack([cx.ravel() - o[0], cy.ravel() - o[1]])
    d, i = tree.query(q, k=min(k, len(xy)))
    with np.errstate(divide="ignore"):
        w = 1.0 / d**power
    hit = ~np.isfinite(w)
    w[hit.any(axis=1)] = 0.0
    w[hit] = 1.0
    return ((w * values[i]).sum(axis=1) / w.sum(axis=1)).reshape(cx.shape)


def murchison(cache: Path = Path("/tmp/skill-cache"), res: float = 1000.0) -> Area:
    """Murchison evidence on 1 km cells (as benchmarks/murchison.py), study area rasterised."""
    path = cache / "murchison.npz"
    if path.exists():
        z = np.load(path)
        return Area("murchison", z["X"], z["area"], z["deposits"], list(z["bands"]), res / 1000.0)
    import pandas as pd
    from pyproj import Transformer
    from rasterio.features import rasterize

    from geoprospect.evidence.distance import distance_to_features
    from geoprospect.grid import GridSpec
    from geoprospect.io.vectors import deposit_points, read_vectors

    faults = read_vectors(DATA / "faults.gpkg", target_crs=CRS, what="faults")
    green = read_vectors(DATA / "greenstone.gpkg", target_crs=CRS, what="greenstone")
    study = read_vectors(DATA / "study_area.gpkg", target_crs=CRS, what="study area")
    deps = deposit_points(read_vectors(DATA / "gold_deposits.gpkg", target_crs=CRS, what="deposits"))
    b = np.vstack([faults.total_bounds, green.total_bounds])
    bounds = (np.floor(b[:, 0].min() / res) * res, np.floor(b[:, 1].min() / res) * res, np.ceil(b[:, 2].max() / res) * res, np.ceil(b[:, 3].max() / res) * res)
    grid = GridSpec.from_bounds(bounds, res, CRS)
    H, W = grid.shape
    t = grid.transform
    cx = t.c + (np.arange(W) + 0.5) * t.a
    cy = t.f + (np.arange(H) + 0.5) * t.e
    CX, CY = np.meshgrid(cx, cy)
    df = pd.read_csv(DATA / "laterite_geochemistry.csv", usecols=["LATITUDE", "LONGITUDE", *ELEMENTS]).dropna(subset=["LATITUDE", "LONGITUDE"])
    x, y = Transformer.from_crs("EPSG:4283", CRS, always_xy=True).transform(df["LONGITUDE"].to_numpy(), df["LATITUDE"].to_numpy())
    xy = np.column_stack([x, y])
    near = (x > bounds[0] - 5e4) & (x < bounds[2] + 5e4) & (y > bounds[1] - 5e4) & (y < bounds[3] + 5e4)
    layers, names = [], []
    for e in ELEMENTS:
        v = df[e].to_numpy(np.float64)[near]
        with np.errstate(invalid="ignore", divide="ignore"):
            lv = np.where(v > 0, np.log10(v), np.nan)
        layers.append(idw_knn(xy[near], lv, CX, CY))
        names.append(f"log10_{e}")
    layers.append(distance_to_features(faults.geometry.values, grid))
    names.append("dist_faults")
    layers.append(fault_density(faults.geometry.values, grid, radius=5000.0))
    names.append("fault_density")
    layers.append(distance_to_features(green.geometry.values, grid))
    names.append("dist_greenstone")
    X = np.stack(layers).astype(np.float32)
    inside = rasterize([(g, 1) for g in study.geometry.values], out_shape=(H, W), transform=t, fill=0, dtype="uint8").astype(bool)
    area = inside & np.isfinite(X).all(axis=0)
    ok = grid.contains(deps[:, 0], deps[:, 1])
    r, c = grid.rowcol(deps[ok, 0], deps[ok, 1])
    dep = np.asarray(r) * W + np.asarray(c)
    dep = dep[area.ravel()[dep]]
    log.info("murchison: %d x %d cells, %d in the study area, %d of %d deposits inside", H, W, int(area.sum()), dep.size, len(deps))
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, X=X, area=area, deposits=dep, bands=np.array(names))
    return Area("murchison", X, area, dep, names, res / 1000.0)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / f.std()


def synthetic(kind: str, seed: int = 0) -> Area:
    """A seeded synthetic area; deposits placed by a hidden rule on a few layers (+ noise layers).

    kinds:
      ``few12``    160 x 160 cells, 12 deposits; rule: near a "fault" line network AND high
                   smooth "geochem" anomaly; 4 informative + 4 noise layers.
      ``mid40``    200 x 200 cells, 40 deposits; rule: contact of a "greenstone" unit (distance),
                   a pathfinder anomaly offset from the deposit (spatial context matters) + noise.
      ``corner12`` 160 x 160 cells, 12 deposits clustered in one corner (the rule holds
                   everywhere but ground was explored only in the north-west quarter).
    """
    from scipy.ndimage import distance_transform_edt, gaussian_filter, shift

    rng = np.random.default_rng({"few12": 11, "mid40": 22, "corner12": 33}[kind] + 1000 * seed)
    H = W = 200 if kind == "mid40" else 160
    n_dep = 40 if kind == "mid40" else 12
    # "faults": random line segments rasterised, then distance
    lines = np.zeros((H, W), bool)
    for _ in range(14):
        r0, c0 = rng.uniform(0, H), rng.uniform(0, W)
        ang, L = rng.uniform(0, np.pi), rng.uniform(30, 120)
        tt = np.linspace(0, L, int(L * 2))
        rr = np.clip((r0 + tt * np.sin(ang)).astype(int), 0, H - 1)
        cc = np.clip((c0 + tt * np.cos(ang)).astype(int), 0, W - 1)
        lines[rr, cc] = True
    d_fault = distance_transform_edt(~lines)
    unit = _smooth_field(rng, (H, W), 12) > 0.6  # "greenstone" outcrops
    d_green = distance_transform_edt(~unit)
    geo = _smooth_field(rng, (H, W), 4)  # pathfinder, smooth
    geo2 = _smooth_field(rng, (H, W), 8)
    if kind == "mid40":
        # deposits at the greenstone contact where a pathfinder anomaly lies ~4 cells east
        score = -0.5 * d_green + 1.5 * shift(geo, (0, -4), mode="nearest") - 0.15 * d_fault
        layers = {"dist_greenstone": d_green, "dist_faults": d_fault, "pathfinder": geo, "geochem2": geo2}
    else:
        score = -0.35 * d_fault + 1.6 * geo + 0.8 * geo2
        layers = {"dist_faults": d_fault, "pathfinder": geo, "geochem2": geo2, "dist_greenstone": d_green}
    score = score + 0.7 * gaussian_filter(rng.standard_normal((H, W)), 1.0) / 0.28
    for j in range(4):
        layers[f"noise{j}"] = _smooth_field(rng, (H, W), rng.uniform(2, 10))
    layers["pathfinder"] = layers["pathfinder"] + 0.3 * rng.standard_normal((H, W))  # measurement noise
    z = (score - score.mean()) / score.std()
    p = np.exp(2.5 * (z - z.max()))
    if kind == "corner12":
        explored = np.zeros((H, W), bool)
        explored[: int(0.45 * H), : int(0.45 * W)] = True
        p = p * explored
    p = p.ravel() / p.sum()
    dep = rng.choice(H * W, size=n_dep, replace=False, p=p)
    X = np.stack([v.astype(np.float32) for v in layers.values()])
    area = np.ones((H, W), bool)
    return Area(f"synthetic_{kind}", X, area, np.sort(dep), list(layers))
