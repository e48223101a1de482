"""The optimiser and learning-rate schedule of a :class:`~geoprospect.training.config.TrainConfig`."""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

from geoprospect.errors import ConfigError
from geoprospect.training.config import TrainConfig


def make_optimizer(params: nn.Module | Iterable[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """``cfg``'s optimiser over the parameters that require gradients (SKT's source kernels are frozen)."""
    params = [p for p in (params.parameters() if isinstance(params, nn.Module) else params) if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer {cfg.optimizer!r}", hint="use sgd, adam or adamw")


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Per-epoch LR schedule: step (x gamma every step_epochs), cosine (lr -> min_lr over epochs) or none."""
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_epochs, gamma=cfg.gamma)
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, cfg.epochs), eta_min=cfg.min_lr)
    if cfg.scheduler == "none":
        return None
    raise ConfigError(f"unknown scheduler {cfg.scheduler!r}", hint="use step, cosine or none")


def lr_at(cfg: TrainConfig, epoch: int) -> float:
    """Learning rate during ``epoch`` (0-based) under ``cfg``'s schedule (for docs and tests)."""
    if cfg.scheduler == "step":
        return cfg.lr * cfg.gamma ** (epoch // cfg.step_epochs)
    if cfg.scheduler == "cosine":
        t = min(epoch, cfg.epochs) / max(1, cfg.epochs)
        return cfg.min_lr + (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * t)) / 2
    return cfg.lr
