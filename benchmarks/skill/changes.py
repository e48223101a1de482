"""What each change does to the default blend on Murchison, out of fold (issue 17's fallback table).

    PYTHONPATH=$PWD OMP_NUM_THREADS=2 python3 benchmarks/skill/changes.py [--only NAME ...]

Same protocol as compare_models.py (5 deposit-stratified folds of 40 km blocks, 3 shifted
layouts, 8-cell buffer, cells ranked inside the study area only). Starting point: the default
recipe (``recommended.fit_score``: balanced forest of 100 trees + logistic, per cell, on the
10 bands of data.murchison()). Each row changes ONE thing:

* evidence added to the 10 bands (derived from the same files, nothing new read):
  signed distance to the greenstone contact (negative inside), greenstone fraction within 5 and
  10 km, fault density within 2 and 10 km, distance to faults inside greenstone, distance to
  fault tips and junctions (end points of the merged fault lines), and all of them at once;
* the forest's seeds (the default with other seeds: how much of a difference is noise);
* the members: 500 trees instead of 100 (the forest's vote ties and seed noise), a per-cell
  spline GAM (5 knots per band + logistic), gradient boosting (depth 3, balanced), balanced
  bagging of depth-4 trees, and blends of those;
* the best single layer picked from the enlarged stack (a baseline must see the same layers).

Results: benchmarks/results/skill_changes.json and .md (the table, also on stdout). Extra layers are
cached in --cache (computed once, ~1 min).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))

import data as D  # noqa: E402
from cv import block_folds, train_mask  # noqa: E402
from recommended import standardise  # noqa: E402

from geoprospect.evaluation.metrics import deposit_capture  # noqa: E402

RESULTS = HERE.parent / "results" / "skill_changes.json"
BLOCK, K, BUFFER, OFFSETS = 40, 5, 8, (0, 13, 26)
EXTRA = {
    "contact": "signed distance to the greenstone contact (m, < 0 inside)",
    "green_frac": "greenstone fraction within 5 km and within 10 km (2 bands)",
    "fault_density_2_10": "fault density within 2 km and within 10 km (2 bands)",
    "faults_in_green": "distance to the faults inside greenstone",
    "fault_tips": "distance to fault tips and junctions",
}


def extra_layers(cache: Path, res: float = 1000.0) -> dict[str, np.ndarray]:
    """The derived layers, (n, H, W) float32 each, on data.murchison()'s grid."""
    path = cache / "murchison_extra.npz"
    if path.exists():
        z = np.load(path)
        return {k: z[k] for k in z.files}
    import shapely
    from murchison import fault_density
    from scipy.ndimage import convolve

    from geoprospect.evidence._vector import as_geometries, inside_mask, polygons_dissolved
    from geoprospect.evidence.distance import distance_to_features
    from geoprospect.grid import GridSpec
    from geoprospect.io.vectors import read_vectors

    faults = read_vectors(D.DATA / "faults.gpkg", target_crs=D.CRS, what="faults")
    green = read_vectors(D.DATA / "greenstone.gpkg", target_crs=D.CRS, what="greenstone")
    b = np.vstack([faults.total_bounds, green.total_bounds])  # the grid of data.murchison()
    bounds = (np.floor(b[:, 0].min() / res) * res, np.floor(b[:, 1].min() / res) * res,
              np.ceil(b[:, 2].max() / res) * res, np.ceil(b[:, 3].max() / res) * res)
    grid = GridSpec.from_bounds(bounds, res, D.CRS)
    H, W = grid.shape
    polys = polygons_dissolved(as_geometries(green.geometry.values))
    gu = shapely.union_all(green.geometry.values)
    inside = inside_mask(polys, grid)
    contact = distance_to_features([shapely.boundary(gu)], grid)
    fine = inside_mask(polys, GridSpec.from_bounds(bounds, res / 4, D.CRS)).astype(float)
    frac = fine.reshape(H, 4, W, 4).mean(axis=(1, 3))  # greenstone share of each cell (16 sub-cells)

    def disk_mean(a: np.ndarray, radius: float) -> np.ndarray:
        k = int(np.ceil(radius / res))
        yy, xx = np.mgrid[-k : k + 1, -k : k + 1] * res
        d = ((xx**2 + yy**2) <= radius**2).astype(float)
        return convolve(a, d / d.sum(), mode="constant")

    lines = faults.geometry.values
    merged = shapely.get_parts(shapely.line_merge(shapely.union_all(lines)))
    ends = np.unique(np.round(np.vstack([shapely.get_coordinates(g)[[0, -1]] for g in merged]), 0), axis=0)
    out = {
        "contact": np.where(inside, -contact, contact)[None],
        "green_frac": np.stack([disk_mean(frac, 5000.0), disk_mean(frac, 10000.0)]),
        "fault_density_2_10": np.stack([fault_density(lines, grid, radius=2000.0), fault_density(lines, grid, radius=10000.0)]),
        "faults_in_green": distance_to_features([shapely.intersection(shapely.union_all(lines), gu)], grid)[None],
        "fault_tips": distance_to_features(list(shapely.points(ends)), grid)[None],
    }
    out = {k: v.astype(np.float32) for k, v in out.items()}
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    return out


