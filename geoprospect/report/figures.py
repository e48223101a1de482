"""Every figure of geoprospect: the map (``map.png`` of a run and the report's), the map beside
its uncertainty, success-rate, P-A, ROC, reliability diagram, confusion matrix and training curves. PNG, one file per function, written atomically.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot): drawing one never
switches the backend of a notebook or keeps a figure open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from geoprospect.evaluation.metrics import mean_curve
from geoprospect.grid import GridSpec, metres_per_unit
from geoprospect.io.atomic import atomic_path


def _subplots(figsize: tuple[float, float], dpi: int, **kw):
    """A (figure, axes) pair that belongs to no pyplot state machine."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    return fig, fig.subplots(**kw)


def _save(fig, out: Path) -> Path:
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    return out


def _nice_length(span: float) -> float:
    """A round length (1, 2 or 5 x 10^k) close to a fifth of ``span``."""
    target = span / 5.0
    if not np.isfinite(target) or target <= 0:
        return 0.0
    k = 10.0 ** np.floor(np.log10(target))
    return float(max(m * k for m in (1.0, 2.0, 5.0) if m * k <= target))


def _scale_bar(ax, grid: GridSpec) -> None:
    """A scale bar in the lower right, in m or km when the CRS's unit converts to metres (feet
    included), else in map units (projected grids only: degrees have no fixed length)."""
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    if grid.crs is None or grid.crs.is_geographic:
        return
    x0, _, x1, _ = grid.bounds
    f = metres_per_unit(grid.crs)
    length = _nice_length((x1 - x0) * (f or 1.0))
    if length <= 0:
        return
    if f is None:
        label = f"{length:g} map units"
    else:
        label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    bar = AnchoredSizeBar(ax.transData, length / (f or 1.0), label, "lower right", pad=0.4, sep=3, frameon=True, size_vertical=(grid.bounds[3] - grid.bounds[1]) / 150, fontproperties={"size": 7})
    bar.patch.set_alpha(0.8)
    ax.add_artist(bar)


def _wrapped(title: str, chars: int) -> str:
    """``title`` broken into lines of at most ``chars`` characters (its own line breaks kept)."""
    import textwrap

    return "\n".join(line for part in title.split("\n") for line in (textwrap.wrap(part, max(chars, 8), break_long_words=True) or [""]))


