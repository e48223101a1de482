"""Distance to faults: ours (exact, vector) against gdal_proximity.py (raster), same run.

Default problem: a 10,000 x 10,000 grid of 10 m cells (100 x 100 km) and 5,000 synthetic
fault polylines (random walks of 2-10 vertices, ~1 km steps) in UTM-sized coordinates.

    python benchmarks/bench_distance.py               # full size
    python benchmarks/bench_distance.py --size 3000   # quicker iteration (faults scaled by area)
    python benchmarks/bench_distance.py --scipy       # also scipy.ndimage.distance_transform_edt

gdal_proximity.py needs the faults burnt into a raster first (rasterio.features.rasterize,
all cells touched); that step is timed and shown separately. Errors are measured against
GEOS (shapely STRtree nearest + distance) at randomly sampled cells.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geoprospect.evidence.distance import distance_to_features  # noqa: E402
from geoprospect.grid import GridSpec  # noqa: E402

X0, Y0 = 356_000.0, 6_900_000.0


def make_faults(n: int, extent: float, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p0 = rng.uniform(0, extent, 2)
        steps = rng.normal(0, extent / 100, (int(rng.integers(1, 10)), 2))
        out.append(shapely.LineString(np.vstack([p0, p0 + np.cumsum(steps, axis=0)]) + [X0, Y0]))
    # clipped to the grid, so that the raster peers see the same faults as ours
    clipped = shapely.clip_by_rect(np.asarray(out, dtype=object), X0, Y0, X0 + extent, Y0 + extent)
    return [g for g in clipped if not g.is_empty]


def timed(f):
    c0, t0 = time.process_time(), time.perf_counter()
    r = f()
    return r, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=10_000, help="grid is size x size cells")
    ap.add_argument("--res", type=float, default=10.0, help="cell size (m)")
    ap.add_argument("--faults", type=int, default=None, help="default: 5000 x (size/10000)^2")
    ap.add_argument("--samples", type=int, default=20_000, help="cells sampled for the error check")
    ap.add_argument("--precision", default="float32", choices=["float32", "float64"])
    ap.add_argument("--scipy", action="store_true", help="also time scipy's exact EDT on the raster")
    args = ap.parse_args()

    extent = args.size * args.res
    n_f = args.faults or max(1, round(5000 * (args.size / 10_000) ** 2))
    faults = make_faults(n_f, extent)
    grid = GridSpec.from_bounds((X0, Y0, X0 + extent, Y0 + extent), args.res, "EPSG:32750")
    n_seg = int(sum(len(shapely.get_coordinates(p)) - 1 for f in faults for p in shapely.get_parts(f)))
    print(f"problem: grid {grid.height} x {grid.width} ({args.res:g} m cells), {n_f} faults ({len(faults)} features and {n_seg} segments after clipping to the grid)")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
          "(a shared machine inflates wall times; CPU time is shown too)")

    ours, t_ours, c_ours = timed(lambda: distance_to_features(faults, grid, precision=args.precision))
    print(f"ours (exact, {args.precision}): {t_ours:.2f} s wall, {c_ours:.2f} s CPU; "
          f"max RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")

    # reference at sampled cells: GEOS distance to the nearest fault
    rng = np.random.default_rng(1)
    rows = rng.integers(0, grid.height, args.samples)
    cols = rng.integers(0, grid.width, args.samples)
    pts = shapely.points(grid.x_centers()[cols], grid.y_centers()[rows])
    tree = shapely.STRtree(faults)
    (pi, _), exact = tree.query_nearest(pts, return_distance=True, all_matches=False)
    ref = np.empty(args.samples)
    ref[pi] = exact
    err_ours = np.abs(ours[rows, cols] - ref)
    print(f"ours max error vs GEOS: {err_ours.max():.2e} m (relative {np.max(err_ours / np.maximum(ref, args.res)):.1e})")

    from rasterio.features import rasterize

    burnt, t_r, c_r = timed(lambda: rasterize(((f, 1) for f in faults), out_shape=grid.shape,
                                              transform=grid.transform, all_touched=True, dtype="uint8"))
    print(f"rasterize faults for the raster peers: {t_r:.2f} s wall")
    if shutil.which("gdal_proximity.py") is None:
        print("gdal_proximity.py not found: comparison skipped")
    else:
        import rasterio

        with tempfile.TemporaryDirectory() as d:
            src, dst = Path(d) / "faults.tif", Path(d) / "prox.tif"
            with rasterio.open(src, "w", **grid.profile(1, dtype="uint8", nodata=None)) as ds:
                ds.write(burnt, 1)
            cmd = [shutil.which("gdal_proximity.py"), "-q", str(src), str(dst), "-values", "1",
                   "-distunits", "GEO", "-ot", "Float32", "-co", "TILED=YES"]
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            _, t_g, _ = timed(lambda: subprocess.run(cmd, check=True))
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            c_g = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
            with rasterio.open(dst) as ds:
                prox = ds.read(1)
        err_g = np.abs(prox[rows, cols] - ref)
        print(f"gdal_proximity.py: {t_g:.2f} s wall, {c_g:.2f} s CPU; max error vs GEOS {err_g.max():.2f} m")
        print(f"ratio gdal_proximity / ours: {t_g / t_ours:.2f}x wall, {c_g / c_ours:.2f}x CPU "
              "(target >= 1x, i.e. exact in no more time)")
    if args.scipy:
        from scipy.ndimage import distance_transform_edt

        edt, t_s, c_s = timed(lambda: distance_transform_edt(burnt == 0, sampling=(args.res, args.res)))
        err_s = np.abs(edt[rows, cols] - ref)
        print(f"scipy distance_transform_edt: {t_s:.2f} s wall, {c_s:.2f} s CPU; max error vs GEOS {err_s.max():.2f} m; "
              f"ratio scipy / ours {t_s / t_ours:.2f}x wall")


if __name__ == "__main__":
    main()
