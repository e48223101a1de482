"""One device check for the day a GPU is lent: training and dense-scoring throughput, peak GPU memory.

    bash benchmarks/gpu_check.sh                 # on the GPU machine: CUDA, default sizes, JSON to $OUT
    python benchmarks/gpu_check.py --smoke       # tiny sizes on the CPU (< 1 min): the check still runs
    python benchmarks/gpu_check.py --device cpu --out /tmp/gpu_check

On a synthetic stack (smooth fields plus noise, z-scored as a run's stack would be), for the
default model ``blend_cell`` and the networks ``dense_cnn`` and ``resnet18``:

* training throughput (samples/s): :func:`geoprospect.training.fit.fit` with a
  :class:`~geoprospect.training.config.TrainConfig` on a
  :class:`~geoprospect.windows.dataset.WindowDataset` of cells of the in-memory stack, each
  seen through the patch a run gives the model (``WindowsConfig().patch(model)``: 1 for
  blend_cell, 15 for dense_cnn, 33 for resnet18); networks: ``epochs`` x ``samples_per_epoch``
  samples over ``History.seconds``; blend_cell (scikit-learn, CPU only): the samples it is fitted
  on (every positive and ``train.max_background`` background cells) over the fit's seconds;
* scoring throughput (cells/s; every cell is one window, so windows/s of the patch models is the
  same number): :func:`geoprospect.prediction.predict.predict` of a stack GeoTIFF with
  ``stride=1, centred=True`` (dense_cnn: one fully-convolutional pass per block with a halo;
  resnet18: a 33 x 33 patch per cell; blend_cell: on the CPU, beside the GPU figures);
* peak GPU memory (``torch.cuda.max_memory_allocated``, reset before each measurement).

Prints a table and writes ``gpu_check.json`` (``gpu_check_smoke.json`` with ``--smoke``) to
``--out``, else ``$OUT``, else ``benchmarks/results``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_dense_scoring import write_stack  # noqa: E402  (one stack writer for both benchmarks)

MODEL_NAMES = ("blend_cell", "dense_cnn", "resnet18")


@dataclass(frozen=True)
class Sizes:
    """What one check measures: bands, training set and epochs, and the scoring stacks' sides."""

    bands: int
    train_side: int  # the in-memory stack training samples are cut from
    samples_per_epoch: int
    epochs: int
    batch_size: int
    large_side: int  # stack scored by dense_cnn (one fully-convolutional pass per block)
    small_side: int  # stack scored by blend_cell (CPU) and resnet18 (one 33 x 33 patch per cell)


FULL = Sizes(bands=10, train_side=1024, samples_per_epoch=16384, epochs=3, batch_size=256, large_side=4096, small_side=768)
SMOKE = Sizes(bands=3, train_side=32, samples_per_epoch=32, epochs=1, batch_size=16, large_side=32, small_side=8)


