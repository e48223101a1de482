"""Per-window attribution of a model's score to the evidence layers: ``attribution.tif``.

For every scored window position of a prediction (the window-stride grid of
``prospectivity.tif``), the contribution of each evidence layer (a group of stack bands: the
class bands of a categorical layer together) to the window's logit margin:

* models with gradients (CNNs): **integrated gradients** (Sundararajan et al. 2017, captum's
  :class:`~captum.attr.IntegratedGradients`, Gauss-Legendre steps) of the logit margin, with
  the reference window as baseline, summed over the window's cells and the layer's bands.
  Completeness: the layers' attributions add up to margin(window) - margin(reference window),
  up to the integration error.
* models without gradients (the scikit-learn baselines, ``blend_cell`` included): **occlusion**:
  margin(window) - margin(window with the layer's bands set to the reference). For a per-cell
  linear model this is coefficient x z-value; for a forest it is the score the layer adds
  over its reference value, the others fixed (no completeness: interactions are not shared out).

The reference (:func:`reference_values`) is every band at its mean (0 after z-scoring), except
the class bands of a categorical layer: they take the one-hot values of the layer's most common
class, a class that exists (a categorical layer at its band means would be a fractional
lithology). Integrated gradients' path from that reference to the window still passes through
fractional class values: that is the method.

Positive values push the window towards "deposit". Same sign convention and units (logit
margin) for both methods, so ``attribution.tif`` reads alike for every model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from geoprospect.device import resolve_device
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import Stack, write_raster
from geoprospect.models.baselines import scoring_batch
from geoprospect.windows.dataset import WindowDataset

IG = "integrated_gradients"
OCCLUSION = "occlusion"


@dataclass
class Attribution:
    """Per-layer attribution on the window-stride grid.

    Attributes:
        values: (layers, rows, cols) float64 logit-margin contribution, NaN where no window was scored.
        names: the evidence layer of each band.
        grid: the window-stride grid (the grid of ``prospectivity.tif``).
        method: :data:`IG` or :data:`OCCLUSION`.
    """

    values: np.ndarray
    names: list[str]
    grid: GridSpec
    method: str

    def mean(self) -> dict[str, float]:
        """Mean attribution of each layer over the scored windows."""
        return {n: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for n, v in zip(self.names, self.values)}


def has_gradients(model: nn.Module) -> bool:
    """True for models trained by gradients (parameters that require grad): CNNs, not scikit-learn."""
    return any(p.requires_grad for p in model.parameters())


def _margin(model: nn.Module):
    def f(x: torch.Tensor) -> torch.Tensor:
        lg = model(x)
        return lg[:, 1] - lg[:, 0]

    return f


def _group_sum(a: torch.Tensor, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """(n, C, h, w) per-cell attribution -> (n, G) summed over cells and each group's bands."""
    per_band = a.detach().double().sum(dim=(2, 3)).cpu().numpy()
    return np.stack([per_band[:, list(g)].sum(axis=1) for g in groups], axis=1)


def reference_values(stack: Stack, categorical: Mapping[str, Sequence[int]]) -> np.ndarray:
    """(bands,) z-scored values of the reference window (module docstring): 0 (the band's mean)
    for every band; for the class bands of each ``categorical`` layer (layer -> band indices)
    the one-hot values of its most common class over the stack's valid cells (a class band's
    mean is its class's share), or of "none of the classes" (every band 0) where that is
    commoner (a layer of chosen classes, or unmapped ground read as 0)."""
    mean, std = (np.asarray(m, dtype=np.float64) for m in stack.moments())
    std = np.where(std > 0, std, 1.0)
    ref = np.zeros(len(mean))
    for bands in categorical.values():
        b = np.asarray(list(bands), dtype=np.int64)
        share = np.nan_to_num(mean[b])
        onehot = np.zeros(len(b))
        if share.max() >= 1.0 - share.sum():
            onehot[int(np.argmax(share))] = 1.0
        ref[b] = (onehot - mean[b]) / std[b]
    return np.nan_to_num(ref)


