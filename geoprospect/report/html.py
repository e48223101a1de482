"""One HTML page per run, with PNG figures in the same folder (no network, no JavaScript).

Headline first: held-out deposit capture (top 5/10/20 % of the area, success-rate AUC, P-A
intersection) for every scored map, beside the one-layer baseline when given; then the map,
the curves, ROC, confusion matrices, loss curves, the element-selection table, the ensemble
table (paper 003's Table 2) and the run's settings. The validation split is named on the page;
a random split is flagged "random (windows overlap: optimistic)".
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from geoprospect.evaluation.metrics import deposit_capture, prediction_area, roc_points, success_rate, window_metrics
from geoprospect.evaluation.oof import POOLING, TABLE_HEAD, table_rows
from geoprospect.grid import GridSpec
from geoprospect.io.atomic import write_text
from geoprospect.prediction.attribution import Attribution
from geoprospect.report import figures
from geoprospect.report.calibration import calibration_summary

CSS = """body{font-family:sans-serif;max-width:1100px;margin:1em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}td,th{border:1px solid #bbb;padding:3px 7px;text-align:right}
th{background:#eee}td:first-child,th:first-child{text-align:left}.warn{color:#a00;font-weight:bold}
img{max-width:100%;border:1px solid #ddd;margin:4px}pre{background:#f6f6f6;padding:.5em;font-size:12px;overflow:auto}"""


def _e(v: object) -> str:
    return html.escape(str(v))


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def _num(v: float | None, f: str = ".3f") -> str:
    return "n/a" if v is None else format(v, f)


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    h = "".join(f"<th>{_e(x)}</th>" for x in head)
    b = "".join("<tr>" + "".join(f"<td>{_e(x)}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{b}</table>"


@dataclass
class MapStyle:
    """How the report draws its maps.

    Attributes:
        percentile: the map given is an area percentile (0-100, 100 = most prospective), not a probability.
        outline: study-area polygons (shapely, grid CRS) outlined; None: the edge of the cells with data.
        deposit_label: the deposits' legend entry (run config ``deposits.label``).
    """

    percentile: bool = False
    outline: object = None
    deposit_label: str = "known deposits"


def _head(title: str, split_label: str, headline: str | None, oof_table: Mapping | None, rows: list, notes: Sequence[str]) -> list[str]:
    """The page's head, the skill verdict, the out-of-fold table and the capture table with its notes."""
    parts = _header(title, split_label) + ([f"<p><strong>{_e(headline)}</strong></p>"] if headline else [])
    if oof_table:
        parts += ["<h2>Out-of-fold skill: model and baselines on the same folds</h2>", _table(TABLE_HEAD, table_rows(oof_table)),
                  f"<p>Pooling the folds: {_e(POOLING)}.</p>"]
    parts.append("<h2>Held-out deposit capture</h2>")
    parts.append(_table(["map", "deposits", "top 5 % of area", "top 10 %", "top 20 %", "success-rate AUC", "P-A intersection", "tied cells"], rows))
    parts.append("<p>Cells ranked by score (logit margin: no sigmoid ties); cells with equal scores count their deposits spread evenly over their area.</p>")
    return parts + [f"<p>{_e(n)}</p>" for n in notes]


def write_report(
    out_dir: str | Path,
    *,
    title: str,
    split_label: str,
    grid: GridSpec,
    deposits_xy: np.ndarray,
    scores: Mapping[str, np.ndarray],
    deposit_cells: np.ndarray,
    map_prob: np.ndarray | None = None,
    windows: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    history: Sequence[Mapping[str, float]] | None = None,
    element_table: Sequence[Mapping[str, object]] | None = None,
    ensemble_stats: Mapping | None = None,
    uncertainty: np.ndarray | None = None,
    targets=None,
    settings: Mapping | None = None,
    notes: Sequence[str] = (),
    headline: str | None = None,
    oof_table: Mapping | None = None,
    calibration: Mapping | None = None,
    importance: Mapping | None = None,
    attribution: Attribution | None = None,
    oof_curves: Sequence[Mapping] | None = None,
    map_style: MapStyle | None = None,
    targets_note: str | None = None,
) -> Path:
    """Write ``out_dir/index.html`` and its PNG figures; returns the HTML path.

    Args:
        title: page title.
        split_label: how the scored deposits were held out (named on the page).
        grid: grid of the score maps.
        deposits_xy: (N, 2) known deposits in the grid's CRS (drawn on the map).
        scores: name -> (H, W) ranking score on ``grid`` (NaN outside the evaluated area); the
            first is the model's, others (e.g. "distance to greenstone") are shown beside it.
        deposit_cells: flat cell indices of the held-out deposits used for capture figures.
        map_prob: (H, W) probability to draw (default: the first score map).
        windows: name -> (y_true, probability) of held-out windows (ROC, confusion matrix).
        history: per-epoch training rows (epoch, loss, val_loss).
        element_table: rows of the element-selection table (any keys).
        ensemble_stats: :func:`geoprospect.ensemble.stats.ore_statistics` output.
        uncertainty: (H, W) ensemble spread, mapped beside the probability.
        targets: target-area GeoDataFrame (outlined and numbered on the map; listed).
        settings: the run's configuration (shown as JSON).
        notes: extra sentences shown under the headline.
        headline: the skill verdict in plain words (:func:`~geoprospect.evaluation.oof.skill_verdict`), shown first.
        oof_table: the out-of-fold table of `run` (model and baselines on the same folds), shown first.
        calibration: `run`'s calibration report (Brier, ECE, reliability bins), tabled with its reliability diagram.
        importance: permutation importance (layer -> drop_success_rate_auc, std), a bar chart.
        attribution: the final model's attribution (attribution.tif): map of the leading layer per window.
        oof_curves: the model's out-of-fold success-rate curve per block layout (:func:`~geoprospect.evaluation.oof.layout_curves`):
            success_rate.png draws them, stating their mean AUC (the out-of-fold table's); else the curves of ``scores``.
        map_style: colour scale, study-area outline and deposit legend of the maps (:class:`MapStyle`).
        targets_note: how the classes and targets were chosen (shown above the target table).

    Also writes ``figures.json``: the numbers the figures state (``success_rate``: its AUC).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, curves, pa_first = _capture(scores, deposit_cells)
    parts = _head(title, split_label, headline, oof_table, rows, notes)
    first, style = next(iter(scores)), map_style or MapStyle()
    scale = "percentile" if style.percentile else "probability" if map_prob is not None else "score"
    imgs = _map_figures(out, title, grid, deposits_xy, map_prob if map_prob is not None else scores[first], scale, uncertainty, targets, style)
    imgs += _curve_figures(out, curves, pa_first, first, oof_curves)  # and figures.json
    window_imgs, wrows = _window_figures(out, windows or {})
    imgs += window_imgs + _why_figures(out, importance, attribution, deposits_xy)
    imgs += [(figures.loss_figure(history, out / "loss.png").name, "Loss curves")] if history else []
    if wrows:
        parts += ["<h2>Window classification (held-out windows)</h2>", _table(["windows", "n", "positive", "accuracy", "precision", "recall", "F1", "F1 macro", "ROC AUC"], wrows)]
    if calibration:
        chead, crows, cimgs, cnote = calibration_summary(out, calibration)
        parts += ["<h2>Calibration (out-of-fold windows)</h2>", _table(chead, crows), f"<p>{_e(cnote)}</p>"]
        imgs += cimgs
    parts.append("<h2>Figures</h2>")
    parts += [f"<figure style='display:inline-block;vertical-align:top'><img src='{_e(fn)}' alt='{_e(cap)}'><figcaption>{_e(cap)}</figcaption></figure>" for fn, cap in imgs]
    parts += _tables(targets, element_table, ensemble_stats, settings, targets_note)
    parts.append("</body></html>")
    return write_text(out / "index.html", "\n".join(parts))


def _why_figures(out: Path, importance: Mapping | None, attribution: Attribution | None, deposits_xy: np.ndarray) -> list[tuple[str, str]]:
    """Permutation-importance bars and the leading-layer map (attribution.tif), when given."""
    imgs = []
    if importance:
        figures.importance_figure(importance, out / "importance.png")
        imgs.append(("importance.png", "Permutation importance: drop in out-of-fold success-rate AUC per evidence layer"))
    if attribution is not None:
        figures.dominant_layer_figure(attribution.values, attribution.names, attribution.grid, deposits_xy, out / "attribution.png", title=f"Most contributing layer per window ({attribution.method.replace('_', ' ')}, attribution.tif)")
        imgs.append(("attribution.png", "Most contributing evidence layer per window (final model, attribution.tif)"))
    return imgs


def _header(title: str, split_label: str) -> list[str]:
    """The page's head, title, date and validation split (a random split in red)."""
    warn = " class='warn'" if split_label.startswith("random") else ""
    return [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1><p>Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by geoprospect.</p>",
        f"<p>Validation: <span{warn}>{_e(split_label)}</span>.</p>",
    ]


def _capture(scores: Mapping[str, np.ndarray], deposit_cells: np.ndarray):
    """Capture table rows per score map, success-rate curves, and the first map's P-A plot data."""
    rows, curves = [], {}
    first = next(iter(scores))
    pa_first = None
    for name, s in scores.items():
        d = deposit_capture(s, deposit_cells)
        pa = d.get("pa_intersection", {})
        rows.append([name, d["n_deposits"], _pct(d["capture_top_5pct"]), _pct(d["capture_top_10pct"]), _pct(d["capture_top_20pct"]), _num(d["success_rate_auc"]), f"{_pct(pa.get('deposits'))} in {_pct(pa.get('area'))}", _pct(d["tied_cell_fraction"])])
        if d["n_deposits"]:
            sr = success_rate(s, deposit_cells)
            curves[name] = (sr.area, sr.captured, sr.auc)
            if name == first:
                pa_first = prediction_area(s, deposit_cells)
    return rows, curves, pa_first


MAP_SCALES = {"percentile": ((0.0, 100.0), "area percentile (100 = most prospective)"), "probability": ((0.0, 1.0), "deposit probability"), "score": ((None, None), "score")}


def _map_figures(out: Path, title: str, grid: GridSpec, deposits_xy: np.ndarray, mp: np.ndarray, scale: str, uncertainty: np.ndarray | None, targets,
                 style: MapStyle) -> list[tuple[str, str]]:
    """The prospectivity map (and the map beside its uncertainty) on the colour ``scale`` of
    :data:`MAP_SCALES`, with the outline and deposit label of ``style``. Returns (file, caption) pairs."""
    (lo, hi), label = MAP_SCALES[scale]
    kw = {"outline": style.outline, "deposit_label": style.deposit_label}
    figures.map_figure(mp, grid, deposits_xy, out / "map.png", title=f"{title}: prospectivity", vmin=lo, vmax=hi, label=label, targets=targets, **kw)
    imgs = [("map.png", "Prospectivity with known deposits" + (" and numbered targets" if targets is not None and len(targets) else ""))]
    if uncertainty is not None:
        figures.map_pair_figure(mp, uncertainty, grid, deposits_xy, out / "uncertainty.png", titles=("Prospectivity", "Uncertainty: spread of the ensemble members"),
                                labels=(label, "std of member probabilities"), targets=targets, left_range=(lo, hi), **kw)
        imgs.append(("uncertainty.png", "Prospectivity and its uncertainty (std of the ensemble members' probabilities), side by side"))
    return imgs


def _curve_figures(out: Path, curves: dict, pa_first, first: str, oof_curves: Sequence[Mapping] | None) -> list[tuple[str, str]]:
    """Success-rate curves (the out-of-fold layouts' when given) and the P-A plot of the first
    map; ``figures.json`` keeps what the success-rate figure states (``success_rate``)."""
    imgs = []
    stated: dict = {}
    if oof_curves:
        name = first.split(" (")[0]
        stated["success_rate"] = figures.oof_success_rate_figure(oof_curves, out / "success_rate.png", name=name)
        imgs.append(("success_rate.png", f"Success-rate curves, out of fold: {stated['success_rate']['label']} (the out-of-fold table's value)"))
    elif curves:
        figures.success_rate_figure(curves, out / "success_rate.png")
        stated["success_rate"] = {name: {"auc": c[2]} for name, c in curves.items()}
        imgs.append(("success_rate.png", "Success-rate curves"))
    write_text(out / "figures.json", json.dumps(stated, indent=1))
    if pa_first is not None:
        figures.pa_figure(pa_first.threshold, pa_first.prediction_rate, pa_first.area, (pa_first.intersection_rate, pa_first.intersection_area, pa_first.intersection_threshold), out / "pa_plot.png")
        imgs.append(("pa_plot.png", f"Prediction-area plot ({first})"))
    return imgs


def _window_figures(out: Path, windows: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> tuple[list[tuple[str, str]], list[list]]:
    """Confusion matrices and ROC curves of the held-out windows; returns (images, table rows)."""
    imgs: list[tuple[str, str]] = []
    wrows: list[list] = []
    rocs = {}
    for name, (y, p) in windows.items():
        y = np.asarray(y)
        p = np.asarray(p, dtype=np.float64)
        ok = np.isfinite(p)
        if not ok.any():
            continue
        m = window_metrics(y[ok], p[ok])
        r = roc_points(y[ok], p[ok])
        rocs[name] = (r["fpr"], r["tpr"], m["roc_auc"])
        fn = f"confusion_{len(wrows) + 1}.png"
        figures.confusion_figure(m["confusion_matrix"], ["background", "deposit"], out / fn, title=f"{name} (threshold 0.5)")
        imgs.append((fn, f"Confusion matrix: {name}"))
        wrows.append([name, m["n"], m["n_positive"], _num(m["accuracy"]), _num(m["precision"]), _num(m["recall"]), _num(m["f1"]), _num(m["f1_macro"]), _num(m["roc_auc"])])
    if rocs:
        figures.roc_figure(rocs, out / "roc.png")
        imgs.append(("roc.png", "ROC curves"))
    return imgs, wrows


def _tables(targets, element_table: Sequence[Mapping[str, object]] | None, ensemble_stats: Mapping | None, settings: Mapping | None, targets_note: str | None = None) -> list[str]:
    """Target areas (with how they were chosen), element selection, paper 003's Table 2 and the settings, where given."""
    parts = []
    if targets_note or (targets is not None and len(targets)):
        parts += ["<h2>Classes and target areas</h2>"] + ([f"<p>{_e(targets_note)}</p>"] if targets_note else [])
    if targets is not None and len(targets):
        acol = "area_km2" if "area_km2" in targets.columns else "area_map_units2" if "area_map_units2" in targets.columns else "area"
        unit = {"area_km2": "km²", "area_map_units2": "map units²"}.get(acol, "map units²")
        tops = [c for c in ("top1", "top2", "top3") if c in targets.columns]  # most contributing layers (attribution.tif)
        parts.append(_table(["target", "mean score", "cells", f"area ({unit})", "% of the area", "known deposits", *[f"layer {c[3:]}" for c in tops]],
                            [[int(t.target), _num(t.mean_score), int(t.n_cells), f"{getattr(t, acol):.4g}", f"{getattr(t, 'area_pct', float('nan')):.2f}", int(t.n_deposits),
                              *[_top(t, c) for c in tops]] for t in targets.head(30).itertuples()]))
    if element_table:
        parts.append("<h2>Element selection</h2>")
        keys = list(element_table[0])
        parts.append(_table(keys, [[r.get(k, "") for k in keys] for r in element_table]))
    if ensemble_stats:
        parts.append("<h2>Ensemble (paper 003, Table 2)</h2>")
        parts.append(_ensemble_table(ensemble_stats))
    if settings:
        parts.append("<h2>Settings</h2><pre>" + _e(json.dumps(settings, indent=1, default=str)) + "</pre>")
    return parts


def _top(t, col: str) -> str:
    """'layer (+0.42)': a target's contributing layer and its mean attribution (logit margin)."""
    name, v = getattr(t, col), getattr(t, f"{col}_value")
    return f"{name} ({v:+.2f})" if name else ""


def _ensemble_table(ensemble_stats: Mapping) -> str:
    cols = ("predicted_ore", "known_ore_predicted_ore", "unknown_predicted_ore", "non_ore_predicted_ore")
    erows = []
    for group, key in (("models", "models_spread"), ("ensembles", "ensembles_spread")):
        for name, r in ensemble_stats[group].items():
            erows.append([group, name, *[r[c] for c in cols]])
        for stat, label in (("std", "standard deviation"), ("cv", "coefficient of variation")):
            erows.append([group, label, *[_num(ensemble_stats[key][stat][c], ".2f") for c in cols]])
    return _table(["group", "member", "predicted ore", "known ore → ore", "unknown → ore", "non-ore → ore"], erows)
