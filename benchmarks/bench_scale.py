"""Scale benchmark: stack building and prediction block by block, against the whole-map peer.

    python benchmarks/bench_scale.py --sizes 1000,2000,3000 --peer-sizes 1000,2000
    python benchmarks/bench_scale.py --sizes 5000,10000,20000 --peer-sizes 5000   # a free machine
    python benchmarks/bench_scale.py --sizes 20000 --stages stack-blocks,predict-resnet --resnet-windows 0 --device cuda --batch 1024

Synthetic inputs, the same for every size (the issue's setting): 100,000 samples with 9
elements (IDW, k=12) and 5,000 fault segments (distance) -> a 10-band stack over a fixed
200 x 200 km extent; the grid is size x size cells (finer cells for larger sizes), so the
cost per cell is the same and time should grow linearly with area.

Every stage runs in a fresh (spawned) process and reports its wall time, CPU time
(user+system, all threads) and peak RSS (getrusage ru_maxrss, plus the RSS right after the
imports). Stages:
  stack-blocks    geoprospect.stack.build_stack, block by block (this project's path)
  stack-memory    the whole-map peer: idw() + distance_to_features() on the full grid, then
                  io.rasters.write_raster of the whole array (what `run` did before)
  predict-tiny    geoprospect.prediction.predict.predict on the stack GeoTIFF (block source)
                  over the WHOLE map with a tiny CNN (measures the block
                  reader/prefetch/normalise/window pipeline and memory)
  predict-resnet  the same with ResNet-18 (random weights) on the first window-block
                  rows only (--resnet-windows windows): windows/s, extrapolated to the map
  predict-memory  the whole-map peer (read_stack + predict on the in-memory Stack), tiny CNN, whole map
Results go to benchmarks/bench_scale.json and the plot to benchmarks/bench_scale.png.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import threading
import time
from pathlib import Path

EXTENT = 200_000.0
ORIGIN = (400_000.0, 7_000_000.0)
CRS = "EPSG:32750"
HERE = Path(__file__).resolve().parent


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _Sampler(threading.Thread):
    """Samples RSS every 50 ms (a cross-check of ru_maxrss; catches the peak's time)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, _rss_mb())
            time.sleep(0.05)


def inputs(n_samples: int, n_faults: int, n_elements: int, seed: int = 0):
    import numpy as np
    import shapely

    r = np.random.default_rng(seed)
    xy = r.uniform(0, EXTENT, (n_samples, 2))
    # smooth fields + noise, log-normal like assays
    vals = np.exp(np.stack([np.sin(xy[:, 0] / (5000 + 900 * e)) + np.cos(xy[:, 1] / (7000 + 500 * e)) for e in range(n_elements)], axis=1) + r.normal(0, 0.3, (n_samples, n_elements)))
    c = r.uniform(0, EXTENT, (n_faults, 2))
    ang = r.uniform(0, np.pi, n_faults)
    length = r.uniform(1000, 8000, n_faults)
    ends = c + np.column_stack([np.cos(ang), np.sin(ang)]) * length[:, None]
    lines = shapely.linestrings(np.stack([c, ends], axis=1) + ORIGIN)
    return xy + ORIGIN, vals, lines


def grid_for(size: int):
    from geoprospect.grid import GridSpec

    res = EXTENT / size
    return GridSpec.from_bounds((ORIGIN[0], ORIGIN[1], ORIGIN[0] + EXTENT, ORIGIN[1] + EXTENT), res, CRS)


def tiny_model(bands: int):
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(bands, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2)).eval()


