"""Run configuration: a YAML file validated with pydantic (unknown keys and wrong types refused).

Relative paths are resolved against the folder of the configuration file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geoprospect.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PointsConfig(_Strict):
    path: Path
    elements: Optional[list[str]] = Field(None, description="element columns; default: every numeric column")
    x_field: Optional[str] = None
    y_field: Optional[str] = None
    crs: Optional[str] = Field(None, description="CRS of the points when the file has none (always needed for CSV)")
    layer: Optional[str] = None
    log10: bool = Field(True, description="interpolate log10 of the concentrations (they are log-normal)")


class GridConfig(_Strict):
    crs: Optional[str] = Field(None, description="grid CRS; default: the points' CRS")
    resolution: Optional[float] = Field(None, gt=0, description="cell size in map units")
    bounds: Optional[tuple[float, float, float, float]] = Field(None, description="xmin ymin xmax ymax; default: the points' extent")
    template: Optional[Path] = Field(None, description="raster whose grid to use instead of bounds/resolution")

    @model_validator(mode="after")
    def _check(self) -> "GridConfig":
        if self.template is None and self.resolution is None:
            raise ValueError("give grid.resolution (or grid.template)")
        return self


class IDWConfig(_Strict):
    power: float = Field(2.0, gt=0)
    neighbors: Optional[int] = Field(12, ge=1, description="k nearest samples; null = all samples")
    radius: Optional[float] = Field(None, gt=0, description="search radius in map units; null = unlimited")
    min_points: int = Field(1, ge=1)
    smoothing: float = Field(0.0, ge=0)


class VectorLayerConfig(_Strict):
    name: str
    path: Path
    kind: Literal["distance"] = "distance"
    layer: Optional[str] = None
    crs: Optional[str] = None


class DepositsConfig(_Strict):
    path: Path
    layer: Optional[str] = None
    crs: Optional[str] = None


class WindowsConfig(_Strict):
    size: int = Field(32, ge=4)
    stride: int = Field(16, ge=1)
    min_valid: float = Field(0.5, ge=0, le=1)
    test_fraction: float = Field(0.3, gt=0, lt=1)
    split_axis: Literal["rows", "cols"] = "rows"
    test_side: Literal["start", "end"] = "end"


class TrainConfigModel(_Strict):
    model: str = "resnet18"
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    optimizer: Literal["sgd", "adam"] = "adam"
    momentum: float = Field(0.9, ge=0)
    weight_decay: float = Field(1e-4, ge=0)
    balanced: bool = True
    device: str = "auto"
    seed: int = 0

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if v not in ("auto", "cpu") and not v.startswith("cuda"):
            raise ValueError("device must be auto, cpu or cuda[:N]")
        return v


class PredictConfig(_Strict):
    batch_size: int = Field(256, ge=1)


class ComputeConfig(_Strict):
    dask_scheduler: Optional[str] = Field(None, description="dask scheduler address (tcp://host:8786) or local / local:N; null = this machine, block by block")
    block_size: int = Field(1024, ge=16, description="block (and dask chunk) side in pixels; memory scales with its square")
    prefetch: int = Field(2, ge=0, description="batches read ahead by the background reader while predicting (0 = none)")


class RunConfig(_Strict):
    """Everything `geoprospect run` needs."""

    name: str = "geoprospect run"
    output: Path = Path("geoprospect-out")
    points: PointsConfig
    grid: GridConfig
    idw: IDWConfig = IDWConfig()
    vectors: list[VectorLayerConfig] = []
    deposits: DepositsConfig
    windows: WindowsConfig = WindowsConfig()
    train: TrainConfigModel = TrainConfigModel()
    predict: PredictConfig = PredictConfig()
    compute: ComputeConfig = ComputeConfig()

    def resolve(self, base: Path) -> "RunConfig":
        """Resolve relative input paths against ``base`` (the config's folder)."""
        def r(p: Optional[Path]) -> Optional[Path]:
            return None if p is None else (p if p.is_absolute() else (base / p).resolve())

        c = self.model_copy(deep=True)
        c.points.path = r(c.points.path)
        c.grid.template = r(c.grid.template)
        c.deposits.path = r(c.deposits.path)
        for v in c.vectors:
            v.path = r(v.path)
        return c

    def input_files(self) -> list[Path]:
        files = [self.points.path, self.deposits.path, *[v.path for v in self.vectors]]
        if self.grid.template:
            files.append(self.grid.template)
        return files


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run configuration; input paths resolved against its folder."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("configuration file not found", path=path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML ({exc})", path=path) from exc
    if not isinstance(raw, dict):
        raise ConfigError("the configuration must be a mapping of keys to values", path=path)
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
            msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
            lines.append(f"{loc}: {msg}")
        raise ConfigError("invalid configuration:\n    " + "\n    ".join(lines), path=path, hint="see the config format in the README") from exc
    cfg = cfg.resolve(path.parent.resolve())
    missing = [p for p in cfg.input_files() if not p.exists()]
    if missing:
        raise ConfigError("input file(s) not found: " + ", ".join(map(str, missing)), path=path, hint="paths are relative to the config file's folder")
    return cfg
