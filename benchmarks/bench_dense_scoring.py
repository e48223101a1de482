"""Dense scoring benchmark: every cell of a large stack GeoTIFF scored block by block (issue 23).

    python benchmarks/bench_dense_scoring.py                    # 10,000 x 10,000 x 10 bands (~4 GB stack)
    python benchmarks/bench_dense_scoring.py --side 1000        # a quick check
    python benchmarks/bench_dense_scoring.py --side 2000 --bands 6 --models dense_cnn

The script writes a tiled float32 stack GeoTIFF (``side`` x ``side`` x ``bands``, smooth fields
plus noise, written block by block with :class:`geoprospect.io.rasters.RasterWriter`) into a
temporary folder (deleted afterwards unless ``--keep``), then scores it in one fresh child
process per model with ``geoprospect.prediction.predict.predict(..., stride=1, centred=True,
block_size=1024, device="cpu")``:

* ``blend_cell`` (the default model; per cell, ``size`` 1), fitted in the child on
  ``--fit-cells`` random cells with a few positives (``build_model('blend_cell', bands, 2, 1)``
  then ``.fit_arrays``);
* ``dense_cnn`` (untrained: throughput only; ``size`` 15, scored by its ``dense_logits`` one
  pass per block with a halo).

Per model: cells scored, cells per second (scoring only), wall and CPU seconds (scoring only,
and the whole child), peak RSS of the child (``VmHWM`` read inside it, cross-checked with the
``ru_maxrss`` that ``os.wait4`` returns for it), its RSS before scoring and the bytes of the two
float32 (H, W) score arrays (probability and margin) that :func:`predict` returns. Target: peak
RSS under 2 GiB.

The whole command too (the stage as a user runs it): the child saves the fitted model as a
checkpoint (``sample_unit: cell``, as ``run`` saves it), and ``geoprospect predict STACK
MODEL_DIR --out prospectivity.tif`` is run on the same stack in its own process: wall and CPU
seconds and peak RSS (``os.wait4``) of the command, start-up, reading, scoring and writing the
GeoTIFF with its overviews included. ``--no-command`` skips it.
Results: ``benchmarks/results/bench_dense_scoring.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "bench_dense_scoring.json"
CRS = "EPSG:32750"
GIB = 2**30
MODELS = {"blend_cell": 1, "dense_cnn": 15}  # model -> patch side it is scored with


def _status_kib(key: str) -> int:
    """A ``/proc/self/status`` memory figure (VmHWM, VmRSS) in KiB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def write_stack(path: Path, side: int, bands: int, seed: int = 0, strip: int = 512) -> float:
    """Write a ``side`` x ``side`` x ``bands`` float32 tiled GeoTIFF strip by strip; returns the seconds taken.

    Band b is ``sin(x / L_b) + cos(y / M_b)`` (cells) plus 0.3 x standard-normal noise: values of
    order 1, so the fixed normalisation (mean 0, std 1) used for scoring fits them.
    """
    from geoprospect.grid import GridSpec
    from geoprospect.io.rasters import RasterWriter

    t0 = time.perf_counter()
    grid = GridSpec.from_bounds((500_000.0, 7_000_000.0, 500_000.0 + 10.0 * side, 7_000_000.0 + 10.0 * side), 10.0, CRS)
    rng = np.random.default_rng(seed)
    scales = rng.uniform(50, 400, (bands, 2))
    cols = np.arange(side, dtype=np.float32)
    with RasterWriter(path, grid, [f"band_{b}" for b in range(bands)], overviews=False) as w:
        for r0 in range(0, side, strip):
            rows = np.arange(r0, min(side, r0 + strip), dtype=np.float32)
            block = rng.standard_normal((bands, rows.size, side), dtype=np.float32)
            block *= 0.3
            for b in range(bands):
                block[b] += np.sin(cols / scales[b, 0])[None, :] + np.cos(rows / scales[b, 1])[:, None]
            w.write(block, r0, 0)
    return time.perf_counter() - t0