def _fit_titles(fig, titles: Mapping) -> None:
    """Lay ``fig`` out (tight_layout) with each axes' title (``titles``: axes -> text) wrapped so
    that it lies inside the figure: a long run name is wrapped, never clipped at the edge."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    chars = {ax: len(t) for ax, t in titles.items()}
    for _ in range(12):
        for ax, t in titles.items():
            ax.set_title(_wrapped(t, chars[ax]), fontsize=ax.title.get_fontsize())
        fig.tight_layout()
        wide = [ax for ax in titles if not _inside(ax.title.get_window_extent(renderer), fig.bbox)]
        if not wide:
            return
        for ax in wide:
            chars[ax] = int(min(chars[ax], max(len(line) for line in ax.title.get_text().split("\n"))) * 0.85)


def _inside(box, frame, pad: float = 2.0) -> bool:
    """``box`` lies within ``frame`` (display units), ``pad`` pixels from its left and right edges."""
    return box.x0 >= frame.x0 + pad and box.x1 <= frame.x1 - pad


def _draw_outline(ax, score: np.ndarray, grid: GridSpec, outline) -> None:
    """The study area's outline (``outline``: shapely polygons in the grid's CRS), else the edge of
    the cells with a value, as a black line with a legend entry."""
    from matplotlib.lines import Line2D

    if outline is not None and len(outline):
        import geopandas as gpd

        gpd.GeoSeries(list(outline)).boundary.plot(ax=ax, color="black", linewidth=1.2, linestyle="--")
        label = "study area"
    else:
        ok = np.isfinite(np.asarray(score, dtype=np.float64))
        if ok.all() or not ok.any():
            return
        x0, y0, x1, y1 = grid.bounds
        xs, ys = grid.x_centers(), grid.y_centers()
        ax.contour(xs, ys, ok.astype(np.float32), levels=[0.5], colors="black", linewidths=1.2, linestyles="--")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        label = "edge of the data"
    ax.add_line(Line2D([], [], color="black", linewidth=1.2, linestyle="--", label=label))


def _north_arrow(ax) -> None:
    """An arrow marked N in the upper right (the grid is north-up: no rotation in its transform)."""
    ax.annotate("N", xy=(0.95, 0.95), xytext=(0.95, 0.84), xycoords="axes fraction", ha="center", va="center", fontsize=9, fontweight="bold",
                arrowprops={"facecolor": "black", "edgecolor": "black", "width": 3, "headwidth": 9, "headlength": 8},
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.7})


def _draw_deposits(ax, deposits_xy: np.ndarray, held_out: np.ndarray | None, label: str = "known deposits") -> None:
    dep = np.asarray(deposits_xy, dtype=np.float64).reshape(-1, 2)
    if not dep.size:
        return
    if held_out is None:
        ax.scatter(dep[:, 0], dep[:, 1], s=18, marker="^", facecolor="white", edgecolor="black", linewidth=0.7, label=label)
        return
    ho = np.asarray(held_out, dtype=bool)
    if (~ho).any():
        ax.scatter(dep[~ho, 0], dep[~ho, 1], s=22, marker="^", facecolor="white", edgecolor="black", linewidth=0.8, label="known deposit (training area)")
    if ho.any():
        ax.scatter(dep[ho, 0], dep[ho, 1], s=30, marker="*", facecolor="lime", edgecolor="black", linewidth=0.6, label="held-out deposit")


def _draw_targets(ax, targets) -> None:
    targets.boundary.plot(ax=ax, color="black", linewidth=0.8, label="target area")
    for _, t in targets.head(20).iterrows():
        p = t.geometry.representative_point()
        ax.annotate(str(t["target"]), (p.x, p.y), fontsize=7, fontweight="bold", ha="center")


def map_figure(
    score: np.ndarray,
    grid: GridSpec,
    deposits_xy: np.ndarray,
    out: str | Path,
    *,
    title: str,
    label: str = "deposit probability",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    cmap: str = "RdYlBu_r",
    targets=None,
    held_out: np.ndarray | None = None,
    test_line: tuple[str, float] | None = None,
    deposit_label: str = "known deposits",
    outline=None,
) -> Path:
    """PNG of a raster on its grid: colour bar, known deposits, scale bar, north arrow, legend.

    Args:
        score: (H, W) values on ``grid`` (NaN = not drawn), e.g. the deposit probability.
        grid: the raster's grid (any CRS; the axes are in its map units).
        deposits_xy: (N, 2) known deposits in the grid's CRS.
        out: the PNG to write (atomically).
        label, vmin, vmax, cmap: colour bar label and range (None = the data's), colour map.
        targets: target-area GeoDataFrame (outlined and numbered) or None.
        held_out: (N,) booleans: deposits of the held-out area (drawn as stars) or None.
        test_line: ("x" or "y", coordinate) of the test block's edge (dashed) or None.
        deposit_label: the deposits' legend entry (run config ``deposits.label``).
        outline: the study area's polygons (shapely, grid CRS) to outline; None: the edge of the
            cells with a value is drawn instead.
    """
    fig, ax = _subplots((7.5, 6.5), 120)
    _draw_map(fig, ax, score, grid, deposits_xy, title=title, label=label, vmin=vmin, vmax=vmax, cmap=cmap, targets=targets, held_out=held_out, test_line=test_line,
              deposit_label=deposit_label, outline=outline)
    _fit_titles(fig, {ax: title})
    return _save(fig, Path(out))


def area_percentile(score: np.ndarray) -> np.ndarray:
    """(H, W) percentile of each cell's score among the cells with a score (100 = the highest,
    ties share their mean rank; NaN stays NaN): a colour scale that shows the ranking whatever
    the calibrated probabilities' range (0.11-0.17 with a dozen deposits)."""
    from scipy.stats import rankdata

    s = np.asarray(score, dtype=np.float64)
    out = np.full(s.shape, np.nan)
    ok = np.isfinite(s)
    if ok.any():
        out[ok] = 100.0 * (rankdata(s[ok]) - 0.5) / ok.sum()
    return out


