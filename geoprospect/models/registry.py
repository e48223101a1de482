"""Model registry: name -> builder(in_channels, num_classes, window_size, **options).

This module imports no sibling: the builder modules (``tv`` for the torchvision zoo, ``small``,
``mfaf``, ``skt``, ``baselines`` for scikit-learn) import :func:`register` from here, and
``geoprospect.models`` imports them so that they register.

Protocol every registered model follows
---------------------------------------
* ``model(x)`` maps a float tensor (B, C, H, W) to logits (B, num_classes). For models made of
  several branches (MFAF, SKT) these are the *voted* logits (log of the voted class
  probabilities), so prediction code never needs to know about branches.
* A model that trains with auxiliary losses (branch losses, self-distillation) also defines
  ``training_loss(x, y, criterion=None) -> (loss, logits)``: ``criterion`` is the trainer's
  classification loss (e.g. ``nn.CrossEntropyLoss(weight=...)``; plain cross-entropy when None)
  used for every cross-entropy term, ``loss`` is the scalar to back-propagate, ``logits`` the voted (B, num_classes) logits
  for accuracy bookkeeping. Trainers call :func:`compute_loss`, which uses
  ``training_loss`` when present and ``criterion(model(x), y)`` otherwise.
* Options are keyword arguments of the builder (``build_model(name, C, 2, 32, small_input=True)``)
  and are stored in the checkpoint sidecar, so they must be JSON values.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Callable

import torch
from torch import nn

from geoprospect.errors import ModelError

Builder = Callable[..., nn.Module]
MODELS: dict[str, Builder] = {}


#: what a model sees of a window, shown by ``geoprospect models``
SEES = {
    "window": "the whole window (C x H x W)",
    "flattened": "the flattened window (C*H*W features)",
    "cell": "the window's centre cell (C band values)",
}


def register(name: str, sees: str = "window") -> Callable[[Builder], Builder]:
    """Decorator adding a builder to :data:`MODELS`; ``sees`` is a key of :data:`SEES`."""
    if sees not in SEES:
        raise ModelError(f"unknown input kind {sees!r} for model {name!r}", hint=f"one of: {', '.join(SEES)}")

    def deco(fn: Builder) -> Builder:
        fn.sees = sees  # type: ignore[attr-defined]
        MODELS[name] = fn
        return fn

    return deco


def build_model(name: str, in_channels: int, num_classes: int = 2, window_size: int = 32, **options: object) -> nn.Module:
    """Build a registered model taking (B, in_channels, window_size, window_size) inputs."""
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}", hint=f"choose one of: {', '.join(sorted(MODELS))}")
    if in_channels < 1:
        raise ModelError(f"in_channels must be >= 1, got {in_channels}")
    if window_size < 1:
        raise ModelError(f"window_size must be >= 1, got {window_size}")
    builder = MODELS[name]
    params = inspect.signature(builder).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(options) - set(params))
        if unknown:
            allowed = sorted(set(params) - {"in_channels", "num_classes", "window_size"})
            raise ModelError(
                f"model {name!r} has no option(s) {', '.join(unknown)}",
                hint=f"options of {name}: {', '.join(allowed) or 'none'}",
            )
    return builder(in_channels=in_channels, num_classes=num_classes, window_size=window_size, **options)


def list_models() -> list[str]:
    """Names of the registered models."""
    return sorted(MODELS)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (buffers such as SKT's frozen source kernels are not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def describe(name: str) -> str:
    """First line of a model builder's docstring."""
    doc = inspect.getdoc(MODELS[name]) or ""
    return doc.splitlines()[0] if doc else ""


def sees(name: str) -> str:
    """What model ``name`` sees of a window (a value of :data:`SEES`)."""
    return SEES[getattr(MODELS[name], "sees", "window")]


def model_table(in_channels: int = 8, window_size: int = 32, num_classes: int = 2, names: list[str] | None = None) -> list[dict]:
    """One row per registered model (or per name in ``names``): name, parameter count for
    ``in_channels`` bands and ``window_size`` windows (None where the window is too small),
    what it sees of a window, kind ("network" or "baseline": a scikit-learn model), summary."""
    rows = []
    for name in names or list_models():
        try:
            with warnings.catch_warnings(), torch.device("meta"):  # shapes only: no memory, no init cost
                warnings.simplefilter("ignore", UserWarning)
                model = build_model(name, in_channels, num_classes, window_size)
            n = count_parameters(model)
        except ModelError:
            n = None
        seen = getattr(MODELS[name], "sees", "window")
        rows.append({"name": name, "parameters": n, "sees": sees(name), "kind": "network" if seen == "window" else "baseline", "description": describe(name)})
    return rows


def compute_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, criterion: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Training loss and (B, classes) logits; uses ``model.training_loss`` when the model has one."""
    if hasattr(model, "training_loss"):
        return model.training_loss(x, y, criterion)
    logits = model(x)
    return criterion(logits, y), logits


def require_window(name: str, window_size: int, minimum: int) -> None:
    """Raise ModelError when ``window_size`` is below what the architecture can reduce."""
    if window_size < minimum:
        raise ModelError(
            f"{name} needs windows of at least {minimum} pixels, got {window_size}",
            hint=f"tile with --size {minimum} or more (and no smaller --crop), or choose a model that takes small windows, such as "
            + " or ".join(m for m in ("resnet18", "vgg8") if not name.startswith(m)),
        )


def adapt_conv(conv: nn.Conv2d, in_channels: int, stride: int | None = None, kernel_size: int | None = None, padding: int | None = None) -> nn.Conv2d:
    """A fresh copy of ``conv`` taking ``in_channels`` inputs (He-initialised)."""
    k = kernel_size if kernel_size is not None else conv.kernel_size
    new = nn.Conv2d(
        in_channels,
        conv.out_channels,
        kernel_size=k,
        stride=stride if stride is not None else conv.stride,
        padding=padding if padding is not None else conv.padding,
        dilation=conv.dilation,
        groups=1,
        bias=conv.bias is not None,
    )
    nn.init.kaiming_normal_(new.weight, mode="fan_out", nonlinearity="relu")
    if new.bias is not None:
        nn.init.zeros_(new.bias)
    return new
