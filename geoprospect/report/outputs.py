"""The map products of a run, from a window-stride prediction: full-resolution GeoTIFF, classes,
numbered window grid, target areas, one-layer baseline, held-out capture at full resolution,
and the HTML report. Called by ``geoprospect run`` after evaluation."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from geoprospect.evaluation.baseline import one_layer_baseline
from geoprospect.evaluation.metrics import deposit_capture, deposit_flat
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import Stack
from geoprospect.prediction.fullres import FullResMap, blend_windows, write_fullres
from geoprospect.prediction.predict import Prediction
from geoprospect.prediction.targets import classify, pa_thresholds, target_areas, window_grid, write_classes, write_gpkg
from geoprospect.report.html import write_report

log = logging.getLogger(__name__)

PRODUCTS = ("prospectivity_fullres.tif", "classes.tif", "window_grid.gpkg", "targets.gpkg", "report/index.html")


def write_map_products(
    out: str | Path,
    pred: Prediction,
    stack: Stack,
    windows: gpd.GeoDataFrame,
    deposits_xy: np.ndarray,
    *,
    title: str,
    model_name: str = "",
    history: Sequence[Mapping[str, float]] | None = None,
    settings: Mapping | None = None,
) -> dict:
    """Write the products listed in :data:`PRODUCTS` into ``out``; returns extra metrics.

    Held-out figures use the cells covered by the test windows (``split == 'test'``); the
    baseline band is chosen on the training windows' cells.
    """
    out = Path(out)
    g = stack.grid
    ii, jj = np.nonzero(np.isfinite(pred.prob))
    fmap = blend_windows(g, ii * pred.stride, jj * pred.stride, pred.size, pred.prob[ii, jj], pred.margin[ii, jj], valid=stack.valid)
    write_fullres(fmap, out / "prospectivity_fullres.tif", model_name=model_name)

    dep = deposit_flat(g, deposits_xy)
    test_area = _split_area(windows, "test", g, pred.size, fmap)
    train_area = _split_area(windows, "train", g, pred.size, fmap)
    scores, metrics = _held_out_scores(stack, fmap, test_area, train_area, dep, model_name)
    targets, class_metrics = _classes_and_targets(out, fmap, g, deposits_xy, dep, pred.size)
    metrics.update(class_metrics)
    if scores:
        held = test_area.ravel()[dep]
        write_report(
            out / "report",
            title=title,
            split_label="spatial block (contiguous test block, half-window buffer)",
            grid=g,
            deposits_xy=deposits_xy,
            scores=scores,
            deposit_cells=dep[held],
            map_prob=fmap.prob,
            windows=_window_sets(windows, pred),
            history=history,
            targets=targets,
            settings=settings,
            element_table=_element_table(out),
            notes=["Capture on full-resolution cells of the held-out block only (the training deposits are not counted)."],
        )
    log.info("map products: %d high cells, %d targets", metrics["classes"]["cells"]["high"], metrics["targets"]["n"])
    return metrics


def _split_area(windows: gpd.GeoDataFrame, name: str, grid: GridSpec, size: int, fmap: FullResMap) -> np.ndarray:
    """(H, W) cells covered by the windows of split ``name`` and scored on the full-resolution map."""
    sel = windows["split"].to_numpy() == name
    covered = blend_windows(grid, windows["row_off"].to_numpy()[sel], windows["col_off"].to_numpy()[sel], size, np.zeros(int(sel.sum()))).count > 0
    return covered & np.isfinite(fmap.margin)


def _held_out_scores(stack: Stack, fmap: FullResMap, test_area: np.ndarray, train_area: np.ndarray, dep: np.ndarray, model_name: str) -> tuple[dict[str, np.ndarray], dict]:
    """The model's margin on the held-out block and the one-layer baseline beside it, with
    their held-out capture metrics (empty when there is no held-out block)."""
    metrics: dict = {}
    scores: dict[str, np.ndarray] = {}
    if not test_area.any():
        return scores, metrics
    held = test_area.ravel()[dep]
    name = f"{model_name or 'model'} (held-out block)"
    scores[name] = np.where(test_area, fmap.margin, np.nan)
    metrics["deposits_test_fullres"] = deposit_capture(scores[name], dep[held])
    base = one_layer_baseline(stack, train_area, test_area, dep) if train_area.any() else None
    if base is not None:
        scores[f"one layer: {base['band']} ({base['sign']} = better)"] = base["score"]
        metrics["baseline_one_layer"] = {"band": base["band"], "better": base["sign"], "chosen_on": "training windows' area", **base["capture"]}
    return scores, metrics


def _classes_and_targets(out: Path, fmap: FullResMap, grid: GridSpec, deposits_xy: np.ndarray, dep: np.ndarray, cell: int) -> tuple[gpd.GeoDataFrame, dict]:
    """Classes from the P-A plot of the whole map (all known deposits), the numbered window
    grid and the target areas, written into ``out``; returns the targets and their metrics."""
    th = pa_thresholds(fmap.prob, dep)
    cls = classify(fmap.prob, th)
    write_classes(cls, grid, out / "classes.tif", th)
    write_gpkg(window_grid(fmap.prob, grid, deposits_xy, cell=cell, classes=cls), out / "window_grid.gpkg", "window_grid")
    targets = target_areas(fmap.prob, cls, grid, deposits_xy)
    write_gpkg(targets, out / "targets.gpkg", "targets")
    metrics = {
        "classes": {"medium": th.medium, "high": th.high, "source": th.source, "cells": {k: int((cls == v).sum()) for k, v in (("low", 1), ("medium", 2), ("high", 3))}},
        "targets": {"n": int(len(targets)), "with_known_deposits": int((targets["n_deposits"] > 0).sum()) if len(targets) else 0},
    }
    return targets, metrics


def _window_sets(windows: gpd.GeoDataFrame, pred: Prediction) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(labels, probabilities) of the test and training windows, for ROC and confusion matrices."""
    wins = {}
    if "label" in windows:
        split = windows["split"].to_numpy()
        r, c = windows["row"].to_numpy(), windows["col"].to_numpy()
        for name in ("test", "train"):
            sel = split == name
            if sel.any():
                wins[f"{name} windows"] = (windows["label"].to_numpy()[sel], pred.prob[r[sel], c[sel]])
    return wins


def _element_table(out: Path) -> list[dict] | None:
    """The run's element selection table (``element_selection.csv``), when it was written."""
    path = out / "element_selection.csv"
    return pd.read_csv(path).to_dict("records") if path.exists() else None