def map_pair_figure(left: np.ndarray, right: np.ndarray, grid: GridSpec, deposits_xy: np.ndarray, out: str | Path, *, titles: tuple[str, str],
                    labels: tuple[str, str] = ("deposit probability", "std"), right_cmap: str = "viridis", targets=None,
                    left_range: tuple[float | None, float | None] = (0.0, 1.0), deposit_label: str = "known deposits", outline=None) -> Path:
    """Two maps of one grid side by side (e.g. the prospectivity and its uncertainty), each with
    its colour bar, the deposits, the study-area outline, scale bar and north arrow (as
    :func:`map_figure`). The left map spans ``left_range`` (None = the data's); the right one [0, its maximum]."""
    fig, axes = _subplots((13.5, 6.0), 110, nrows=1, ncols=2)
    kw = {"targets": targets, "held_out": None, "test_line": None, "deposit_label": deposit_label, "outline": outline}
    _draw_map(fig, axes[0], left, grid, deposits_xy, title=titles[0], label=labels[0], vmin=left_range[0], vmax=left_range[1], cmap="RdYlBu_r", **kw)
    _draw_map(fig, axes[1], right, grid, deposits_xy, title=titles[1], label=labels[1], vmin=0.0, vmax=None, cmap=right_cmap, **kw)
    _fit_titles(fig, dict(zip(axes, titles)))
    return _save(fig, Path(out))


def _draw_map(fig, ax, score: np.ndarray, grid: GridSpec, deposits_xy: np.ndarray, *, title: str, label: str, vmin: float | None, vmax: float | None, cmap: str,
              targets, held_out: np.ndarray | None, test_line: tuple[str, float] | None, deposit_label: str = "known deposits", outline=None) -> None:
    """One map on ``ax``: raster, colour bar, study-area outline, deposits, targets, test line,
    scale bar, north arrow, legend; the title wrapped to the axes' width."""
    x0, y0, x1, y1 = grid.bounds
    im = ax.imshow(np.ma.masked_invalid(score), extent=(x0, x1, y0, y1), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    _draw_outline(ax, score, grid, outline)
    _draw_deposits(ax, deposits_xy, held_out, deposit_label)
    if targets is not None and len(targets):
        _draw_targets(ax, targets)
    if test_line is not None:
        axis, value = test_line
        (ax.axhline if axis == "y" else ax.axvline)(value, color="black", linestyle="--", linewidth=1, label="test block edge")
    ax.set_title(title, fontsize=10)
    unit = grid.crs.axis_info[0].unit_name if grid.crs is not None and grid.crs.axis_info else "map units"
    ax.set_xlabel(f"x ({unit})", fontsize=8)
    ax.set_ylabel(f"y ({unit})", fontsize=8)
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=6)
    fig.colorbar(im, ax=ax, label=label, shrink=0.8)
    _scale_bar(ax, grid)
    _north_arrow(ax)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", fontsize=7, framealpha=0.8)


def reliability_figure(curves: Mapping[str, Sequence[Mapping]], out: str | Path, *, title: str = "Reliability (out-of-fold windows)") -> Path:
    """Reliability diagram: observed deposit fraction against mean predicted probability per bin.

    ``curves``: name -> bins of :func:`geoprospect.evaluation.calibration.reliability_bins`
    (lo, hi, n, mean_prob, observed); empty bins are skipped. Below: windows per bin (log scale).
    """
    fig, (ax, axh) = _subplots((5.2, 5.6), 110, nrows=2, ncols=1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="perfectly calibrated")
    for i, (name, bins) in enumerate(curves.items()):
        full = [b for b in bins if b["n"]]
        ax.plot([b["mean_prob"] for b in full], [b["observed"] for b in full], marker="o", ms=4, lw=1.3, label=name)
        width = (bins[0]["hi"] - bins[0]["lo"]) / (len(curves) + 1) if bins else 0.1  # bars of the curves side by side in each bin
        axh.bar([b["lo"] + (i + 0.5) * width for b in bins], [b["n"] for b in bins], width=width, label=name)
    ax.set_ylabel("observed fraction of deposit windows")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    axh.set_yscale("log")
    axh.set_xlabel("predicted probability")
    axh.set_ylabel("windows")
    fig.tight_layout()
    return _save(fig, Path(out))


