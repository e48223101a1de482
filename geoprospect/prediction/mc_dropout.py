"""Monte Carlo dropout (Gal & Ghahramani 2016): score the map several times with the model's
dropout layers left on, and read the spread of the passes as the model's uncertainty.

The wrapper :class:`MCDropout` keeps every dropout layer in training mode when the scoring core
(:func:`~geoprospect.prediction.score.score_batches`) switches the model to evaluation mode, so
the one scoring core serves the passes too; batch normalisation and everything else stay in
evaluation mode. Passes are seeded (``torch.manual_seed(seed + pass)``): a rerun on the CPU gives
the same spread.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

#: dropout layer types switched on during the passes
DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def dropout_layers(model: nn.Module) -> list[nn.Module]:
    """The model's dropout layers with a drop probability above zero."""
    return [m for m in model.modules() if isinstance(m, DROPOUT_TYPES) and float(getattr(m, "p", 0.0)) > 0]


def has_dropout(model: nn.Module) -> bool:
    """True when the model has at least one active dropout layer (p > 0)."""
    return bool(dropout_layers(model))


class MCDropout(nn.Module):
    """``model`` with its dropout layers kept on in evaluation mode (everything else unchanged)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def train(self, mode: bool = True) -> "MCDropout":
        super().train(mode)
        for m in dropout_layers(self.model):
            m.train(True)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def mc_dropout_margins(model: nn.Module, score: Callable[[nn.Module], np.ndarray], passes: int, seed: int = 0) -> np.ndarray:
    """(passes, ...) logit margins of ``passes`` scorings of the map with dropout on.

    ``score(model) -> margins`` scores every window once (e.g. through
    :func:`~geoprospect.prediction.predict.predict`); it is called with the wrapped model.
    """
    wrapped = MCDropout(model)
    out = []
    for i in range(int(passes)):
        torch.manual_seed(int(seed) + i)
        out.append(np.asarray(score(wrapped), dtype=np.float64))
    wrapped.model.eval()
    return np.stack(out)
