"""Permutation importance of each evidence layer, out of fold (any model: CNN or scikit-learn).

For each fold model of the first fold layout, the values of one layer (all its bands together:
the class bands of a categorical layer, or every band of a multi-band raster, form one group)
are permuted among the fold's test windows: each test window gets the layer's patch of
another test window of the same fold (seeded), every other band unchanged. The permuted test
windows are re-scored through the one scoring core
(:func:`~geoprospect.prediction.score.score_batches`), the out-of-fold map is rebuilt
(:func:`~geoprospect.prediction.fullres.blend_windows`) and its success-rate AUC measured on the
same cells and deposits as the out-of-fold table. The importance of the layer is the drop in
AUC from the unpermuted out-of-fold map, mean and standard deviation over ``repeats``
permutations. For a per-cell model this is the classic permutation importance of the centre
cell's value; a layer the model ignores has a drop of exactly 0.
"""

from __future__ import annotations

import logging
from typing import Iterator, Mapping, Sequence

import geopandas as gpd
import numpy as np
import torch

from geoprospect.evaluation.metrics import deposit_capture
from geoprospect.io.rasters import Stack
from geoprospect.models.baselines import scoring_batch
from geoprospect.prediction.fullres import blend_window_table
from geoprospect.prediction.score import Batch, score_batches
from geoprospect.windows.dataset import WindowDataset, normalise_stack
from geoprospect.windows.folds import CVSplit, sigmoid

log = logging.getLogger(__name__)

KEY = "drop_success_rate_auc"


def _variant_batches(x: torch.Tensor, variants: Sequence[tuple[np.ndarray | None, list[int]]], max_windows: int) -> Iterator[Batch]:
    """Batches over (variant, window) pairs of one fold's test windows ``x`` (n, C, h, w): in
    variant ``v = (perm, bands)`` window ``i`` takes its ``bands`` from window ``perm[i]``
    (``perm`` None: unchanged). Scores go to index (v, i); at most ``max_windows`` a batch."""
    n = len(x)
    for f0 in range(0, n * len(variants), max_windows):
        flat = np.arange(f0, min(f0 + max_windows, n * len(variants)))
        v, w = flat // n, flat % n
        xb = x.index_select(0, torch.from_numpy(w))
        for vv in np.unique(v):
            perm, bands = variants[vv]
            if perm is None:
                continue
            a, b = np.searchsorted(v, [vv, vv + 1])  # a variant's windows are contiguous
            src = torch.from_numpy(perm[w[a:b]])
            for band in bands:
                xb[a:b, band] = x[:, band].index_select(0, src)
        yield Batch((v, w), xb)


def _auc(windows: gpd.GeoDataFrame, stack: Stack, margin: np.ndarray, area: np.ndarray, dep: np.ndarray) -> float:
    fmap = blend_window_table(stack.grid, windows, sigmoid(margin), margin, valid=stack.valid)
    return float(deposit_capture(np.where(area, fmap.margin, np.nan), dep)["success_rate_auc"])


def permutation_importance(
    stack: Stack,
    windows: gpd.GeoDataFrame,
    dep: np.ndarray,
    split: CVSplit,
    fold_models: Sequence[tuple[int, torch.nn.Module]],
    groups: Mapping[str, Sequence[int]],
    *,
    area: np.ndarray,
    repeats: int = 3,
    seed: int = 0,
    crop: int | None = None,
    device: str = "auto",
    batch_size: int = 256,
    scales: Mapping[int, tuple[float, float]] | None = None,
) -> dict:
    """Drop in out-of-fold success-rate AUC when each layer group is permuted (module docstring).

    Args:
        stack: the evidence stack (z-scored here with its statistics, as the models were trained).
        windows: the window table (row_off, col_off, size).
        dep: flat cell indices of the deposits (:func:`~geoprospect.evaluation.metrics.deposit_flat`).
        split: the fold layout the ``fold_models`` were trained on; ``fold_models``: (k, model).
        groups: layer name -> band indices permuted together.
        area: (H, W) bool, the cells ranked (those the model's out-of-fold map scores).
        repeats: permutations per layer; seed: their seed.
        crop: the models' input crop (train.crop), if any.
        scales: fold -> (mean, std) of that fold model's training-window margins
            (:attr:`~geoprospect.windows.folds.OutOfFold.scales`): the test margins are z-scored
            with them before the folds are pooled, as the out-of-fold table does (none: raw margins).

    Returns ``{"base_success_rate_auc", "repeats", "layers": {layer: {KEY, "std"}}}``, layers
    sorted by decreasing drop.
    """
    norm = normalise_stack(stack)
    size = int(windows["size"].iloc[0])
    side = size if crop is None else crop
    offsets = windows[["row_off", "col_off"]].to_numpy().astype(np.int64) + (size - side) // 2
    ds = WindowDataset(norm, offsets, side)
    folds = {f.k: f.test for f in split.folds if f.test.size}
    models = [(k, m, folds[k]) for k, m in fold_models if k in folds]
    groups_l = [list(b) for b in groups.values()]
    perms = [[np.random.default_rng([seed, gi, r, fi]).permutation(test.size) for fi, (_, _, test) in enumerate(models)] for gi in range(len(groups_l)) for r in range(repeats)]
    margins = np.full((1 + len(perms), len(windows)), np.nan)  # variant 0: unpermuted, then (layer, repeat)
    for fi, (k, m, test) in enumerate(models):
        x = ds.batch(test)
        variants = [(None, [])] + [(p[fi], groups_l[j // repeats]) for j, p in enumerate(perms)]
        most = scoring_batch(m, int(np.prod(x.shape[1:])), batch_size)
        s = score_batches(m, _variant_batches(x, variants, most), (len(variants), test.size), device)
        mu, sd = (scales or {}).get(k, (0.0, 1.0))
        margins[:, test] = (s.margin - mu) / sd
    base = _auc(windows, stack, margins[0], area, dep)
    layers = {}
    for gi, name in enumerate(groups):
        drops = [base - _auc(windows, stack, margins[1 + gi * repeats + r], area, dep) for r in range(repeats)]
        layers[name] = {KEY: float(np.mean(drops)), "std": float(np.std(drops))}
        log.info("permutation importance: %s drops the out-of-fold success-rate AUC by %.4f", name, layers[name][KEY])
    ranked = dict(sorted(layers.items(), key=lambda kv: -kv[1][KEY]))
    return {"base_success_rate_auc": base, "repeats": int(repeats), "layers": ranked}
