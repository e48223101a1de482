"""Small fully-convolutional prospectivity CNN for few deposits (issue 17), self-contained.

The model is a window CNN evaluated densely: the logit of a cell depends only on the
``window`` x ``window`` cells centred on it (receptive field), so scoring every window of the
stack one by one and running the net once over the whole map give the same numbers (up to the
zero padding at the map edge, which equals windows padded with the standardised mean 0).
Training uses the whole map at once with a masked loss (every training cell is one window
centre), which is ~window² times cheaper than cutting overlapping windows.

Recipe (``TrainRecipe`` defaults are the recommended ones, see benchmarks/results/skill.md):
  - input: bands standardised over the study area, NaN -> 0;
  - net: 1x1 conv (C -> width) + ReLU, three 3x3 convs (dilation 1, 2, 4: receptive field 15)
    + ReLU + dropout, 1x1 conv -> 1 logit; plus a linear per-cell path (1x1 conv C -> 1) added
    to the logit (the net learns a correction to a per-cell logistic);
  - labels (positive-unlabelled): soft target exp(-d²/2σ²) for cells within ``radius`` cells of
    a training deposit (σ = radius / 2), 0 elsewhere (unlabelled, treated as background);
    the loss is BCE weighted so that labelled-near-deposit and background cells carry equal
    total weight; only training cells (outside the test fold and its buffer) enter the loss;
  - augmentation: one of the 8 dihedral transforms of the whole map per step; input channel
    dropout; scoring = mean logit over the 8 transforms;
  - AdamW, full batch (the whole map per step), ``steps`` steps, cosine learning-rate decay;
  - deep ensemble: mean of the logits of ``members`` seeds (spread = uncertainty).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


class SmallProspectivityCNN(nn.Module):
    """(B, C, H, W) -> (B, 1, H, W) logits; each output cell sees a ``1 + 2*sum(dilations)`` window."""

    def __init__(self, in_channels: int, width: int = 16, dilations: tuple[int, ...] = (1, 2, 4), dropout: float = 0.2, band_dropout: float = 0.1, linear_path: bool = True):
        super().__init__()
        self.band_dropout = nn.Dropout2d(band_dropout)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 1), nn.ReLU()]
        for d in dilations:
            layers += [nn.Conv2d(width, width, 3, padding=d, dilation=d), nn.ReLU(), nn.Dropout2d(dropout)]
        layers.append(nn.Conv2d(width, 1, 1))
        self.body = nn.Sequential(*layers)
        self.linear = nn.Conv2d(in_channels, 1, 1) if linear_path else None
        self.window = 1 + 2 * sum(dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.band_dropout(x)
        out = self.body(x)
        return out + self.linear(x) if self.linear is not None else out

    def window_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, w, w) windows -> (B, 2) logits [0, logit of the centre cell] (the library's model contract)."""
        c = x.shape[-1] // 2
        z = self.forward(x)[:, 0, x.shape[-2] // 2, c]
        return torch.stack([torch.zeros_like(z), z], dim=1)


@dataclass
class TrainRecipe:
    width: int = 8
    dilations: tuple[int, ...] = (1, 2, 4)
    dropout: float = 0.2
    band_dropout: float = 0.1
    linear_path: bool = True
    radius: float = 2.0  # cells: soft positives within this distance of a deposit
    steps: int = 100
    lr: float = 1e-2
    weight_decay: float = 1e-2
    dihedral: bool = False
    members: int = 1  # deep ensemble size (seeds)
    threads: int = 1
    crop: int = 64  # maps larger than full_map_cells train on batches of crops of this side
    batch: int = 4  # crops per step (centred on training cells drawn uniformly; loss weights as on the full map)
    full_map_cells: int = 30_000
    init_logistic: float = 0.0  # > 0: start from a per-cell logistic regression (this C) in the linear path, body output 0


def soft_targets(deposit_mask: np.ndarray, radius: float) -> np.ndarray:
    """exp(-d²/2σ²), σ = radius/2, for cells within ``radius`` cells of a deposit cell; else 0."""
    from scipy.ndimage import distance_transform_edt

    if radius <= 0:
        return deposit_mask.astype(np.float32)
    d = distance_transform_edt(~deposit_mask)
    s = radius / 2.0
    return np.where(d <= radius, np.exp(-(d**2) / (2 * s * s)), 0.0).astype(np.float32)


def _dihedral(t: torch.Tensor, k: int) -> torch.Tensor:
    t = torch.rot90(t, k % 4, dims=(-2, -1))
    return torch.flip(t, dims=(-1,)) if k >= 4 else t


def _undo(t: torch.Tensor, k: int) -> torch.Tensor:
    t = torch.flip(t, dims=(-1,)) if k >= 4 else t
    return torch.rot90(t, -(k % 4), dims=(-2, -1))


def _batch(x, tt, ww, train, recipe, g):
    """The whole map, or a batch of crops whose loss counts interior cells only (weights rebalanced)."""
    H, W = train.shape
    if H * W <= recipe.full_map_cells or recipe.crop >= min(H, W):
        return x, tt, ww
    c, m = recipe.crop, (1 + 2 * sum(recipe.dilations)) // 2
    ar, ac = np.nonzero(train)
    xs, ts, ws = [], [], []
    for _ in range(recipe.batch):
        i = g.integers(ar.size)  # crops centred on training cells drawn uniformly: an unbiased estimate of the full-map loss
        r0 = int(np.clip(ar[i] - c // 2, 0, H - c))
        c0 = int(np.clip(ac[i] - c // 2, 0, W - c))
        xs.append(x[:, :, r0 : r0 + c, c0 : c0 + c])
        ts.append(tt[:, :, r0 : r0 + c, c0 : c0 + c])
        wi = ww[:, :, r0 : r0 + c, c0 : c0 + c].clone()
        wi[..., :m, :] = 0
        wi[..., -m:, :] = 0
        wi[..., :, :m] = 0
        wi[..., :, -m:] = 0
        ws.append(wi)
    xb, tb, wb = torch.cat(xs), torch.cat(ts), torch.cat(ws)
    return xb, tb, wb / wb.sum().clamp(min=1e-12)


def _init_from_logistic(net: SmallProspectivityCNN, Z: np.ndarray, train: np.ndarray, t: np.ndarray, C: float) -> None:
    """Linear path <- a class-balanced per-cell logistic regression; the body's last conv <- 0.

    The net then starts as the per-cell logistic model and training only adds spatial corrections.
    """
    from sklearn.linear_model import LogisticRegression

    idx = np.flatnonzero(train.ravel())
    X = Z.reshape(Z.shape[0], -1).T[idx]
    y = (t.ravel()[idx] > 0).astype(int)
    lr = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(X, y)
    with torch.no_grad():
        net.linear.weight.copy_(torch.from_numpy(lr.coef_.astype(np.float32)).view_as(net.linear.weight))
        net.linear.bias.fill_(float(lr.intercept_[0]))
        last = net.body[-1]
        last.weight.zero_()
        last.bias.zero_()


def fit_score(Z: np.ndarray, train: np.ndarray, deposit_mask: np.ndarray, recipe: TrainRecipe = TrainRecipe(), seed: int = 0) -> np.ndarray:
    """Train ``recipe.members`` nets on the training cells; return the mean logit map (H, W) float64.

    Args:
        Z: (C, H, W) standardised evidence, no NaN.
        train: (H, W) bool, cells whose labels may be used.
        deposit_mask: (H, W) bool, cells holding a training deposit (inside ``train``).
    """
    torch.set_num_threads(recipe.threads)
    x = torch.from_numpy(np.ascontiguousarray(Z, dtype=np.float32))[None]
    t = soft_targets(deposit_mask & train, recipe.radius)
    pos = train & (t > 0)
    neg = train & (t == 0)
    w = np.zeros(train.shape, np.float32)
    w[pos] = 0.5 / max(pos.sum(), 1)
    w[neg] = 0.5 / max(neg.sum(), 1)
    tt = torch.from_numpy(t)[None, None]
    ww = torch.from_numpy(w)[None, None]
    out = np.zeros(train.shape, np.float64)
    for m in range(recipe.members):
        torch.manual_seed(seed * 100 + m)
        g = np.random.default_rng(seed * 100 + m)
        net = SmallProspectivityCNN(Z.shape[0], recipe.width, recipe.dilations, recipe.dropout, recipe.band_dropout, recipe.linear_path)
        if recipe.init_logistic > 0 and recipe.linear_path:
            _init_from_logistic(net, Z, train, t, recipe.init_logistic)
        opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, recipe.steps)
        net.train()
        for _ in range(recipe.steps):
            k = int(g.integers(8)) if recipe.dihedral else 0
            xb, tb, wb = _batch(x, tt, ww, train, recipe, g)
            lg = net(_dihedral(xb, k))
            loss = (nn.functional.binary_cross_entropy_with_logits(lg, _dihedral(tb, k), reduction="none") * _dihedral(wb, k)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            ks = range(8) if recipe.dihedral else [0]
            out += np.mean([_undo(net(_dihedral(x, k)), k)[0, 0].double().numpy() for k in ks], axis=0)
    return out / recipe.members


# --------------------------------------------------------------- candidates for compare_models
def _candidate(**kw):
    recipe = TrainRecipe(**kw)

    def fn(ctx, train, seed=0):
        dm = np.zeros(train.shape, bool)
        d = ctx.deposits[train.ravel()[ctx.deposits]]
        dm.ravel()[d] = True
        return fit_score(ctx.Z, train, dm, recipe, seed)

    return fn


def _nested(grid_key: str, values: list, **kw):
    import candidates as C

    def fn(ctx, train, seed=0):
        def fit(c, tr, s, v):
            return _candidate(**{**kw, grid_key: v})(c, tr, s)

        v, sc = C.nested_choice(ctx, fit, values, seed)
        ctx.chosen = f"{grid_key}={v}"
        return fit(ctx, train, seed, v)

    return fn


CANDIDATES = {
    "cnn": _candidate(),
    "cnn_dihedral": _candidate(dihedral=True),
    "cnn_resid": _candidate(init_logistic=0.1, lr=3e-3, steps=60),
    "cnn_ens3": _candidate(members=3),
    "cnn_ens5": _candidate(members=5),
    "cnn_w16": _candidate(width=16),
    "cnn_wd_nested": _nested("weight_decay", [1e-3, 1e-1]),
}
