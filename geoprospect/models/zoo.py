"""Model registry: name -> builder(in_channels, num_classes, window_size, **options).

torchvision is the model zoo (DESIGN.md decision 7); the first convolution is replaced so the
network takes C evidence bands instead of 3 RGB channels.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from geoprospect.errors import ModelError

Builder = Callable[..., nn.Module]
MODELS: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    """Decorator adding a builder to :data:`MODELS`."""

    def deco(fn: Builder) -> Builder:
        MODELS[name] = fn
        return fn

    return deco


def build_model(name: str, in_channels: int, num_classes: int = 2, window_size: int = 32, **options: object) -> nn.Module:
    """Build a registered model taking (B, in_channels, window_size, window_size) inputs."""
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}", hint=f"choose one of: {', '.join(sorted(MODELS))}")
    if in_channels < 1:
        raise ModelError(f"in_channels must be >= 1, got {in_channels}")
    return MODELS[name](in_channels=in_channels, num_classes=num_classes, window_size=window_size, **options)


def list_models() -> list[str]:
    """Names of the registered models."""
    return sorted(MODELS)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@register("resnet18")
def resnet18(in_channels: int, num_classes: int = 2, window_size: int = 32, small_input: bool | None = None) -> nn.Module:
    """torchvision ResNet-18 with its first convolution taking ``in_channels`` bands.

    For windows under 64 pixels (``small_input``, the default there) the stem is a 3x3 stride-2
    convolution without max-pooling (a 32-pixel window reaches layer 4 as 2x2 instead of 1x1);
    otherwise the torchvision stem (7x7 stride 2 + max-pool) is kept.
    """
    from torchvision.models import resnet18 as tv_resnet18

    model = tv_resnet18(weights=None, num_classes=num_classes)
    if small_input is None:
        small_input = window_size < 64
    if small_input:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=2, padding=1, bias=False)
        model.maxpool = nn.Identity()
    else:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


def _smoke(name: str = "resnet18") -> torch.Size:  # pragma: no cover - dev helper
    m = build_model(name, 5, 2, 32)
    return m(torch.zeros(2, 5, 32, 32)).shape