# -- members: (features (N, C), training rows, labels, seed) -> z-scored score of every cell -------
def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def logistic(F, idx, y, seed):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(F[idx], y).decision_function(F)


def balanced_forest(F, idx, y, seed, trees=100):
    from imblearn.ensemble import BalancedRandomForestClassifier

    m = BalancedRandomForestClassifier(n_estimators=trees, sampling_strategy="all", replacement=True, bootstrap=False,
                                       max_features="sqrt", n_jobs=2, random_state=seed).fit(F[idx], y)
    return _logit(m.predict_proba(F)[:, 1])


def spline_gam(F, idx, y, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    m = make_pipeline(SplineTransformer(n_knots=5, degree=3, extrapolation="constant"),
                      LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000))
    return m.fit(F[idx], y).decision_function(F)


def boosting(F, idx, y, seed):
    from sklearn.ensemble import HistGradientBoostingClassifier

    m = HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200, class_weight="balanced",
                                       l2_regularization=1.0, random_state=seed)
    return m.fit(F[idx], y).decision_function(F)


def balanced_bagging(F, idx, y, seed):
    from imblearn.ensemble import BalancedBaggingClassifier
    from sklearn.tree import DecisionTreeClassifier

    m = BalancedBaggingClassifier(estimator=DecisionTreeClassifier(max_depth=4), n_estimators=200, random_state=seed, n_jobs=2)
    return _logit(m.fit(F[idx], y).predict_proba(F)[:, 1])


def best_layer(F, idx, y, seed):
    """The band (and sign) with the highest ROC AUC on the training cells."""
    from sklearn.metrics import roc_auc_score

    aucs = [roc_auc_score(y, F[idx, b]) for b in range(F.shape[1])]
    b = int(np.argmax(np.abs(np.array(aucs) - 0.5)))
    return F[:, b] * (1.0 if aucs[b] >= 0.5 else -1.0)


MEMBERS = {"logistic": logistic, "balanced_forest": balanced_forest, "forest500": lambda *a: balanced_forest(*a, trees=500),
           "forest_seed100": lambda F, i, y, s: balanced_forest(F, i, y, s + 100),
           "forest_seed200": lambda F, i, y, s: balanced_forest(F, i, y, s + 200),
           "gam": spline_gam, "boosting": boosting, "bagging4": balanced_bagging, "best_layer": best_layer}
DEFAULT = ("balanced_forest", "logistic")
#: row name -> (extra layers, members, what changed)
ROWS = {
    "default": ((), DEFAULT, "the default recipe (balanced forest 100 trees + logistic, 10 bands)"),
    **{f"+{k}": ((k,), DEFAULT, f"+ {v}") for k, v in EXTRA.items()},
    "+all_extra": (tuple(EXTRA), DEFAULT, "+ all the layers above (17 bands)"),
    "seed100": ((), ("forest_seed100", "logistic"), "the default, forest seeds + 100 (seed noise)"),
    "seed200": ((), ("forest_seed200", "logistic"), "the default, forest seeds + 200 (seed noise)"),
    "forest500": ((), ("forest500", "logistic"), "500 trees instead of 100"),
    "gam": ((), ("gam",), "a spline GAM alone (5 knots per band)"),
    "gam+forest": ((), ("gam", "balanced_forest"), "spline GAM instead of the logistic"),
    "boosting": ((), ("boosting",), "gradient boosting alone (depth 3, balanced)"),
    "boosting+logistic": ((), ("boosting", "logistic"), "gradient boosting instead of the forest"),
    "bagging4": ((), ("bagging4",), "balanced bagging of depth-4 trees alone"),
    "best_layer": ((), ("best_layer",), "baseline: best single layer"),
    "best_layer+contact": (("contact",), ("best_layer",), "baseline: best single layer, contact distance offered"),
    "best_layer+all_extra": (tuple(EXTRA), ("best_layer",), "baseline: best single layer, all extra layers offered"),
}


def greenstone_cells(A: D.Area) -> np.ndarray:
    """(H*W,) bool: ranked cells on greenstone (distance to greenstone 0)."""
    return ((A.X[A.bands.index("dist_greenstone")] == 0) & A.area).ravel()


def within_greenstone(A: D.Area, score: np.ndarray) -> float:
    """ROC AUC of a flat score among the greenstone cells (deposit cells vs the rest)."""
    from sklearn.metrics import roc_auc_score

    g = greenstone_cells(A)
    y = np.zeros(g.size, bool)
    y[A.deposits] = True
    return float(roc_auc_score(y[g], score[g]))


def greenstone_summary(A: D.Area) -> dict:
    """Share of ranked cells and of deposit cells on greenstone; each layer's AUC among them (max of both signs)."""
    g = greenstone_cells(A)
    dep = np.unique(A.deposits)
    layers = {n: within_greenstone(A, A.X[b].ravel().astype(np.float64)) for b, n in enumerate(A.bands)}
    return {"cells_share": float(g.sum() / A.area.sum()), "deposit_cells_share": float(g[dep].mean()),
            "layer_roc_auc": {n: max(a, 1 - a) for n, a in layers.items()}}