def synthetic_stack(sizes: Sizes, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(bands, side, side) float32 z-scored smooth fields and (side, side) int64 labels (0.2 % of the cells, at least 8,
    positive: the highest values of a rule on two bands plus noise)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    s = sizes.train_side
    data = np.stack([gaussian_filter(rng.standard_normal((s, s)), 3.0) for _ in range(sizes.bands)]).astype(np.float32)
    data = (data - data.mean(axis=(1, 2), keepdims=True)) / data.std(axis=(1, 2), keepdims=True)
    rule = data[0] - data[1 % sizes.bands] + 0.5 * rng.standard_normal((s, s))
    labels = np.zeros((s, s), dtype=np.int64)
    labels.flat[np.argsort(rule, axis=None)[-max(8, s * s // 500):]] = 1
    return data, labels


def _gpu_reset(dev: str) -> None:
    import torch

    if dev.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _gpu_peak_mib(dev: str) -> float | None:
    import torch

    if not dev.startswith("cuda"):
        return None
    torch.cuda.synchronize()
    return round(torch.cuda.max_memory_allocated() / 2**20, 1)


def measure_training(name: str, data: np.ndarray, labels: np.ndarray, sizes: Sizes, dev: str) -> dict:
    """Train ``name`` once with :func:`fit`; samples/s, seconds, device used and peak GPU memory."""
    from geoprospect.pipeline.config import WindowsConfig
    from geoprospect.training.config import TrainConfig
    from geoprospect.training.fit import fit
    from geoprospect.windows.dataset import WindowDataset

    size = WindowsConfig().patch(name)
    rows, cols = np.nonzero(np.ones(labels.shape, dtype=bool))
    offsets = np.column_stack([rows - size // 2, cols - size // 2])
    ds = WindowDataset(data, offsets, size, labels[rows, cols])
    dev = "cpu" if name == "blend_cell" else dev
    cfg = TrainConfig(model=name, epochs=sizes.epochs, batch_size=sizes.batch_size, samples_per_epoch=sizes.samples_per_epoch, device=dev, seed=0)
    if dev.startswith("cuda"):  # warm-up (CUDA context, cuDNN choices) outside the measured fit
        fit(name, ds, cfg.updated(epochs=1, samples_per_epoch=2 * sizes.batch_size))
    _gpu_reset(dev)
    t0 = time.perf_counter()
    model, hist = fit(name, ds, cfg)
    wall = time.perf_counter() - t0
    if name == "blend_cell":
        bg = min(int((labels == 0).sum()), cfg.max_background or labels.size)
        samples = int(labels.sum()) + bg
    else:
        samples = sizes.epochs * min(len(ds), sizes.samples_per_epoch)
    return {"patch": size, "train_samples": samples, "train_epochs": 1 if name == "blend_cell" else sizes.epochs,
            "train_s": round(hist.seconds, 3), "train_wall_s": round(wall, 3), "train_samples_per_s": round(samples / max(hist.seconds, 1e-9), 1),
            "train_device": hist.device, "train_peak_gpu_mib": _gpu_peak_mib(dev), "model": model}


def measure_scoring(name: str, model, size: int, stack: Path, bands: int, dev: str) -> dict:
    """Score every cell of ``stack`` with :func:`predict` (stride 1, centred); cells/s and peak GPU memory."""
    import rasterio

    from geoprospect.prediction.predict import predict

    with rasterio.open(stack) as src:
        side = src.width
    dev = "cpu" if name == "blend_cell" else dev
    _gpu_reset(dev)
    stats: dict = {}  # filled by predict: windows, seconds (in the model), device
    t0 = time.perf_counter()
    pred = predict(model, stack, [0.0] * bands, [1.0] * bands, size=size, stride=1, centred=True, block_size=1024, device=dev, stats=stats)
    wall = time.perf_counter() - t0
    cells = int(np.isfinite(pred.prob).sum())
    return {"score_stack_side": side, "score_device": dev, "cells_scored": cells, "score_wall_s": round(wall, 3),
            "cells_per_s": round(cells / max(wall, 1e-9), 1), "model_s": round(float(stats.get("seconds", float("nan"))), 3),
            "score_peak_gpu_mib": _gpu_peak_mib(dev)}


def environment(dev: str) -> dict:
    """Versions and the device (name, memory) the figures were measured on."""
    import torch

    env = {"python": sys.version.split()[0], "torch": torch.__version__, "host": platform.node(), "cpu_count": os.cpu_count(),
           "load_average": round(os.getloadavg()[0], 2), "device": dev, "torch_threads": torch.get_num_threads()}
    if dev.startswith("cuda"):
        p = torch.cuda.get_device_properties(torch.device(dev))
        env.update({"gpu": p.name, "gpu_memory_mib": round(p.total_memory / 2**20), "cuda": torch.version.cuda})
    return env


def print_table(rows: list[dict]) -> None:
    """The measured figures, one line per model."""
    head = f"{'model':<11} {'patch':>5} {'train dev':>9} {'train samples/s':>16} {'train GPU MiB':>14} {'score dev':>9} {'cells':>11} {'cells/s (= windows/s)':>22} {'score GPU MiB':>14}"
    print(head)
    for r in rows:
        def mib(v):
            return "-" if v is None else f"{v:,.0f}"
        print(f"{r['name']:<11} {r['patch']:>5} {r['train_device']:>9} {r['train_samples_per_s']:>16,.0f} {mib(r['train_peak_gpu_mib']):>14} "
              f"{r['score_device']:>9} {r['cells_scored']:>11,} {r['cells_per_s']:>22,.0f} {mib(r['score_peak_gpu_mib']):>14}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (under a minute): checks that the script runs")
    ap.add_argument("--device", help="cuda, cuda:N or cpu (default: cuda when present; cpu with --smoke)")
    ap.add_argument("--out", type=Path, help="folder for the JSON (default: $OUT, else benchmarks/results)")
    ap.add_argument("--models", default=",".join(MODEL_NAMES), help=f"comma-separated subset of {', '.join(MODEL_NAMES)}")
    ap.add_argument("--large-side", type=int, help="side of the stack scored by dense_cnn (default 4096; smoke 32)")
    ap.add_argument("--small-side", type=int, help="side of the stack scored by blend_cell and resnet18 (default 768; smoke 8)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own; 1 with --smoke, robust on a loaded machine)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Measure every model, print the table, write the JSON."""
    import torch

    args = parse(argv)
    sizes = SMOKE if args.smoke else FULL
    if args.large_side or args.small_side:
        sizes = Sizes(**{**asdict(sizes), "large_side": args.large_side or sizes.large_side, "small_side": args.small_side or sizes.small_side})
    threads = args.threads or (1 if args.smoke else None)
    if threads:
        torch.set_num_threads(threads)
    dev = args.device or ("cpu" if args.smoke or not torch.cuda.is_available() else "cuda")
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = sorted(set(names) - set(MODEL_NAMES))
    if bad:
        raise SystemExit(f"unknown model(s) {bad}; choose from {list(MODEL_NAMES)}")
    out_dir = args.out or Path(os.environ.get("OUT") or HERE / "results")
    t_all = time.perf_counter()
    data, labels = synthetic_stack(sizes)
    tmp = Path(tempfile.mkdtemp(prefix="gp-gpu-check-"))
    rows = []
    try:
        stacks = {"large": tmp / "large.tif", "small": tmp / "small.tif"}
        write_stack(stacks["large"], sizes.large_side, sizes.bands, seed=1)
        write_stack(stacks["small"], sizes.small_side, sizes.bands, seed=2)
        for name in names:
            tr = measure_training(name, data, labels, sizes, dev)
            model = tr.pop("model")
            sc = measure_scoring(name, model, tr["patch"], stacks["large" if name == "dense_cnn" else "small"], sizes.bands, dev)
            rows.append({"name": name, **tr, **sc})
            print_table(rows[-1:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print_table(rows)
    doc = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "smoke": args.smoke, "sizes": asdict(sizes), "environment": environment(dev),
           "total_s": round(time.perf_counter() - t_all, 1), "models": {r["name"]: r for r in rows}}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ("gpu_check_smoke.json" if args.smoke else "gpu_check.json")
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
