"""The map products of a run, from a window-stride prediction: full-resolution GeoTIFF, classes,
numbered window grid, target areas, one-layer baseline, held-out capture at full resolution,
and the HTML report. Called by ``geoprospect run`` after evaluation."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from geoprospect.ensemble.uncertainty import MC_STD, MEMBER_STD, UNCERTAINTY, read_uncertainty, summary
from geoprospect.evaluation.area_bounds import AreaBounds
from geoprospect.evaluation.metrics import deposit_flat
from geoprospect.evaluation.targets import bounded_targets, bounded_thresholds, classify, top_layers, window_grid, write_classes, write_gpkg
from geoprospect.grid import GridSpec, area_of_cells
from geoprospect.io.rasters import Stack
from geoprospect.prediction.attribution import Attribution
from geoprospect.prediction.fullres import FullResMap, blend_windows, write_fullres
from geoprospect.prediction.predict import Prediction
from geoprospect.report.figures import area_percentile
from geoprospect.report.html import MapStyle, write_report

log = logging.getLogger(__name__)

PRODUCTS = ("prospectivity_fullres.tif", "classes.tif", "window_grid.gpkg", "targets.gpkg", "report/index.html")


def write_map_products(
    out: str | Path,
    pred: Prediction,
    stack: Stack,
    windows: gpd.GeoDataFrame,
    deposits_xy: np.ndarray,
    *,
    oof_map: FullResMap,
    table: Mapping[str, Mapping],
    evaluation: Mapping,
    oof_window_prob: Sequence[float | None] | None = None,
    title: str,
    model_name: str = "",
    history: Sequence[Mapping[str, float]] | None = None,
    settings: Mapping | None = None,
    calibration: Mapping | None = None,
    attribution: Attribution | None = None,
    importance: Mapping | None = None,
    headline: str | None = None,
    bounds: AreaBounds | None = None,
    oof_curves: Sequence[Mapping] | None = None,
    outline=None,
    deposit_label: str = "known deposits",
) -> dict:
    """Write the products listed in :data:`PRODUCTS` into ``out``; returns extra metrics.

    The map is the final model's (trained on all windows); every skill figure comes from the
    out-of-fold map ``oof_map`` (the first block layout) and the out-of-fold ``table`` (model and
    baselines, same folds; ``oof_curves``: the model's success-rate curve per layout, drawn in
    the report with the table's mean AUC); the P-A classes and the targets follow the bounded
    rule of :mod:`geoprospect.evaluation.area_bounds` (``bounds``; default :class:`AreaBounds`).
    ``calibration``: the run's calibration report (:func:`~geoprospect.evaluation.calibration.calibration_report`;
    the prediction's probability is already calibrated); ``out/uncertainty.tif``, when there,
    gives the targets their mean spread and the report its uncertainty map.
    With ``attribution`` the targets list their three most contributing layers (top1..top3);
    ``importance`` (layer -> drop in AUC) is drawn in the report. ``outline``: the study area's
    polygons (grid CRS) drawn on the maps; ``deposit_label``: the deposits' legend entry.
    """
    out = Path(out)
    g = stack.grid
    ii, jj = np.nonzero(np.isfinite(pred.prob))
    if pred.footprint == 1:  # one score per cell: the map is the prediction itself
        ro, co = ii, jj
    else:
        ro, co = ii * pred.stride, jj * pred.stride
    fmap = blend_windows(g, ro, co, pred.footprint, pred.prob[ii, jj], pred.margin[ii, jj], valid=stack.valid)
    write_fullres(fmap, out / "prospectivity_fullres.tif", model_name=model_name, tags={"GEOPROSPECT_CALIBRATION": calibration["description"]} if calibration else None)
    dep = deposit_flat(g, deposits_xy)
    unc, unc_metrics = _uncertainty(out)
    targets, metrics = _classes_and_targets(out, fmap, oof_map, g, deposits_xy, dep, pred.footprint, unc, attribution, bounds)  # mean_score is the mean calibrated probability
    metrics.update(unc_metrics)
    scored = np.isfinite(oof_map.margin)
    wins = {}
    if oof_window_prob is not None:
        wins["out-of-fold windows"] = (windows["label"].to_numpy(), np.array([np.nan if v is None else v for v in oof_window_prob], dtype=np.float64))
    layouts = f", block layout 1 of {len(oof_curves)}" if oof_curves and len(oof_curves) > 1 else ""
    write_report(
        out / "report", title=title, split_label=str(evaluation.get("label", "")), grid=g, deposits_xy=deposits_xy,
        scores={f"{model_name or 'model'} (out of fold{layouts})": oof_map.margin}, deposit_cells=dep[scored.ravel()[dep]],
        map_prob=area_percentile(fmap.margin), map_style=MapStyle(True, outline, deposit_label), windows=wins, history=history, targets=targets, settings=settings,
        element_table=_element_table(out), headline=headline,
        notes=["Every skill figure is out of fold: each deposit is scored by a model that never saw its block. The map drawn is the final model's (trained on all samples), "
               "coloured by area percentile of its score (100 = the most prospective cells)."],
        oof_table=table, uncertainty=unc.get("spread", unc.get(MC_STD)), calibration=calibration, importance=importance, attribution=attribution,
        oof_curves=oof_curves, targets_note=f"Classes: {metrics['classes']['source']}. Targets: {metrics['targets']['note']}. The rule: {metrics['classes']['rule']}.",
    )
    metrics["figures"] = json.loads((out / "report" / "figures.json").read_text(encoding="utf-8"))
    log.info("map products: %d high cells, %d targets", metrics["classes"]["cells"]["high"], metrics["targets"]["n"])
    return metrics


def _uncertainty(out: Path) -> tuple[dict[str, np.ndarray], dict]:
    """``uncertainty.tif``'s maps for the targets and the report ("spread": the members' std,
    and the MC dropout std when there) and metrics.json's ``uncertainty``; empty without the file."""
    if not (out / UNCERTAINTY).exists():
        return {}, {}
    bands, tags = read_uncertainty(out / UNCERTAINTY)
    maps = {"spread": bands[MEMBER_STD]} if np.isfinite(bands[MEMBER_STD]).any() else {}
    if MC_STD in bands:
        maps[MC_STD] = bands[MC_STD]
    return maps, {"uncertainty": summary(bands, tags)}