def run_row(A: D.Area, extra: dict, layers: tuple, members: tuple) -> dict:
    X = np.concatenate([A.X, *[extra[k] for k in layers]]) if layers else A.X
    Z = standardise(X, A.area)
    F = Z.reshape(Z.shape[0], -1).T
    y_all = np.zeros(F.shape[0], int)
    y_all[A.deposits] = 1
    m = A.area.ravel()
    per_layout = []
    t = time.perf_counter()
    for off in OFFSETS:
        folds = block_folds(A.area, A.deposits, BLOCK, K, off)
        oof = np.full(F.shape[0], np.nan)
        for f in range(K):
            idx = np.flatnonzero(train_mask(folds, f, BUFFER).ravel())
            scores = [MEMBERS[n](F, idx, y_all[idx], f) for n in members]
            s = np.mean([(v - v[m].mean()) / (v[m].std() + 1e-12) for v in scores], axis=0)
            test = (folds == f).ravel()
            oof[test] = s[test]
        r = deposit_capture(np.where(A.area, oof.reshape(A.area.shape), np.nan), A.deposits)
        per_layout.append({**{k: float(r[k]) for k in ("success_rate_auc", "capture_top_10pct")},
                           "roc_auc_within_greenstone": within_greenstone(A, oof)})
    auc = np.array([p["success_rate_auc"] for p in per_layout])
    top = np.array([p["capture_top_10pct"] for p in per_layout])
    return {"success_rate_auc": float(auc.mean()), "auc_sd": float(auc.std(ddof=1)), "capture_top_10pct": float(top.mean()),
            "top10_sd": float(top.std(ddof=1)), "layouts": per_layout, "bands": int(X.shape[0]), "seconds": round(time.perf_counter() - t, 1)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", choices=list(ROWS), default=None)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/skill-cache"))
    ap.add_argument("--report-only", action="store_true", help="only write skill_changes.md from skill_changes.json")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    A = D.murchison(args.cache)
    extra = extra_layers(args.cache)
    res = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in [] if args.report_only else args.only or list(ROWS):
        layers, members, what = ROWS[name]
        res[name] = {"change": what, "members": list(members), "extra": list(layers), **run_row(A, extra, layers, members)}
        print(f"{name:22s} {res[name]['success_rate_auc']:.3f} / {100 * res[name]['capture_top_10pct']:.0f} %", flush=True)
        RESULTS.write_text(json.dumps(res, indent=1))
    green = greenstone_summary(A)
    RESULTS.with_name("skill_greenstone.json").write_text(json.dumps(green, indent=1))
    text = HEADER + table(res) + greenstone_text(green, res.get("default"))
    RESULTS.with_suffix(".md").write_text(text)
    print(text)


HEADER = """# What each change does to the default model on Murchison (out of fold)

Written by `benchmarks/skill/changes.py` from `skill_changes.json`. Protocol of the skill
benchmark: 5 deposit-stratified folds of 40 km blocks, 3 shifted layouts (mean ± sd over the
layouts), 8-cell buffer, 82,885 cells of the study area ranked, 254 deposits. One change per row
against the default recipe (per-cell balanced forest of 100 trees + logistic regression, z-scored
and averaged, on 10 bands). Issue 17's target: success-rate AUC >= 0.93 and top-10 % >= 75 %.

"""


def table(res: dict) -> str:
    """Markdown table of the rows, with the difference to the default row."""
    base = res.get("default")
    lines = ["| change (one at a time) | bands | SR-AUC ± sd | top 10 % ± sd | Δ AUC / Δ top 10 vs default |", "|---|---|---|---|---|"]
    for r in res.values():
        d = f"{r['success_rate_auc'] - base['success_rate_auc']:+.3f} / {100 * (r['capture_top_10pct'] - base['capture_top_10pct']):+.0f}" if base else ""
        lines.append(f"| {r['change']} | {r['bands']} | {r['success_rate_auc']:.3f} ± {r['auc_sd']:.3f} | "
                     f"{100 * r['capture_top_10pct']:.0f} % ± {100 * r['top10_sd']:.0f} | {d} |")
    return "\n".join(lines) + "\n"


def greenstone_text(green: dict, default: dict | None) -> str:
    """Why the top 10 % is bounded: the ordering of cells inside the greenstone."""
    aucs = green["layer_roc_auc"]
    own = [lay["roc_auc_within_greenstone"] for lay in default["layouts"]] if default and "roc_auc_within_greenstone" in default["layouts"][0] else []
    blend = f"; the default blend, out of fold: {min(own):.2f}-{max(own):.2f}" if own else ""
    return (f"\nInside the greenstone ({100 * green['cells_share']:.1f} % of the ranked cells, "
            f"{100 * green['deposit_cells_share']:.0f} % of the deposit cells), ROC AUC of deposit cells against "
            f"the other greenstone cells: single layers {min(aucs.values()):.2f}-{max(aucs.values()):.2f} "
            f"(best: {max(aucs, key=aucs.get)}){blend}.\n")


if __name__ == "__main__":
    main()
