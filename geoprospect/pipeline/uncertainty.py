"""`run`'s calibration and uncertainty steps (issue 13), called from pipeline/run.py.

* :func:`calibrate_and_spread` (cross-validation stage, while the fold models are in memory):
  fits the calibrator on the out-of-fold window margins (``evaluation.calibration``), judges it
  cross-fitted over the folds, lets every fold model score every window of the stack once, and
  writes ``uncertainty.tif`` (the members' spread of calibrated probability, full resolution).
* :func:`calibrate_prediction` (prediction stage): the final model's probability band becomes
  the calibrated probability of its margin; the margin is kept.
* :func:`ensure_mc_dropout` (after prediction; idempotent, so resumed runs get it too): where the
  final model has dropout, ``evaluation.mc_dropout`` seeded passes with dropout on add the band
  ``mc_dropout_std`` to ``uncertainty.tif``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np
from torch import nn

from geoprospect.ensemble.uncertainty import MC_STD, MEMBER_MEAN, MEMBER_STD, UNCERTAINTY, blend_spread, member_margins, read_uncertainty, window_spread, write_uncertainty
from geoprospect.evaluation.calibration import Calibrator, calibration_report
from geoprospect.evaluation.oof import OutOfFoldResult
from geoprospect.io.rasters import Stack
from geoprospect.prediction.mc_dropout import has_dropout, mc_dropout_margins
from geoprospect.prediction.predict import Prediction

log = logging.getLogger(__name__)

Scorer = Callable[[nn.Module], np.ndarray]  # model -> (nr, nc) margins of every window of the stack


def predict_stack(engine, model: nn.Module, stack_path: Path, stack: Stack, cfg, crop: int | None) -> Prediction:
    """``model`` over every window of the stack, through the run's engine (block by block, or on
    dask) with the run's window, batch and device settings."""
    size, stride, centred = cfg.sample_geometry()
    return engine.predict(model, stack_path, *stack.moments(), size=size, stride=stride, min_valid=cfg.windows.min_valid, batch_size=cfg.predict.batch_size,
                          device=cfg.train.device, crop=crop, centred=centred)


def stack_scorer(engine, stack_path: Path, stack: Stack, cfg, crop: int | None) -> Scorer:
    """``model -> (nr, nc) logit margins`` of every window of the stack (:func:`predict_stack`)."""

    def score(model: nn.Module) -> np.ndarray:
        return predict_stack(engine, model, stack_path, stack, cfg, crop).margin

    return score


def _footprints(shape: tuple[int, int], cfg) -> tuple[np.ndarray, np.ndarray, int]:
    """Upper-left stack cells and side of the map area each score of a (nr, nc) prediction stands
    for: the cell itself (windows.unit cell) or the window's footprint (the window recipe)."""
    size, stride, centred = cfg.sample_geometry()
    ii, jj = np.indices(shape)
    if centred or size == 1:
        return ii.ravel(), jj.ravel(), 1
    return (ii * stride).ravel(), (jj * stride).ravel(), size


def calibrate_and_spread(out: Path, res: OutOfFoldResult, stack: Stack, labels: np.ndarray, cfg, score: Scorer) -> dict:
    """Fit and judge the calibrator; write ``out/uncertainty.tif`` from the fold models.

    Returns ``{"calibration": report (with the calibrator), "uncertainty": {"members", "seconds"}}``
    for ``out_of_fold.json`` (a resumed run reads the calibrator back from there).
    """
    ev = cfg.evaluation
    margin = res.model_margin if res.model_margin is not None else np.full(len(labels), np.nan)
    fold = res.model_fold if res.model_fold is not None else np.full(len(labels), -1)
    cal, rep = calibration_report(margin, res.model_prob, labels, fold, ev.calibration)
    log.info("calibration (%s): Brier %.4f -> %.4f, ECE %.3f -> %.3f out of fold (after: cross-fitted over the folds)", cal.method,
             rep["brier"]["before"] or np.nan, rep["brier"]["after"] or np.nan, rep["ece"]["before"] or np.nan, rep["ece"]["after"] or np.nan)
    t = time.perf_counter()
    models = [m for _, m in res.fold_models]
    margins = member_margins(models, score)
    std, mean = window_spread(margins, cal)
    ro, co, side = _footprints(std.shape, cfg)
    bands = blend_spread(stack.grid, ro, co, side, {MEMBER_STD: std.ravel(), MEMBER_MEAN: mean.ravel()}, valid=stack.valid)
    write_uncertainty(out / UNCERTAINTY, bands, stack.grid, {
        "GEOPROSPECT_UNCERTAINTY": f"std (ddof 0) of the calibrated probabilities of {len(models)} fold models (each trained without one fold's blocks), per window, blended to full resolution like the map",
        "GEOPROSPECT_MEMBERS": ",".join(f"fold {k}" for k, _ in res.fold_models),
        "GEOPROSPECT_CALIBRATION": cal.describe(),
        "GEOPROSPECT_MODEL": cfg.train.model,
    })
    if len(models) < 2:
        log.warning("uncertainty: %d fold model (evaluation.method: block): member_std is nodata; use evaluation.method: cv for a spread", len(models))
    return {"calibration": rep, "uncertainty": {"members": len(models), "seconds": time.perf_counter() - t}}


def calibrate_prediction(pred: Prediction, calibration: dict) -> tuple[Prediction, Calibrator]:
    """The prediction with its probability replaced by the calibrated probability of its margin."""
    cal = Calibrator.from_dict(calibration["calibrator"])
    return Prediction(cal.apply(pred.margin), pred.margin, pred.grid, pred.size, pred.stride, pred.seconds, pred.pad), cal


def ensure_mc_dropout(out: Path, model: nn.Module, calibration: dict, stack: Stack, cfg, score: Scorer) -> bool:
    """Add ``mc_dropout_std`` to ``out/uncertainty.tif`` when the final model has dropout and
    ``evaluation.mc_dropout`` > 0 and the band is not there yet. True when the band is (now) there."""
    passes = int(cfg.evaluation.mc_dropout)
    path = out / UNCERTAINTY
    if passes < 2 or not has_dropout(model) or not path.exists():
        return False
    bands, tags = read_uncertainty(path)
    if MC_STD in bands and tags.get("GEOPROSPECT_MC_DROPOUT_PASSES") == str(passes):
        return True
    cal = Calibrator.from_dict(calibration["calibrator"])
    margins = mc_dropout_margins(model, score, passes, seed=cfg.train.seed)
    std, _ = window_spread(margins, cal)
    ro, co, side = _footprints(std.shape, cfg)
    bands[MC_STD] = blend_spread(stack.grid, ro, co, side, {MC_STD: std.ravel()}, valid=stack.valid)[MC_STD]
    tags = {k: v for k, v in tags.items() if k.startswith("GEOPROSPECT_") and k != "GEOPROSPECT_KIND"}
    tags["GEOPROSPECT_MC_DROPOUT_PASSES"] = str(passes)
    tags["GEOPROSPECT_UNCERTAINTY"] += f"; {MC_STD}: std of {passes} Monte Carlo dropout passes of the final model (seeded, dropout on, calibrated)"
    write_uncertainty(path, bands, stack.grid, tags)
    log.info("uncertainty: %d Monte Carlo dropout passes of the final model added (%s)", passes, MC_STD)
    return True
