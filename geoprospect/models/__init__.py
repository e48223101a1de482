"""Models: every one maps (B, C, H, W) -> logits (B, 2). See :func:`build_model`."""

from geoprospect.models.zoo import MODELS, build_model, list_models

__all__ = ["MODELS", "build_model", "list_models"]
