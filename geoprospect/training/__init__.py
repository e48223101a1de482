"""Training: one :class:`TrainConfig` (presets, augmentation, seeding) and one entry point, :func:`fit`."""

from geoprospect.training.config import PRESETS, TrainConfig, get_preset, train_config
from geoprospect.training.fit import fit

__all__ = ["PRESETS", "TrainConfig", "fit", "get_preset", "train_config"]
