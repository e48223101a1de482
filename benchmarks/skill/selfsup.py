"""Self-supervised pretraining on every cell of the stack, then per-cell models or fine-tuning (issue 17).

Pretext task (no labels, so it may see the whole stack, test folds included, as standardisation
does): masked-band and masked-patch reconstruction. A small fully-convolutional encoder reads
the standardised bands with some of them hidden (each band of each cell hidden with
probability ``p_band``; all bands hidden in random square patches covering ~``p_patch`` of the
map) plus the 0/1 visibility mask, and a 1x1 decoder must rebuild the hidden values from the
visible bands of the cell and its neighbours (7-cell receptive field). The encoder's
``feat`` channels (all bands visible) are the learned features: what each band says about
the others, locally. One pretraining per area (seeded), cached; the labelled step then runs per
fold on the training cells only:

* ``logistic_ssl`` / ``balanced_forest_ssl``: the per-cell baselines on [bands, learned features];
* ``ssl_finetune``: encoder + 1x1 head + a linear per-cell path started from a per-cell logistic
  (as ``cnn_resid``), fine-tuned with the positive-unlabelled soft-label loss of ``cnn.py``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

CACHE = Path("/tmp/skill-cache/selfsup")


@dataclass
class Pretext:
    width: int = 32
    feat: int = 8
    p_band: float = 0.3
    p_patch: float = 0.15
    patch: int = 5
    steps: int = 300
    lr: float = 3e-3
    crop: int = 96
    batch: int = 6
    threads: int = 1


class MaskedEncoder(nn.Module):
    """(B, 2C, H, W) [visible bands, visibility mask] -> (B, feat, H, W); receptive field 7 cells."""

    def __init__(self, c: int, width: int, feat: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(2 * c, width, 1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(width, feat, 1),
        )

    def forward(self, z: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z * keep, keep], dim=1))


def _mask(shape: tuple[int, ...], cfg: Pretext, g: torch.Generator) -> torch.Tensor:
    """1 = visible. Random bands per cell, and random square patches with every band hidden."""
    B, C, H, W = shape
    keep = (torch.rand(shape, generator=g) >= cfg.p_band).float()
    n = max(1, int(cfg.p_patch * H * W / cfg.patch**2))
    for b in range(B):
        r = torch.randint(0, max(1, H - cfg.patch), (n,), generator=g)
        c = torch.randint(0, max(1, W - cfg.patch), (n,), generator=g)
        for i in range(n):
            keep[b, :, r[i] : r[i] + cfg.patch, c[i] : c[i] + cfg.patch] = 0
    return keep


def _crops(z: torch.Tensor, valid: torch.Tensor, cfg: Pretext, rng: np.random.Generator):
    H, W = z.shape[-2:]
    if H * W <= 2 * cfg.crop**2:
        return z, valid
    ar, ac = np.nonzero(valid[0, 0].numpy())
    zs, vs = [], []
    for _ in range(cfg.batch):
        i = rng.integers(ar.size)
        r0 = int(np.clip(ar[i] - cfg.crop // 2, 0, H - cfg.crop))
        c0 = int(np.clip(ac[i] - cfg.crop // 2, 0, W - cfg.crop))
        zs.append(z[:, :, r0 : r0 + cfg.crop, c0 : c0 + cfg.crop])
        vs.append(valid[:, :, r0 : r0 + cfg.crop, c0 : c0 + cfg.crop])
    return torch.cat(zs), torch.cat(vs)


def pretrain(Z: np.ndarray, area: np.ndarray, cfg: Pretext = Pretext(), seed: int = 0) -> MaskedEncoder:
    """Train the encoder (and a 1x1 decoder, dropped) to rebuild hidden bands; loss on area cells."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    C = Z.shape[0]
    enc = MaskedEncoder(C, cfg.width, cfg.feat)
    dec = nn.Sequential(nn.Conv2d(cfg.feat, cfg.width, 1), nn.ReLU(), nn.Conv2d(cfg.width, C, 1))
    opt = torch.optim.AdamW([*enc.parameters(), *dec.parameters()], lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    z = torch.from_numpy(np.ascontiguousarray(Z, np.float32))[None]
    valid = torch.from_numpy(area)[None, None].float()
    for _ in range(cfg.steps):
        zb, vb = _crops(z, valid, cfg, rng)
        keep = _mask(tuple(zb.shape), cfg, g)
        rec = dec(enc(zb, keep))
        w = (1 - keep) * vb  # hidden values of area cells
        loss = (((rec - zb) ** 2) * w).sum() / w.sum().clamp(min=1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    enc.eval()
    enc.final_loss = float(loss.detach())  # type: ignore[attr-defined]
    return enc


def features(Z: np.ndarray, area: np.ndarray, cfg: Pretext = Pretext(), seed: int = 0) -> tuple[np.ndarray, MaskedEncoder]:
    """(feat, H, W) float32 learned features (all bands visible), standardised over the area; cached."""
    key = hashlib.sha256(Z.tobytes() + area.tobytes() + repr((cfg, seed)).encode()).hexdigest()[:16]
    path = CACHE / f"{key}.pt"
    enc = MaskedEncoder(Z.shape[0], cfg.width, cfg.feat)
    if path.exists():
        enc.load_state_dict(torch.load(path, weights_only=True))
        enc.eval()
    else:
        enc = pretrain(Z, area, cfg, seed)
        CACHE.mkdir(parents=True, exist_ok=True)
        torch.save(enc.state_dict(), path)
    z = torch.from_numpy(np.ascontiguousarray(Z, np.float32))[None]
    with torch.no_grad():
        F = enc(z, torch.ones_like(z))[0].numpy()
    mu = F[:, area].mean(axis=1)[:, None, None]
    sd = F[:, area].std(axis=1)[:, None, None] + 1e-6
    return ((F - mu) / sd).astype(np.float32), enc


# --------------------------------------------------------------- candidates for compare_models
def _with_features(ctx):
    """A Context whose Z is [bands, learned features]."""
    import candidates as C

    F, _ = features(ctx.Z, ctx.area)
    return C.Context(np.concatenate([ctx.Z, F]), ctx.area, ctx.deposits, ctx.inner, list(ctx.bands) + [f"ssl{i}" for i in range(F.shape[0])])


def logistic_ssl(ctx, train, seed=0):
    import candidates as C

    return C.logistic(_with_features(ctx), train, seed)


def balanced_forest_ssl(ctx, train, seed=0):
    import candidates as C

    return C.balanced_forest(_with_features(ctx), train, seed)


class FineTuneNet(nn.Module):
    """Pretrained encoder -> 1x1 head (zero-initialised), plus a linear per-cell path on the bands."""

    def __init__(self, enc: MaskedEncoder, c: int, feat: int):
        super().__init__()
        self.enc, self.head, self.linear = enc, nn.Conv2d(feat, 1, 1), nn.Conv2d(c, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.enc(z, torch.ones_like(z))) + self.linear(z)


def ssl_finetune(ctx, train, seed=0, steps: int = 60, lr: float = 3e-3, radius: float = 2.0):
    """Fine-tune the pretrained encoder + head on the training cells (PU soft labels, as cnn.py)."""
    import cnn
    from sklearn.linear_model import LogisticRegression

    cfg = Pretext()
    _, enc = features(ctx.Z, ctx.area, cfg)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dm = np.zeros(train.shape, bool)
    dm.ravel()[ctx.deposits[train.ravel()[ctx.deposits]]] = True
    t = cnn.soft_targets(dm, radius)
    pos, neg = train & (t > 0), train & (t == 0)
    w = np.zeros(train.shape, np.float32)
    w[pos], w[neg] = 0.5 / max(pos.sum(), 1), 0.5 / max(neg.sum(), 1)
    net = FineTuneNet(enc, ctx.Z.shape[0], cfg.feat)
    idx = np.flatnonzero(train.ravel())
    lr0 = LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000).fit(ctx.Z.reshape(ctx.Z.shape[0], -1).T[idx], (t.ravel()[idx] > 0).astype(int))
    with torch.no_grad():
        net.linear.weight.copy_(torch.from_numpy(lr0.coef_.astype(np.float32)).view_as(net.linear.weight))
        net.linear.bias.fill_(float(lr0.intercept_[0]))
    z = torch.from_numpy(np.ascontiguousarray(ctx.Z, np.float32))[None]
    tt, ww = torch.from_numpy(t)[None, None], torch.from_numpy(w)[None, None]
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    H, Wd = train.shape
    big = H * Wd > 2 * cfg.crop**2
    ar, ac = np.nonzero(train)
    for _ in range(steps):
        if big:  # crops centred on training cells drawn uniformly; loss on interior cells (3-cell margin)
            sl = []
            for _ in range(cfg.batch):
                i = rng.integers(ar.size)
                r0, c0 = int(np.clip(ar[i] - cfg.crop // 2, 0, H - cfg.crop)), int(np.clip(ac[i] - cfg.crop // 2, 0, Wd - cfg.crop))
                sl.append((slice(r0, r0 + cfg.crop), slice(c0, c0 + cfg.crop)))
            zb = torch.cat([z[:, :, a, b] for a, b in sl])
            tb = torch.cat([tt[:, :, a, b] for a, b in sl])
            wb = torch.cat([ww[:, :, a, b] for a, b in sl]).clone()
            wb[..., :3, :] = wb[..., -3:, :] = 0
            wb[..., :, :3] = wb[..., :, -3:] = 0
            wb = wb / wb.sum().clamp(min=1e-12)
        else:
            zb, tb, wb = z, tt, ww
        loss = (nn.functional.binary_cross_entropy_with_logits(net(zb), tb, reduction="none") * wb).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    with torch.no_grad():
        return net(z)[0, 0].double().numpy()


CANDIDATES = {"logistic_ssl": logistic_ssl, "balanced_forest_ssl": balanced_forest_ssl, "ssl_finetune": ssl_finetune}