def fitted_model(name: str, bands: int, n_cells: int, seed: int = 0):
    """``name`` built for ``bands`` bands; ``blend_cell`` fitted on ``n_cells`` random cells, ~2 % positive by a linear rule."""
    from geoprospect.models import build_model

    size = MODELS[name]
    model = build_model(name, bands, 2, size)
    if name == "blend_cell":
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n_cells, bands, 1, 1)).astype(np.float32)
        score = x[:, 0, 0, 0] - x[:, 1 % bands, 0, 0] + 0.5 * rng.standard_normal(n_cells)
        y = (score >= np.quantile(score, 0.98)).astype(np.int64)
        model.fit_arrays(x, y)
    return model.eval(), size


def child(args: argparse.Namespace) -> int:
    """Score the stack with one model (this process is the one measured); print one JSON line."""
    import rasterio
    import torch

    from geoprospect.prediction.predict import predict

    t_start = time.perf_counter()
    with rasterio.open(args.stack) as src:
        bands, h, w = src.count, src.height, src.width
    model, size = fitted_model(args.child, bands, args.fit_cells)
    setup_s = time.perf_counter() - t_start
    rss_before, hwm_before = _status_kib("VmRSS"), _status_kib("VmHWM")
    ru0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    stats: dict = {}
    pred = predict(model, args.stack, [0.0] * bands, [1.0] * bands, size=size, stride=1, centred=True,
                   block_size=args.block_size, device="cpu", stats=stats)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    peak = _status_kib("VmHWM")  # read before anything else is allocated here
    cells = int(stats["windows"])  # cells scored (no full-map temporary to count them)
    out = {
        "model": args.child, "size": size, "side": w, "rows": h, "bands": bands, "block_size": args.block_size,
        "torch_threads": torch.get_num_threads(), "setup_s": round(setup_s, 2),
        "cells_scored": cells, "scoring_wall_s": round(wall, 2),
        "scoring_cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 2),
        "cells_per_s": round(cells / wall, 1), "model_seconds": round(float(stats.get("seconds", float("nan"))), 2),
        "rss_before_scoring_mib": round(rss_before / 1024, 1), "peak_rss_before_scoring_mib": round(hwm_before / 1024, 1),
        "peak_rss_mib_vmhwm": round(peak / 1024, 1),
        "score_arrays_mib": round((pred.prob.nbytes + pred.margin.nbytes) / 2**20, 1),
    }
    del pred
    if args.model_dir:
        save_model(model, args.child, bands, size, args.model_dir)
    print("RESULT " + json.dumps(out), flush=True)
    return 0


def save_model(model, name: str, bands: int, size: int, folder: Path) -> None:
    """Save ``model`` as ``run`` saves its final model (a cell-unit checkpoint with identity normalisation)."""
    from geoprospect.models.checkpoint import ModelMeta, save_checkpoint

    meta = ModelMeta(name, bands, [f"band_{b}" for b in range(bands)], [0.0] * bands, [1.0] * bands, size, 1, training={"sample_unit": "cell"})
    save_checkpoint(folder, model, meta)


def measure_command(model: str, stack: Path, model_dir: Path, tmp: Path, block_size: int) -> dict:
    """``geoprospect predict STACK MODEL_DIR --out ...`` as a whole command: wall, CPU and peak RSS (``os.wait4``)."""
    out = tmp / f"prospectivity_{model}.tif"
    cmd = [sys.executable, "-m", "geoprospect", "predict", str(stack), str(model_dir), "--out", str(out), "--block-size", str(block_size), "--device", "cpu"]
    t0 = time.perf_counter()
    with open(tmp / f"{model}_command.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(proc.pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    res = {"command": "geoprospect predict STACK MODEL_DIR --out prospectivity.tif --block-size %d --device cpu" % block_size, "returncode": rc,
           "wall_s": round(time.perf_counter() - t0, 2), "cpu_s": round(ru.ru_utime + ru.ru_stime, 2), "peak_rss_mib": round(ru.ru_maxrss / 1024, 1)}
    if rc != 0:
        res["log_tail"] = (tmp / f"{model}_command.log").read_text(encoding="utf-8", errors="replace")[-2000:]
    else:
        res["output_mib"] = round(out.stat().st_size / 2**20, 1)
        out.unlink()
    return res


