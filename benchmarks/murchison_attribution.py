"""Which layers drive the default model on Murchison, next to the classic methods' rows.

Reads a finished `geoprospect run` output folder (benchmarks/murchison.yaml with the default
model, ``train.model: blend_cell``) and writes benchmarks/results/murchison_attribution.md and
.json: the out-of-fold table (weights of evidence and fuzzy overlay included), the permutation
importance of each layer, the mean attribution (attribution.tif) over all scored windows and
over the windows holding a known deposit, and the three most contributing layers of the
leading targets. Every figure is read from the run's files, none is typed in.

    geoprospect run benchmarks/murchison.yaml --out murchison-out   # with train.model: blend_cell
    python benchmarks/murchison_attribution.py murchison-out ["note on the machine load"]

(``geoprospect run`` has no model flag: copy benchmarks/murchison.yaml and set ``train.model:
blend_cell``, the data paths made absolute, as was done for the committed results.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio

from geoprospect.evaluation.oof import TABLE_HEAD, table_rows
from geoprospect.pipeline.attribution import read_attribution
from geoprospect.report.figures import dominant_layer_figure

RESULTS = Path(__file__).resolve().parent / "results"
EXPECTED = {"dist_greenstone": "host rocks: orogenic gold in the greenstone belts", "dist_faults": "structural control (shear zones, faults)",
            "fault_density": "structural control", "log10_Au_ppb": "pathfinder (the commodity itself)", "log10_As_ppm": "pathfinder", "log10_Sb_ppm": "pathfinder"}


def _md_table(head, rows) -> str:
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(map(str, r)) + " |" for r in rows])


def summarise(out: Path) -> dict:
    m = json.loads((out / "metrics.json").read_text())
    man = json.loads((out / "manifest.json").read_text())
    with rasterio.open(out / "attribution.tif") as a:
        vals = a.read(masked=True).astype("float64").filled(np.nan)
        names, transform, crs, shape = list(a.descriptions), a.transform, a.crs, (a.height, a.width)
    dep = gpd.read_file(man["config"]["deposits"]["path"]).to_crs(crs)
    rows, cols = rasterio.transform.rowcol(transform, dep.geometry.x, dep.geometry.y)
    cells = {(r, c) for r, c in zip(rows, cols) if 0 <= r < shape[0] and 0 <= c < shape[1]}  # the deposit cells (the sample unit: a cell)
    at_dep = vals[:, [r for r, _ in cells], [c for _, c in cells]] if cells else np.full((len(names), 0), np.nan)
    t = gpd.read_file(out / "targets.gpkg")
    return {
        "model": m["model"], "evaluation": m["evaluation"]["label"], "out_of_fold": {k: {q: v.get(q) for q in ("role", "success_rate_auc", "capture_top_5pct", "capture_top_10pct", "capture_top_20pct", "roc_auc")} for k, v in m["out_of_fold"].items()},
        "importance": m["importance"], "importance_base_success_rate_auc": m["attribution"]["importance_base_success_rate_auc"], "attribution_method": m["attribution"]["method"],
        "mean_attribution": {n: float(np.nanmean(v)) for n, v in zip(names, vals)},
        "mean_abs_attribution": {n: float(np.nanmean(np.abs(v))) for n, v in zip(names, vals)},
        "mean_attribution_deposit_windows": {n: float(np.nanmean(v)) for n, v in zip(names, at_dep)}, "deposit_windows": len(cells),
        "targets": t[["target", "n_cells", "n_deposits", "top1", "top1_value", "top2", "top2_value", "top3", "top3_value"]].head(10).to_dict("records"),
        "timings_s": man["timings_s"],
    }


def write(s: dict) -> None:
    (RESULTS / "murchison_attribution.json").write_text(json.dumps(s, indent=1, default=float))
    imp = s["importance"]
    rows = [[n, f"{v['drop_success_rate_auc']:+.4f} ± {v['std']:.4f}", f"{s['mean_abs_attribution'][n]:.3f}", f"{s['mean_attribution_deposit_windows'][n]:+.3f}", EXPECTED.get(n, "")] for n, v in imp.items()]
    trows = [[r["target"], r["n_cells"], r["n_deposits"], *[f"{r[f'top{i}']} ({r[f'top{i}_value']:+.2f})" for i in (1, 2, 3)]] for r in s["targets"]]
    oof = {k: dict(v, per_fold=[]) for k, v in s["out_of_fold"].items()}
    md = [
        "# Murchison: the classic methods' rows and what drives the default model",
        "",
        f"`geoprospect run benchmarks/murchison.yaml` with the default model (`train.model: {s['model']}`); evaluation: {s['evaluation']}. "
        f"Written by `benchmarks/murchison_attribution.py` from the run's metrics.json, attribution.tif, the deposits and targets.gpkg. "
        f"Run timings (s, per stage): {s['timings_s']}{'; ' + s['note'] if s.get('note') else ''}.",
        "",
        "## Out of fold, same folds",
        "",
        _md_table(TABLE_HEAD, table_rows(oof)),
        "",
        f"## Permutation importance and attribution ({s['attribution_method']})",
        "",
        f"Drop in out-of-fold success-rate AUC (from {s['importance_base_success_rate_auc']:.3f}) when the layer is permuted among each fold's test windows "
        f"(mean ± std over the repeats); mean |attribution| over all scored windows and mean attribution over the {s['deposit_windows']} cells holding a known deposit (logit margin; positive: towards deposit).",
        "",
        _md_table(["layer", "AUC drop", "mean abs. attribution", "mean attribution, deposit cells", "what a geologist expects of it"], rows),
        "",
        "![most contributing layer per window](murchison_attribution.png)",
        "",
        "## Leading targets: their three most contributing layers",
        "",
        _md_table(["target", "cells", "known deposits", "layer 1", "layer 2", "layer 3"], trows),
        "",
    ]
    (RESULTS / "murchison_attribution.md").write_text("\n".join(md))


if __name__ == "__main__":
    run = Path(sys.argv[1])
    write({**summarise(run), "note": " ".join(sys.argv[2:])})
    a = read_attribution(run / "attribution.tif")
    dep = gpd.read_file(json.loads((run / "manifest.json").read_text())["config"]["deposits"]["path"]).to_crs(a.grid.crs)
    dominant_layer_figure(a.values, a.names, a.grid, np.column_stack([dep.geometry.x, dep.geometry.y]), RESULTS / "murchison_attribution.png",
                          title="Murchison, blend_cell: most contributing layer per cell (occlusion)")
