"""Where torch runs and how it is seeded: the compute device and the random seeds.

The bottom layer (beside ``grid``, ``errors`` and ``progress``): training, prediction and the
CLI all pick their device and seed their generators here.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from geoprospect.errors import GeoprospectError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> CUDA when present, else CPU; any other name (``cpu``, ``cuda:1``) as given.

    Raises GeoprospectError when CUDA is asked for and none is available.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise GeoprospectError("CUDA was asked for but no CUDA device is available", hint="use --device auto or cpu")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU runs are then repeatable bit for bit)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