GRID_CELLS = 16  # side in cells of window_grid.gpkg's squares when the map has one score per cell


def _classes_and_targets(out: Path, fmap: FullResMap, oof_map: FullResMap, grid: GridSpec, deposits_xy: np.ndarray, dep: np.ndarray, cell: int,
                         extra: Mapping[str, np.ndarray] | None = None, attribution: Attribution | None = None, bounds: AreaBounds | None = None) -> tuple[gpd.GeoDataFrame, dict]:
    """Classes of the final map by the bounded rule (:func:`~geoprospect.evaluation.targets.bounded_thresholds`:
    the high share from the OUT-OF-FOLD map's P-A plot, at most ``bounds.high_share``; cells ranked
    by the logit margin), the numbered window grid and the bounded target areas (with
    ``mean_<name>`` of each ``extra`` map), written into ``out``; returns the targets and their metrics."""
    b = bounds or AreaBounds()
    th = bounded_thresholds(fmap.margin, oof_map.margin, dep, b)
    cls = classify(fmap.margin, th)
    write_classes(cls, grid, out / "classes.tif", th)
    # the numbered grid for field reference: the windows' own squares, or squares of GRID_CELLS cells when every cell is scored
    write_gpkg(window_grid(fmap.prob, grid, deposits_xy, cell=cell if cell > 1 else GRID_CELLS, classes=cls), out / "window_grid.gpkg", "window_grid")
    targets, note = bounded_targets(fmap.prob, fmap.margin, cls, grid, deposits_xy, b, extra=extra, flat=th.flat)
    if attribution is not None and len(targets):
        targets = top_layers(targets, attribution.values, attribution.names, attribution.grid)
    write_gpkg(targets, out / "targets.gpkg", "targets")
    high_area, unit = area_of_cells(grid, cls == 3)
    (log.warning if th.flat else log.info)("classes: %s; high class %.4g %s", th.source, high_area, unit)
    (log.warning if th.flat else log.info)("targets: %s", note)
    metrics = {
        "classes": {"medium": th.medium, "high": th.high, "score": "logit margin of the final map", "source": th.source, "rule": b.describe(),
                    "high_share": th.high_share, "medium_share": th.medium_share, "flat": th.flat, "high_area": high_area, "area_unit": unit,
                    "cells": {k: int((cls == v).sum()) for k, v in (("low", 1), ("medium", 2), ("high", 3))}},
        "targets": {"n": int(len(targets)), "with_known_deposits": int((targets["n_deposits"] > 0).sum()) if len(targets) else 0, "note": note,
                    "area_unit": unit, "bounds": {"max_target_share": b.max_target_share, "max_targets": b.max_targets}},
    }
    return targets, metrics


def _element_table(out: Path) -> list[dict] | None:
    """The run's element selection table (``element_selection.csv``), when it was written."""
    path = out / "element_selection.csv"
    return pd.read_csv(path).to_dict("records") if path.exists() else None