def _stack_stage(name: str, a: dict, grid, stack_path: Path) -> dict:
    """stack-blocks (the one builder, block by block) or stack-memory (whole-map arrays, one write)."""
    import numpy as np

    info: dict = {}
    if name == "stack-blocks":
        from geoprospect.stack import build_stack, distance_layer, idw_layer

        xy, vals, lines = inputs(a["samples"], a["faults"], a["elements"])
        layers = [idw_layer(xy, vals, [f"e{i}" for i in range(a["elements"])], neighbors=12), distance_layer(lines, "dist_faults")]
        build_stack(layers, grid, stack_path, block_size=a["block_size"])
        info["bytes"] = stack_path.stat().st_size
    elif name == "stack-memory":
        from geoprospect.evidence.distance import distance_to_features
        from geoprospect.evidence.idw import idw
        from geoprospect.io.rasters import write_raster

        xy, vals, lines = inputs(a["samples"], a["faults"], a["elements"])
        arr = idw(xy, vals, grid, neighbors=12)
        data = np.concatenate([arr, distance_to_features(lines, grid)[None]])
        write_raster(Path(a["work"]) / f"peer_{a['size']}.tif", data, grid, [f"e{i}" for i in range(a["elements"])] + ["dist_faults"])
        os.unlink(Path(a["work"]) / f"peer_{a['size']}.tif")
    return info


def _stage(name: str, a: dict) -> dict:
    """Runs in a fresh process; returns measurements."""
    import numpy as np

    from geoprospect.progress import set_mode

    set_mode("none")
    info: dict = {}
    if name.startswith("predict"):
        import torch

        torch.set_num_threads(a["threads"])
    base = _rss_mb()
    sampler = _Sampler()
    sampler.start()
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    grid = grid_for(a["size"])
    stack_path = Path(a["work"]) / f"stack_{a['size']}.tif"
    if name.startswith("stack"):
        info.update(_stack_stage(name, a, grid, stack_path))
    elif name in ("predict-tiny", "predict-resnet"):
        import rasterio

        from geoprospect.models.registry import build_model
        from geoprospect.prediction.predict import predict
        from geoprospect.windows.tiling import window_grid_shape

        with rasterio.open(stack_path) as src:
            stats = [src.tags(i + 1) for i in range(src.count)]
        mean = [float(t["STATISTICS_MEAN"]) for t in stats]
        std = [float(t["STATISTICS_STDDEV"]) for t in stats]
        size, stride = a["window"], a["stride"]
        nr, nc = window_grid_shape(grid.height, grid.width, size, stride)
        info["windows_map"] = nr * nc
        path = stack_path
        if name == "predict-resnet":
            import torch

            model = build_model("resnet18", len(mean), 2, size)
            if a["resnet_windows"] > 0:
                # a strip of the map: the first rows of window blocks holding --resnet-windows windows
                rows = max(1, a["resnet_windows"] // nc)
                strip_h = (rows - 1) * stride + size
                strip = Path(a["work"]) / f"strip_{a['size']}.tif"
                with rasterio.open(stack_path) as src:
                    prof = src.profile
                    prof.update(height=strip_h)
                    with rasterio.open(strip, "w", **prof) as dst:
                        dst.write(src.read(window=((0, strip_h), (0, grid.width))))
                path = strip
            with torch.no_grad():
                model(torch.zeros(8, len(mean), size, size))  # warm-up (oneDNN kernel selection)
            if a.get("device", "cpu").startswith("cuda"):
                model = model.to(a["device"]).to(memory_format=torch.channels_last)
        else:
            model = tiny_model(len(mean))
        st: dict = {}
        predict(model, path, mean, std, size=size, stride=stride, batch_size=a["batch"], device=a.get("device", "cpu"), block_size=a["block_size"], prefetch=2, stats=st)
        info.update({k: st[k] for k in ("windows", "windows_per_s", "wait_s", "busy_fraction", "seconds", "device")})
    elif name == "predict-memory":
        from geoprospect.io.rasters import read_stack
        from geoprospect.prediction.predict import predict

        stack = read_stack(stack_path)
        model = tiny_model(len(stack.band_names))
        pred = predict(model, stack, [s["mean"] for s in stack.stats], [s["std"] for s in stack.stats], size=a["window"], stride=a["stride"], batch_size=a["batch"], device="cpu")
        info["windows"] = int(np.isfinite(pred.prob).sum())
    else:
        raise ValueError(name)
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    sampler.stop.set()
    return {
        "stage": name,
        "size": a["size"],
        "cells": grid.width * grid.height,
        "wall_s": wall,
        "cpu_s": (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime),
        "peak_rss_mb": c1.ru_maxrss / 1024.0,
        "sampled_peak_rss_mb": sampler.peak,
        "rss_after_imports_mb": base,
        **info,
    }


def _child(name: str, a: dict, q) -> None:
    try:
        q.put(_stage(name, a))
    except BaseException as exc:  # reported, not fatal for the benchmark
        q.put({"stage": name, "size": a["size"], "error": repr(exc)})


def run_stage(name: str, a: dict, timeout: float) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(name, a, q))
    p.start()
    try:
        res = q.get(timeout=timeout)
    except Exception:
        p.kill()
        res = {"stage": name, "size": a["size"], "error": f"timed out after {timeout:.0f} s"}
    p.join()
    return res


