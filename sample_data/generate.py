"""Generate the bundled synthetic study area (seeded, deterministic).

    python sample_data/generate.py            # rewrites the files beside this script

A 40 x 40 km area in UTM zone 49N (EPSG:32649, the zone of papers 000-002's study areas):

- ``fault_lines.gpkg``: 10 long NE/NNE-trending faults and 30 short splays (lines).
- ``alteration.gpkg``: alteration polygons: halos (250-600 m) around fault segments inside
  the "fertile" zones, plus barren alteration elsewhere.
- ``deposits.gpkg``: 32 known deposits drawn by a hidden rule: density proportional to a
  fertility field (six Gaussian intrusive centres, sigma 5 km) times exp(-distance to the
  nearest fault / 400 m). At least 9 deposits lie in the southern 30 % of the area so the
  default spatial test block holds some.
- ``samples.csv``: 2,000 stream-sediment samples (columns sample_id, x, y and the 16 elements
  of papers 000-002 with their units: Ag_ppm, Au_ppb, B_ppm, Sn_ppm, Cu_ppm, Ba_ppm, Mn_ppm,
  Pb_ppm, Zn_ppm, As_ppm, Sb_ppm, Hg_ppb, Mo_ppm, W_ppm, Bi_ppm, F_ppm). log10 values are
  normal around typical stream-sediment medians, plus a dispersion halo (exp(-d / 1.2 km))
  around every deposit, deposits found or not, for the pathfinder elements (Au strongest,
  then As, Sb, Ag, Hg, Bi, W, Cu, Pb, Mo, Zn, Sn); B, Ba, Mn and F carry only a regional trend.
- ``config.yaml``: the run configuration used by ``geoprospect run`` with no arguments.

A working pipeline ranks the deposits' cells high; one that scrambles coordinates, CRSs or
windows cannot, because nothing but the hidden rule links the layers to the deposits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SEED = 20261124
CRS = "EPSG:32649"
X0, Y0, SIZE = 500_000.0, 2_800_000.0, 40_000.0
N_SAMPLES = 2000
N_DEPOSITS = 32
ELEMENTS = {  # name: (median, log10 sd, halo amplitude in log10 units)
    "Ag_ppm": (0.08, 0.22, 0.55),
    "Au_ppb": (1.5, 0.30, 1.10),
    "B_ppm": (30.0, 0.20, 0.0),
    "Sn_ppm": (3.0, 0.22, 0.15),
    "Cu_ppm": (25.0, 0.20, 0.30),
    "Ba_ppm": (450.0, 0.18, 0.0),
    "Mn_ppm": (700.0, 0.20, 0.0),
    "Pb_ppm": (30.0, 0.20, 0.30),
    "Zn_ppm": (80.0, 0.18, 0.20),
    "As_ppm": (12.0, 0.28, 0.80),
    "Sb_ppm": (0.8, 0.28, 0.65),
    "Hg_ppb": (60.0, 0.28, 0.45),
    "Mo_ppm": (0.8, 0.24, 0.25),
    "W_ppm": (2.5, 0.24, 0.35),
    "Bi_ppm": (0.35, 0.24, 0.40),
    "F_ppm": (500.0, 0.15, 0.0),
}


def _faults(rng: np.random.Generator):
    import shapely

    lines = []
    for k in range(10):
        # long faults crossing the area, trending N20E-N50E, slightly curved
        az = np.deg2rad(rng.uniform(20, 50))
        cx = X0 + (k + 0.5) * SIZE / 10 + rng.normal(0, 1500)
        cy = Y0 + rng.uniform(0.3, 0.7) * SIZE
        t = np.linspace(-0.75, 0.75, 25) * SIZE
        bend = rng.normal(0, 1500) * np.sin(np.linspace(0, np.pi, 25))
        xs = cx + t * np.sin(az) + bend * np.cos(az)
        ys = cy + t * np.cos(az) - bend * np.sin(az)
        lines.append(shapely.LineString(np.column_stack([xs, ys])))
    for _ in range(30):
        x, y = rng.uniform(X0, X0 + SIZE), rng.uniform(Y0, Y0 + SIZE)
        az = np.deg2rad(rng.uniform(-60, 80))
        L = rng.uniform(2000, 7000)
        lines.append(shapely.LineString([(x, y), (x + L * np.sin(az), y + L * np.cos(az))]))
    box = shapely.box(X0 - 2000, Y0 - 2000, X0 + SIZE + 2000, Y0 + SIZE + 2000)
    return [shapely.intersection(l, box) for l in lines if shapely.intersects(l, box)]


def _fertility(x: np.ndarray, y: np.ndarray, centres: np.ndarray) -> np.ndarray:
    d2 = (x[..., None] - centres[:, 0]) ** 2 + (y[..., None] - centres[:, 1]) ** 2
    return np.exp(-d2 / (2 * 5000.0**2)).sum(axis=-1)


def generate(folder: Path) -> None:
    import geopandas as gpd
    import pandas as pd
    import shapely

    rng = np.random.default_rng(SEED)
    faults = _faults(rng)
    centres = np.column_stack([
        X0 + SIZE * np.array([0.2, 0.5, 0.8, 0.3, 0.7, 0.55]),
        Y0 + SIZE * np.array([0.8, 0.62, 0.75, 0.42, 0.35, 0.12]),
    ]) + rng.normal(0, 1500, (6, 2))
    tree = shapely.STRtree(faults)

    def fault_dist(x, y):
        pts = shapely.points(np.column_stack([x, y]))
        i = tree.query_nearest(pts, all_matches=False, return_distance=False)
        d = np.empty(len(pts))
        d[i[0]] = shapely.distance(pts[i[0]], np.asarray(faults, dtype=object)[i[1]])
        return d

    # deposits: rejection sampling of the hidden density on a 50 m lattice
    gx, gy = np.meshgrid(np.arange(X0 + 1000, X0 + SIZE - 1000, 50.0), np.arange(Y0 + 1000, Y0 + SIZE - 1000, 50.0))
    gx, gy = gx.ravel(), gy.ravel()
    dens = _fertility(gx, gy, centres) * np.exp(-fault_dist(gx, gy) / 400.0)
    p = dens / dens.sum()
    for _ in range(100):
        idx = rng.choice(gx.size, size=N_DEPOSITS, replace=False, p=p)
        dx, dy = gx[idx] + rng.uniform(-25, 25, N_DEPOSITS), gy[idx] + rng.uniform(-25, 25, N_DEPOSITS)
        south = (dy < Y0 + 0.3 * SIZE).sum()
        spaced = np.min(np.hypot(dx[:, None] - dx, dy[:, None] - dy) + np.eye(N_DEPOSITS) * 1e9) > 600
        if south >= 9 and N_DEPOSITS - south >= 15 and spaced:
            break
    else:  # pragma: no cover
        raise RuntimeError("could not place deposits")
    # two more 'undiscovered' deposits shape the geochemistry but are not in the deposit list
    hidden = rng.choice(gx.size, size=4, replace=False, p=p)
    hx, hy = np.concatenate([dx, gx[hidden]]), np.concatenate([dy, gy[hidden]])

    # alteration: halos around fault segments near fertile zones, plus barren patches
    alt = []
    for f in faults:
        L = f.length
        for s in np.arange(0, L, 3000.0):
            seg = shapely.ops.substring(f, s, min(s + 3000.0, L)) if hasattr(shapely, "ops") else None
            if seg is None:
                from shapely import ops

                seg = ops.substring(f, s, min(s + 3000.0, L))
            mid = seg.interpolate(0.5, normalized=True)
            fert = _fertility(np.array([mid.x]), np.array([mid.y]), centres)[0]
            if rng.random() < 0.8 * fert / (fert + 0.4):
                alt.append(seg.buffer(rng.uniform(250, 600)))
    for _ in range(6):
        x, y = rng.uniform(X0, X0 + SIZE), rng.uniform(Y0, Y0 + SIZE)
        alt.append(shapely.Point(x, y).buffer(rng.uniform(500, 1500), quad_segs=8))
    alt = list(shapely.unary_union(alt).geoms) if alt else []

    # samples
    sx, sy = rng.uniform(X0, X0 + SIZE, N_SAMPLES), rng.uniform(Y0, Y0 + SIZE, N_SAMPLES)
    dmin = np.hypot(sx[:, None] - hx, sy[:, None] - hy)
    halo = np.exp(-dmin / 1200.0).sum(axis=1)
    halo = np.minimum(halo, 1.5)
    regional = (sx - X0) / SIZE - 0.5
    cols = {"sample_id": [f"SS{i + 1:05d}" for i in range(N_SAMPLES)], "x": np.round(sx, 1), "y": np.round(sy, 1)}
    for name, (median, sd, amp) in ELEMENTS.items():
        logv = np.log10(median) + rng.normal(0, sd, N_SAMPLES) + amp * halo
        if amp == 0:
            logv += 0.15 * regional * (1 if name in ("Ba_ppm", "Mn_ppm") else -1)
        v = 10**logv
        cols[name] = [float(f"{val:.3g}") for val in v]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(cols).to_csv(folder / "samples.csv", index=False)

    def write(gdf, name):
        path = folder / name
        if path.exists():
            path.unlink()
        gdf.to_file(path, driver="GPKG", layer=path.stem)

    write(gpd.GeoDataFrame({"fault_id": np.arange(1, len(faults) + 1), "kind": ["major"] * 10 + ["splay"] * (len(faults) - 10)}, geometry=faults, crs=CRS), "fault_lines.gpkg")
    write(gpd.GeoDataFrame({"alt_id": np.arange(1, len(alt) + 1), "type": "silicification-sericite"}, geometry=alt, crs=CRS), "alteration.gpkg")
    write(
        gpd.GeoDataFrame(
            {"deposit_id": np.arange(1, N_DEPOSITS + 1), "name": [f"Deposit {i + 1}" for i in range(N_DEPOSITS)], "commodity": "Au"},
            geometry=shapely.points(np.column_stack([np.round(dx, 1), np.round(dy, 1)])),
            crs=CRS,
        ),
        "deposits.gpkg",
    )


if __name__ == "__main__":
    generate(Path(__file__).resolve().parent)
    print("sample data written to", Path(__file__).resolve().parent)
