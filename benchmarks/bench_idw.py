"""IDW at the papers' scale against gdal_grid -a invdistnn, measured in the same run.

Default problem (paper 001): 7,237 samples over a 41 x 41 km area, a 3072 x 3072 grid,
8 elements, k = 12 nearest, search radius 2 km. Samples are synthetic (clustered like a
soil survey) in UTM-sized coordinates, so the float32 pitfall of DESIGN.md would show.

    python benchmarks/bench_idw.py                    # ours (compiled cpu kernel) + gdal_grid on 1 element
    python benchmarks/bench_idw.py --gdal-elements 0  # ours only
    python benchmarks/bench_idw.py --size 1024 --backend torch --device cuda

gdal_grid interpolates one element per run; with --gdal-elements m < 8 its time for 8
elements is extrapolated as 8 x (mean time per element), and the output says so. Ours is
checked against gdal_grid's raster on the elements gdal_grid ran (max relative difference,
and whether empty cells coincide).
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
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geoprospect.evidence.idw import idw  # noqa: E402
from geoprospect.grid import GridSpec  # noqa: E402

X0, Y0 = 356_000.0, 6_912_000.0  # UTM zone 50S-like coordinates


def make_samples(n: int, extent: float, n_el: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Samples: half on a jittered survey lattice, half in clusters (follow-up infill)."""
    rng = np.random.default_rng(seed)
    n_lat = n // 2
    side = int(np.ceil(np.sqrt(n_lat)))
    g = (np.arange(side) + 0.5) * extent / side
    xx, yy = np.meshgrid(g, g)
    lat = np.column_stack([xx.ravel(), yy.ravel()])[:n_lat] + rng.normal(0, extent / side * 0.15, (n_lat, 2))
    centres = rng.uniform(0, extent, (40, 2))
    cl = centres[rng.integers(0, 40, n - n_lat)] + rng.normal(0, extent * 0.02, (n - n_lat, 2))
    xy = np.clip(np.vstack([lat, cl]), 0, extent) + [X0, Y0]
    trend = np.sin(xy[:, :1] / 3000.0) + np.cos(xy[:, 1:] / 4500.0)
    vals = np.exp(trend * rng.uniform(0.5, 2.0, n_el) + rng.normal(0, 0.5, (n, n_el)))
    return xy, vals


