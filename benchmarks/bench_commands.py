"""Whole commands against whole GDAL commands, same inputs, same run: seconds, ratio, peak RSS.

Every timing here is a whole process started from the shell (imports, reading the inputs,
computing, writing the GeoTIFF), as a user would run it:

* interpolate: ``geoprospect interpolate`` (IDW, k = 12, r = 2 km, 8 elements) against
  ``gdal_grid -a invdistnn:power=2:radius=2000:max_points=12`` (one run per element) at the
  papers' scale: 7,237 samples, 3,072 x 3,072 cells (paper 001's survey, synthetic values).
* distance: ``geoprospect distance`` (exact) against ``gdal_rasterize`` + ``gdal_proximity.py``
  (raster distance) on 5,000 x 5,000 cells and 5,000 faults.
* memory: ``geoprospect interpolate`` of 100,000 samples x 8 elements onto 10,000 x 10,000
  cells (3.2 GB of output), peak RSS only (``--memory``; takes minutes).

    python benchmarks/bench_commands.py                       # interpolate + distance
    python benchmarks/bench_commands.py --gdal-elements 2     # gdal_grid on 2 elements, x4 (labelled)
    python benchmarks/bench_commands.py --memory --only memory
    python benchmarks/bench_commands.py --size 1024 --dist-size 2000   # quick

Peak RSS is each process's own maximum resident set (``os.wait4``). Values are checked:
ours against gdal_grid (max relative difference, same empty cells) and against GEOS distances
at sampled cells. Results go to benchmarks/results/bench_commands.json (with the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_distance  # noqa: E402
from bench_idw import X0, Y0, make_samples  # noqa: E402

DX0, DY0, make_faults = bench_distance.X0, bench_distance.Y0, bench_distance.make_faults

CRS = "EPSG:32750"
GP = [sys.executable, "-m", "geoprospect", "--progress", "none"]


def run(cmd: list[str], timeout: float | None = None) -> dict:
    """Run one command: its wall seconds and the tail of its output."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise RuntimeError(f"timed out after {timeout} s: {' '.join(cmd)}") from None
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out.decode(errors='replace')[-3000:]}")
    return {"wall_s": round(wall, 3), "output": out.decode(errors="replace")[-2000:]}


def timed(cmd: list[str], timeout: float | None = None) -> dict:
    """``run`` under GNU time -v (peak RSS of the process tree's largest process, CPU seconds)."""
    gnu = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if gnu is None:
        return run(cmd, timeout)
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as f:
        log = f.name
    try:
        r = run([gnu, "-v", "-o", log, *cmd], timeout)
        text = Path(log).read_text()
    finally:
        Path(log).unlink(missing_ok=True)
    field = {k.strip(): v.strip() for k, v in (ln.split(": ", 1) for ln in text.splitlines() if ": " in ln)}
    r["peak_rss_mib"] = round(int(field["Maximum resident set size (kbytes)"]) / 1024, 1)
    r["cpu_s"] = round(float(field["User time (seconds)"]) + float(field["System time (seconds)"]), 2)
    return r


def read_band(path: Path, band: int = 1) -> np.ndarray:
    import rasterio

    with rasterio.open(path) as src:
        return src.read(band, masked=True).astype(np.float64).filled(np.nan)


# -- interpolate ----------------------------------------------------------------------------------
def write_points(xy: np.ndarray, vals: np.ndarray, path: Path) -> list[str]:
    names = [f"e{i}" for i in range(vals.shape[1])]
    np.savetxt(path, np.column_stack([xy, vals]), delimiter=",", header=",".join(["x", "y", *names]), comments="", fmt="%.17g")
    return names


