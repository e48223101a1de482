"""The map products of a run, from a window-stride prediction: full-resolution GeoTIFF, classes,
numbered window grid, target areas, one-layer baseline, held-out capture at full resolution,
and the HTML report. Called by ``geoprospect run`` after evaluation."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import geopandas as gpd
import numpy as np

from geoprospect.evaluation.metrics import deposit_capture, success_rate
from geoprospect.io.rasters import Stack
from geoprospect.prediction.fullres import blend_windows, write_fullres
from geoprospect.prediction.predict import Prediction
from geoprospect.prediction.targets import classify, pa_thresholds, target_areas, window_grid, write_classes, write_gpkg

log = logging.getLogger(__name__)

PRODUCTS = ("prospectivity_fullres.tif", "classes.tif", "window_grid.gpkg", "targets.gpkg", "report/index.html")


def deposit_flat(grid, deposits_xy: np.ndarray) -> np.ndarray:
    """Flat cell indices (row * width + col) of the deposits inside ``grid``."""
    dep = np.asarray(deposits_xy, dtype=np.float64).reshape(-1, 2)
    inside = grid.contains(dep[:, 0], dep[:, 1])
    r, c = grid.rowcol(dep[inside, 0], dep[inside, 1])
    return np.asarray(r, dtype=np.int64) * grid.width + np.asarray(c, dtype=np.int64)


def one_layer_baseline(stack: Stack, choose_area: np.ndarray, report_area: np.ndarray, dep_flat: np.ndarray) -> dict | None:
    """The best single evidence band (either sign), chosen on ``choose_area``'s deposits by
    success-rate AUC, scored on ``report_area``: what a geologist gets from one layer.

    Returns ``{"band", "sign", "score": (H, W) map on report_area, "capture": dict}`` or None.
    """
    inside_choose = choose_area.ravel()[dep_flat]
    if not inside_choose.any():
        return None
    best = None
    for b, name in enumerate(stack.band_names):
        for sign in (1.0, -1.0):
            s = np.where(choose_area, sign * stack.data[b].astype(np.float64), np.nan)
            auc = success_rate(s, dep_flat[inside_choose]).auc
            if best is None or auc > best[0]:
                best = (auc, b, sign)
    _, b, sign = best
    score = np.where(report_area, sign * stack.data[b].astype(np.float64), np.nan)
    held = report_area.ravel()[dep_flat]
    return {"band": stack.band_names[b], "sign": "higher" if sign > 0 else "lower", "score": score, "capture": deposit_capture(score, dep_flat[held])}


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
    ro, co = ii * pred.stride, jj * pred.stride
    fmap = blend_windows(g, ro, co, pred.size, pred.prob[ii, jj], pred.margin[ii, jj], valid=stack.valid)
    write_fullres(fmap, out / "prospectivity_fullres.tif", model_name=model_name)

    dep = deposit_flat(g, deposits_xy)
    split = windows["split"].to_numpy()

    def area_of(name: str) -> np.ndarray:
        sel = split == name
        a = blend_windows(g, windows["row_off"].to_numpy()[sel], windows["col_off"].to_numpy()[sel], pred.size, np.zeros(int(sel.sum()))).count > 0
        return a & np.isfinite(fmap.margin)

    test_area, train_area = area_of("test"), area_of("train")
    metrics: dict = {}
    scores: dict[str, np.ndarray] = {}
    held = test_area.ravel()[dep]
    if test_area.any():
        scores[f"{model_name or 'model'} (held-out block)"] = np.where(test_area, fmap.margin, np.nan)
        metrics["deposits_test_fullres"] = deposit_capture(scores[next(iter(scores))], dep[held])
        base = one_layer_baseline(stack, train_area, test_area, dep) if train_area.any() else None
        if base is not None:
            scores[f"one layer: {base['band']} ({base['sign']} = better)"] = base["score"]
            metrics["baseline_one_layer"] = {"band": base["band"], "better": base["sign"], "chosen_on": "training windows' area", **base["capture"]}

    # classes from the P-A plot of the whole map (all known deposits), window grid, targets
    th = pa_thresholds(fmap.prob, dep)
    cls = classify(fmap.prob, th)
    write_classes(cls, g, out / "classes.tif", th)
    grid_gdf = window_grid(fmap.prob, g, deposits_xy, cell=pred.size, classes=cls)
    write_gpkg(grid_gdf, out / "window_grid.gpkg", "window_grid")
    targets = target_areas(fmap.prob, cls, g, deposits_xy)
    write_gpkg(targets, out / "targets.gpkg", "targets")
    metrics["classes"] = {"medium": th.medium, "high": th.high, "source": th.source, "cells": {k: int((cls == v).sum()) for k, v in (("low", 1), ("medium", 2), ("high", 3))}}
    metrics["targets"] = {"n": int(len(targets)), "with_known_deposits": int((targets["n_deposits"] > 0).sum()) if len(targets) else 0}

    wins = {}
    if "label" in windows:
        r, c = windows["row"].to_numpy(), windows["col"].to_numpy()
        for name in ("test", "train"):
            sel = split == name
            if sel.any():
                wins[f"{name} windows"] = (windows["label"].to_numpy()[sel], pred.prob[r[sel], c[sel]])
    if scores:
        from geoprospect.report.html import write_report

        element_table = None
        if (out / "element_selection.csv").exists():  # written by the run's element selection
            import pandas as pd

            element_table = pd.read_csv(out / "element_selection.csv").to_dict("records")
        write_report(
            out / "report",
            title=title,
            split_label="spatial block (contiguous test block, half-window buffer)",
            grid=g,
            deposits_xy=deposits_xy,
            scores=scores,
            deposit_cells=dep[held],
            map_prob=fmap.prob,
            windows=wins,
            history=history,
            targets=targets,
            settings=settings,
            element_table=element_table,
            notes=["Capture on full-resolution cells of the held-out block only (the training deposits are not counted)."],
        )
    log.info("map products: %d high cells, %d targets", metrics["classes"]["cells"]["high"], metrics["targets"]["n"])
    return metrics