def run_gdal_grid(xy, z, grid, k, radius, power, tmp: Path) -> tuple[float, np.ndarray]:
    import rasterio

    csv = tmp / "pts.csv"
    np.savetxt(csv, np.column_stack([xy, z]), delimiter=",", header="x,y,z", comments="", fmt="%.17g")
    vrt = tmp / "pts.vrt"
    vrt.write_text(
        f'<OGRVRTDataSource><OGRVRTLayer name="pts"><SrcDataSource>{csv}</SrcDataSource>'
        '<GeometryType>wkbPoint</GeometryType><GeometryField encoding="PointFromColumns" x="x" y="y" z="z"/>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    )
    out = tmp / "gdal.tif"
    xmin, ymin, xmax, ymax = grid.bounds
    cmd = [
        shutil.which("gdal_grid"), "-q", "--config", "GDAL_NUM_THREADS", "ALL_CPUS",
        "-a", f"invdistnn:power={power}:radius={radius}:max_points={k}:min_points=1:nodata=-9999",
        "-txe", repr(xmin), repr(xmax), "-tye", repr(ymin), repr(ymax),
        "-outsize", str(grid.width), str(grid.height), "-ot", "Float32", "-l", "pts", str(vrt), str(out),
    ]
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    dt = time.perf_counter() - t
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    with rasterio.open(out) as src:
        a = src.read(1).astype(np.float64)
    return dt, cpu, np.where(a == -9999, np.nan, a)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=7237)
    ap.add_argument("--extent", type=float, default=41_000.0, help="side of the square area (m)")
    ap.add_argument("--size", type=int, default=3072, help="grid is size x size cells")
    ap.add_argument("--elements", type=int, default=8)
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--radius", type=float, default=2000.0)
    ap.add_argument("--power", type=float, default=2.0)
    ap.add_argument("--backend", default="cpu", choices=["cpu", "torch", "auto"])
    ap.add_argument("--device", default=None)
    ap.add_argument("--precision", default="float64", choices=["float32", "float64"])
    ap.add_argument("--gdal-elements", type=int, default=1, help="elements to run through gdal_grid (0 = skip)")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs of ours (best is reported)")
    args = ap.parse_args()

    xy, vals = make_samples(args.samples, args.extent, args.elements)
    grid = GridSpec.from_bounds((X0, Y0, X0 + args.extent, Y0 + args.extent), args.extent / args.size, "EPSG:32750")
    print(f"problem: {args.samples} samples, {args.extent / 1000:g} x {args.extent / 1000:g} km, grid {grid.height} x {grid.width} "
          f"({grid.res[0]:.2f} m cells), {args.elements} elements, k={args.k}, radius={args.radius:g} m, power={args.power:g}")
    print(f"machine: {os.cpu_count()} CPUs, load average before start {os.getloadavg()[0]:.2f} "
          "(a shared machine inflates wall times; CPU time is shown too)")
    kw = dict(neighbors=args.k, radius=args.radius, power=args.power, backend=args.backend,
              device=args.device, precision=args.precision)

    idw(xy[:500], vals[:500], GridSpec.from_bounds(grid.bounds, args.extent / 64, grid.crs), **kw)  # warm-up
    best = None
    for _ in range(args.repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        ours = idw(xy, vals, grid, **kw)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if best is None or wall < best[0]:
            best = (wall, cpu)
    wall, cpu = best
    print(f"ours ({args.backend}, {args.precision}): {wall:.2f} s wall, {cpu:.2f} s CPU for {args.elements} elements "
          f"({wall / args.elements:.3f} s per element)")
    tracemalloc.start()
    idw(xy, vals, grid, **kw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out_mb = args.elements * grid.width * grid.height * 4 / 2**20
    print(f"ours peak traced memory: {peak / 2**20:.0f} MiB (of which the float32 output: {out_mb:.0f} MiB); "
          f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print("GPU (H100) time: not measured (no GPU in this environment); run with --backend torch --device cuda there.")

    m = min(args.gdal_elements, args.elements)
    if m <= 0:
        return
    if shutil.which("gdal_grid") is None:
        print("gdal_grid not found: comparison skipped")
        return
    times, cpus, worst, same_nan = [], [], 0.0, True
    with tempfile.TemporaryDirectory() as d:
        for e in range(m):
            dt, cpu_g, ref = run_gdal_grid(xy, vals[:, e], grid, args.k, args.radius, args.power, Path(d))
            times.append(dt)
            cpus.append(cpu_g)
            a = ours[e].astype(np.float64)
            same_nan &= bool(np.array_equal(np.isnan(a), np.isnan(ref)))
            ok = ~np.isnan(a) & ~np.isnan(ref)
            worst = max(worst, float(np.max(np.abs(a[ok] - ref[ok]) / np.abs(ref[ok]))))
            print(f"gdal_grid element {e}: {dt:.2f} s wall, {cpu_g:.2f} s CPU")
    per = float(np.mean(times))
    total = per * args.elements
    how = "measured" if m == args.elements else f"extrapolated: {args.elements} x mean of {m} element(s)"
    print(f"gdal_grid: {per:.2f} s per element, {total:.1f} s for {args.elements} elements ({how})")
    cpu_total = float(np.mean(cpus)) * args.elements
    print(f"gdal_grid CPU: {cpu_total:.1f} s for {args.elements} elements ({how})")
    print(f"speed-up ours vs gdal_grid: {total / wall:.1f}x wall, {cpu_total / cpu:.1f}x CPU (target >= 50x)")
    print(f"agreement on {m} element(s): max relative difference {worst:.2e}, empty cells identical: {same_nan}")


if __name__ == "__main__":
    main()
