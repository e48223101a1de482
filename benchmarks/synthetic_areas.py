"""Synthetic study areas run through the default ``geoprospect run`` (issue 23: every cell a sample).

    python benchmarks/synthetic_areas.py --null-draws 40     # every area (~35 min on 2 cores)
    python benchmarks/synthetic_areas.py --quick             # the two smallest areas
    python benchmarks/synthetic_areas.py --only c500_80 --out /tmp/areas

Each area is seeded and written under ``--out`` (default: a temporary folder, removed at the
end unless ``--keep``), never into the repository: real GeoTIFF evidence rasters, a
stream-sediment points CSV (the run config requires ``points:``), a fault-line GeoPackage, a
deposits GeoPackage and a ``config.yaml`` holding only what a new user writes (``points``,
``grid``, ``rasters``, ``vectors``, ``deposits``: no ``windows:``, ``train:`` or
``evaluation:``, so every run gets the defaults: ``blend_cell``, every cell a sample,
automatic spatial blocks, 3 layouts).

The areas differ in cell size (100 m to 2 km), deposit count (12 to 250), layer count (4 to 12
bands) and noise. Deposits are drawn cell by cell with probability proportional to
``exp(strength * rule)``, where the hidden rule is a weighted sum of a few true evidence fields
(one with a negative sign, distance to faults, a geochemical field and, in the larger areas, a
non-linear "mid-range" term) plus an unobserved smooth field of standard deviation ``noise``.
The rasters and geochemistry the run sees are the true fields plus white measurement noise;
the remaining layers are pure distractors. ``e2k_null`` and ``f1k_null`` place their deposits
at random (uniform over the cells): no layer carries any information, so every row should sit
within noise of 0.5; ``--null-draws`` measures that noise on the area's own stack and folds.
The areas from ``g100_20`` on were added after the defaults were chosen and were never used to
choose anything: they check the default on seeds it has not seen.

For every area the script runs ``geoprospect run CONFIG --out DIR`` as a subprocess (no shell),
measures its wall time and CPU time (``resource.getrusage(RUSAGE_CHILDREN)`` before and after),
reads ``metrics.json`` (``out_of_fold``: model and baseline rows) and writes
``benchmarks/results/synthetic_areas.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CRS = "EPSG:32750"
ORIGIN = (400_000.0, 6_900_000.0)
PAD = 5  # cells of margin around the grid in the evidence rasters (a user's rasters overlap the area)


@dataclass(frozen=True)
class AreaSpec:
    """One synthetic study area.

    Attributes:
        name: folder and table name.
        cell: cell size in metres.
        side: cells a side (the grid is side x side).
        deposits: known deposits placed by the hidden rule.
        rasters: single-band evidence GeoTIFFs (the first ``min(rasters, 3)`` carry the rule).
        elements: geochemical elements in the points CSV (the first carries the rule).
        vectors: fault-line layers (distance); the first carries the rule.
        noise: standard deviation of the unobserved field in the rule (and of the measurement noise).
        associated: False places the deposits at random (no layer informs).
        seed: random seed.
    """

    name: str
    cell: float
    side: int
    deposits: int
    rasters: int
    elements: int
    vectors: int
    noise: float
    associated: bool = True
    seed: int = 0

    @property
    def layers(self) -> int:
        """Bands of the evidence stack (one per raster, element and vector layer)."""
        return self.rasters + self.elements + self.vectors


AREAS: tuple[AreaSpec, ...] = (
    AreaSpec("a100_12", 100.0, 160, 12, 2, 1, 1, 0.3, seed=11),
    AreaSpec("b250_40", 250.0, 200, 40, 3, 2, 1, 0.5, seed=12),
    AreaSpec("c500_80", 500.0, 220, 80, 4, 3, 1, 0.8, seed=13),
    AreaSpec("d1k_250", 1000.0, 260, 250, 6, 4, 2, 1.0, seed=14),
    AreaSpec("e2k_null", 2000.0, 150, 30, 3, 2, 1, 0.0, associated=False, seed=15),
    AreaSpec("f1k_null", 1000.0, 180, 60, 4, 3, 1, 0.0, associated=False, seed=16),
    # Fresh areas added on 2026-12-07, after every default had been chosen and never used to choose
    # one: a check of the default on new seeds, cell sizes and deposit counts (four have 12-20 deposits).
    AreaSpec("g100_20", 100.0, 200, 20, 2, 1, 1, 0.3, seed=106),
    AreaSpec("h250_12", 250.0, 180, 12, 2, 2, 1, 0.8, seed=102),
    AreaSpec("i500_12", 500.0, 160, 12, 3, 2, 1, 1.0, seed=107),
    AreaSpec("j500_30", 500.0, 200, 30, 4, 2, 1, 0.3, seed=103),
    AreaSpec("k1k_150", 1000.0, 220, 150, 3, 3, 1, 0.6, seed=105),
    AreaSpec("l2k_60", 2000.0, 160, 60, 5, 3, 2, 1.0, seed=104),
    AreaSpec("m100_15", 100.0, 150, 15, 3, 1, 1, 0.5, seed=101),
)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """A zero-mean, unit-variance Gaussian random field (white noise blurred by ``sigma`` cells)."""
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return (f - f.mean()) / f.std()


def fault_lines(rng: np.random.Generator, spec: AreaSpec, n: int) -> list:
    """``n`` straight fault segments (shapely LineStrings) crossing the area, in map units."""
    import shapely

    span = spec.side * spec.cell
    x0, y0 = ORIGIN
    out = []
    for _ in range(n):
        cx, cy = x0 + rng.uniform(0, span), y0 + rng.uniform(0, span)
        az, half = rng.uniform(0, np.pi), rng.uniform(0.15, 0.5) * span
        dx, dy = half * np.sin(az), half * np.cos(az)
        out.append(shapely.LineString([(cx - dx, cy - dy), (cx + dx, cy + dy)]))
    return out


def distance_cells(lines: list, spec: AreaSpec, grid) -> np.ndarray:
    """(side, side) approximate distance (in cells) from each cell centre to the nearest line."""
    from rasterio.features import rasterize
    from scipy.ndimage import distance_transform_edt

    hit = rasterize([(g, 1) for g in lines], out_shape=grid.shape, transform=grid.transform, all_touched=True, fill=0, dtype="uint8")
    return distance_transform_edt(hit == 0)


def hidden_rule(rng: np.random.Generator, spec: AreaSpec, fields: dict[str, np.ndarray], dist: np.ndarray) -> np.ndarray:
    """(side, side) log-intensity of deposits: the rule on the true fields plus unobserved noise."""
    shape = dist.shape
    if not spec.associated:
        return np.zeros(shape)
    z = 1.0 * fields["r0"] + 0.8 * fields["g0"] - 1.2 * np.minimum(dist, 30.0) / 10.0
    if spec.rasters > 1:
        z = z - 0.8 * fields["r1"]
    if spec.rasters > 2:  # a non-linear term: deposits favour the mid-range of r2
        z = z - 0.6 * fields["r2"] ** 2
    return z + spec.noise * smooth_field(rng, shape, 4.0)


def place_deposits(rng: np.random.Generator, spec: AreaSpec, rule: np.ndarray, grid) -> np.ndarray:
    """(deposits, 2) map coordinates: cells drawn without replacement with p ~ exp(1.5 rule), a random point in each."""
    logit = 1.5 * rule.ravel()
    p = np.exp(logit - logit.max())
    idx = rng.choice(p.size, size=spec.deposits, replace=False, p=p / p.sum())
    rows, cols = np.divmod(idx, spec.side)
    t = grid.transform
    x = t.c + (cols + rng.uniform(0.05, 0.95, idx.size)) * t.a
    y = t.f + (rows + rng.uniform(0.05, 0.95, idx.size)) * t.e
    return np.column_stack([x, y])


def write_rasters(folder: Path, rng: np.random.Generator, spec: AreaSpec, fields: dict[str, np.ndarray]) -> list[dict]:
    """One GeoTIFF per raster layer on the grid padded by ``PAD`` cells: true field + noise (a linear trend and units added)."""
    from geoprospect.grid import GridSpec
    from geoprospect.io.rasters import write_raster

    x0, y0 = ORIGIN
    span = spec.side * spec.cell
    pad = PAD * spec.cell
    big = GridSpec.from_bounds((x0 - pad, y0 - pad, x0 + span + pad, y0 + span + pad), spec.cell, CRS)
    entries = []
    for i in range(spec.rasters):
        true = np.pad(fields[f"r{i}"], PAD, mode="reflect")
        obs = true + max(spec.noise, 0.2) * 0.5 * rng.standard_normal(true.shape)
        scale, offset = 10.0 ** rng.uniform(0, 3), rng.uniform(-50, 500)
        name = f"raster_{i}"
        write_raster(folder / f"{name}.tif", (offset + scale * obs)[None].astype(np.float32), big, [name], overviews=False)
        entries.append({"name": name, "path": f"{name}.tif"})
    return entries


def write_points(folder: Path, rng: np.random.Generator, spec: AreaSpec, fields: dict[str, np.ndarray], grid) -> list[str]:
    """samples.csv: one sample per ~25 cells (at most 3,000), log-normal element values following the geochemical fields."""
    import pandas as pd

    n = int(min(3000, max(300, spec.side**2 // 25)))
    span = spec.side * spec.cell
    x = ORIGIN[0] + rng.uniform(0, span, n)
    y = ORIGIN[1] + rng.uniform(0, span, n)
    r, c = grid.rowcol(x, y)
    r, c = np.clip(np.asarray(r), 0, spec.side - 1), np.clip(np.asarray(c), 0, spec.side - 1)
    cols: dict[str, object] = {"sample_id": [f"S{i:05d}" for i in range(n)], "x": np.round(x, 1), "y": np.round(y, 1)}
    names = [f"E{i}_ppm" for i in range(spec.elements)]
    for i, name in enumerate(names):
        logv = rng.uniform(-1, 2) + 0.3 * fields[f"g{i}"][r, c] + 0.3 * max(spec.noise, 0.2) * rng.standard_normal(n)
        cols[name] = np.round(10.0**logv, 4)
    pd.DataFrame(cols).to_csv(folder / "samples.csv", index=False)
    return names


def write_vectors(folder: Path, rng: np.random.Generator, spec: AreaSpec) -> tuple[list[dict], list]:
    """Fault-line GeoPackages (distance layers); returns the config entries and the first layer's lines (the rule's)."""
    import geopandas as gpd

    entries: list[dict] = []
    first: list = []
    for i in range(spec.vectors):
        lines = fault_lines(rng, spec, max(4, spec.side // 20))
        name = "faults" if i == 0 else f"contacts_{i}"
        gpd.GeoDataFrame({"id": np.arange(1, len(lines) + 1)}, geometry=lines, crs=CRS).to_file(folder / f"{name}.gpkg", driver="GPKG", layer=name)
        entries.append({"name": f"dist_{name}", "path": f"{name}.gpkg", "kind": "distance"})
        first = first or lines
    return entries, first


def write_config(folder: Path, spec: AreaSpec, rasters: list[dict], elements: list[str], vectors: list[dict]) -> Path:
    """config.yaml with only a new user's sections (inputs, grid, deposits): every other setting is the default."""
    import yaml

    x0, y0 = ORIGIN
    span = spec.side * spec.cell
    cfg = {
        "name": f"synthetic {spec.name}",
        "points": {"path": "samples.csv", "x_field": "x", "y_field": "y", "crs": CRS, "elements": elements},
        "grid": {"crs": CRS, "resolution": spec.cell, "bounds": [x0, y0, x0 + span, y0 + span]},
        "rasters": rasters,
        "vectors": vectors,
        "deposits": {"path": "deposits.gpkg"},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def generate_area(spec: AreaSpec, folder: Path) -> Path:
    """Write one area's inputs and config into ``folder``; returns the config's path."""
    import geopandas as gpd
    import shapely

    from geoprospect.grid import GridSpec

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    x0, y0 = ORIGIN
    span = spec.side * spec.cell
    grid = GridSpec.from_bounds((x0, y0, x0 + span, y0 + span), spec.cell, CRS)
    shape = (spec.side, spec.side)
    fields = {f"r{i}": smooth_field(rng, shape, rng.uniform(3, 8)) for i in range(spec.rasters)}
    fields.update({f"g{i}": smooth_field(rng, shape, rng.uniform(3, 8)) for i in range(spec.elements)})
    vectors, faults = write_vectors(folder, rng, spec)
    rule = hidden_rule(rng, spec, fields, distance_cells(faults, spec, grid))
    xy = place_deposits(rng, spec, rule, grid)
    gpd.GeoDataFrame({"deposit_id": np.arange(1, len(xy) + 1)}, geometry=shapely.points(xy), crs=CRS).to_file(folder / "deposits.gpkg", driver="GPKG", layer="deposits")
    rasters = write_rasters(folder, rng, spec, fields)
    elements = write_points(folder, rng, spec, fields, grid)
    return write_config(folder, spec, rasters, elements, vectors)


def geoprospect_command() -> list[str]:
    """The ``geoprospect`` console script beside this interpreter, else ``python -m geoprospect``."""
    exe = Path(sys.executable).with_name("geoprospect")
    found = str(exe) if exe.exists() else shutil.which("geoprospect")
    return [found] if found else [sys.executable, "-m", "geoprospect"]


def run_area(config: Path, out: Path, log_path: Path) -> dict:
    """Run the default ``geoprospect run`` (no shell) and return wall, CPU (children) seconds and the exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        rc = subprocess.run([*geoprospect_command(), "run", str(config), "--out", str(out), "--overwrite"], stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"returncode": rc, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "log": str(log_path)}


def _spread(row: dict, key: str) -> float | None:
    s = row.get(f"{key}_spread")
    return None if not s else float(s["std"])


def table_rows(metrics: dict) -> dict[str, dict]:
    """name -> role, success-rate AUC (mean and std over layouts), top-10 % capture (mean and std), deposits."""
    out = {}
    for name, r in metrics["out_of_fold"].items():
        out[name] = {"role": r["role"], "success_rate_auc": r.get("success_rate_auc"), "success_rate_auc_std": _spread(r, "success_rate_auc"),
                     "capture_top_10pct": r.get("capture_top_10pct"), "capture_top_10pct_std": _spread(r, "capture_top_10pct"),
                     "n_deposits": r.get("n_deposits"), "versus_model": r.get("versus_model")}
    return out


def null_spread(stack_path: Path, n_deposits: int, draws: int, seed: int = 123) -> dict:
    """Out-of-fold success-rate AUC of ``logistic_cell`` and ``best_layer`` over ``draws`` sets of
    ``n_deposits`` uniform random deposits on an area's own stack, through the run's fold machinery
    (automatic blocks, 5 deposit-stratified folds, 3 layouts): the spread a row has under no
    association (a model chosen on its folds spreads wider than deposits ranked by a fixed map)."""
    import logging

    from geoprospect.evaluation.oof import evaluate_out_of_fold, make_splits
    from geoprospect.io.rasters import read_stack
    from geoprospect.training.config import TrainConfig
    from geoprospect.windows.cells import make_cells
    from geoprospect.windows.folds import auto_block_side, deposit_pixels

    logging.disable(logging.INFO)
    stack = read_stack(stack_path)
    g, t = stack.grid, stack.grid.transform
    vr, vc = np.nonzero(stack.valid)
    rng = np.random.default_rng(seed)
    aucs: dict[str, list[float]] = {}
    for _ in range(draws):
        k = rng.choice(vr.size, n_deposits, replace=False)
        xy = np.column_stack([t.c + (vc[k] + rng.uniform(0.1, 0.9, k.size)) * t.a, t.f + (vr[k] + rng.uniform(0.1, 0.9, k.size)) * t.e])
        cells, _ = make_cells(stack.valid, g, xy, size=1)
        block = auto_block_side(g, stack.valid, deposit_pixels(g, xy), 5).cells
        splits = make_splits(stack, cells, xy, method="cv", folds=5, block_size=block, buffer=0, layouts=3, seed=0)
        res = evaluate_out_of_fold(stack, cells, xy, splits, model="logistic_cell", train_cfg=TrainConfig(model="logistic_cell"), baselines=["best_layer"])
        for name, row in res.table.items():
            aucs.setdefault(name, []).append(float(row["success_rate_auc"]))
    logging.disable(logging.NOTSET)
    return {"draws": draws, "rows": {k: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1))} for k, v in aucs.items()},
            "sd": float(max(np.std(v, ddof=1) for v in aucs.values())), "values": {k: [round(x, 4) for x in v] for k, v in aucs.items()}}


def verdict(spec: AreaSpec, rows: dict[str, dict], null: dict | None = None) -> dict:
    """Model vs the best baseline row (success-rate AUC); for a null area whether every row is within noise of 0.5.

    Noise of a success-rate AUC under no association: with n deposits ranked at random by a fixed
    map its standard error is sqrt(1 / (12 n)); out of fold the rows spread wider, so when
    ``null`` (:func:`null_spread`) is given the larger of the two is used. "Within noise" =
    within 2 of them of 0.5.
    """
    from geoprospect.evaluation.oof import signed, standing

    models = {k: v for k, v in rows.items() if v["role"] == "model" and v["success_rate_auc"] is not None}
    bases = {k: v for k, v in rows.items() if v["role"] == "baseline" and v["success_rate_auc"] is not None}
    model, m = next(iter(models.items()))
    best, b = max(bases.items(), key=lambda kv: kv[1]["success_rate_auc"])
    diff = m["success_rate_auc"] - b["success_rate_auc"]
    out = {"model": model, "best_baseline": best, "model_auc": m["success_rate_auc"], "best_baseline_auc": b["success_rate_auc"],
           "difference": diff, "at_or_above": bool(diff >= 0.0),
           "within_layout_std": bool(abs(diff) <= max(m["success_rate_auc_std"] or 0.0, b["success_rate_auc_std"] or 0.0))}
    if spec.associated:
        word = "AT OR ABOVE" if diff >= 0 else "BELOW"
        close = " (within the layout std)" if diff < 0 and out["within_layout_std"] else ""
        out["summary"] = f"{spec.name}: {model} {m['success_rate_auc']:.3f} is {word} the best baseline {best} {b['success_rate_auc']:.3f} (difference {signed(diff)}){close}"
        paired = b.get("versus_model")
        if paired and paired.get("difference") is not None:  # the run's paired block bootstrap (evaluation/oof.py)
            out["paired"] = paired
            out["paired_verdict"] = {"ahead": "above", "behind": "below", "tied": "indistinguishable"}[standing(paired)]
            out["summary"] += (f"; paired on the same deposits, 95 % interval {paired['low']:+.4f} to {paired['high']:+.4f} over {paired['clusters']} "
                               f"{paired['clusters_are']}: {dict(above='above beyond that noise', below='below beyond that noise', indistinguishable='cannot be told apart')[out['paired_verdict']]}")
        return out
    n = int(m["n_deposits"] or spec.deposits)
    se = float(np.sqrt(1.0 / (12.0 * n)))
    if null is not None:
        out["null_monte_carlo"] = null
        se = max(se, null["sd"])
        pooled = np.array([x for v in (null.get("values") or {}).values() for x in v], dtype=float)
        if pooled.size:  # where each row falls among the random-deposit draws (both rows' draws pooled)
            out["null_percentile"] = {k: float(100.0 * np.mean(pooled <= v["success_rate_auc"])) for k, v in rows.items() if v["success_rate_auc"] is not None}
    within = {k: bool(abs(v["success_rate_auc"] - 0.5) <= 2 * se) for k, v in rows.items() if v["success_rate_auc"] is not None}
    out.update({"null_se": se, "within_noise": within, "all_within_noise": all(within.values())})
    out["mean_auc_all_rows"] = float(np.mean([v["success_rate_auc"] for v in rows.values() if v["success_rate_auc"] is not None]))
    outside = [f"{k} ({rows[k]['success_rate_auc']:.3f})" for k, ok in within.items() if not ok]
    how = f"2 x {se:.3f}" + (f", the Monte Carlo sd of {null['draws']} random-deposit draws" if null is not None and se == null["sd"] else ", sqrt(1/(12n))")
    out["summary"] = (f"{spec.name} (no association, {n} deposits): every row within noise ({how}) of 0.5" if not outside
                      else f"{spec.name} (no association, {n} deposits): rows outside noise ({how}) of 0.5: {', '.join(outside)}")
    return out


def _fmt(v: float | None, s: float | None, pct: bool = False) -> str:
    if v is None:
        return "–"
    if pct:
        return f"{100 * v:.0f}%" + (f" ± {100 * s:.0f}" if s is not None else "")
    return f"{v:.3f}" + (f" ± {s:.3f}" if s is not None else "")


def markdown(results: list[dict], meta: dict) -> str:
    """The Markdown report: one table per area and its summary line."""
    lines = ["# Synthetic study areas through the default `geoprospect run`", "",
             f"Generated by `python benchmarks/synthetic_areas.py` ({meta['when']}, {meta['machine']}). Configs hold only inputs, grid and deposits "
             "(defaults: blend_cell, every cell a sample, automatic spatial blocks, 3 layouts). Figures: out of fold, mean ± std over the layouts; "
             "every fitted row's fold scores z-scored on the fold model's own training cells before the folds are pooled (docs/evaluation.md). "
             "The paired interval: the model's and the best baseline's success-rate AUC difference on the same deposits, 95 % interval from "
             "resampling the blocks holding deposits (2,000 draws; `versus_model` in metrics.json).", ""]
    lines += summary_lines(results) + [""]
    for r in results:
        s = r["spec"]
        lines += [f"## {s['name']}: {s['cell']:g} m cells, {s['side']} x {s['side']}, {s['deposits']} deposits, {r['layers']} layers, noise {s['noise']:g}"
                  + ("" if s["associated"] else " (NO association: deposits at random)"), ""]
        if r["run"]["returncode"] != 0:
            lines += [f"run FAILED (exit {r['run']['returncode']}); log: {r['run']['log']}", ""]
            continue
        lines += [f"run ({r.get('when', '?')}): {r['run']['wall_s']:.0f} s wall, {r['run']['cpu_s']:.0f} s CPU; blocks: {r.get('blocks', '?')}", "",
                  "| row | role | success-rate AUC | top 10 % capture |", "|---|---|---|---|"]
        for name, row in r["rows"].items():
            lines.append(f"| {name} | {row['role']} | {_fmt(row['success_rate_auc'], row['success_rate_auc_std'])} | {_fmt(row['capture_top_10pct'], row['capture_top_10pct_std'], True)} |")
        mc = r["verdict"].get("null_monte_carlo")
        if mc:
            spread = ", ".join(f"{k} {v['mean']:.3f} ± {v['sd']:.3f}" for k, v in mc["rows"].items())
            lines += ["", f"Noise under no association, measured: {mc['draws']} draws of {s['deposits']} uniform random deposits on this stack, "
                      f"the run's folds (automatic blocks, 5 folds, 3 layouts), out-of-fold success-rate AUC mean ± sd: {spread}."]
            pct = r["verdict"].get("null_percentile")
            if pct:
                lines += ["", "Where each row of this run falls among those draws (percentile, both rows' draws pooled): "
                          + ", ".join(f"{k} {v:.0f}" for k, v in pct.items()) + "."]
        if r.get("skill"):
            lines += ["", f"The run's own first line about skill: \"{r['skill']}\""]
        lines += ["", f"**{r['verdict']['summary']}**", ""]
    return "\n".join(lines) + "\n"


def summary_lines(results: list[dict]) -> list[str]:
    """The associated areas counted: at or above the best baseline, below it, and (paired on the
    same deposits) above or below it beyond the resampling noise."""
    named = [(r["spec"]["name"], r["verdict"]) for r in results if r["spec"]["associated"] and "verdict" in r]
    below = [n for n, v in named if not v["at_or_above"]]
    line = (f"**Summary: at or above the best baseline on {len(named) - len(below)} of {len(named)} associated areas; "
            f"below on {len(below)}" + (f" ({', '.join(below)})" if below else "") + ".")
    paired = [(n, v["paired_verdict"]) for n, v in named if "paired_verdict" in v]
    if paired:
        worse = [n for n, p in paired if p == "below"]
        better = [n for n, p in paired if p == "above"]
        line += (f" Paired on the same deposits: above beyond the resampling noise on {len(better)}, below beyond it on {len(worse)}"
                 + (f" ({', '.join(worse)})" if worse else "") + f", indistinguishable on {len(paired) - len(better) - len(worse)}.")
    return [line + "**"]


def blocks_note(metrics: dict) -> str:
    """The automatic block choice as the run logged it (metrics.json ``evaluation.blocks``) and the number of layouts."""
    ev = metrics.get("evaluation") or {}
    layouts = ev.get("layouts")
    n = len(layouts) if isinstance(layouts, list) else layouts
    return f"{ev.get('blocks', '?')}; {n} layouts"


def run_one(spec: AreaSpec, root: Path, logs: Path, null_draws: int = 0) -> dict:
    """Generate, run and read one area."""
    t0 = time.perf_counter()
    config = generate_area(spec, root / spec.name / "inputs")
    gen_s = time.perf_counter() - t0
    out = root / spec.name / "out"
    run = run_area(config, out, logs / f"{spec.name}.log")
    res: dict = {"spec": asdict(spec), "layers": spec.layers, "when": time.strftime("%Y-%m-%d %H:%M"), "generate_s": round(gen_s, 1), "run": run}
    print(f"{spec.name}: run exit {run['returncode']}, {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU (children)", flush=True)
    if run["returncode"] == 0:
        metrics = json.loads((out / "metrics.json").read_text())
        res["rows"] = table_rows(metrics)
        res["blocks"] = blocks_note(metrics)
        res["skill"] = (metrics.get("skill") or {}).get("sentence")
        null = null_spread(out / "stack.tif", spec.deposits, null_draws) if null_draws and not spec.associated else None
        res["verdict"] = verdict(spec, res["rows"], null)
        print("  " + res["verdict"]["summary"], flush=True)
    return res


def merged(path: Path, results: list[dict]) -> list[dict]:
    """``results`` with the other areas of an earlier results file (``--only`` re-runs some areas), in AREAS order."""
    if not path.exists():
        return results
    by_name = {r["spec"]["name"]: r for r in json.loads(path.read_text(encoding="utf-8"))["areas"]}
    by_name.update({r["spec"]["name"]: r for r in results})
    order = [s.name for s in AREAS]
    return sorted(by_name.values(), key=lambda r: order.index(r["spec"]["name"]) if r["spec"]["name"] in order else len(order))


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", help="area name (repeatable); default: every area")
    ap.add_argument("--out", type=Path, help="folder for the areas' inputs and runs (default: a temporary folder, removed afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--quick", action="store_true", help="the two smallest areas only")
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder for synthetic_areas.json / .md")
    ap.add_argument("--null-draws", type=int, default=0, help="random-deposit Monte Carlo draws on each no-association area's stack, to measure the out-of-fold noise (0 = off; ~20 s each)")
    args = ap.parse_args(argv)
    specs = list(AREAS)
    if args.only:
        unknown = set(args.only) - {s.name for s in specs}
        if unknown:
            ap.error(f"unknown area(s) {sorted(unknown)}; choose from {[s.name for s in specs]}")
        specs = [s for s in specs if s.name in args.only]
    if args.quick:
        specs = sorted(specs, key=lambda s: s.side**2)[:2]
    root = args.out or Path(tempfile.mkdtemp(prefix="gp-synthetic-"))
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        results = [run_one(s, root, logs, args.null_draws) for s in specs]
    finally:
        if args.out is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    import os
    import platform

    meta = {"when": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.node()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
            "python": sys.version.split()[0]}
    args.results.mkdir(parents=True, exist_ok=True)
    results = merged(args.results / "synthetic_areas.json", results) if args.only else results
    (args.results / "synthetic_areas.json").write_text(json.dumps({"meta": meta, "areas": results}, indent=2), encoding="utf-8")
    (args.results / "synthetic_areas.md").write_text(markdown(results, meta), encoding="utf-8")
    print(f"wrote {args.results / 'synthetic_areas.json'} and .md")
    return 0 if all(r["run"]["returncode"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