def success_rate_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], out: Path, *, title: str = "Success-rate curve") -> Path:
    """curves: name -> (area fractions, captured fractions, AUC)."""
    fig, ax = _subplots((5, 4.6), 110)
    for name, (a, c, auc) in curves.items():
        ax.plot(a, c, lw=1.3, label=f"{name} (AUC {auc:.3f})")
    _success_axes(ax, title)
    fig.tight_layout()
    return _save(fig, out)


def oof_success_rate_figure(layouts: Sequence[Mapping], out: Path, *, name: str, title: str = "Success-rate curve, out of fold") -> dict:
    """The out-of-fold success-rate curve of each block layout (thin) and their mean (thick).

    ``layouts``: one ``{"area", "captured", "auc"}`` per layout
    (:func:`~geoprospect.evaluation.oof.layout_curves`, ranked as the out-of-fold table). The
    legend states the mean AUC over the layouts (± their std with several), which is the
    table's ``success_rate_auc``. Returns what the figure states: ``{"auc", "std", "layouts", "label"}``.
    """
    aucs = [float(c["auc"]) for c in layouts]
    auc, std = float(np.mean(aucs)), float(np.std(aucs))
    n = len(aucs)
    label = f"{name}, out of fold: AUC {auc:.3f}" + (f" ± {std:.3f} (mean of {n} block layouts)" if n > 1 else "")
    fig, ax = _subplots((5.4, 4.8), 110)
    for i, c in enumerate(layouts):
        if n > 1:
            ax.plot(c["area"], c["captured"], lw=0.7, color="tab:blue", alpha=0.45, label="each block layout" if i == 0 else None)
    x, y = mean_curve([(np.asarray(c["area"]), np.asarray(c["captured"])) for c in layouts])
    ax.plot(x, y, lw=1.8, color="tab:blue", label=f"{name}: mean of the layouts (AUC {auc:.3f})" if n > 1 else f"{name} (AUC {auc:.3f})")
    _success_axes(ax, f"{title}\n{label}")
    _fit_titles(fig, {ax: f"{title}\n{label}"})
    _save(fig, out)
    return {"auc": auc, "std": std, "layouts": aucs, "label": label}


def _success_axes(ax, title: str) -> None:
    """Random line, top 5/10/20 % guides, labels, title and legend of a success-rate plot."""
    ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="random")
    for f in (0.05, 0.1, 0.2):
        ax.axvline(f, color="grey", lw=0.5, ls="--")
    ax.set_xlabel("fraction of area (cells ranked by score)")
    ax.set_ylabel("fraction of deposits")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="best")


def pa_figure(threshold: np.ndarray, rate: np.ndarray, area: np.ndarray, inter: tuple[float, float, float], out: Path) -> Path:
    """Prediction-area plot: deposits predicted and area occupied against the score threshold."""
    fig, ax = _subplots((5, 4.2), 110)
    # thresholds descend; plot against the score (x) as in Yousefi & Carranza's P-A plots
    ax.plot(threshold, 100 * rate, color="tab:red", lw=1.3, label="deposits predicted (%)")
    ax2 = ax.twinx()
    ax2.plot(threshold, 100 * (1 - area), color="tab:blue", lw=1.3, label="area not occupied (%)")
    ax.axvline(inter[2], color="k", lw=0.8, ls="--")
    ax.set_xlabel("score threshold")
    ax.set_ylabel("deposits predicted (%)", color="tab:red")
    ax2.set_ylabel("100 - area occupied (%)", color="tab:blue")
    ax.set_title(f"P-A plot: {100 * inter[0]:.0f}% of deposits in {100 * inter[1]:.0f}% of the area", fontsize=10)
    ax.set_ylim(0, 100)
    ax2.set_ylim(0, 100)
    fig.tight_layout()
    return _save(fig, out)


