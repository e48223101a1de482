"""Checkpoints: ``model.pt`` (a state_dict, loaded with weights_only=True) + ``model.json``.

The JSON sidecar (DESIGN.md decision 8) holds the architecture, band names, normalisation,
window size, grid, class names and versions; loading checks the stack's bands against it.
"""

from __future__ import annotations

import json
import platform
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from geoprospect.errors import InputError, ModelError
from geoprospect.io.atomic import atomic_path, write_json
from geoprospect.models.registry import MODELS, build_model

WEIGHTS = "model.pt"
SIDECAR = "model.json"


@dataclass
class ModelMeta:
    """Everything needed to apply a trained model to a stack."""

    architecture: str
    in_channels: int
    band_names: list[str]
    mean: list[float]
    std: list[float]
    window_size: int
    stride: int
    #: the model's input side when it was trained on random crops of the windows (papers
    #: 001/002: 224 of 256); prediction then scores the centre crop of every window. None = window_size.
    input_size: int | None = None
    class_names: list[str] = field(default_factory=lambda: ["background", "deposit"])
    options: dict = field(default_factory=dict)
    grid: dict | None = None
    training: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)


def versions() -> dict[str, str]:
    import numpy
    import rasterio
    import sklearn
    import torchvision

    import geoprospect

    return {
        "geoprospect": geoprospect.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
        "scikit-learn": sklearn.__version__,
    }


def save_checkpoint(folder: str | Path, model: nn.Module, meta: ModelMeta) -> Path:
    """Write ``model.pt`` and ``model.json`` into ``folder`` (each atomically)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta.versions = versions()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        torch.save(state, tmp)
    write_json(folder / SIDECAR, asdict(meta))
    return folder


def load_meta(folder: str | Path) -> ModelMeta:
    folder = Path(folder)
    side = folder / SIDECAR
    if not side.exists():
        raise InputError("model folder has no model.json", path=folder, hint="point to a folder written by `geoprospect train`")
    try:
        raw = json.loads(side.read_text(encoding="utf-8"))
        return ModelMeta(**raw)
    except (json.JSONDecodeError, TypeError) as exc:
        raise InputError(f"model.json is not a valid geoprospect model description ({exc})", path=side) from exc


def load_checkpoint(folder: str | Path, band_names: Sequence[str] | None = None, map_location: str = "cpu") -> tuple[nn.Module, ModelMeta]:
    """Rebuild the model from its sidecar and load its weights safely.

    Raises ModelError when ``band_names`` (the stack's) differ from the model's bands.
    """
    folder = Path(folder)
    meta = load_meta(folder)
    if band_names is not None and list(band_names) != list(meta.band_names):
        raise ModelError(
            f"the stack's {len(band_names)} bands {list(band_names)} do not match the model's {len(meta.band_names)} bands {meta.band_names}",
            path=folder,
            hint="predict on a stack built with the same layers, in the same order, as the training stack",
        )
    # options that only seed weights (e.g. SKT's source checkpoint) are not needed to rebuild:
    # the state_dict below holds the result
    skip = set(getattr(MODELS.get(meta.architecture), "state_only_options", ()))
    options = {k: v for k, v in meta.options.items() if k not in skip}
    with warnings.catch_warnings():  # e.g. "SKT built without a source": the weights come next
        warnings.simplefilter("ignore", UserWarning)
        model = build_model(meta.architecture, meta.in_channels, len(meta.class_names), meta.input_size or meta.window_size, **options)
    try:
        state = torch.load(folder / WEIGHTS, map_location=map_location, weights_only=True)
    except FileNotFoundError as exc:
        raise InputError("model weights model.pt are missing", path=folder) from exc
    except Exception as exc:  # pickle.UnpicklingError and friends: refuse anything but tensors
        raise ModelError(f"refusing to load model weights: not a plain state_dict ({type(exc).__name__}: {exc})", path=folder / WEIGHTS, hint="only load checkpoints written by geoprospect") from exc
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"weights do not fit the {meta.architecture} architecture ({exc})", path=folder) from exc
    model.eval()
    return model, meta