def measure(model: str, stack: Path, args: argparse.Namespace, log_dir: Path) -> dict:
    """Run :func:`child` for ``model`` in a fresh process (no shell); add its own rusage (os.wait4),
    then (unless ``--no-command``) the whole ``geoprospect predict`` command with the saved model."""
    log_path = log_dir / f"{model}.log"
    model_dir = log_dir / f"model_{model}"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", model, "--stack", str(stack),
           "--block-size", str(args.block_size), "--fit-cells", str(args.fit_cells)]
    if args.command:
        cmd += ["--model-dir", str(model_dir)]
    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    res: dict = {"model": model, "returncode": proc.returncode, "child_wall_s": round(time.perf_counter() - t0, 2),
                 "child_cpu_s": round(ru.ru_utime + ru.ru_stime, 2), "peak_rss_mib_wait4": round(ru.ru_maxrss / 1024, 1)}
    text = log_path.read_text(encoding="utf-8", errors="replace")
    found = [line[7:] for line in text.splitlines() if line.startswith("RESULT ")]
    if found:
        res.update(json.loads(found[-1]))
    else:
        res["log_tail"] = text[-2000:]
    peak = res["peak_rss_mib_wait4"] * 2**20
    res["under_2_gib"] = bool(peak < 2 * GIB)
    if args.command and proc.returncode == 0:
        res["whole_command"] = measure_command(model, stack, model_dir, log_dir, args.block_size)
    return res


def print_table(results: list[dict]) -> None:
    """One line per model."""
    print(f"{'model':<11} {'cells':>12} {'cells/s':>10} {'wall s':>8} {'CPU s':>8} {'peak RSS MiB':>13} {'score arrays MiB':>17} {'< 2 GiB':>8}")
    for r in results:
        if "cells_scored" not in r:
            print(f"{r['model']:<11} FAILED (exit {r['returncode']}): {r.get('log_tail', '')[-300:]}")
            continue
        print(f"{r['model']:<11} {r['cells_scored']:>12,} {r['cells_per_s']:>10,.0f} {r['scoring_wall_s']:>8.1f} {r['scoring_cpu_s']:>8.1f} "
              f"{r['peak_rss_mib_wait4']:>13,.0f} {r['score_arrays_mib']:>17,.0f} {'yes' if r['under_2_gib'] else 'NO':>8}")
        c = r.get("whole_command")
        if c:
            state = f"{c['wall_s']:.1f} s wall, {c['cpu_s']:.1f} s CPU, peak RSS {c['peak_rss_mib']:,.0f} MiB" if c["returncode"] == 0 else f"FAILED (exit {c['returncode']})"
            print(f"{'':<11} whole `geoprospect predict` command: {state}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (``--child`` is internal: the measured process)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=10_000, help="cells a side of the stack (default 10,000)")
    ap.add_argument("--bands", type=int, default=10, help="bands of the stack (default 10)")
    ap.add_argument("--block-size", type=int, default=1024, help="predict block_size in cells (default 1024)")
    ap.add_argument("--fit-cells", type=int, default=2000, help="random cells blend_cell is fitted on (default 2,000)")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {', '.join(MODELS)}")
    ap.add_argument("--tmp", type=Path, help="folder for the stack (default: a new temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the stack and the child logs")
    ap.add_argument("--results", type=Path, default=RESULTS, help="JSON output")
    ap.add_argument("--no-command", dest="command", action="store_false", help="skip timing the whole `geoprospect predict` command")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--stack", type=Path, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Write the stack, score it once per model in a child process, write the JSON."""
    args = parse(argv)
    if args.child:
        return child(args)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODELS]
    if bad:
        raise SystemExit(f"unknown model(s) {bad}; choose from {list(MODELS)}")
    tmp = Path(tempfile.mkdtemp(prefix="gp-dense-", dir=args.tmp))
    stack = tmp / "stack.tif"
    try:
        write_s = write_stack(stack, args.side, args.bands)
        size_mib = stack.stat().st_size / 2**20
        print(f"stack {args.side:,} x {args.side:,} x {args.bands} written in {write_s:.1f} s ({size_mib:,.0f} MiB on disk)", flush=True)
        results = []
        for m in models:
            results.append(measure(m, stack, args, tmp))
            print_table(results[-1:])
        print()
        print_table(results)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    doc = {"when": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.node()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
           "side": args.side, "bands": args.bands, "block_size": args.block_size, "stack_write_s": round(write_s, 1),
           "stack_file_mib": round(size_mib, 1), "stack_float32_mib": round(args.side**2 * args.bands * 4 / 2**20, 1), "results": results}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    print(f"wrote {args.results}")
    return 0 if all(r["returncode"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
