"""`geoprospect run`: the whole pipeline from one configuration, into one output folder.

Outputs: stack.tif, windows.gpkg, model/, prospectivity.tif (+ .qml; calibrated probability),
uncertainty.tif, attribution.tif (config attribution:), scores.gpkg, metrics.json, map.png, history.csv and manifest.json (config, versions, input hashes,
timings per stage, metrics). Each stage records itself in ``state.json`` when finished, so
``resume=True`` continues an interrupted run from the last finished stage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import torch

from geoprospect.errors import FoldError, OutputError
from geoprospect.evaluation.evaluate import read_prediction
from geoprospect.evaluation.metrics import deposit_capture, deposit_flat, window_metrics
from geoprospect.evaluation.oof import BLOCK_LABEL, POOLING, baselines_beating, evaluate_out_of_fold, make_splits, skill_verdict
from geoprospect.io.atomic import remove_stale_temps, write_json
from geoprospect.io.rasters import raster_band_names, read_bands
from geoprospect.models.checkpoint import load_checkpoint, save_checkpoint, versions
from geoprospect.pipeline import stages
from geoprospect.pipeline.attribution import ATTRIBUTION, attribution_metrics, read_attribution, run_attribution, run_importance
from geoprospect.pipeline.config import RunConfig
from geoprospect.pipeline.engine import Engine
from geoprospect.pipeline.layers import pipeline_layers
from geoprospect.pipeline.uncertainty import UNCERTAINTY, calibrate_and_spread, calibrate_prediction, ensure_mc_dropout, predict_stack, stack_scorer
from geoprospect.prediction.fullres import FullResMap, write_fullres
from geoprospect.prediction.predict import window_scores, write_prediction
from geoprospect.report.figures import area_percentile, map_figure
from geoprospect.report.outputs import write_map_products
from geoprospect.stack.area import deposits_in_area
from geoprospect.training.fit import fit, model_meta
from geoprospect.training.history import write_history
from geoprospect.windows.cells import block_split, deposit_cells, make_cells, unscored_deposits
from geoprospect.windows.dataset import WindowDataset
from geoprospect.windows.folds import auto_block_side, deposit_pixels
from geoprospect.windows.store import SCRATCH, open_windows_source
from geoprospect.windows.tiling import make_windows, read_windows, write_windows

log = logging.getLogger(__name__)

OUTPUTS = ("stack.tif", "windows.gpkg", "model", "prospectivity.tif", "scores.gpkg", "metrics.json", "map.png", "manifest.json")
STAGES = ("stack", "tile", "crossval", "train", "predict", "attribution", "evaluate")
OOF_MAP = "prospectivity_oof.tif"  # the model's out-of-fold full-resolution map
OOF_TABLE = "out_of_fold.json"  # the out-of-fold table (model and baselines) and the folds
TRAIN_DIR = ".resume"  # per-epoch training state (last.pt) of an unfinished run, removed when training is done


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_output_folder(out: Path, overwrite: bool, resume: bool) -> None:
    """Refuse to write into a folder that already holds a run, unless told to."""
    if out.exists() and not out.is_dir():
        raise OutputError("the output path exists and is not a folder", path=out)
    held = [n for n in OUTPUTS + ("state.json",) if (out / n).exists()]
    if held and not (overwrite or resume):
        raise OutputError(
            f"the output folder already holds a run ({', '.join(held)})",
            path=out,
            hint="pass --overwrite to replace it, --resume to continue it, or choose another --out",
        )


class _State:
    """Finished stages of a run, persisted after each stage."""

    def __init__(self, out: Path, config_hash: str, resume: bool) -> None:
        self.path = out / "state.json"
        self.config_hash = config_hash
        self.done: dict[str, dict] = {}
        if resume and self.path.exists():
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                raw = {}
                log.warning("%s is unreadable: starting again", self.path)
            if raw.get("config_hash") == config_hash:
                self.done = raw.get("done", {})
            elif raw:
                log.warning("the configuration changed since the interrupted run: starting again")

    def finished(self, stage: str, out: Path, files: list[str]) -> bool:
        return stage in self.done and all((out / f).exists() for f in files)

    def mark(self, stage: str, info: dict) -> None:
        self.done[stage] = info
        write_json(self.path, {"config_hash": self.config_hash, "done": self.done})


@dataclass
class _Run:
    """What the stages of one run share."""

    cfg: RunConfig
    out: Path
    state: _State
    resume: bool
    engine: Engine
    timings: dict = field(default_factory=dict)
    cfg_json: dict = field(default_factory=dict)


def _prepare(cfg: RunConfig, out: Path, overwrite: bool, resume: bool) -> _Run:
    """Check and create the output folder, clean what a killed run left, read the state."""
    check_output_folder(out, overwrite, resume)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder ({exc.strerror})", path=out, hint="choose a folder you can write to") from exc
    remove_stale_temps(out)  # left by a run killed mid-write: never a finished output
    shutil.rmtree(out / SCRATCH, ignore_errors=True)  # memory maps of a run that was killed
    cfg_json = json.loads(cfg.model_dump_json())
    # where the work runs (compute) does not change the results: left out of the resume hash
    state = _State(out, hashlib.sha256(json.dumps({k: v for k, v in cfg_json.items() if k != "compute"}, sort_keys=True).encode()).hexdigest(), resume)
    if not state.done and (out / TRAIN_DIR).exists():
        shutil.rmtree(out / TRAIN_DIR, ignore_errors=True)  # from another configuration or a fresh start
    engine = Engine(cfg.compute.dask_scheduler, cfg.compute.block_size, cfg.compute.prefetch)
    return _Run(cfg, out, state, resume, engine, cfg_json=cfg_json)


def _timed(run: _Run, name: str, fn, *args):
    t = time.perf_counter()
    try:
        return fn(run, *args)
    finally:
        run.timings[name] = time.perf_counter() - t


def _read_inputs(run: _Run):
    """Points, grid, deposits and the study area (cheap; always redone; the area is read once)."""
    cfg = run.cfg
    points = stages.read_run_points(cfg.points, run.out)
    area = stages.load_area(cfg.area)
    grid = stages.run_grid(cfg, points, area)
    # deposits outside the study area cannot be ranked: left out (with a warning) of labels and capture
    deposits = deposits_in_area(stages.load_deposits(cfg.deposits.path, grid, layer=cfg.deposits.layer, crs=cfg.deposits.crs, where=cfg.deposits.where), area, grid.crs)
    if cfg.selection.enabled:  # Z_AUC element selection from the training-area deposits only
        # (evaluation.method block only: the configuration refuses selection with cv, where no deposit is outside every test fold)
        points = stages.select_run_elements(points, deposits[~_held_out_deposits(deposits, grid, cfg.windows)], grid, cfg.selection, run.out)
    return points, grid, deposits, area


def _stack_stage(run: _Run, points, grid, area) -> None:
    """The evidence stack, block by block (or on dask): memory bounded by compute.block_size."""
    if run.state.finished("stack", run.out, ["stack.tif"]):
        log.info("resume: stack.tif already built")
        return
    run.engine.build_stack(pipeline_layers(run.cfg, points, grid), grid, run.out / "stack.tif", area=area)
    run.state.mark("stack", {"bands": raster_band_names(run.out / "stack.tif")})


def _tile_stage(run: _Run, stack, grid, deposits):
    """The sample table: every cell with data (windows.unit cell: cheap, always rebuilt, nothing
    written) or the papers' windows (windows.gpkg, with the single-block split kept for
    evaluation.method: block)."""
    w = run.cfg.windows
    size, stride, _ = run.cfg.sample_geometry()
    if w.unit == "cell":
        cells, summary = make_cells(stack.valid, grid, deposits, size=size, radius=run.cfg.labels.radius)
        if run.cfg.evaluation.method == "block":
            cells["split"] = block_split(cells, grid, w.test_fraction, w.split_axis, w.test_side)
        run.state.mark("tile", summary.__dict__)
        return cells, summary.__dict__
    if run.state.finished("tile", run.out, ["windows.gpkg"]):
        return read_windows(run.out / "windows.gpkg"), run.state.done["tile"]
    windows, summary = make_windows(stack.valid, grid, deposits, size=size, stride=stride, min_valid=w.min_valid, test_fraction=w.test_fraction, split_axis=w.split_axis, test_side=w.test_side,
                                    check_split=run.cfg.evaluation.method == "block")
    write_windows(windows, run.out / "windows.gpkg")
    run.state.mark("tile", summary.__dict__)
    return windows, summary.__dict__


def _fold_epochs(cfg: RunConfig) -> int:
    """Epochs of each fold's model: evaluation.epochs, or half of train.epochs (at least 1)."""
    return cfg.evaluation.epochs or max(1, cfg.train.epochs // 2)


def _crossval_stage(run: _Run, stack, windows, deposits) -> tuple[dict, FullResMap]:
    """Out-of-fold table (model + baselines, same folds) and the model's out-of-fold map.
    Refuses (FoldError, fix named) before any training when a fold would hold no deposit."""
    cfg, out, ev = run.cfg, run.out, run.cfg.evaluation
    if run.state.finished("crossval", out, [OOF_TABLE, OOF_MAP, UNCERTAINTY]):
        return json.loads((out / OOF_TABLE).read_text(encoding="utf-8")), _read_fullres(out / OOF_MAP)
    _check_scored(cfg, stack, deposits, stack.valid)  # before any training: deposits on cells without data
    block, buffer, choice = _fold_geometry(cfg, stack, deposits)
    splits = make_splits(stack, windows, deposits, method=ev.method, folds=ev.folds, block_size=block, buffer=buffer, layouts=ev.layouts, seed=cfg.train.seed)
    fold_cfg = cfg.train.model_copy(update={"epochs": _fold_epochs(cfg)})
    res = evaluate_out_of_fold(stack, windows, deposits, splits, model=cfg.train.model, train_cfg=fold_cfg, baselines=ev.baselines)
    table, fmap, wprob = res.table, res.model_map, res.model_prob
    _check_scored(cfg, stack, deposits, np.isfinite(fmap.margin))
    info = {"method": ev.method, "blocks": choice, "label": splits[0].label if ev.method == "cv" else BLOCK_LABEL, "fold_epochs": fold_cfg.epochs,
            "ranked_cells": "cells with data scored out of fold (full resolution)",
            "pooling": POOLING, "layouts": [s.describe() for s in splits],
            "out_of_fold": table, "model": cfg.train.model, "success_rate_curves": res.model_curves,
            "window_prob": [None if not np.isfinite(v) else float(v) for v in wprob]}
    # calibrator from the out-of-fold margins; uncertainty.tif from the fold models (issue 13)
    info.update(calibrate_and_spread(out, res, stack, windows["label"].to_numpy(), cfg, stack_scorer(run.engine, out / "stack.tif", stack, cfg, cfg.train.crop)))
    if cfg.attribution.enabled:  # permutation importance of each layer, on the fold models (pipeline/attribution.py)
        info["importance"] = run_importance(cfg, stack, windows, deposits, res)
    log.info("%s", skill_verdict(table, cfg.train.model)["sentence"])
    for name in baselines_beating(table, cfg.train.model):
        log.info("baseline %s beats %s out of fold (success-rate AUC %.3f > %.3f)", name, cfg.train.model, table[name]["success_rate_auc"], table[cfg.train.model]["success_rate_auc"])
    write_fullres(fmap, out / OOF_MAP, model_name=f"{cfg.train.model} (out of fold)", tags={"GEOPROSPECT_OUT_OF_FOLD": "1"})
    write_json(out / OOF_TABLE, info)
    run.state.mark("crossval", {"fold_epochs": fold_cfg.epochs})
    return info, fmap


def _fold_geometry(cfg: RunConfig, stack, deposits) -> tuple[int | None, int | None, str]:
    """Block side and buffer in cells (from evaluation.block_size / buffer in map units, or
    automatic: windows.folds.auto_block_side; buffer = the model's context radius) and a sentence
    saying the choice (logged, and kept in out_of_fold.json)."""
    ev = cfg.evaluation
    res = float(abs(stack.grid.transform.a))
    size, _, centred = cfg.sample_geometry()
    context = size // 2 if centred else 0
    buffer = (context if centred else None) if ev.buffer is None else max(0, int(round(ev.buffer / res)))
    if ev.method != "cv":
        return None, buffer, "single test block (evaluation.method block)"
    if ev.block_size is not None:
        block = max(1, int(round(ev.block_size / res)))
        what = f"{ev.block_size:g}-map-unit blocks ({block} cells, evaluation.block_size)"
    else:
        choice = auto_block_side(stack.grid, stack.valid, deposit_pixels(stack.grid, deposits), ev.folds, context=context)
        block, what = choice.cells, choice.describe()
    what += f"; buffer {buffer if buffer is not None else size // 2} cells ({'evaluation.buffer' if ev.buffer is not None else 'the model context radius' if centred else 'half a window'})"
    log.info("folds: %s", what)
    return block, buffer, what


def _check_scored(cfg: RunConfig, stack, deposits, scored: np.ndarray) -> None:
    """Every deposit inside the area must carry an out-of-fold score (``scored``: (H, W) cells with
    one, or with data before training; FoldError naming the cells and why); with the window
    recipe, deposits no whole window covers are only warned about."""
    if cfg.evaluation.method != "cv":  # a single test block scores only its own deposits
        return
    hits, _, _ = deposit_cells(stack.grid, deposits)
    missing = unscored_deposits(hits, scored)
    if not len(missing):
        return
    nodata = [stack.band_names[b] for b in range(stack.data.shape[0]) if np.isnan(stack.data[b, missing[:, 0], missing[:, 1]]).any()]
    r, c = int(missing[0, 0]), int(missing[0, 1])
    where = f"cell row {r}, col {c} (centre x {stack.grid.x_centers(c, 1)[0]:.1f}, y {stack.grid.y_centers(r, 1)[0]:.1f})"
    msg = (f"{len(missing)} deposit cell(s) carry no out-of-fold score, e.g. {where}"
           + (f": no data there in {', '.join(nodata[:5])}" if nodata else ": no fold scored them"))
    if cfg.windows.unit == "window":
        log.warning("%s (the windows of the papers' recipe cover only whole windows; windows.unit: cell scores every cell)", msg)
        return
    raise FoldError(msg, hint="widen the evidence's coverage (idw.radius, the rasters' extent) or move the study area (area:) so that every deposit's cell has data in every band; "
                              "deposits outside the area are left out with a warning")


def _read_fullres(path: Path) -> FullResMap:
    a, _, _, grid = read_bands(path)
    return FullResMap(a[0], a[1], np.isfinite(a[1]).astype(np.int64), grid)


def _train_stage(run: _Run, source, windows):
    """The final model, trained on ALL windows (the map's model; its skill is the out-of-fold table)."""
    out, tc, w = run.out, run.cfg.train, run.cfg.windows
    stack = source.stack
    if run.state.finished("train", out, ["model/model.pt", "model/model.json"]):
        model, meta = load_checkpoint(out / "model", stack.band_names)
        return model, meta, meta.training.get("history", [])
    offsets = windows[["row_off", "col_off"]].to_numpy()
    size, stride, _ = run.cfg.sample_geometry()
    train_ds = WindowDataset(source.norm, offsets, size, windows["label"].to_numpy(), weights=windows["weight"].to_numpy() if "weight" in windows else None)
    model, hist = fit(tc.model, train_ds, tc, val_ds=None, out_dir=out / TRAIN_DIR, resume=run.resume and (out / TRAIN_DIR / "last.pt").exists())
    stopping = tc.patience > 0
    mean, std = stack.moments()
    meta = model_meta(tc.model, tc, hist, band_names=stack.band_names, mean=mean, std=std,
                      window_size=size, stride=stride, grid=stack.grid.to_dict(), n_train_windows=len(train_ds), sample_unit=w.unit,
                      val_is=f"{tc.val_fraction:.0%} of the training windows, random (early stopping)" if stopping else "none: trained on all windows (skill is measured out of fold)")
    save_checkpoint(out / "model", model, meta)
    del train_ds
    source.drop_norm()  # the z-scored copy is not needed after training
    write_history(out / "history.csv", hist.rows)
    run.state.mark("train", {"seconds": hist.seconds})
    shutil.rmtree(out / TRAIN_DIR, ignore_errors=True)
    return model, meta, hist.rows


def _predict_stage(run: _Run, model, meta, stack, windows, oof: dict):
    """The final model over the whole stack: prospectivity.tif (calibrated probability, margin) and scores.gpkg."""
    cfg, out = run.cfg, run.out
    if run.state.finished("predict", out, ["prospectivity.tif"] + (["scores.gpkg"] if cfg.windows.unit == "window" else [])):
        return read_prediction(out / "prospectivity.tif")
    pred = predict_stack(run.engine, model, out / "stack.tif", stack, cfg, meta.input_size)
    pred, cal = calibrate_prediction(pred, oof["calibration"])
    write_prediction(pred, out / "prospectivity.tif", model_name=cfg.train.model, calibration=cal.describe())
    if cfg.windows.unit == "window":  # with every cell a sample, prospectivity.tif holds every score
        write_windows(window_scores(pred, stack.grid, windows), out / "scores.gpkg", layer="scores")
    run.state.mark("predict", {"seconds": pred.seconds})
    return pred


def _attribution_stage(run: _Run, model, stack, pred):
    """attribution.tif: the final model's attribution per window and evidence layer (None when attribution.enabled is false)."""
    if not run.cfg.attribution.enabled:
        return None
    if run.state.finished("attribution", run.out, [ATTRIBUTION]):
        return read_attribution(run.out / ATTRIBUTION)
    attr = run_attribution(run.cfg, model, stack, pred, run.out)
    run.state.mark("attribution", {"method": attr.method})
    return attr


def _evaluate_stage(run: _Run, pred, stack, windows, deposits, tile_summary, oof: dict, oof_map: FullResMap, history, attr=None, area=None) -> dict:
    """metrics.json (out-of-fold headline, in-sample figures labelled so), map products, report, map.png
    (``area``: the study area, outlined on the maps)."""
    cfg, out = run.cfg, run.out
    r, c = windows["row"].to_numpy(), windows["col"].to_numpy()
    ok = np.isfinite(pred.prob[r, c])
    dep = deposit_flat(pred.grid, deposits)
    metrics = {
        "evaluation": {k: oof.get(k) for k in ("method", "label", "blocks", "fold_epochs", "ranked_cells", "layouts")},
        "skill": skill_verdict(oof["out_of_fold"], cfg.train.model),
        "out_of_fold": oof["out_of_fold"],
        "model": cfg.train.model,
        "default_model": RunConfig.model_fields["train"].default.model,  # the package's default, for comparison
        "calibration": oof["calibration"],
        "in_sample": {"label": "training (in-sample): the final model scored on its own training windows (optimistic)",
                      "windows": window_metrics(windows["label"].to_numpy()[ok], pred.prob[r, c][ok]), "deposits": deposit_capture(pred.margin, dep)},
        "tiling": tile_summary,
        **attribution_metrics(oof.get("importance"), attr),
    }
    outline = area.to_crs(pred.grid.crs).geoms if area is not None else None
    metrics.update(write_map_products(out, pred, stack, windows, deposits, oof_map=oof_map, table=oof["out_of_fold"], evaluation=metrics["evaluation"], oof_window_prob=oof.get("window_prob"), calibration=oof["calibration"],
                                      title=cfg.name, model_name=cfg.train.model, history=history, settings=run.cfg_json, headline=metrics["skill"]["sentence"],
                                      attribution=attr, importance=metrics.get("importance"), bounds=cfg.targets.bounds(), oof_curves=oof.get("success_rate_curves"),
                                      outline=outline, deposit_label=cfg.deposits.label))
    write_json(out / "metrics.json", metrics)
    # drawn as area percentiles of the margin: the ranking shows whatever the calibrated probabilities' range
    map_figure(area_percentile(pred.margin), pred.grid, deposits, out / "map.png", title=f"{cfg.name}: {cfg.train.model} (final model)",
               label="area percentile (100 = most prospective)", vmin=0.0, vmax=100.0, deposit_label=cfg.deposits.label, outline=outline,
               targets=gpd.read_file(out / "targets.gpkg"))
    run.state.mark("evaluate", {})
    return metrics


def _manifest(run: _Run, grid, stack, metrics: dict, compute_info: dict) -> dict:
    """manifest.json: config, versions, input hashes, timings, metrics, outputs."""
    cfg, out = run.cfg, run.out
    manifest = {
        "name": cfg.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": run.cfg_json,
        "versions": versions(),
        "device": "cuda" if torch.cuda.is_available() and cfg.train.device != "cpu" else "cpu",
        "inputs": {str(p): {"sha256": sha256(p), "bytes": p.stat().st_size} for p in cfg.input_files()},
        "grid": grid.to_dict(),
        "bands": stack.band_names,
        "timings_s": {k: round(v, 3) for k, v in run.timings.items()},
        "compute": compute_info,
        "metrics": metrics,
        "outputs": sorted(p.name for p in out.iterdir() if not p.name.startswith(".")),
    }
    write_json(out / "manifest.json", manifest)
    return manifest


def run_pipeline(cfg: RunConfig, out: str | Path | None = None, *, overwrite: bool = False, resume: bool = False) -> dict:
    """Run every stage; returns the manifest (also written to ``out/manifest.json``).

    Stages: stack, tile, cross-validation (model + baselines out of fold), final training on all
    windows, prediction, evaluation/report, manifest; each finished stage is recorded in
    ``state.json`` so that ``resume=True`` skips it.
    """
    t_all = time.perf_counter()
    run = _prepare(cfg, Path(out or cfg.output).resolve(), overwrite, resume)
    log.info("run %r -> %s", cfg.name, run.out)
    points, grid, deposits, area = _timed(run, "read_inputs", _read_inputs)
    _timed(run, "stack", _stack_stage, points, grid, area)
    # tiling and training read windows from the z-scored stack: in memory, or memory-mapped
    # under OUTPUT/.scratch when it exceeds compute.memory_mb (removed at the end)
    source = open_windows_source(run.out / "stack.tif", memory_mb=cfg.compute.memory_mb, scratch_dir=run.out / SCRATCH)
    stack = source.stack
    windows, tile_summary = _timed(run, "tile", _tile_stage, stack, grid, deposits)
    oof, oof_map = _timed(run, "crossval", _crossval_stage, stack, windows, deposits)
    model, meta, history = _timed(run, "train", _train_stage, source, windows)
    pred = _timed(run, "predict", _predict_stage, model, meta, stack, windows, oof)
    _timed(run, "mc_dropout", lambda r: ensure_mc_dropout(r.out, model, oof["calibration"], stack, cfg, stack_scorer(r.engine, r.out / "stack.tif", stack, cfg, meta.input_size)))
    attr = _timed(run, "attribution", _attribution_stage, model, stack, pred)
    compute_info = run.engine.describe()
    run.engine.close()
    metrics = _timed(run, "evaluate", _evaluate_stage, pred, stack, windows, deposits, tile_summary, oof, oof_map, history, attr, area)
    source.close()
    run.timings["total"] = time.perf_counter() - t_all
    manifest = _manifest(run, grid, stack, metrics, compute_info)
    log.info("done in %.1f s: %s", run.timings["total"], run.out)
    return manifest


def _held_out_deposits(deposits: np.ndarray, grid, w) -> np.ndarray:
    r, c = grid.rowcol(deposits[:, 0], deposits[:, 1])
    n, pos = (grid.height, r) if w.split_axis == "rows" else (grid.width, c)
    if w.test_side == "end":
        return pos >= int(round(n * (1 - w.test_fraction)))
    return pos < int(round(n * w.test_fraction))
