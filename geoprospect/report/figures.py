"""PNG figures of the report (matplotlib, Agg backend). Each function writes one file atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from geoprospect.grid import GridSpec
from geoprospect.io.atomic import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path) -> Path:
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    _plt().close(fig)
    return out


def map_figure(score: np.ndarray, grid: GridSpec, deposits_xy: np.ndarray, out: Path, *, title: str, label: str = "deposit probability", vmin: float | None = 0.0, vmax: float | None = 1.0, targets=None, cmap: str = "RdYlBu_r") -> Path:
    """A raster on its grid with the known deposits (and target outlines if given)."""
    plt = _plt()
    x0, y0, x1, y1 = grid.bounds
    fig, ax = plt.subplots(figsize=(7, 6.2), dpi=110)
    im = ax.imshow(np.ma.masked_invalid(score), extent=(x0, x1, y0, y1), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    dep = np.asarray(deposits_xy).reshape(-1, 2)
    if dep.size:
        ax.scatter(dep[:, 0], dep[:, 1], s=14, marker="^", facecolor="white", edgecolor="black", linewidth=0.6, label="known deposit")
    if targets is not None and len(targets):
        targets.boundary.plot(ax=ax, color="black", linewidth=0.8)
        for _, t in targets.head(20).iterrows():
            p = t.geometry.representative_point()
            ax.annotate(str(t["target"]), (p.x, p.y), fontsize=7, fontweight="bold", ha="center")
    ax.set_title(title, fontsize=10)
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=6)
    fig.colorbar(im, ax=ax, label=label, shrink=0.8)
    if dep.size:
        ax.legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    return _save(fig, out)


def success_rate_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], out: Path, *, title: str = "Success-rate curve") -> Path:
    """curves: name -> (area fractions, captured fractions, AUC)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.6), dpi=110)
    for name, (a, c, auc) in curves.items():
        ax.plot(a, c, lw=1.3, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="random")
    for f in (0.05, 0.1, 0.2):
        ax.axvline(f, color="grey", lw=0.5, ls="--")
    ax.set_xlabel("fraction of area (cells ranked by score)")
    ax.set_ylabel("fraction of deposits")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _save(fig, out)


def pa_figure(threshold: np.ndarray, rate: np.ndarray, area: np.ndarray, inter: tuple[float, float, float], out: Path) -> Path:
    """Prediction-area plot: deposits predicted and area occupied against the score threshold."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.2), dpi=110)
    # thresholds descend; plot against the score (x) as in Yousefi & Carranza's P-A plots
    ax.plot(threshold, 100 * rate, color="tab:red", lw=1.3, label="deposits predicted (%)")
    ax2 = ax.twinx()
    ax2.plot(threshold, 100 * (1 - area), color="tab:blue", lw=1.3, label="area not occupied (%)")
    ax2.invert_yaxis() if False else None
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
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 4.4), dpi=110)
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
    plt = _plt()
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(3.6, 3.2), dpi=110)
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


def loss_figure(rows: Sequence[Mapping[str, float]], out: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=110)
    ep = [r["epoch"] for r in rows]
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if rows and key in rows[0]:
            ax.plot(ep, [r[key] for r in rows], style, label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_title("Training loss", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, out)