def fit_per_cell(rows: list[dict], key: str) -> float | None:
    """Least-squares slope through the origin of key vs cells (seconds per cell)."""
    pts = [(r["cells"], r[key]) for r in rows if key in r]
    if not pts:
        return None
    return sum(c * v for c, v in pts) / sum(c * c for c, _ in pts)


def plot(results: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"stack-blocks": ("C0", "o-"), "stack-memory": ("C0", "x--"), "predict-tiny": ("C1", "o-"), "predict-memory": ("C1", "x--")}
    for stage, (col, sty) in styles.items():
        rows = sorted([r for r in results if r.get("stage") == stage and "error" not in r], key=lambda r: r["cells"])
        if not rows:
            continue
        mc = [r["cells"] / 1e6 for r in rows]
        ax[0].plot(mc, [r["cpu_s"] for r in rows], sty, color=col, label=f"{stage} (CPU s)")
        ax[1].plot(mc, [r["peak_rss_mb"] for r in rows], sty, color=col, label=stage)
    sb = sorted([r for r in results if r.get("stage") == "stack-blocks" and "error" not in r], key=lambda r: r["cells"])
    if sb:
        k = fit_per_cell(sb, "cpu_s")
        xs = [sb[0]["cells"] / 1e6, sb[-1]["cells"] / 1e6]
        ax[0].plot(xs, [k * x * 1e6 for x in xs], ":", color="grey", label="linear in area (fit)")
    ax[0].set_xlabel("grid cells (millions)")
    ax[0].set_ylabel("CPU time (s, user+system)")
    ax[0].set_title("time grows linearly with area")
    ax[1].set_xlabel("grid cells (millions)")
    ax[1].set_ylabel("peak RSS (MiB)")
    ax[1].set_title("block path: memory bounded (GDAL caches, capped); whole-map peer grows with area", fontsize=9)
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,2000,3000", help="grid sides in cells, e.g. 5000,10000,20000")
    ap.add_argument("--peer-sizes", default="1000,2000", help="sizes at which the whole-map peer also runs")
    ap.add_argument("--stages", default="stack-blocks,stack-memory,predict-tiny,predict-memory,predict-resnet")
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--faults", type=int, default=5_000)
    ap.add_argument("--elements", type=int, default=9, help="IDW bands (+1 distance band)")
    ap.add_argument("--block-size", type=int, default=1024)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--stride", type=int, default=16)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--resnet-windows", type=int, default=3000, help="windows scored with ResNet-18 per size (then extrapolated); 0 = the whole map")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--device", default="cpu", help="prediction device: cpu or cuda (GPU windows/s and busy fraction)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--work", default="/tmp/geoprospect-bench-scale")
    ap.add_argument("--json", default=str(HERE / "bench_scale.json"))
    ap.add_argument("--plot", default=str(HERE / "bench_scale.png"))
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    peers = {int(s) for s in args.peer_sizes.split(",") if s}
    stages = args.stages.split(",")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    if Path(args.json).exists():
        results = [r for r in json.loads(Path(args.json).read_text()).get("results", []) if r.get("size") not in sizes or r.get("stage") not in stages]

    def save():
        Path(args.json).write_text(json.dumps({"args": vars(args), "cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg(), "results": results}, indent=1))
        plot(results, Path(args.plot))

    for size in sizes:
        a = {"size": size, "work": str(work), "samples": args.samples, "faults": args.faults, "elements": args.elements, "block_size": args.block_size, "window": args.window, "stride": args.stride, "batch": args.batch, "resnet_windows": args.resnet_windows, "threads": args.threads, "device": args.device}
        for st in stages:
            if st.endswith("memory") and size not in peers:
                continue
            if st.startswith("predict") and not (work / f"stack_{size}.tif").exists():
                continue
            print(f"[{time.strftime('%H:%M:%S')}] {st} {size}x{size} ...", flush=True)
            r = run_stage(st, a, args.timeout)
            results.append(r)
            print("   ", {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}, flush=True)
            save()
        for f in work.glob(f"*_{size}.tif"):
            f.unlink()
    report(results)
    save()
    shutil.rmtree(work, ignore_errors=True)


def report(results: list[dict]) -> None:
    ok = [r for r in results if "error" not in r]
    print("\nstage            size     Mcells   wall s    CPU s   peak RSS MiB (after imports)")
    for r in sorted(ok, key=lambda r: (r["stage"], r["size"])):
        print(f"{r['stage']:<15} {r['size']:>6} {r['cells'] / 1e6:>9.1f} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {r['peak_rss_mb']:>9.0f} ({r['rss_after_imports_mb']:.0f})")
    for st in ("stack-blocks", "predict-tiny"):
        rows = [r for r in ok if r["stage"] == st]
        k = fit_per_cell(rows, "cpu_s")
        if k:
            print(f"{st}: {k * 1e6:.2f} CPU s per Mcell; extrapolated to 20000^2: {k * 4e8 / 3600:.2f} CPU h "
                  f"(wall on an idle 2-core machine about half that if both cores are busy)")
        if len(rows) > 1:
            per = [r["cpu_s"] / r["cells"] * 1e6 for r in sorted(rows, key=lambda r: r["cells"])]
            print(f"  CPU s per Mcell by size: {', '.join(f'{p:.2f}' for p in per)} (flat = linear in area)")
            rss = [r["peak_rss_mb"] for r in sorted(rows, key=lambda r: r["cells"])]
            print(f"  peak RSS by size (MiB): {', '.join(f'{x:.0f}' for x in rss)}")
    for sz in sorted({r["size"] for r in ok}):
        b = {r["stage"]: r for r in ok if r["size"] == sz}
        for x, y in (("stack-blocks", "stack-memory"), ("predict-tiny", "predict-memory")):
            if x in b and y in b:
                print(f"{sz}^2 {x} vs {y}: peak RSS {b[x]['peak_rss_mb']:.0f} vs {b[y]['peak_rss_mb']:.0f} MiB "
                      f"({b[y]['peak_rss_mb'] / b[x]['peak_rss_mb']:.2f}x), CPU {b[x]['cpu_s']:.1f} vs {b[y]['cpu_s']:.1f} s ({b[x]['cpu_s'] / max(b[y]['cpu_s'], 1e-9):.2f}x)")
    for r in ok:
        if r["stage"] == "predict-resnet" and r["windows"] >= r["windows_map"] * 0.99:
            print(f"ResNet-18 {r['size']}^2, WHOLE MAP: {r['windows']} windows in {r['wall_s']:.0f} s wall / {r['cpu_s']:.0f} s CPU "
                  f"({r['windows_per_s']:.0f} windows/s), peak RSS {r['peak_rss_mb']:.0f} MiB")
        elif r["stage"] == "predict-resnet":
            wps = r["windows"] / max(r["cpu_s"], 1e-9) * 2  # per 2 cores' worth of CPU time
            print(f"ResNet-18 {r['size']}^2: {r['windows']} windows in {r['wall_s']:.1f} s wall / {r['cpu_s']:.1f} s CPU "
                  f"({r['windows_per_s']:.1f} windows/s wall); the whole map has {r['windows_map']} windows: "
                  f"EXTRAPOLATED {r['windows_map'] / max(r['windows_per_s'], 1e-9) / 3600:.2f} h at this wall rate, "
                  f"{r['windows_map'] / wps / 3600:.2f} h on 2 free cores (from CPU time); "
                  f"20000^2 at window {32}/stride {16}: 1,560,001 windows -> {1560001 / wps / 3600:.1f} h on 2 free cores")
    for r in results:
        if "error" in r:
            print(f"FAILED {r['stage']} {r['size']}: {r['error']}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    main()