def _integrated_gradients(model: nn.Module, x: torch.Tensor, groups: Sequence[Sequence[int]], steps: int, ref: torch.Tensor) -> np.ndarray:
    # captum: the maintained reference implementation of integrated gradients (convergence delta, steps)
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(_margin(model))
    base = ref.to(x.dtype)[None, :, None, None].expand_as(x).contiguous()
    return _group_sum(ig.attribute(x, baselines=base, n_steps=steps, internal_batch_size=max(len(x), 1) * 4), groups)


@torch.no_grad()
def _occlusion(model: nn.Module, x: torch.Tensor, groups: Sequence[Sequence[int]], ref: torch.Tensor) -> np.ndarray:
    """One forward over the windows and their copies with each group set to the reference."""
    copies = [x]
    for g in groups:
        xo = x.clone()
        xo[:, list(g)] = ref[list(g)].to(x.dtype)[None, :, None, None]
        copies.append(xo)
    m = _margin(model)(torch.cat(copies)).double().cpu().numpy().reshape(len(copies), len(x))
    return (m[0][None, :] - m[1:]).T


def window_attribution(
    model: nn.Module,
    norm: np.ndarray,
    offsets: np.ndarray,
    size: int,
    groups: Mapping[str, Sequence[int]],
    *,
    method: str = "auto",
    steps: int = 16,
    crop: int | None = None,
    batch_size: int = 64,
    device: str | torch.device = "auto",
    reference: np.ndarray | None = None,
) -> tuple[np.ndarray, str]:
    """(N, layers) float64 attribution of each window at ``offsets`` ((N, 2) upper-left pixel in
    the z-scored (bands, H, W) ``norm``) to each layer group; returns it and the method used.
    ``method``: "auto" (integrated gradients when the model has gradients, else occlusion),
    :data:`IG` or :data:`OCCLUSION`; ``steps``: integration steps; ``reference``: (bands,)
    z-scored values of the reference window (:func:`reference_values`; default 0, every band's mean)."""
    if method == "auto":
        method = IG if has_gradients(model) else OCCLUSION
    dev = resolve_device(device)
    model = model.to(dev).eval()
    side = size if crop is None else crop
    ds = WindowDataset(norm, np.asarray(offsets, dtype=np.int64).reshape(-1, 2) + (size - side) // 2, side)
    gs = [list(g) for g in groups.values()]
    out = np.empty((len(ds), len(gs)))
    ref = torch.as_tensor(np.zeros(norm.shape[0]) if reference is None else np.asarray(reference, dtype=np.float64), dtype=torch.float32, device=dev)
    if method == OCCLUSION:  # one forward holds (layers + 1) copies of each window
        cells = (len(gs) + 1) * norm.shape[0] * side * side
        batch_size = scoring_batch(model, cells, max(1, batch_size // (len(gs) + 1)))
    for b0 in range(0, len(ds), batch_size):
        i = np.arange(b0, min(b0 + batch_size, len(ds)))
        x = ds.batch(i).to(dev)
        out[i] = _integrated_gradients(model, x, gs, steps, ref) if method == IG else _occlusion(model, x, gs, ref)
    return out, method


def write_attribution(attr: Attribution, out: str | Path, *, model_name: str = "") -> Path:
    """Write ``attribution.tif``: one float32 band per evidence layer (band description = the
    layer's name), NaN written as nodata, on the window-stride grid."""
    return write_raster(out, attr.values.astype(np.float32), attr.grid, attr.names,
                        tags={"GEOPROSPECT_KIND": "attribution", "GEOPROSPECT_ATTRIBUTION": attr.method, "GEOPROSPECT_MODEL": model_name,
                              "GEOPROSPECT_UNITS": "logit margin (positive: towards deposit)"})
