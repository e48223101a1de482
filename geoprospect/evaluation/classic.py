"""Weights of evidence and fuzzy overlay as out-of-fold rows of `run` (baselines on the same folds).

Both are fit-score functions for :func:`~geoprospect.windows.folds.cross_val_scores`, like the
best-single-layer baseline: fitted on the fold's TRAINING AREA (the footprints of its training
windows, cells with data) and the deposits in it only; a window scores the fitted map at its
centre cell, so they rank the same cells as every other row. No test-fold deposit or label is
read.

* ``weights_of_evidence``: every band binarised at the threshold of maximum studentized
  contrast, direction ("near is good" or "high is good") chosen by the larger contrast
  (:class:`~geoprospect.evidence.weights_of_evidence.WeightsOfEvidence`, Bonham-Carter 1994);
  a band whose weights are undefined on the fold's training area (no threshold separates its
  deposits) is left out of that fold (logged). A categorical layer (the one-hot class bands of
  geology polygons or of a categorical raster, as the stack records them) is one layer weighed
  per class (ArcSDM's categorical weights: each class against the rest of the layer, classes
  without a deposit generalised), not one binary pattern per class band, which would add the
  layer's evidence once per class. Score: the posterior probability; margin: its logit.
* ``fuzzy``: each band's membership is its percentile among the training-area cells
  (:func:`~geoprospect.evidence.fuzzy.percentile`), turned round (1 - percentile) when the
  training deposits' mean membership is below one half (the side a geologist would call
  favourable, read from the training deposits); nodata gets 0.5 (no evidence); memberships are
  combined by the gamma operator, gamma = 0.9 (:data:`FUZZY_GAMMA`, the value most fuzzy
  prospectivity studies start from, Bonham-Carter 1994; not tuned here).
"""

from __future__ import annotations

import logging
from typing import Callable

import geopandas as gpd
import numpy as np

from geoprospect.errors import GeoprospectError
from geoprospect.evidence.fuzzy import overlay, percentile
from geoprospect.evidence.weights_of_evidence import WeightsOfEvidence
from geoprospect.io.rasters import Stack
from geoprospect.windows.folds import logit

log = logging.getLogger(__name__)

WOE = "weights_of_evidence"
FUZZY = "fuzzy"
FUZZY_GAMMA = 0.9

