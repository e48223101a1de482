"""Training and window recipes taken from the papers (issue 4); every field can be overridden.

======  =========================  ============================================================
preset  windows                    optimiser and schedule
======  =========================  ============================================================
000     128 / stride 128           SGD momentum 0.2, wd 1e-4, lr 0.02 x0.6 every 30 epochs
        Gaussian noise var 0.01,   ("decay of 40 % every 30"), 220 epochs, batch 32;
        SMOTE                      MFAF auxiliary loss weight 0.4
001     256 / stride 128,          SGD momentum 0.01, wd 1e-4, lr 0.1 halved every 30 epochs,
        random 224 crop, noise     150 epochs, batch 128; SKT beta 0.7
002     256 / stride 128,          SGD (momentum/wd not given in the paper: 0.9 / 1e-4 assumed),
        random 224 crop, flips     lr 0.01 halved every 30 epochs, 120 epochs, batch 32
        + 90-degree rotations
003     32 crops (50 per positive  Adam (beta1 0.9), cosine from 1e-4 down to 1e-5, 50 epochs,
        a=12 b=24, 10 per          batch 16; no flips/rotations/noise (they change geology)
        negative a=32 b=64)
======  =========================  ============================================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import torch

from geoprospect.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """A paper's recipe: windows, augmentation, optimiser, schedule. Units: pixels, epochs."""

    name: str
    paper: str
    model: str
    # windows
    window_size: int
    stride: int
    crop: int | None = None
    noise_variance: float = 0.0
    flips: bool = False
    rotations: bool = False
    smote: bool = False
    crop_oversample: dict | None = None  # paper 003: {"crop": 32, "n": {1: 50, 0: 10}, "steps": {...}}
    balanced_sampling: bool = True
    # optimiser
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    # schedule
    scheduler: str = "step"  # step | cosine | none
    step_epochs: int = 30
    gamma: float = 0.5
    min_lr: float = 0.0
    epochs: int = 100
    batch_size: int = 32
    model_options: dict = field(default_factory=dict)
    notes: str = ""

    def override(self, **changes: Any) -> "Preset":
        """A copy with some fields changed (unknown fields raise ConfigError)."""
        known = {f.name for f in fields(self)}
        bad = sorted(k for k in changes if k not in known)
        if bad:
            raise ConfigError(f"unknown preset field(s): {', '.join(bad)}", hint=f"fields: {', '.join(sorted(known))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "000": Preset(
        name="000", paper="Gao et al. (MFAF)", model="mfaf", window_size=128, stride=128,
        noise_variance=0.01, smote=True,
        optimizer="sgd", lr=0.02, momentum=0.2, weight_decay=1e-4,
        scheduler="step", step_epochs=30, gamma=0.6, epochs=220, batch_size=32,
        model_options={"aux_weight": 0.4, "rates": [1, 6, 12, 18, 24]},
        notes="section 4.2: momentum 0.2, wd 1e-4, 220 iterations, lr 0.02, decay of 40% every 30, batch 32",
    ),
    "001": Preset(
        name="001", paper="Huang et al. (SKT), Minerals 2022", model="skt", window_size=256, stride=128, crop=224,
        noise_variance=0.01,
        optimizer="sgd", lr=0.1, momentum=0.01, weight_decay=1e-4,
        scheduler="step", step_epochs=30, gamma=0.5, epochs=150, batch_size=128,
        model_options={"beta": 0.7, "rates": [1, 6, 12, 18, 24]},
        notes="section 4.1: SGD momentum 0.01, wd 1e-4, batch 128, lr 0.1 halved every 30 epochs, 150 epochs",
    ),
    "002": Preset(
        name="002", paper="Gao et al. (ResNet), Appl. Sci. 2022", model="resnet50", window_size=256, stride=128, crop=224,
        flips=True, rotations=True,
        optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4,
        scheduler="step", step_epochs=30, gamma=0.5, epochs=120, batch_size=32,
        notes="lr 0.01 halved every 30 epochs, 120 epochs, batch 32; momentum and weight decay assumed",
    ),
    "003": Preset(
        name="003", paper="He et al., Sci. Rep. 2024", model="resnet50_2fc", window_size=32, stride=32,
        crop_oversample={"crop": 32, "n": {1: 50, 0: 10}, "steps": {1: [12, 24], 0: [32, 64]}},
        optimizer="adam", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.0,
        scheduler="cosine", min_lr=1e-5, epochs=50, batch_size=16,
        notes="Adam momentum 0.9, cosine lr 1e-4 -> 1e-5, 50 epochs, batch 16; 32x32 crops, no flips",
    ),
}


def get_preset(name: str, **overrides: Any) -> Preset:
    """A paper preset by number ("000".."003"), with optional overrides."""
    key = str(name).zfill(3) if str(name).isdigit() else str(name)
    if key not in PRESETS:
        raise ConfigError(f"unknown training preset {name!r}", hint=f"choose one of: {', '.join(PRESETS)}")
    return PRESETS[key].override(**overrides) if overrides else PRESETS[key]


def make_optimizer(params, preset: Preset) -> torch.optim.Optimizer:
    """The preset's optimiser over ``params`` (only those requiring gradients)."""
    params = [p for p in params if p.requires_grad]
    if preset.optimizer == "sgd":
        return torch.optim.SGD(params, lr=preset.lr, momentum=preset.momentum, weight_decay=preset.weight_decay)
    if preset.optimizer == "adam":
        return torch.optim.Adam(params, lr=preset.lr, betas=tuple(preset.betas), weight_decay=preset.weight_decay)
    if preset.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=preset.lr, betas=tuple(preset.betas), weight_decay=preset.weight_decay)
    raise ConfigError(f"unknown optimizer {preset.optimizer!r}", hint="use sgd, adam or adamw")


def make_scheduler(optimizer: torch.optim.Optimizer, preset: Preset) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Per-epoch LR schedule: step (x gamma every step_epochs), cosine (lr -> min_lr over epochs) or none."""
    if preset.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=preset.step_epochs, gamma=preset.gamma)
    if preset.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, preset.epochs), eta_min=preset.min_lr)
    if preset.scheduler in ("none", None):
        return None
    raise ConfigError(f"unknown scheduler {preset.scheduler!r}", hint="use step, cosine or none")


def lr_at(preset: Preset, epoch: int) -> float:
    """Learning rate during ``epoch`` (0-based) under the preset's schedule (for docs and tests)."""
    import math

    if preset.scheduler == "step":
        return preset.lr * preset.gamma ** (epoch // preset.step_epochs)
    if preset.scheduler == "cosine":
        t = min(epoch, preset.epochs) / max(1, preset.epochs)
        return preset.min_lr + (preset.lr - preset.min_lr) * (1 + math.cos(math.pi * t)) / 2
    return preset.lr
