"""The attribution steps of `run`: evidence-layer groups, out-of-fold permutation importance and
``attribution.tif`` (config ``attribution:``).

A layer group is one evidence layer of the run config: the 0/1 class bands of a categorical
layer (geology polygons or a categorical raster, ``<name>_<class>``: recorded in the stack,
:meth:`~geoprospect.io.rasters.Stack.categorical_layers`) and the bands of a multi-band raster
(``<name>_<band>``) are permuted and attributed together; every other band (an element, a
distance, a density) is its own layer. Occlusion puts a categorical layer's most common class
in place of its classes (:func:`~geoprospect.prediction.attribution.reference_values`), never
the bands' fractional means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from geoprospect.evaluation.importance import permutation_importance
from geoprospect.evaluation.metrics import deposit_flat
from geoprospect.evaluation.oof import OutOfFoldResult
from geoprospect.io.rasters import Stack, read_bands
from geoprospect.pipeline.config import RunConfig
from geoprospect.prediction.attribution import Attribution, reference_values, window_attribution, write_attribution
from geoprospect.prediction.predict import Prediction
from geoprospect.windows.dataset import normalise_stack

ATTRIBUTION = "attribution.tif"


def layer_groups(cfg: RunConfig, band_names: list[str], recorded: Mapping[str, Sequence[int]] | None = None) -> dict[str, list[int]]:
    """Evidence layer -> band indices (module docstring); in band order. ``recorded``: the
    categorical layers the stack recorded (a stack built before it recorded them: the config's
    categorical vector layers, by band name)."""
    owner = {i: layer for layer, idx in (recorded or {}).items() for i in idx}
    multi = [v.name for v in cfg.vectors if v.kind == "categorical"] + [r.name for r in cfg.rasters]
    single = {v.name for v in cfg.vectors if v.kind != "categorical"} | {r.name for r in cfg.rasters}  # a band named like a layer is that layer
    groups: dict[str, list[int]] = {}
    for i, b in enumerate(band_names):
        owners = [] if b in single else [m for m in multi if b.startswith(f"{m}_")]
        groups.setdefault(owner.get(i) or (max(owners, key=len) if owners else b), []).append(i)
    return groups


def run_importance(cfg: RunConfig, stack: Stack, windows, deposits_xy: np.ndarray, res: OutOfFoldResult) -> dict:
    """Permutation importance of each layer for the model's fold models (first fold layout)."""
    a = cfg.attribution
    return permutation_importance(stack, windows, deposit_flat(stack.grid, deposits_xy), res.splits[0], res.fold_models, layer_groups(cfg, stack.band_names, stack.categorical_layers()),
                                  area=np.isfinite(res.model_map.margin), repeats=a.repeats, seed=cfg.train.seed, crop=cfg.train.crop, device=cfg.train.device,
                                  scales=res.model_scales)


def run_attribution(cfg: RunConfig, model: torch.nn.Module, stack: Stack, pred: Prediction, out: Path) -> Attribution:
    """Attribution of the final model at every scored window position; writes ``out/attribution.tif``."""
    groups = layer_groups(cfg, stack.band_names, stack.categorical_layers())
    # a stack built before stacks recorded their categorical layers: the config's categorical vector layers
    categorical = stack.categorical_layers() or {v.name: groups[v.name] for v in cfg.vectors if v.kind == "categorical" and v.name in groups}
    ii, jj = np.nonzero(np.isfinite(pred.prob))
    norm = normalise_stack(stack)
    a = cfg.attribution
    vals, method = window_attribution(model, norm, pred.offsets(ii, jj), pred.size, groups, method=a.method, steps=a.steps, crop=cfg.train.crop, device=cfg.train.device,
                                      reference=reference_values(stack, categorical))
    cube = np.full((len(groups), *pred.prob.shape), np.nan)
    cube[:, ii, jj] = vals.T
    attr = Attribution(cube, list(groups), pred.grid, method)
    write_attribution(attr, out / ATTRIBUTION, model_name=cfg.train.model)
    return attr


def read_attribution(path: Path) -> Attribution:
    """``attribution.tif`` read back (a resumed run)."""
    values, names, tags, grid = read_bands(path)
    return Attribution(values, names, grid, tags.get("GEOPROSPECT_ATTRIBUTION", ""))


def attribution_metrics(importance: dict | None, attr: Attribution | None) -> dict:
    """metrics.json entries: ``importance`` (layer -> drop_success_rate_auc, std) and ``attribution``
    (file, method, units, mean attribution per layer, the unpermuted AUC the drops start from)."""
    out: dict = {}
    if importance:
        out["importance"] = importance["layers"]
    if attr is not None:
        out["attribution"] = {"file": ATTRIBUTION, "method": attr.method, "units": "logit margin (positive: towards deposit)",
                              "mean": attr.mean(), "importance_base_success_rate_auc": (importance or {}).get("base_success_rate_auc"),
                              "importance_repeats": (importance or {}).get("repeats")}
    return out
