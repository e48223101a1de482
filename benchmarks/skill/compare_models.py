"""Which model should `geoprospect run` use by default for areas with few deposits? (issue 17)

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python3 benchmarks/skill/compare_models.py \
        [--areas murchison,synthetic_few12,synthetic_mid40,synthetic_corner12] \
        [--candidates best_layer,logistic,random_forest,...] [--report]

Same protocol for every candidate: 5 folds of square spatial blocks (40 km on Murchison; scaled
on the synthetic areas) assigned to folds stratified by deposit count, 3 shifted layouts
(offsets 0, 1/3, 2/3 of a block), a buffer of 8 cells (half of the largest window) between
training cells and the test fold; every deposit scored by a model that never saw its block.
Cells are ranked inside the study area only, by a continuous score (logit / decision function),
ties spread evenly (geoprospect.evaluation.metrics.deposit_capture). Out-of-fold maps are cached
in --cache; results go to benchmarks/results/skill.json and (with --report) skill.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import candidates as C  # noqa: E402
import data as D  # noqa: E402
from cv import block_folds, inner_splits, train_mask  # noqa: E402

from geoprospect.evaluation.metrics import deposit_capture  # noqa: E402

log = logging.getLogger("skill")
RESULTS = HERE.parent / "results"
BLOCK = {"murchison": 40, "synthetic_few12": 24, "synthetic_corner12": 24, "synthetic_mid40": 28}
BUFFER = 8
K = 5
BASELINES = ("best_layer", "logistic", "random_forest")


def load_area(name: str) -> D.Area:
    return D.murchison() if name == "murchison" else D.synthetic(name.removeprefix("synthetic_"))


def standardise(A: D.Area) -> np.ndarray:
    Z = np.empty_like(A.X)
    for b in range(A.X.shape[0]):
        v = A.X[b][A.area]
        Z[b] = (A.X[b] - v.mean()) / (v.std() + 1e-12)
    return np.nan_to_num(Z, nan=0.0).astype(np.float32)


def registry() -> dict:
    reg = {
        "best_layer": C.best_layer,
        "logistic": C.logistic,
        "random_forest": C.random_forest,
        "balanced_forest": C.balanced_forest,
        "balanced_forest_nbhd": lambda ctx, tr, s=0: C.balanced_forest(ctx, tr, s, scales=(3, 7)),
        "logistic_nbhd": C.logistic_nbhd_nested,
        "logistic_spline_nbhd": C.logistic_spline_nbhd_nested,
        "logistic_soft": C.logistic_soft_nested,
    }
    try:
        import cnn

        reg.update(cnn.CANDIDATES)
    except ImportError:
        pass
    try:
        import selfsup

        reg.update(selfsup.CANDIDATES)
    except ImportError:
        pass
    return reg


def run_candidate(A: D.Area, name: str, fn, cache: Path, refit: bool = False, layouts: tuple[int, ...] = (0, 1, 2)) -> dict | None:
    """Out-of-fold scores over 3 layouts; per-layout metrics; cached fold maps."""
    Z = standardise(A)
    block = BLOCK[A.name]
    rows = []
    for li, off in enumerate((0, block // 3, 2 * block // 3)):
        if li not in layouts:
            continue
        path = cache / f"{A.name}__{name}__L{li}.npz"
        folds = block_folds(A.area, A.deposits, block, K, off)
        if path.exists() and not refit:
            z = np.load(path)
            oof, secs, chosen = z["oof"], float(z["seconds"]), list(z["chosen"])
        else:
            oof = np.full(A.area.shape, np.nan)
            maps, chosen = [], []
            t = time.perf_counter()
            members = name.removeprefix("blend:").split("+") if name.startswith("blend:") else None
            for f in range(K):
                if members:  # mean of the members' fold maps, each z-scored over the area's cells (no labels used)
                    ms = [np.load(cache / f"{A.name}__{m}__L{li}.npz")["maps"][f].astype(np.float64) for m in members]
                    s = np.mean([(m - m[A.area].mean()) / (m[A.area].std() + 1e-12) for m in ms], axis=0)
                    oof[folds == f] = s[folds == f]
                    maps.append(s.astype(np.float32))
                    chosen.append("")
                    continue
                tr = train_mask(folds, f, BUFFER)
                ctx = C.Context(Z, A.area, A.deposits, inner_splits(folds, f, BUFFER), A.bands)
                s = fn(ctx, tr, f)
                te = folds == f
                oof[te] = s[te]
                maps.append(s.astype(np.float32))
                chosen.append(str(getattr(ctx, "chosen", "")))
            secs = time.perf_counter() - t
            np.savez_compressed(path, oof=oof, maps=np.stack(maps), folds=folds, seconds=secs, chosen=np.array(chosen))
        per_fold = [int(np.isin(A.deposits, np.flatnonzero((folds == f).ravel())).sum()) for f in range(K)]
        m = deposit_capture(np.where(A.area, oof, np.nan), A.deposits)
        m = {k: m[k] for k in ("success_rate_auc", "capture_top_5pct", "capture_top_10pct", "capture_top_20pct", "tied_cell_fraction")}
        rows.append({"layout": li, "offset": off, "deposits_per_fold": per_fold, "seconds": round(secs, 1), "chosen": chosen, **m})
        log.info("%-18s %-24s L%d AUC %.3f top5 %.0f%% top10 %.0f%% top20 %.0f%% (%.0f s) %s", A.name, name, li, m["success_rate_auc"], 100 * m["capture_top_5pct"], 100 * m["capture_top_10pct"], 100 * m["capture_top_20pct"], secs, ",".join(chosen))
    if len(rows) < 3:
        return None
    summ = {}
    for k in ("success_rate_auc", "capture_top_5pct", "capture_top_10pct", "capture_top_20pct", "seconds"):
        v = np.array([r[k] for r in rows], float)
        summ[k] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)), "min": float(v.min()), "max": float(v.max())}
    return {"role": "baseline" if name in BASELINES else "model", "layouts": rows, "summary": summ}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--areas", default="murchison,synthetic_few12,synthetic_mid40,synthetic_corner12")
    ap.add_argument("--candidates", default="best_layer,logistic,random_forest")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/skill-cache/oof"))
    ap.add_argument("--refit", action="store_true")
    ap.add_argument("--layouts", default="0,1,2", help="compute only these layouts (the table needs all 3, from the cache)")
    ap.add_argument("--report", action="store_true", help="write skill.md from skill.json")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    import torch

    torch.set_num_threads(args.threads)
    args.cache.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "skill.json"
    res = json.loads(out.read_text()) if out.exists() else {}
    reg = registry()
    for an in [a for a in args.areas.split(",") if a]:
        A = load_area(an)
        head = {"n_deposits": int(A.deposits.size), "cells_ranked": int(A.area.sum()), "block_cells": BLOCK[an], "buffer_cells": BUFFER, "folds": K}
        for cn in [c for c in args.candidates.split(",") if c]:
            row = run_candidate(A, cn, reg.get(cn), args.cache, args.refit, tuple(int(v) for v in args.layouts.split(",")))
            if row is None:
                continue
            res = json.loads(out.read_text()) if out.exists() else {}  # other runs may have written meanwhile
            res.setdefault(an, head)[cn] = row
            out.write_text(json.dumps(res, indent=1))
    if args.report:
        import report

        res = json.loads(out.read_text())
        report.write(res, RESULTS / "skill.md", (HERE / "findings.md").read_text(), (HERE / "conclusions.md").read_text())


if __name__ == "__main__":
    main()
