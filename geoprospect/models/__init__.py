"""Models: every one maps (B, C, H, W) -> logits (B, 2). See :func:`build_model`.

:mod:`geoprospect.models.registry` holds the registry; the builder modules imported here
register themselves on import (torchvision zoo, the papers' nets, scikit-learn baselines).
"""

from geoprospect.models import baselines, dense, mfaf, skt, small, tv  # noqa: F401  (they register their builders)
from geoprospect.models.registry import MODELS, build_model, list_models, model_table

__all__ = ["MODELS", "build_model", "list_models", "model_table"]
