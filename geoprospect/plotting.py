"""Figures: the prospectivity map with the known deposits on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geoprospect.io.atomic import atomic_path
from geoprospect.prediction.predict import Prediction


def plot_map(pred: Prediction, deposits_xy: np.ndarray, out: str | Path, *, title: str = "Prospectivity", held_out: np.ndarray | None = None, test_line: tuple[str, float] | None = None) -> Path:
    """PNG of the deposit probability with deposits (held-out ones highlighted) and the test-block edge."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = pred.grid
    xmin, ymin, xmax, ymax = g.bounds
    fig, ax = plt.subplots(figsize=(7.5, 6.5), dpi=120)
    im = ax.imshow(np.ma.masked_invalid(pred.prob), extent=(xmin, xmax, ymin, ymax), cmap="RdYlBu_r", vmin=0, vmax=1, interpolation="nearest")
    dep = np.asarray(deposits_xy).reshape(-1, 2)
    ho = np.zeros(len(dep), dtype=bool) if held_out is None else held_out
    if (~ho).any():
        ax.scatter(dep[~ho, 0], dep[~ho, 1], s=22, marker="^", facecolor="white", edgecolor="black", linewidth=0.8, label="known deposit (training area)")
    if ho.any():
        ax.scatter(dep[ho, 0], dep[ho, 1], s=30, marker="*", facecolor="lime", edgecolor="black", linewidth=0.6, label="held-out deposit")
    if test_line is not None:
        axis, value = test_line
        (ax.axhline if axis == "y" else ax.axvline)(value, color="black", linestyle="--", linewidth=1, label="test block edge")
    ax.set_title(title)
    ax.set_xlabel(f"x ({g.crs.axis_info[0].unit_name if g.crs.axis_info else 'map units'})")
    ax.set_ylabel("y")
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
    fig.colorbar(im, ax=ax, label="deposit probability", shrink=0.8)
    ax.legend(loc="lower left", fontsize=7, framealpha=0.8)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return out