def roc_figure(rocs: Mapping[str, tuple[Sequence[float], Sequence[float], float | None]], out: Path) -> Path:
    """ROC curves: name -> (false positive rates, true positive rates, ROC AUC or None)."""
    fig, ax = _subplots((4.6, 4.4), 110)
    for name, (fpr, tpr, auc) in rocs.items():
        if len(fpr):
            ax.plot(fpr, tpr, lw=1.3, label=f"{name} (AUC {auc:.3f})" if auc is not None else name)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC, held-out windows", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _save(fig, out)


def confusion_figure(cm: Sequence[Sequence[int]], names: Sequence[str], out: Path, *, title: str) -> Path:
    """A confusion matrix (rows: true class, columns: predicted) with the counts written in."""
    cm = np.asarray(cm)
    fig, ax = _subplots((3.6, 3.2), 110)
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="black", fontsize=9)
    ax.set_xticks(range(len(names)), names, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, out)


def loss_figure(rows: Sequence[Mapping[str, float | None]], out: str | Path, *, title: str = "Training curves") -> Path:
    """Loss (and accuracy, when the rows have it) per epoch, training and validation.

    ``rows``: one mapping per epoch with ``epoch`` and any of loss, val_loss, accuracy,
    val_accuracy (None or missing = not measured that epoch).
    """
    ep = [r["epoch"] for r in rows]
    panels = [what for what in ("loss", "accuracy") if any(r.get(k) is not None for r in rows for k in (what, f"val_{what}"))] or ["loss"]
    fig, axes = _subplots((4.6 * len(panels), 3.6), 110, nrows=1, ncols=len(panels), squeeze=False)
    for ax, what in zip(axes[0], panels, strict=True):
        for key, style, name in ((what, "-", "training"), (f"val_{what}", "--", "validation")):
            vals = [r.get(key) for r in rows]
            if any(v is not None for v in vals):
                ax.plot(ep, [np.nan if v is None else v for v in vals], style, marker="o", ms=3, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy" if what == "loss" else "accuracy")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, Path(out))


def importance_figure(layers: Mapping[str, Mapping[str, float]], out: Path, *, title: str = "Permutation importance (out of fold)") -> Path:
    """Horizontal bars: drop in out-of-fold success-rate AUC per layer (``drop_success_rate_auc``,
    error bar ``std``), largest on top."""
    names = list(layers)[::-1]
    drop = [layers[n]["drop_success_rate_auc"] for n in names]
    std = [layers[n]["std"] for n in names]
    fig, ax = _subplots((5.5, 0.8 + 0.28 * max(len(names), 1)), 110)
    ax.barh(names, drop, xerr=std, color=["tab:blue" if d >= 0 else "tab:grey" for d in drop], capsize=2)
    ax.axvline(0, color="k", lw=0.6)
    ax.set_xlabel("drop in success-rate AUC when the layer is permuted")
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def dominant_layer_figure(values: np.ndarray, names: Sequence[str], grid: GridSpec, deposits_xy: np.ndarray, out: Path, *, title: str = "Most contributing layer per window") -> Path:
    """Map of the layer with the largest attribution in each window (``values``: (layers, H, W)
    on ``grid``, NaN = not scored), one colour per layer, with the known deposits."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    finite = np.isfinite(values).any(axis=0)
    top = np.where(finite, np.argmax(np.where(np.isfinite(values), values, -np.inf), axis=0), -1)
    shown = [int(i) for i in np.unique(top[finite])]
    colours = [tuple(c) for c in _tab20(len(names))]
    x0, y0, x1, y1 = grid.bounds
    fig, ax = _subplots((7.5, 6.5), 120)
    ax.imshow(np.ma.masked_less(top, 0), extent=(x0, x1, y0, y1), cmap=ListedColormap(colours), vmin=-0.5, vmax=len(names) - 0.5, interpolation="nearest")
    _draw_deposits(ax, deposits_xy, None)
    handles = [Patch(color=colours[i], label=names[i]) for i in shown]
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], loc="lower left", fontsize=6, framealpha=0.8)
    ax.set_title(title, fontsize=10)
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=6)
    _scale_bar(ax, grid)
    fig.tight_layout()
    return _save(fig, out)


def _tab20(n: int) -> np.ndarray:
    from matplotlib import colormaps

    return colormaps["tab20"](np.arange(max(n, 1)) % 20)
