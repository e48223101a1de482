"""One training configuration (:class:`TrainConfig`) and the papers' recipes as data (:data:`PRESETS`).

:class:`TrainConfig` holds everything :func:`geoprospect.training.fit.fit` needs: the model and
its options, the optimiser and schedule, augmentation (noise, flips, rotations, crop), early
stopping, seeding and the device. The run YAML's ``train:`` section *is* this model, and the
options of ``geoprospect train`` map onto it (:func:`train_config`).

======  =========================  ============================================================
preset  windows                    optimiser and schedule
======  =========================  ============================================================
000     128 / stride 128           SGD momentum 0.2, wd 1e-4, lr 0.02 x0.6 every 30 epochs
        Gaussian noise var 0.01,   ("decay of 40 % every 30"), 220 epochs, batch 32;
        SMOTE                      MFAF auxiliary loss weight 0.4
001     256 / stride 128,          SGD momentum 0.01, wd 1e-4, lr 0.1 halved every 30 epochs,
        random 224 crop, noise     150 epochs, batch 128; SKT beta 0.7
002     256 / stride 128,          SGD (momentum/wd not given in the paper: 0.9 / 1e-4 assumed),
        random 224 crop, flips     lr 0.01 halved every 30 epochs, 120 epochs, batch 32
        + 90-degree rotations
003     32 crops (50 per positive  Adam (beta1 0.9), cosine from 1e-4 down to 1e-5, 50 epochs,
        a=12 b=24, 10 per          batch 16; no flips/rotations/noise (they change geology)
        negative a=32 b=64)
======  =========================  ============================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geoprospect.errors import ConfigError


class TrainConfig(BaseModel):
    """Training settings (defaults suit small windows on a CPU). Units: epochs, pixels."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("blend_cell", description="model name (see `geoprospect models`), scikit-learn baselines included; default: the per-cell forest + logistic blend, the out-of-fold winner of benchmarks/results/skill.md")
    options: dict[str, Any] = Field(default_factory=dict, description="model options, e.g. {backbone: shufflenet_v2} for mfaf")
    preset: Optional[str] = Field(None, description="a paper's recipe (000..003): its model, options, optimiser, schedule and augmentation are the defaults of the other settings")
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0, description="learning rate")
    optimizer: Literal["sgd", "adam", "adamw"] = "adam"
    momentum: float = Field(0.9, ge=0, description="SGD momentum")
    weight_decay: float = Field(1e-4, ge=0)
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam/AdamW betas")
    balanced: bool = Field(True, description="class-balanced sampling of the training windows")
    samples_per_epoch: Optional[int] = Field(8192, ge=1, description="networks: windows (cells) drawn per epoch by the class-balanced sampler (null = as many as there are); with every cell a sample an area holds 10^5+ of them")
    max_background: Optional[int] = Field(5000, ge=1, description="scikit-learn models: background (label 0) samples they are fitted on at most, a seeded random subset; every positive is kept (null = all); measured in the README (sample data: the forest baseline's fits 60 s -> 3 s per fold)")
    scheduler: Literal["none", "step", "cosine"] = Field("none", description="learning-rate schedule per epoch")
    step_epochs: int = Field(30, ge=1, description="step schedule: multiply the rate by gamma every step_epochs")
    gamma: float = Field(0.5, gt=0, le=1)
    min_lr: float = Field(0.0, ge=0, description="cosine schedule: final rate")
    patience: int = Field(0, ge=0, description="early stopping after this many epochs without a better validation loss (0 = off)")
    val_fraction: float = Field(0.15, ge=0, lt=1, description="with patience > 0 and no validation windows given: training windows held out (stratified, random) to decide when to stop")
    noise_variance: float = Field(0.0, ge=0, description="Gaussian noise variance added to training windows (papers 000/001: 0.01)")
    flips: bool = Field(False, description="random horizontal/vertical flips of training windows (paper 002)")
    rotations: bool = Field(False, description="random 90-degree rotations of training windows (paper 002)")
    crop: Optional[int] = Field(None, ge=1, description="random crop of this side per iteration (papers 001/002: 224 of 256-pixel windows); the model is scored on centre crops")
    seed: int = Field(0, description="seeds the initial weights, sampling and augmentation (CPU runs repeat bit for bit)")
    device: str = Field("auto", description="auto (CUDA when present), cpu or cuda[:N]")
    amp: Optional[bool] = Field(None, description="CUDA mixed precision (null = on with CUDA)")
    channels_last: Optional[bool] = Field(None, description="CUDA channels-last memory format (null = on with CUDA)")
    device_batches: Optional[bool] = Field(None, description="cut batches from a device copy of the stack (null = on with CUDA)")
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, values: Any) -> Any:
        """``preset: "003"`` takes the preset's settings (model and its options included) as defaults."""
        if not isinstance(values, dict) or values.get("preset") in (None, ""):
            return values
        key = str(values["preset"]).zfill(3) if str(values["preset"]).isdigit() else str(values["preset"])
        if key not in PRESETS:
            raise ValueError(f"unknown training preset {values['preset']!r} (choose one of: {', '.join(PRESETS)})")
        p = PRESETS[key]
        base = {**p.train, "model": p.model, "options": dict(p.model_options)}
        if "model" in values and values["model"] != p.model and "options" not in values:
            base["options"] = {}  # the preset's model options do not fit another model
        return {**base, **values, "preset": key}

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if v not in ("auto", "cpu") and not v.startswith("cuda"):
            raise ValueError("device must be auto, cpu or cuda[:N]")
        return v

    @property
    def augmented(self) -> bool:
        """True when training windows are augmented (noise, flips, rotations or crop)."""
        return self.noise_variance > 0 or self.flips or self.rotations or self.crop is not None

    def updated(self, **changes: Any) -> "TrainConfig":
        """A validated copy with some settings changed (ConfigError naming the setting otherwise)."""
        return _validated({**self.model_dump(), **changes})

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "TrainConfig":
        """The settings of a paper preset ("000".."003": model, optimiser, schedule, augmentation), with overrides.

        A ``model`` override other than the preset's drops the preset's model options.
        """
        return _validated({**overrides, "preset": get_preset(name).name})


