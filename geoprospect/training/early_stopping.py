"""Early stopping on the validation loss, keeping the best weights."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch import nn


@dataclass
class EarlyStopping:
    """Track the validation loss; ``step`` returns True when training should stop.

    ``patience`` epochs without an improvement larger than ``min_delta`` stop training; the
    best epoch's weights are kept (``best_state``) and restored by :meth:`restore`.
    """

    patience: int = 10
    min_delta: float = 0.0
    best: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    best_state: dict | None = field(default=None, repr=False)

    def step(self, value: float, epoch: int, model: nn.Module) -> bool:
        if not math.isfinite(value):
            self.bad_epochs += 1
        elif value < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
        return self.patience > 0 and self.bad_epochs >= self.patience

    def restore(self, model: nn.Module) -> bool:
        """Load the best weights into ``model``; False when there were none."""
        if self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs, "best_state": self.best_state}

    def load_state_dict(self, d: dict) -> None:
        self.best, self.best_epoch, self.bad_epochs, self.best_state = float(d["best"]), int(d["best_epoch"]), int(d["bad_epochs"]), d.get("best_state")