def gdal_grid_cmd(csv: Path, element: str, bounds, size: int, out: Path, k: int, radius: float) -> list[str]:
    vrt = csv.with_name(f"{element}.vrt")
    vrt.write_text(
        f'<OGRVRTDataSource><OGRVRTLayer name="pts"><SrcDataSource>{csv}</SrcDataSource>'
        f'<GeometryType>wkbPoint</GeometryType><GeometryField encoding="PointFromColumns" x="x" y="y" z="{element}"/>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    )
    xmin, ymin, xmax, ymax = bounds
    return ["gdal_grid", "-q", "--config", "GDAL_NUM_THREADS", "ALL_CPUS",
            "-a", f"invdistnn:power=2:radius={radius}:max_points={k}:min_points=1:nodata=-9999",
            "-txe", repr(xmin), repr(xmax), "-tye", repr(ymin), repr(ymax), "-outsize", str(size), str(size),
            "-ot", "Float32", "-l", "pts", str(vrt), str(out)]


def ours_interpolate_cmd(csv: Path, names: list[str], bounds, res: float, out: Path, k: int, radius: float) -> list[str]:
    return [*GP, "interpolate", str(csv), "--elements", ",".join(names), "--x-field", "x", "--y-field", "y", "--crs", CRS,
            "--bounds", *map(repr, bounds), "--resolution", repr(res), "--neighbors", str(k), "--radius", repr(radius), "--out", str(out)]


def bench_interpolate(args, tmp: Path) -> dict:
    extent = 41_000.0
    xy, vals = make_samples(args.samples, extent, args.elements)
    bounds = (X0, Y0, X0 + extent, Y0 + extent)
    csv = tmp / "pts.csv"
    names = write_points(xy, vals, csv)
    cmd = ours_interpolate_cmd(csv, names, bounds, extent / args.size, tmp / "ours.tif", 12, 2000.0)
    # the IDW kernel is compiled by numba on its first call after installation and cached on disk:
    # a fresh cache here, so the first run shows that one-off cost; the second is every later run
    os.environ["NUMBA_CACHE_DIR"] = str(tmp / "numba-cache")
    first = timed(cmd)
    (tmp / "ours.tif").unlink()  # as a first write: replacing a file would add freeing the old one
    ours = timed(cmd)
    ours["output_mib"] = round((tmp / "ours.tif").stat().st_size / 2**20, 1)
    print(f"  geoprospect interpolate: {ours['wall_s']:.1f} s, peak RSS {ours.get('peak_rss_mib', '?')} MiB "
          f"(first run after installation, compiling the IDW kernel: {first['wall_s']:.1f} s)", flush=True)
    m = min(args.gdal_elements, args.elements)
    gdal, worst, same_nan = [], 0.0, True
    for e in range(m):
        g = timed(gdal_grid_cmd(csv, names[e], bounds, args.size, tmp / f"gdal_{e}.tif", 12, 2000.0))
        gdal.append(g)
        a, ref = read_band(tmp / "ours.tif", e + 1), read_band(tmp / f"gdal_{e}.tif")
        same_nan &= bool(np.array_equal(np.isnan(a), np.isnan(ref)))
        ok = ~np.isnan(a) & ~np.isnan(ref)
        worst = max(worst, float(np.max(np.abs(a[ok] - ref[ok]) / np.abs(ref[ok]))))
        print(f"  gdal_grid element {e}: {g['wall_s']:.1f} s, peak RSS {g.get('peak_rss_mib', '?')} MiB", flush=True)
    res = {"problem": f"{args.samples} samples, {args.size} x {args.size} cells, {args.elements} elements, k=12, r=2 km, power 2", "ours": ours,
           "ours_first_run": {**first, "note": "empty numba cache: includes compiling the IDW kernel (once per installation)"}}
    if m:
        per = float(np.mean([g["wall_s"] for g in gdal]))
        total = per * args.elements
        res.update(gdal_grid={"runs": gdal, "elements_run": m, "total_s": round(total, 2),
                              "how": "measured" if m == args.elements else f"extrapolated: {args.elements} x mean of {m} element(s)"},
                   ratio=round(total / ours["wall_s"], 2), target=50.0, max_rel_diff=worst, same_empty_cells=same_nan)
        if "cpu_s" in ours:
            res["ratio_cpu"] = round(float(np.mean([g["cpu_s"] for g in gdal])) * args.elements / ours["cpu_s"], 2)
    return res


# -- distance -------------------------------------------------------------------------------------
def bench_distance(args, tmp: Path) -> dict:
    import geopandas as gpd
    import shapely

    res_m = 10.0
    extent = args.dist_size * res_m
    faults = make_faults(args.faults, extent)
    gpkg = tmp / "faults.gpkg"
    gpd.GeoDataFrame(geometry=faults, crs=CRS).to_file(gpkg, driver="GPKG")
    bounds = (DX0, DY0, DX0 + extent, DY0 + extent)
    ours = timed([*GP, "distance", str(gpkg), "--bounds", *map(repr, bounds), "--resolution", repr(res_m), "--grid-crs", CRS, "--out", str(tmp / "dist.tif")])
    print(f"  geoprospect distance: {ours['wall_s']:.1f} s, peak RSS {ours.get('peak_rss_mib', '?')} MiB", flush=True)
    burn = timed(["gdal_rasterize", "-q", "-burn", "1", "-at", "-te", *map(repr, bounds), "-tr", repr(res_m), repr(res_m),
                  "-ot", "Byte", "-co", "TILED=YES", str(gpkg), str(tmp / "burnt.tif")])
    prox = timed([shutil.which("gdal_proximity.py") or "gdal_proximity.py", "-q", str(tmp / "burnt.tif"), str(tmp / "prox.tif"),
                  "-values", "1", "-distunits", "GEO", "-ot", "Float32", "-co", "TILED=YES"])
    gdal_s = burn["wall_s"] + prox["wall_s"]
    print(f"  gdal_rasterize {burn['wall_s']:.1f} s + gdal_proximity.py {prox['wall_s']:.1f} s", flush=True)
    # values against GEOS at sampled cells
    from geoprospect.grid import GridSpec

    grid = GridSpec.from_bounds(bounds, res_m, CRS)
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, grid.height, 20_000), rng.integers(0, grid.width, 20_000)
    pts = shapely.points(grid.x_centers()[cols], grid.y_centers()[rows])
    (pi, _), exact = shapely.STRtree(faults).query_nearest(pts, return_distance=True, all_matches=False)
    ref = np.empty(len(pts))
    ref[pi] = exact
    err_ours = float(np.max(np.abs(read_band(tmp / "dist.tif")[rows, cols] - ref)))
    err_gdal = float(np.max(np.abs(read_band(tmp / "prox.tif")[rows, cols] - ref)))
    return {"problem": f"{args.dist_size} x {args.dist_size} cells of {res_m:g} m, {args.faults} faults ({len(faults)} after clipping)",
            "ours": ours, "gdal_rasterize": burn, "gdal_proximity": prox, "gdal_total_s": round(gdal_s, 2),
            "ratio": round(gdal_s / ours["wall_s"], 2), "target": 1.5, "max_error_vs_geos_m": {"ours": err_ours, "gdal": err_gdal},
            "ratio_cpu": round((burn.get("cpu_s", np.nan) + prox.get("cpu_s", np.nan)) / ours.get("cpu_s", np.nan), 2)}


