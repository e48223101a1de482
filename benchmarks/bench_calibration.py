"""Which calibration should `run` use by default? (issue 13)

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python3 benchmarks/bench_calibration.py [--areas sample,synthetic_few12,synthetic_mid40] [--model blend_cell]

For each area: the run's out-of-fold protocol (geoprospect.evaluation.oof: 5 deposit-stratified
spatial folds, half-window buffer) scores every window with a model that never saw its block;
then every calibration method is judged CROSS-FITTED (each fold's windows calibrated by a
calibrator fitted on the other folds' out-of-fold windows): Brier score and expected calibration
error (10 equal-width bins), beside the model's own probability. The sample area is the bundled
sample data's stack (built by `geoprospect run` into --sample-run); the synthetic areas are those
of benchmarks/skill/data.py (8-cell windows, stride 4). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "skill"))
sys.path.insert(0, str(HERE.parent))

from geoprospect.evaluation.calibration import METHODS, calibration_report  # noqa: E402
from geoprospect.evaluation.oof import evaluate_out_of_fold, make_splits  # noqa: E402
from geoprospect.grid import GridSpec  # noqa: E402
from geoprospect.io.rasters import Stack, read_stack  # noqa: E402
from geoprospect.training.config import TrainConfig  # noqa: E402
from geoprospect.windows.tiling import make_windows  # noqa: E402


def _synthetic(kind: str):
    import data as D  # benchmarks/skill/data.py

    A = D.synthetic(kind)
    H, W = A.shape
    grid = GridSpec.from_bounds((0.0, 0.0, W * 1000.0, H * 1000.0), 1000.0, "EPSG:20350")
    stack = Stack(A.X, grid, A.bands, [{"mean": float(b.mean()), "std": float(b.std())} for b in A.X])
    r, c = np.divmod(A.deposits, W)
    t = grid.transform
    deps = np.column_stack([t.c + (c + 0.5) * t.a, t.f + (r + 0.5) * t.e])
    return stack, deps, 8, 4


def _sample(run: Path):
    from geoprospect.io.vectors import deposit_points, read_vectors

    stack = read_stack(run / "stack.tif")
    deps = deposit_points(read_vectors(HERE.parent / "sample_data" / "deposits.gpkg", target_crs=stack.grid.crs, what="deposits"))
    return stack, deps, 32, 16


def measure(stack: Stack, deps: np.ndarray, size: int, stride: int, model: str) -> tuple[dict, int, int]:
    windows, _ = make_windows(stack.valid, stack.grid, deps, size=size, stride=stride, check_split=False)
    splits = make_splits(stack, windows, deps, method="cv", folds=5, block_size=None, buffer=None, layouts=1, seed=0)
    res = evaluate_out_of_fold(stack, windows, deps, splits, model=model, train_cfg=TrainConfig(model=model, epochs=4, device="cpu"), baselines=())
    y = windows["label"].to_numpy()
    _, rep = calibration_report(res.model_margin, res.model_prob, y, res.model_fold, "platt")
    return rep["compared"], int(y.sum()), len(deps)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--areas", default="sample,synthetic_few12,synthetic_mid40")
    ap.add_argument("--model", default="blend_cell")
    ap.add_argument("--sample-run", default="geoprospect-out", help="a finished `geoprospect run` of the sample data (its stack.tif)")
    a = ap.parse_args()
    print(f"| area | deposits | positive windows | {' | '.join(f'{m} Brier / ECE' for m in METHODS)} |")
    print("|---|---|---|" + "---|" * len(METHODS))
    for name in a.areas.split(","):
        stack, deps, size, stride = _sample(Path(a.sample_run)) if name == "sample" else _synthetic(name.removeprefix("synthetic_"))
        cmp_, pos, n_dep = measure(stack, deps, size, stride, a.model)
        cells = " | ".join(f"{cmp_[m]['brier']:.4f} / {cmp_[m]['ece']:.3f}" for m in METHODS)
        print(f"| {name} | {n_dep} | {pos} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