FitScore = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def window_centres(shape: tuple[int, int], row_off: np.ndarray, col_off: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of each window's centre cell, clipped to the stack of ``shape`` (rows, cols)."""
    H, W = shape
    return np.clip(row_off + size // 2, 0, H - 1), np.clip(col_off + size // 2, 0, W - 1)


def window_area(shape: tuple[int, int], row_off: np.ndarray, col_off: np.ndarray, size: int) -> np.ndarray:
    """(rows, cols) bool: the cells covered by at least one of the windows (their footprints)."""
    H, W = shape
    d = np.zeros((H + 1, W + 1), dtype=np.int64)
    r0, c0 = np.clip(row_off, 0, H), np.clip(col_off, 0, W)
    r1, c1 = np.clip(row_off + size, 0, H), np.clip(col_off + size, 0, W)
    for a, b, v in ((r0, c0, 1), (r0, c1, -1), (r1, c0, -1), (r1, c1, 1)):
        np.add.at(d, (a, b), v)
    return np.cumsum(np.cumsum(d, axis=0), axis=1)[:H, :W] > 0


def _fold_parts(stack: Stack, windows: gpd.GeoDataFrame, dep: np.ndarray):
    size = int(windows["size"].iloc[0])
    ro, co = windows["row_off"].to_numpy(), windows["col_off"].to_numpy()
    shape = stack.grid.shape
    cr, cc = window_centres(shape, ro, co, size)

    def area_and_deposits(tr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        area = window_area(shape, ro[tr], co[tr], size) & stack.valid
        return area, dep[area.ravel()[dep]]

    return cr, cc, area_and_deposits


def _fit_woe(layers: dict[str, np.ndarray], rc: np.ndarray, area: np.ndarray, k: int, categorical: list[str] | None = None) -> tuple[WeightsOfEvidence | None, dict[str, np.ndarray]]:
    """Weights of every layer on the training area (``categorical``: layers weighed per class);
    layers whose weights are undefined are left out; (None, {}) when no layer is left (e.g. a
    single training deposit)."""
    cats = list(categorical or [])
    try:
        return WeightsOfEvidence(categorical=cats).fit(layers, rc, area), layers
    except GeoprospectError:
        kept = {}
        for name, v in layers.items():
            try:
                WeightsOfEvidence(categorical=[name] if name in cats else []).fit({name: v}, rc, area)
                kept[name] = v
            except GeoprospectError as exc:
                log.info("weights of evidence, fold %d: layer %s left out (%s)", k, name, getattr(exc, "reason", exc))
        if not kept:
            log.warning("weights of evidence, fold %d: no layer has defined weights on the training area (%d deposits): the fold's windows all score the prior", k, len(rc))
            return None, {}
        return WeightsOfEvidence(categorical=[c for c in cats if c in kept]).fit(kept, rc, area), kept


def class_index(bands: np.ndarray) -> np.ndarray:
    """(rows, cols) float class of each cell of a categorical layer's (K, rows, cols) one-hot
    bands: k where band k is 1, K where every band is 0 (none of the classes), NaN where nodata."""
    bands = np.asarray(bands)
    idx = np.where(np.nan_to_num(bands).max(axis=0) > 0.5, np.argmax(np.nan_to_num(bands), axis=0), bands.shape[0]).astype(np.float64)
    idx[~np.all(np.isfinite(bands), axis=0)] = np.nan
    return idx


def woe_layers(stack: Stack) -> tuple[dict[str, np.ndarray], list[str]]:
    """The evidence layers of weights of evidence: every band, except that the class bands of each
    categorical layer the stack records are one class-index layer (:func:`class_index`) named
    after it; and the names of those categorical layers."""
    groups = stack.categorical_layers()
    grouped = {b for idx in groups.values() for b in idx}
    layers = {n: stack.data[b] for b, n in enumerate(stack.band_names) if b not in grouped}
    layers.update({name: class_index(stack.data[idx]) for name, idx in groups.items()})
    return layers, list(groups)


def woe_scorer(stack: Stack, windows: gpd.GeoDataFrame, dep: np.ndarray, chosen: list | None = None) -> FitScore:
    """fit-score function of the weights-of-evidence row (see the module docstring); ``dep``: flat
    cell indices of the deposits. With ``chosen`` given, each fold appends its thresholds."""
    cr, cc, area_and_deposits = _fold_parts(stack, windows, dep)
    shape = stack.grid.shape
    layers, categorical = woe_layers(stack)

    def fit_score(tr, te, k):
        area, d = area_and_deposits(tr)
        rc = np.column_stack(np.unravel_index(d, shape)).astype(np.int64)
        woe, used = _fit_woe(layers, rc, area, int(k), categorical)
        if chosen is not None:
            chosen.append({"fold": int(k), "layers": {n: {"pattern": f.kind, "threshold": f.threshold} for n, f in (woe.layers_.items() if woe else ())}})
        if woe is None:
            p = np.full(te.size, max(len(rc), 0.5) / max(int(area.sum()), 1))  # the prior probability: no evidence
        else:
            p = woe.predict(used)[0][cr[te], cc[te]]
        return p, logit(p)

    return fit_score


def fuzzy_scorer(stack: Stack, windows: gpd.GeoDataFrame, dep: np.ndarray, gamma: float = FUZZY_GAMMA) -> FitScore:
    """fit-score function of the fuzzy-overlay row (see the module docstring); ``dep``: flat cell
    indices of the deposits."""
    cr, cc, area_and_deposits = _fold_parts(stack, windows, dep)

    def fit_score(tr, te, k):
        area, d = area_and_deposits(tr)
        mus = []
        for b in range(stack.data.shape[0]):
            band = stack.data[b]
            ref = band[area]
            mu = percentile(band[cr[te], cc[te]], ref)
            at_dep = percentile(band.ravel()[d], ref)
            if np.nanmean(at_dep) < 0.5:
                mu = 1.0 - mu
            mus.append(np.where(np.isnan(mu), 0.5, mu))
        p = overlay(np.stack(mus), "gamma", gamma)
        return p, logit(p)

    return fit_score


CLASSIC_ROWS: dict[str, Callable[..., FitScore]] = {WOE: woe_scorer, FUZZY: fuzzy_scorer}
