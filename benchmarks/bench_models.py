"""Training and inference speed (windows per second) of ResNet-18 and MFAF at the papers' window sizes.

    python benchmarks/bench_models.py                       # CPU, small batches, short runs
    python benchmarks/bench_models.py --device cuda         # GPU: AMP (bf16) + channels-last
    python benchmarks/bench_models.py --windows 224 --bands 8 --batch 256 --device cuda   # issue-4 target

Prints one line per (model, window) with train and inference windows/s and the ratio of each model
to ResNet-18 measured in the same run (the peer). Issue 4's targets on an H100: >= 5,000 training
and >= 20,000 inference windows/s for ResNet-18 on 224 x 224 x 8 windows.
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from geoprospect.models.registry import build_model, compute_loss, count_parameters  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(name: str, window: int, bands: int, batch: int, device: torch.device, seconds: float, train: bool, amp: bool, options: dict) -> float:
    """Windows per second of one model: training steps (SGD) or inference batches."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(name, bands, 2, window, **options).to(device)
    x = torch.randn(batch, bands, window, window, device=device)
    y = torch.randint(0, 2, (batch,), device=device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda")

    def step() -> None:
        if train:
            model.train()
            with autocast:
                loss, _ = compute_loss(model, x, y, crit)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            model.eval()
            with torch.inference_mode(), autocast:
                model(x)

    for _ in range(2):  # warm-up (cuDNN autotuning, allocator)
        step()
    _sync(device)
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        _sync(device)
        dt = time.perf_counter() - t0
        if dt >= seconds and n >= 2:
            return n * batch / dt


def measure_data_path(window: int, bands: int, batch: int, device: torch.device, seconds: float) -> tuple[float, float]:
    """Windows/s of batch assembly: torch DataLoader (host, per window) vs DeviceBatches (one gather)."""
    import numpy as np
    from torch.utils.data import DataLoader, RandomSampler

    from geoprospect.windows.augment import WindowAugment
    from geoprospect.windows.dataset import WindowDataset
    from geoprospect.windows.device import DeviceBatches

    side = max(4 * window, 1024)
    rng = np.random.default_rng(0)
    data = rng.normal(size=(bands, side, side)).astype(np.float32)
    n = 4096
    offsets = rng.integers(0, side - window + 1, size=(n, 2))
    labels = rng.integers(0, 2, n)
    aug = WindowAugment(noise_variance=0.01, flips=True, rotations=True)
    ds = WindowDataset(data, offsets, window, labels, transform=aug)
    g = torch.Generator().manual_seed(0)

    def rate(make_iter) -> float:
        done, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for x, _ in make_iter():
                x = x.to(device, non_blocking=True)
                done += x.shape[0]
                if time.perf_counter() - t0 >= seconds:
                    break
        _sync(device)
        return done / (time.perf_counter() - t0)

    host = rate(lambda: DataLoader(ds, batch_size=batch, sampler=RandomSampler(ds, generator=g)))
    dev = rate(lambda: DeviceBatches(ds, RandomSampler(ds, generator=g), batch, device, g))
    return host, dev


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models", nargs="+", default=["resnet18", "mfaf"])
    ap.add_argument("--windows", nargs="+", type=int, default=[32, 128, 224], help="papers: 32 (003), 128 (000), 224 crops (001/002)")
    ap.add_argument("--bands", type=int, default=8)
    ap.add_argument("--batch", type=int, default=None, help="default: 256 on CUDA, 16 on CPU")
    ap.add_argument("--seconds", type=float, default=None, help="time per measurement (default 10 on CUDA, 3 on CPU)")
    ap.add_argument("--no-amp", action="store_true", help="float32 on CUDA")
    ap.add_argument("--data-path", action="store_true", help="also time batch assembly: DataLoader vs device-side gathering")
    ap.add_argument("--threads", type=int, help="torch intra-op threads on CPU (default: torch's choice)")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if (args.device == "auto" and torch.cuda.is_available()) else ("cpu" if args.device == "auto" else args.device))
    cuda = device.type == "cuda"
    batch = args.batch or (256 if cuda else 16)
    seconds = args.seconds or (10.0 if cuda else 3.0)
    if cuda:
        torch.backends.cudnn.benchmark = True
    what = torch.cuda.get_device_name(device) if cuda else f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {os.cpu_count()} cores"
    load = f"; load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"device: {what}; torch {torch.__version__}; batch {batch}; {args.bands} bands; AMP {'bf16' if cuda and not args.no_amp else 'off'}{load}")
    rows = []
    for window in args.windows:
        peer = {}
        for name in args.models:
            opts = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params = count_parameters(build_model(name, args.bands, 2, window, **opts))
            tr = measure(name, window, args.bands, batch, device, seconds, True, not args.no_amp, opts)
            inf = measure(name, window, args.bands, batch, device, seconds, False, not args.no_amp, opts)
            if name == "resnet18":
                peer = {"train": tr, "infer": inf}
            ratio = "" if not peer or name == "resnet18" else f"   vs resnet18: train x{tr / peer['train']:.2f}, inference x{inf / peer['infer']:.2f}"
            print(f"{name:10s} {window:4d}px  {params / 1e6:6.1f} M params  train {tr:9.1f} win/s   inference {inf:9.1f} win/s{ratio}", flush=True)
            rows.append({"model": name, "window": window, "bands": args.bands, "batch": batch, "device": what, "params": params, "train_windows_per_s": tr, "inference_windows_per_s": inf})
    if args.data_path:
        for window in args.windows:
            host, dev = measure_data_path(window, args.bands, batch, device, seconds)
            print(f"batches    {window:4d}px  (noise + flips + rotations)   DataLoader {host:9.1f} win/s   DeviceBatches {dev:9.1f} win/s   x{dev / host:.1f}", flush=True)
            rows.append({"data_path": True, "window": window, "dataloader_windows_per_s": host, "device_windows_per_s": dev})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
