"""`geoprospect run`: the whole pipeline from one configuration, into one output folder.

Outputs: stack.tif, windows.gpkg, model/, prospectivity.tif (+ .qml), scores.gpkg,
metrics.json, map.png, history.csv and manifest.json (config, versions, input hashes,
timings per stage, metrics). Each stage records itself in ``state.json`` when finished, so
``resume=True`` continues an interrupted run from the last finished stage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from geoprospect.errors import OutputError
from geoprospect.io.atomic import remove_stale_temps, write_json
from geoprospect.pipeline.config import RunConfig
from geoprospect.report.figures import map_figure
from geoprospect.report.outputs import write_map_products
from geoprospect.stack.area import deposits_in_area

log = logging.getLogger(__name__)

OUTPUTS = ("stack.tif", "windows.gpkg", "model", "prospectivity.tif", "scores.gpkg", "metrics.json", "map.png", "manifest.json")
STAGES = ("stack", "tile", "train", "predict", "evaluate", "report")
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
        rec = self.done.get(stage)
        return bool(rec) and all((out / f).exists() for f in files)

    def mark(self, stage: str, info: dict) -> None:
        self.done[stage] = info
        write_json(self.path, {"config_hash": self.config_hash, "done": self.done})


def run_pipeline(cfg: RunConfig, out: str | Path | None = None, *, overwrite: bool = False, resume: bool = False) -> dict:
    """Run every stage; returns the manifest (also written to ``out/manifest.json``)."""
    import geopandas as gpd
    import torch

    from geoprospect.evaluation.evaluate import evaluate_prediction, read_prediction
    from geoprospect.pipeline.layers import pipeline_layers
    from geoprospect.pipeline.engine import Engine
    from geoprospect.io.rasters import raster_band_names
    from geoprospect.models.checkpoint import load_checkpoint, save_checkpoint, versions
    from geoprospect.pipeline import stages
    from geoprospect.prediction.predict import window_scores, write_prediction
    from geoprospect.training.fit import fit, model_meta
    from geoprospect.training.history import write_history
    from geoprospect.windows.dataset import WindowDataset
    from geoprospect.windows.store import SCRATCH, open_windows_source
    from geoprospect.windows.tiling import make_windows, read_windows, write_windows

    out = Path(out or cfg.output).resolve()
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
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    log.info("run %r -> %s", cfg.name, out)
    engine = Engine(cfg.compute.dask_scheduler, cfg.compute.block_size, cfg.compute.prefetch)

    # -- grid, points, deposits (cheap; always redone) --------------------------------------
    t = time.perf_counter()
    points = stages.read_run_points(cfg.points, out)
    area = stages.load_area(cfg.area)
    grid = stages.make_grid(points, crs=cfg.grid.crs, resolution=cfg.grid.resolution, bounds=cfg.grid.bounds, template=cfg.grid.template, area=area)
    # deposits outside the study area cannot be ranked: left out (with a warning) of labels and capture
    deposits = deposits_in_area(stages.load_deposits(cfg.deposits.path, grid, layer=cfg.deposits.layer, crs=cfg.deposits.crs), area, grid.crs)
    if cfg.selection.enabled:  # Z_AUC element selection from the training-area deposits only
        points = stages.select_run_elements(points, deposits[~_held_out_deposits(deposits, grid, cfg.windows)], grid, cfg.selection, out)
    timings["read_inputs"] = time.perf_counter() - t

    # -- evidence stack ------------------------------------------------------------------------
    t = time.perf_counter()
    if state.finished("stack", out, ["stack.tif"]):
        log.info("resume: stack.tif already built")
    else:
        # block by block (or on dask): memory bounded by compute.block_size, not by the map
        engine.build_stack(pipeline_layers(cfg, points, grid), grid, out / "stack.tif", area=area)
        state.mark("stack", {"bands": raster_band_names(out / "stack.tif")})
    timings["stack"] = time.perf_counter() - t
    # tiling and training read windows from the z-scored stack: in memory, or memory-mapped
    # under OUTPUT/.scratch when it exceeds compute.memory_mb (removed at the end)
    source = open_windows_source(out / "stack.tif", memory_mb=cfg.compute.memory_mb, scratch_dir=out / SCRATCH)
    stack = source.stack

    # -- windows -------------------------------------------------------------------------------
    t = time.perf_counter()
    w = cfg.windows
    if state.finished("tile", out, ["windows.gpkg"]):
        windows = read_windows(out / "windows.gpkg")
        tile_summary = state.done["tile"]
    else:
        windows, summary = make_windows(stack.valid, grid, deposits, size=w.size, stride=w.stride, min_valid=w.min_valid, test_fraction=w.test_fraction, split_axis=w.split_axis, test_side=w.test_side)
        write_windows(windows, out / "windows.gpkg")
        tile_summary = summary.__dict__
        state.mark("tile", tile_summary)
    timings["tile"] = time.perf_counter() - t

    # -- training ------------------------------------------------------------------------------
    t = time.perf_counter()
    mean = [s["mean"] for s in stack.stats]
    std = [s["std"] for s in stack.stats]
    tc = cfg.train
    if state.finished("train", out, ["model/model.pt", "model/model.json"]):
        model, meta = load_checkpoint(out / "model", stack.band_names)
        history_rows = meta.training.get("history", [])
    else:
        norm = source.norm
        sel = windows["split"] == "train"
        test = windows["split"] == "test"
        train_ds = WindowDataset(norm, windows.loc[sel, ["row_off", "col_off"]].to_numpy(), w.size, windows.loc[sel, "label"].to_numpy())
        val_ds = WindowDataset(norm, windows.loc[test, ["row_off", "col_off"]].to_numpy(), w.size, windows.loc[test, "label"].to_numpy())
        stopping = tc.patience > 0  # early stopping decides on held-out *training* windows, never on the test block
        model, hist = fit(tc.model, train_ds, tc, val_ds=None if stopping else val_ds, out_dir=out / TRAIN_DIR,
                          resume=resume and (out / TRAIN_DIR / "last.pt").exists())
        history_rows = hist.rows
        meta = model_meta(tc.model, tc, hist, band_names=stack.band_names, mean=mean, std=std, window_size=w.size, stride=w.stride, grid=grid.to_dict(),
                          n_train_windows=len(train_ds),
                          val_is=f"{tc.val_fraction:.0%} of the training windows, random (early stopping)" if stopping else "held-out test block (monitoring only, no model selection)")
        save_checkpoint(out / "model", model, meta)
        del train_ds, val_ds, norm
        source.drop_norm()  # the z-scored copy is not needed after training
        write_history(out / "history.csv", history_rows)
        state.mark("train", {"seconds": hist.seconds})
        shutil.rmtree(out / TRAIN_DIR, ignore_errors=True)
    timings["train"] = time.perf_counter() - t

    # -- prediction ----------------------------------------------------------------------------
    t = time.perf_counter()
    if state.finished("predict", out, ["prospectivity.tif", "scores.gpkg"]):
        pred = read_prediction(out / "prospectivity.tif")
    else:
        pred = engine.predict(model, out / "stack.tif", mean, std, size=w.size, stride=w.stride, min_valid=w.min_valid, batch_size=cfg.predict.batch_size, device=tc.device, crop=meta.input_size)
        write_prediction(pred, out / "prospectivity.tif", model_name=tc.model)
        scores = window_scores(pred, grid, windows)
        write_windows(scores, out / "scores.gpkg", layer="scores")
        state.mark("predict", {"seconds": pred.seconds})
    timings["predict"] = time.perf_counter() - t
    compute_info = engine.describe()
    engine.close()

    # -- evaluation and figure -----------------------------------------------------------------
    t = time.perf_counter()
    metrics = evaluate_prediction(pred, windows, deposits)
    metrics["tiling"] = tile_summary
    # full-resolution map, classes, numbered window grid, targets, baseline, HTML report

    metrics.update(write_map_products(out, pred, stack, windows, deposits, title=cfg.name, model_name=tc.model, history=history_rows, settings=cfg_json))
    write_json(out / "metrics.json", metrics)
    held = _held_out_deposits(deposits, grid, w)
    edge = _test_edge(grid, w)
    map_figure(pred.prob, pred.grid, deposits, out / "map.png", title=f"{cfg.name}: {tc.model} prospectivity", held_out=held, test_line=edge)
    source.close()
    state.mark("evaluate", {})
    timings["evaluate"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_all

    manifest = {
        "name": cfg.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": cfg_json,
        "versions": versions(),
        "device": "cuda" if torch.cuda.is_available() and tc.device != "cpu" else "cpu",
        "inputs": {str(p): {"sha256": sha256(p), "bytes": p.stat().st_size} for p in cfg.input_files()},
        "grid": grid.to_dict(),
        "bands": stack.band_names,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "compute": compute_info,
        "metrics": metrics,
        "outputs": sorted(p.name for p in out.iterdir() if not p.name.startswith(".")),
    }
    write_json(out / "manifest.json", manifest)
    log.info("done in %.1f s: %s", timings["total"], out)
    return manifest


def _held_out_deposits(deposits: np.ndarray, grid, w) -> np.ndarray:
    r, c = grid.rowcol(deposits[:, 0], deposits[:, 1])
    n, pos = (grid.height, r) if w.split_axis == "rows" else (grid.width, c)
    if w.test_side == "end":
        return pos >= int(round(n * (1 - w.test_fraction)))
    return pos < int(round(n * w.test_fraction))


def _test_edge(grid, w) -> tuple[str, float]:
    t = grid.transform
    if w.split_axis == "rows":
        b = int(round(grid.height * (1 - w.test_fraction))) if w.test_side == "end" else int(round(grid.height * w.test_fraction))
        return ("y", t.f + b * t.e)
    b = int(round(grid.width * (1 - w.test_fraction))) if w.test_side == "end" else int(round(grid.width * w.test_fraction))
    return ("x", t.c + b * t.a)