def _validated(values: Mapping[str, Any]) -> TrainConfig:
    try:
        return TrainConfig.model_validate(dict(values))
    except ValidationError as exc:
        bad = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid training setting(s): {bad}", hint=f"settings: {', '.join(TrainConfig.model_fields)}") from exc


@dataclass(frozen=True)
class Preset:
    """A paper's recipe: the windows to tile, the model and the training settings (``train``)."""

    name: str
    paper: str
    model: str
    window_size: int
    stride: int
    train: dict = field(default_factory=dict)  # TrainConfig fields
    model_options: dict = field(default_factory=dict)
    smote: bool = False
    crop_oversample: dict | None = None  # paper 003: {"crop": 32, "n": {1: 50, 0: 10}, "steps": {...}}
    notes: str = ""


PRESETS: dict[str, Preset] = {
    "000": Preset(
        name="000", paper="Gao et al. (MFAF)", model="mfaf", window_size=128, stride=128, smote=True,
        train=dict(noise_variance=0.01, optimizer="sgd", lr=0.02, momentum=0.2, weight_decay=1e-4,
                   scheduler="step", step_epochs=30, gamma=0.6, epochs=220, batch_size=32),
        model_options={"aux_weight": 0.4, "rates": [1, 6, 12, 18, 24]},
        notes="section 4.2: momentum 0.2, wd 1e-4, 220 iterations, lr 0.02, decay of 40% every 30, batch 32",
    ),
    "001": Preset(
        name="001", paper="Huang et al. (SKT), Minerals 2022", model="skt", window_size=256, stride=128,
        train=dict(crop=224, noise_variance=0.01, optimizer="sgd", lr=0.1, momentum=0.01, weight_decay=1e-4,
                   scheduler="step", step_epochs=30, gamma=0.5, epochs=150, batch_size=128),
        model_options={"beta": 0.7, "rates": [1, 6, 12, 18, 24]},
        notes="section 4.1: SGD momentum 0.01, wd 1e-4, batch 128, lr 0.1 halved every 30 epochs, 150 epochs",
    ),
    "002": Preset(
        name="002", paper="Gao et al. (ResNet), Appl. Sci. 2022", model="resnet50", window_size=256, stride=128,
        train=dict(crop=224, flips=True, rotations=True, optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4,
                   scheduler="step", step_epochs=30, gamma=0.5, epochs=120, batch_size=32),
        notes="lr 0.01 halved every 30 epochs, 120 epochs, batch 32; momentum and weight decay assumed",
    ),
    "003": Preset(
        name="003", paper="He et al., Sci. Rep. 2024", model="resnet50_2fc", window_size=32, stride=32,
        crop_oversample={"crop": 32, "n": {1: 50, 0: 10}, "steps": {1: [12, 24], 0: [32, 64]}},
        train=dict(optimizer="adam", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.0,
                   scheduler="cosine", min_lr=1e-5, epochs=50, batch_size=16),
        notes="Adam momentum 0.9, cosine lr 1e-4 -> 1e-5, 50 epochs, batch 16; 32x32 crops, no flips",
    ),
}


def get_preset(name: str) -> Preset:
    """A paper preset by number ("000".."003"; "1" means "001")."""
    key = str(name).zfill(3) if str(name).isdigit() else str(name)
    if key not in PRESETS:
        raise ConfigError(f"unknown training preset {name!r}", hint=f"choose one of: {', '.join(PRESETS)}")
    return PRESETS[key]


def parse_model_options(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> options; a value is read as JSON when it parses (``rates=[1,6]``), else as text."""
    opts: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {item!r} is not KEY=VALUE", hint="e.g. --option rates=[1,6] or --option source=runs/resnet18")
        try:
            opts[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            opts[key.strip()] = value
    return opts


def train_config(preset: str | None = None, option_items: Sequence[str] = (), **given: Any) -> TrainConfig:
    """The TrainConfig of ``preset`` (or the defaults) with the settings given explicitly on top.

    ``given`` holds only the settings the user set (a command's defaults must not override a
    preset); ``option_items`` are ``KEY=VALUE`` model options added to the model's options.
    """
    cfg = TrainConfig.from_preset(preset, **given) if preset else _validated(given)
    if option_items:
        cfg = cfg.updated(options={**cfg.options, **parse_model_options(option_items)})
    return cfg
