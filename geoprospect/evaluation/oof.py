"""Out-of-fold evaluation of `run`: the model and the baselines on the same spatial folds.

Every row of the table is scored the same way: each fold's model (or layer choice) is made
from the fold's training windows only; its test windows' logit margins are z-scored against the
same fold model's scores of its training windows (:func:`~geoprospect.windows.folds.cross_val_scores`,
so that the folds share one scale; the best single layer's scores, one band z-scored with the
stack's statistics, share one scale already and are pooled as they are), blended to full resolution
(:func:`~geoprospect.prediction.fullres.blend_windows`), and the cells with data are ranked for
deposit capture and the success-rate curve. The best single evidence layer is chosen (band and
sign) on each fold's training area.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import geopandas as gpd
import numpy as np

from geoprospect.errors import FoldError
from geoprospect.evaluation.classic import CLASSIC_ROWS, WOE, window_area, window_centres, woe_scorer
from geoprospect.evaluation.crossval import torch_fit_score
from geoprospect.evaluation.metrics import curve_corners, deposit_area_ranks, deposit_capture, deposit_flat, paired_block_bootstrap, success_rate, window_metrics
from geoprospect.io.rasters import Stack
from geoprospect.prediction.fullres import FullResMap, blend_window_table
from geoprospect.training.config import TrainConfig
from geoprospect.windows.folds import REFERENCE_WINDOWS, CVSplit, Fold, OutOfFold, cross_val_scores, deposit_pixels, fold_geometry, make_folds, pooled_ranking, sigmoid, spatial_fold_layouts

log = logging.getLogger(__name__)

KEYS = ("success_rate_auc", "capture_top_5pct", "capture_top_10pct", "capture_top_20pct", "roc_auc")
BEST_LAYER = "best_layer"
BLOCK_LABEL = "single spatial test block (windows.test_fraction, half-window buffer)"
#: how the fold models' scores become one ranking (metrics.json ``evaluation.pooling``, the report)
POOLING = (f"each fold model's margins z-scored against its own scores of up to {REFERENCE_WINDOWS:,} of its training cells, then the folds ranked "
           "together (best_layer: one fixed map, as it is; docs/evaluation.md)")


def make_splits(stack: Stack, windows: gpd.GeoDataFrame, deposits_xy: np.ndarray, *, method: str, folds: int, block_size: int | None, buffer: int | None, layouts: int, seed: int) -> list[CVSplit]:
    """The fold layouts of an evaluation: ``cv`` = deposit-stratified spatial k-fold blocks
    (``layouts`` shifted block grids), ``block`` = the tiling's single test block. ``block_size``
    and ``buffer`` are in pixels (a table of cells is folded at its centre cells, buffer default
    its patch's context radius: :func:`~geoprospect.windows.folds.fold_geometry`). Raises
    FoldError (fix named) when a fold holds no deposit."""
    ro, co, size, buffer = fold_geometry(windows, buffer)
    y = windows["label"].to_numpy().astype(np.int64)
    if method == "block":
        split = windows["split"].to_numpy()
        test, train = np.flatnonzero(split == "test"), np.flatnonzero(split == "train")
        if not y[test].any() or not y[train].any():
            where = "test block" if not y[test].any() else "training area"
            raise FoldError(f"the {where} holds no positive window (no deposit): it cannot be evaluated",
                            hint="set evaluation.method: cv (deposit-stratified folds), or move the block with windows.test_fraction / windows.test_side / windows.split_axis")
        fold = Fold(0, test, train, np.flatnonzero(split == "buffer"), positives=int(y[test].sum()))
        return [CVSplit([fold], "spatial", BLOCK_LABEL)]
    kw = dict(k=folds, block_size=block_size, buffer=buffer, seed=seed, labels=y, deposits_rc=deposit_pixels(stack.grid, deposits_xy))
    if layouts > 1:
        return spatial_fold_layouts(ro, co, size, stack.grid.shape, layouts=layouts, **kw)
    return [make_folds(ro, co, size, stack.grid.shape, kind="spatial", **kw)]


def check_training_folds(splits: Sequence[CVSplit], labels: np.ndarray) -> None:
    """Refuse a fold whose training windows hold no positive window (nothing to learn)."""
    for s in splits:
        for f in s.folds:
            if not labels[f.train].any():
                raise FoldError(f"fold {f.k}'s training windows hold no positive window", hint="use smaller blocks (evaluation.block_size) or fewer folds (evaluation.folds)")


def _oof_map(stack: Stack, windows: gpd.GeoDataFrame, oof: OutOfFold) -> FullResMap:
    """Full-resolution map of one layout: the fold models' own probabilities, the pooled ranking as margin."""
    return blend_window_table(stack.grid, windows, oof.prob, oof.ranking, valid=stack.valid)


def _layer_scorer(stack: Stack, windows: gpd.GeoDataFrame, dep: np.ndarray, chosen: list) -> Callable:
    """fit-score function of the best-single-layer baseline: band and sign chosen on the fold's
    training cells by success-rate AUC; a window scores the band's value at its centre cell."""
    size = int(windows["size"].iloc[0])
    ro, co = windows["row_off"].to_numpy(), windows["col_off"].to_numpy()
    cr, cc = window_centres(stack.grid.shape, ro, co, size)
    m, s = stack.moments()
    mean = np.array(m, dtype=np.float64)
    std = np.array([v or 1.0 for v in s], dtype=np.float64)

    def fit_score(tr, te, k):
        area = window_area(stack.grid.shape, ro[tr], co[tr], size)
        inside = area.ravel()[dep]
        best = (-1.0, 0, 1.0)
        for b in range(stack.data.shape[0]):
            for sign in (1.0, -1.0):
                s = np.where(area, sign * stack.data[b].astype(np.float64), np.nan)
                auc = success_rate(s, dep[inside]).auc if inside.any() else 0.0
                if auc > best[0]:
                    best = (auc, b, sign)
        _, b, sign = best
        chosen.append({"fold": int(k), "band": stack.band_names[b], "better": "higher" if sign > 0 else "lower"})
        z = sign * (stack.data[b, cr[te], cc[te]].astype(np.float64) - mean[b]) / std[b]
        z = np.nan_to_num(z, nan=0.0)  # a centre cell without data: the band's mean (as the models' z-scores)
        return sigmoid(z), z

    return fit_score


def _row(name: str, role: str, oofs: list[tuple[CVSplit, OutOfFold, FullResMap]], y: np.ndarray, dep: np.ndarray, area: np.ndarray, blocks: int | None) -> dict:
    """One table row: mean over layouts (spread alongside when several), per-fold figures;
    ``blocks``: :func:`deposit_blocks` of the layouts (the same for every row)."""
    per_layout, per_fold = [], []
    for li, (split, oof, fmap) in enumerate(oofs):
        ranked = np.where(area, fmap.margin, np.nan)
        cap = deposit_capture(ranked, dep)
        ok = np.isfinite(oof.ranking)
        cap["roc_auc"] = window_metrics(y[ok], oof.prob[ok], ranking=oof.ranking[ok])["roc_auc"] if ok.any() else None
        per_layout.append(cap)
        for f in split.folds:
            yt, pt = y[f.test], oof.prob[f.test]
            scored = np.isfinite(pt)  # a window whose centre cell is nodata has no best-layer score
            per_fold.append({"layout": li, "fold": f.k, "test_windows": int(f.test.size), "positive_windows": f.positives, "deposits": f.deposits,
                             "roc_auc": window_metrics(yt[scored], pt[scored])["roc_auc"] if scored.any() else None})
    row: dict = {"role": role}
    for k in KEYS:
        vals = [c[k] for c in per_layout if c.get(k) is not None]
        row[k] = float(np.mean(vals)) if vals else None
        if len(oofs) > 1:
            row[f"{k}_spread"] = {"std": float(np.std(vals)), "min": float(np.min(vals)), "max": float(np.max(vals))} if vals else None
    row["n_deposits"] = per_layout[0]["n_deposits"]
    row["n_cells"] = per_layout[0]["n_cells"]
    row["deposit_blocks"] = blocks
    row["per_fold"] = per_fold
    return row


def deposit_blocks(splits: Sequence[CVSplit], y: np.ndarray) -> int | None:
    """Fewest spatial blocks holding a positive sample over the layouts (None without blocks):
    the independent units of the out-of-fold ranking (see :func:`skill_verdict`)."""
    counts = [int(np.unique(s.block_of_window[y > 0]).size) for s in splits if s.block_of_window is not None]
    return min(counts) if counts else None


@dataclass
class OutOfFoldResult:
    """What :func:`evaluate_out_of_fold` measured.

    ``table``: name -> row (see :func:`evaluate_out_of_fold`); ``model_map``: the model's
    out-of-fold full-resolution map of the first layout (NaN where no fold scored; its margin is
    the pooled ranking, :attr:`~geoprospect.windows.folds.OutOfFold.ranking`);
    ``model_prob``: its (N,) out-of-fold window probabilities; ``fold_models``: the model's
    ``(k, trained model)`` per fold of the first layout, in fold order (for uncertainty,
    attribution and calibration); ``splits``: the fold layouts scored; ``model_margin`` and
    ``model_fold``: the (N,) out-of-fold logit margins (the fold models' own, not standardised) and
    the fold that scored each window (-1: none) of the first layout (calibration is fitted and
    cross-fitted on them, and applied to the final model's own margin); ``model_scales``: the
    (mean, std) of each of its fold models' training-window margins, and :attr:`model_ranking`
    those margins z-scored with them (the first layout's pooled ranking, what the table ranks);
    ``model_curves``: the model's success-rate curve of every layout (:func:`layout_curves`), the
    report's success-rate figure."""

    table: dict
    model_map: FullResMap
    model_prob: np.ndarray
    fold_models: list = field(default_factory=list)
    splits: Sequence[CVSplit] = ()
    model_margin: np.ndarray | None = None
    model_fold: np.ndarray | None = None
    model_curves: list = field(default_factory=list)
    model_scales: dict = field(default_factory=dict)

    @property
    def model_ranking(self) -> np.ndarray | None:
        """(N,) the first layout's pooled ranking (:func:`~geoprospect.windows.folds.pooled_ranking`)."""
        if self.model_margin is None or self.model_fold is None:
            return None
        return pooled_ranking(self.model_margin, self.model_fold, self.model_scales)


def layout_curves(maps: Sequence[FullResMap], dep: np.ndarray, area: np.ndarray) -> list[dict]:
    """The out-of-fold success-rate curve of each block layout, ranked exactly as the table's row
    (:func:`_row`: the cells of ``area``, by logit margin): ``{"area", "captured", "auc"}`` per
    layout, the curve reduced to its corners (:func:`~geoprospect.evaluation.metrics.curve_corners`),
    ``auc`` the unreduced curve's, so that their mean is the table's ``success_rate_auc``."""
    out = []
    for fmap in maps:
        sr = success_rate(np.where(area, fmap.margin, np.nan), dep)
        if not sr.n_deposits:
            continue
        a, c = curve_corners(sr.area, sr.captured)
        out.append({"area": a.tolist(), "captured": c.tolist(), "auc": sr.auc})
    return out


def _versus_model(maps: dict[str, list], model: str, dep: np.ndarray, area: np.ndarray, splits: Sequence[CVSplit], seed: int) -> dict[str, dict]:
    """Each baseline against the model on the same deposits: AUC(model) - AUC(baseline) with a 95 %
    interval from resampling the first layout's blocks holding deposits (single test block: the
    deposits themselves); :func:`~geoprospect.evaluation.metrics.paired_block_bootstrap`."""
    def ranks(name: str) -> np.ndarray:
        return np.stack([deposit_area_ranks(np.where(area, fmap.margin, np.nan), dep) for _, _, fmap in maps[name]])

    split = splits[0]
    blocks = split.block_size is not None and split.block_grid is not None
    clusters = split.block_of_pixel(dep // area.shape[1], dep % area.shape[1]) if blocks else np.arange(dep.size)
    unit = "blocks holding deposits" if blocks else "deposits"
    mine = ranks(model)
    return {name: {**paired_block_bootstrap(mine, ranks(name), clusters, seed=seed), "clusters_are": unit} for name in maps if name != model}


def evaluate_out_of_fold(
    stack: Stack,
    windows: gpd.GeoDataFrame,
    deposits_xy: np.ndarray,
    splits: Sequence[CVSplit],
    *,
    model: str,
    train_cfg: TrainConfig,
    baselines: Sequence[str] = (BEST_LAYER, "weights_of_evidence", "fuzzy", "logistic_cell", "random_forest_cell"),
) -> OutOfFoldResult:
    """Score ``model`` and ``baselines`` out of fold on every split of ``splits``.

    Returns an :class:`OutOfFoldResult`: its ``table`` maps each name to ``{"role", "success_rate_auc",
    "capture_top_5pct", "capture_top_10pct", "capture_top_20pct", "roc_auc", "per_fold"}``
    (means over layouts; ``*_spread`` with several layouts; ``best_layer`` and ``weights_of_evidence``
    add ``"chosen"``); baselines: ``best_layer``, ``weights_of_evidence``, ``fuzzy`` (evaluation/classic.py)
    or a registered model;
    ``model_map`` is the model's out-of-fold full-resolution map of the first layout (cells no
    fold scored are NaN), ``model_prob`` its (N,) out-of-fold window probabilities, ``fold_models``
    the model's per-fold models of the first layout. Every row ranks the same cells: those the model's map scores.
    """
    y = windows["label"].to_numpy().astype(np.int64)
    ro, co = windows["row_off"].to_numpy(), windows["col_off"].to_numpy()
    size = int(windows["size"].iloc[0])
    dep = deposit_flat(stack.grid, deposits_xy)
    check_training_folds(splits, y)
    maps: dict[str, list] = {}
    chosen: list = []
    woe_chosen: list = []
    fold_models: list = []
    for name in (model, *baselines):
        keep = fold_models if name == model else None
        if name == BEST_LAYER:
            fs = _layer_scorer(stack, windows, dep, chosen)
        elif name in CLASSIC_ROWS:  # weights of evidence, fuzzy overlay (evaluation/classic.py)
            fs = woe_scorer(stack, windows, dep, woe_chosen) if name == WOE else CLASSIC_ROWS[name](stack, windows, dep)
        else:
            fs = torch_fit_score(stack, ro, co, y, size, name, train_cfg, models=keep, weights=windows["weight"].to_numpy() if "weight" in windows else None)
        maps[name] = []
        for split in splits:
            # the best layer is one fixed map (a band z-scored with the stack's statistics): its folds share one scale already
            oof = cross_val_scores(split, ro.size, fs, reference=0 if name == BEST_LAYER else REFERENCE_WINDOWS, seed=train_cfg.seed)
            maps[name].append((split, oof, _oof_map(stack, windows, oof)))
        log.info("out of fold: %s done", name)
    model_map = maps[model][0][2]
    area = np.isfinite(model_map.margin)
    blocks = deposit_blocks(splits, y)
    table = {name: _row(name, "model" if name == model else "baseline", maps[name], y, dep, area, blocks) for name in maps}
    for name, versus in _versus_model(maps, model, dep, area, splits, train_cfg.seed).items():
        table[name]["versus_model"] = versus
    if BEST_LAYER in table:
        table[BEST_LAYER]["chosen"] = chosen
    if WOE in table:
        table[WOE]["chosen"] = woe_chosen
    first = sum(1 for f in splits[0].folds if f.test.size)  # the first layout's models come first
    first_oof = maps[model][0][1]
    curves = layout_curves([m for _, _, m in maps[model]], dep, area)
    return OutOfFoldResult(table, model_map, first_oof.prob, fold_models[:first], tuple(splits), first_oof.margin, first_oof.fold, curves, first_oof.scales)


def baselines_beating(table: dict, model: str, key: str = "success_rate_auc") -> list[str]:
    """Names of the baseline rows whose ``key`` is above the model's."""
    m = table[model].get(key)
    return [n for n, r in table.items() if r["role"] == "baseline" and m is not None and r.get(key) is not None and r[key] > m]


def skill_verdict(table: dict, model: str) -> dict:
    """Does anything rank held-out deposits better than chance? Plain words for the console and report.

    A success-rate AUC is the mean rank of the deposits' cells among all ranked cells; with ``n``
    deposits ranked at random by a fixed map it is 0.5 with standard deviation
    ``sqrt(1 / (12 n))`` (uniform ranks). Out of fold the map is not fixed: the deposits of one
    spatial block share one fold model and one neighbourhood, so they do not count as independent
    draws. ``n`` is therefore the number of blocks holding deposits (the fewest over the layouts)
    when that is below the deposit count. Measured (``benchmarks/synthetic_areas.py
    --null-draws 40``): uniform random deposits on a synthetic stack through the run's own folds
    gave an out-of-fold AUC spread of 0.062-0.067 (30 deposits in 22 blocks; another 40 draws:
    0.075) and 0.048-0.049 (60 deposits in 33 blocks). ``sqrt(1/(12 n))`` gives 0.053 and 0.037
    with deposits counted, 0.062 and 0.050 with blocks counted. A row is called better than chance when its
    out-of-fold success-rate AUC exceeds 0.5 by more than twice that. Returns ``{"sentence",
    "model_beats_chance", "any_beats_chance", "chance_band", "n_deposits", "units"}``.
    """
    row = table.get(model, {})
    n = int(row.get("n_deposits") or 0)
    blocks = row.get("deposit_blocks")
    units = min(n, int(blocks)) if blocks else n
    band = 2.0 * float(np.sqrt(1.0 / (12.0 * max(units, 1))))
    counted = f"{n} deposits" + (f" in {units} blocks" if units < n else "")
    auc = {k: r.get("success_rate_auc") for k, r in table.items()}
    beats = {k: v is not None and v > 0.5 + band for k, v in auc.items()}
    m = auc.get(model)
    best = max((k for k in auc if auc[k] is not None), key=lambda k: auc[k], default=model)
    if not any(beats.values()):
        sentence = (f"NO SKILL: out of fold, neither {model} (success-rate AUC {m:.3f}) nor any baseline ranks the held-out deposits "
                    f"better than chance (0.5 ± {band:.3f} for {counted}). The evidence does not say where these deposits are: treat the map as untested, not as targets.")
    elif not beats.get(model, False):
        sentence = (f"LOW SKILL: out of fold, {model} does not rank the held-out deposits better than chance (success-rate AUC {m:.3f}, chance 0.5 ± {band:.3f} for {counted}); "
                    f"the best row is {best} ({auc[best]:.3f}).")
    else:
        sentence = (f"Skill: out of fold, {model} ranks the held-out deposits better than chance (success-rate AUC {m:.3f}, chance 0.5 ± {band:.3f} for {counted})"
                    + ("." if best == model else f"; the best row is {best} ({auc[best]:.3f})."))
    versus = versus_baselines(table, model) if any(beats.values()) else None
    if versus:
        sentence += " " + versus["sentence"]
    return {"sentence": sentence, "model_beats_chance": bool(beats.get(model, False)), "any_beats_chance": bool(any(beats.values())), "chance_band": band,
            "n_deposits": n, "units": units, "versus_baselines": versus}


def standing(versus: Mapping) -> str:
    """Where a paired comparison (``versus_model``) puts the model against that baseline: "ahead"
    (95 % interval above 0), "behind" (below 0) or "tied" (the interval holds 0)."""
    return "ahead" if versus["low"] > 0 else "behind" if versus["high"] < 0 else "tied"


def signed(x: float) -> str:
    """A difference of AUCs as text: 3 decimals, 4 where 3 would read "+0.000" or "-0.000"."""
    return f"{x:+.4f}" if 0 < abs(x) < 5e-4 else f"{x:+.3f}"


def versus_baselines(table: dict, model: str) -> dict | None:
    """The model against every baseline row on the same deposits, in plain words, from the rows'
    paired comparisons (``versus_model``, :func:`_versus_model`): ahead of, behind, or not
    distinguishable from each (95 % interval above 0, below 0, or holding 0). None without any."""
    rows = {k: r["versus_model"] for k, r in table.items() if r.get("role") == "baseline" and (r.get("versus_model") or {}).get("difference") is not None}
    if not rows:
        return None
    ahead = [k for k, v in rows.items() if standing(v) == "ahead"]
    behind = [k for k, v in rows.items() if standing(v) == "behind"]
    tied = [k for k, v in rows.items() if standing(v) == "tied"]

    def said(names: list[str], interval: bool) -> str:
        return ", ".join(f"{k} {signed(rows[k]['difference'])}" + (f" ({signed(rows[k]['low'])} to {signed(rows[k]['high'])})" if interval else "") for k in names)

    v = next(iter(rows.values()))
    parts = ([f"ahead of {said(ahead, False)}"] if ahead else []) + ([f"behind {said(behind, True)}"] if behind else []) + (
        [f"not distinguishable from {said(tied, True)}"] if tied else [])
    sentence = (f"Paired on the same deposits (95 % intervals from resampling the {v['clusters']} {v['clusters_are']}), {model} is "
                + "; ".join(parts) + ".")
    return {"ahead_of": ahead, "behind": behind, "not_distinguishable_from": tied, "sentence": sentence}


TABLE_HEAD = ("name", "role", "success-rate AUC", "top 5 %", "top 10 %", "top 20 %", "sample ROC AUC")


def table_rows(table: dict) -> list[list[str]]:
    """The out-of-fold table as text rows (console, HTML report and README print the same): the
    mean over the block layouts, ``± std`` beside it when there were several (``*_spread``)."""
    def cell(r: dict, key: str, percent: bool) -> str:
        v, spread = r.get(key), r.get(f"{key}_spread")
        if v is None:
            return "n/a"
        text = f"{100 * v:.0f}%" if percent else f"{v:.3f}"
        if spread:
            text += f" ± {100 * spread['std']:.0f}" if percent else f" ± {spread['std']:.3f}"
        return text

    keys = (("success_rate_auc", False), ("capture_top_5pct", True), ("capture_top_10pct", True), ("capture_top_20pct", True), ("roc_auc", False))
    return [[name, r["role"], *(cell(r, k, pc) for k, pc in keys)] for name, r in table.items()]