# -- memory ---------------------------------------------------------------------------------------
def bench_memory(args, tmp: Path) -> dict:
    extent = args.mem_size * 10.0
    xy, vals = make_samples(args.mem_samples, extent, 8, seed=2)
    csv = tmp / "big.csv"
    names = write_points(xy, vals, csv)
    bounds = (X0, Y0, X0 + extent, Y0 + extent)
    cmd = ours_interpolate_cmd(csv, names, bounds, 10.0, tmp / "big.tif", 12, 2000.0)
    r = timed(cmd, timeout=args.mem_timeout)
    size = (tmp / "big.tif").stat().st_size
    print(f"  geoprospect interpolate {args.mem_samples} samples x 8 onto {args.mem_size}^2: {r['wall_s']:.0f} s, peak RSS {r.get('peak_rss_mib')} MiB", flush=True)
    return {"problem": f"{args.mem_samples} samples x 8 elements onto {args.mem_size} x {args.mem_size} cells", "ours": r,
            "output_mib": round(size / 2**20), "target_peak_rss_mib": 2048, "previous_peak_rss_mib": 8.34 * 1024}


def import_time() -> dict:
    best = min(run([sys.executable, "-c", "import geoprospect.cli"])["wall_s"] for _ in range(3))
    helpw = min(run([*GP, "--help"])["wall_s"] for _ in range(3))
    return {"import_geoprospect_cli_s": best, "geoprospect_help_s": helpw}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=["interpolate", "distance", "memory", "import"], default=None)
    ap.add_argument("--samples", type=int, default=7237)
    ap.add_argument("--size", type=int, default=3072)
    ap.add_argument("--elements", type=int, default=8)
    ap.add_argument("--gdal-elements", type=int, default=8, help="elements run through gdal_grid (fewer: extrapolated, labelled)")
    ap.add_argument("--dist-size", type=int, default=5000)
    ap.add_argument("--faults", type=int, default=5000)
    ap.add_argument("--memory", action="store_true", help="also the 100,000-sample, 10,000^2 memory case")
    ap.add_argument("--mem-size", type=int, default=10_000)
    ap.add_argument("--mem-samples", type=int, default=100_000)
    ap.add_argument("--mem-timeout", type=float, default=1800)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "bench_commands.json")
    ap.add_argument("--tmp", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = ap.parse_args()
    todo = args.only or ["import", "interpolate", "distance"] + (["memory"] if args.memory else [])
    result = json.loads(args.out.read_text()) if args.out.exists() else {}
    result["machine"] = {"cpus": os.cpu_count(), "load_before": [round(x, 2) for x in os.getloadavg()],
                         "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "gdal": subprocess.run(["gdalinfo", "--version"], capture_output=True, text=True).stdout.strip()}
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (a shared machine inflates wall times)")
    with tempfile.TemporaryDirectory(dir=args.tmp) as d:
        tmp = Path(d)
        for case in todo:
            print(f"{case}:", flush=True)
            before = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_before": round(os.getloadavg()[0], 2)}
            r = {"import": import_time, "interpolate": lambda: bench_interpolate(args, tmp), "distance": lambda: bench_distance(args, tmp),
                 "memory": lambda: bench_memory(args, tmp)}[case]()
            r.update(before, load_after=round(os.getloadavg()[0], 2))
            for v in r.values():
                if isinstance(v, dict):
                    v.pop("output", None)
                    for g in v.get("runs", []):
                        g.pop("output", None)
            result[case] = r
            if "ratio" in r:
                print(f"  ratio (peer / ours, whole commands): {r['ratio']:.2f}x wall, {r.get('ratio_cpu', float('nan')):.2f}x CPU time "
                      f"(target >= {r['target']:g}x; load average now {os.getloadavg()[0]:.1f})", flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk in ("ratio", "ratio_cpu", "max_rel_diff", "same_empty_cells", "max_error_vs_geos_m")} if isinstance(v, dict) else v for k, v in result.items()}, indent=1))


if __name__ == "__main__":
    main()
