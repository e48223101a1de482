"""Run configuration: a YAML file validated with pydantic (unknown keys and wrong types refused).

Relative paths are resolved against the folder of the configuration file.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geoprospect.errors import ConfigError, GeoprospectError
from geoprospect.evaluation.area_bounds import AreaBounds
from geoprospect.grid import LOCAL_CRS_EXAMPLE, to_crs
from geoprospect.models import MODELS
from geoprospect.training.config import TrainConfig


def _parsed_crs(v: Optional[str]) -> Optional[str]:
    """A CRS text pyproj understands (checked when the config is read, so the error names the key)."""
    if v is not None:
        try:
            to_crs(v)
        except GeoprospectError as exc:
            raise ValueError(f"{exc.reason}; {exc.hint}") from exc
    return v


CrsText = Annotated[Optional[str], AfterValidator(_parsed_crs)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PointsConfig(_Strict):
    path: Path
    elements: Optional[list[str]] = Field(None, min_length=1, description="element columns; default: every numeric column")
    x_field: Optional[str] = None
    y_field: Optional[str] = None
    crs: CrsText = Field(None, description="CRS of the points when the file has none (always needed for CSV)")
    layer: Optional[str] = None
    log10: bool = Field(True, description="interpolate log10 of the concentrations (they are log-normal)")
    censored: Literal["error", "half", "fraction", "cohen", "missing"] = Field(
        "half", description="below-detection values ('<0.5', 'BDL', negative limits): half the limit, a fraction of it, Cohen's estimate, missing, or refuse (error)")
    censored_fraction: float = Field(0.5, gt=0, le=1, description="fraction of the detection limit with censored: fraction")
    duplicates: Literal["average", "reject", "first", "error"] = Field("average", description="samples sharing a location")
    outliers: Literal["none", "flag", "winsorise"] = Field("none", description="Tukey fences on log10 values: only count outliers, or clip them")
    tukey_k: float = Field(1.5, gt=0, description="Tukey fence multiplier (1.5 outliers, 3 far out)")
    flag_columns: dict[str, str] = Field({}, description="element -> flag column marking below-detection rows ('<', 'BDL', 'Y', ...); the row's value is the limit, or 0/blank when not stated")
    detection_limits: dict[str, float] = Field({}, description="element -> detection limit for censored rows stating none (default: the smallest limit seen, else the smallest reported value)")
    negative_censored: bool = Field(True, description="read a negative value -x as 'below x'")
    unknown_limit: Literal["min_limit", "missing"] = Field("min_limit", description="censored rows without a limit: use detection_limits / the smallest limit seen / the smallest reported value, or set them missing")
    duplicate_tol: float = Field(0.0, ge=0, description="samples closer than this (map units of the points) share a location")
    drop_missing_xy: bool = Field(False, description="skip (and report) rows without coordinates instead of failing")

    @model_validator(mode="after")
    def _check_limits(self) -> "PointsConfig":
        bad = {k: v for k, v in self.detection_limits.items() if not (math.isfinite(v) and v > 0)}
        if bad:
            raise ValueError(f"detection_limits must be positive numbers, got {bad}")
        return self


def _unique_names(layers: list) -> list:
    names = [v.name for v in layers]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"layer names must be distinct: {dup} repeated")
    return layers


class GridConfig(_Strict):
    crs: Optional[str] = Field(None, description="grid CRS; default: the points' CRS")
    resolution: Optional[float] = Field(None, gt=0, description="cell size in map units")
    bounds: Optional[tuple[float, float, float, float]] = Field(None, description="xmin ymin xmax ymax; default: the points' extent")
    template: Optional[Path] = Field(None, description="raster whose grid to use instead of bounds/resolution")

    @model_validator(mode="after")
    def _check(self) -> "GridConfig":
        if self.template is None and self.resolution is None:
            raise ValueError("give grid.resolution (or grid.template)")
        if self.bounds is not None:
            xmin, ymin, xmax, ymax = self.bounds
            if not all(map(math.isfinite, self.bounds)):
                raise ValueError(f"bounds must be finite numbers, got {list(self.bounds)}")
            if not (xmin < xmax and ymin < ymax):
                raise ValueError(f"bounds are xmin ymin xmax ymax with xmin < xmax and ymin < ymax, got {list(self.bounds)}")
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
    kind: Literal["distance", "density", "distance_density", "categorical"] = Field(
        "distance", description="distance to the nearest feature; feature density within `radius`; paper 003's distance-with-density; one-hot bands of `field`")
    radius: Optional[float] = Field(None, gt=0, description="kernel radius in map units (density, distance_density)")
    field: Optional[str] = Field(None, description="class column (categorical)")
    classes: Optional[list[str]] = Field(None, description="classes to keep, in band order (categorical; default: all)")
    layer: Optional[str] = None
    crs: CrsText = Field(None, description="CRS of the layer when the file has none")
    unmapped: Literal["nodata", "zero"] = Field("nodata", description="categorical: cells outside every polygon are nodata (NaN) in every class band, or 0 (read as 'none of the classes'); the share is warned")

    @model_validator(mode="after")
    def _check_kind(self) -> "VectorLayerConfig":
        if self.kind in ("density", "distance_density") and self.radius is None:
            raise ValueError(f"kind {self.kind} needs a radius (map units)")
        if self.kind == "categorical" and not self.field:
            raise ValueError("kind categorical needs a field (the class column)")
        return self


class RasterSourceConfig(_Strict):
    """An existing raster used as evidence (magnetics, gravity, radiometrics, DEM), or a raster
    of class codes (lithology, stratigraphy: kind categorical)."""

    name: str
    path: Path
    kind: Literal["continuous", "categorical"] = Field(
        "continuous", description="continuous: measured values, one band each; categorical: one band of class codes (lithology, stratigraphy), "
                                  "read as one 0/1 band per class named <name>_<class> (class names from the raster's attribute table, .aux.xml or .vat.dbf, else the codes), "
                                  "warped by nearest (mode, the majority class, onto a coarser grid) and treated as one layer by importance, attribution and weights of evidence")
    resampling: Optional[Literal["bilinear", "average", "nearest", "cubic", "mode"]] = Field(
        None, description="warp onto the grid: null = average when the grid's cells are larger than the raster's, else bilinear (categorical: mode, else nearest); "
                          "bilinear / cubic (continuous), average (coarser grid), nearest or mode (class codes)")
    band: Optional[int] = Field(None, ge=1, description="one band (1-based); default: every band (categorical: the raster's one band)")
    bands: Optional[list[int]] = Field(None, min_length=1, description="several bands (1-based); default: every band (continuous only)")
    classes: Optional[list[Union[int, str]]] = Field(
        None, description="categorical: the classes to keep, by name or code, in band order (cells of any other class read 0 in every band); default: every class covering min_share")
    min_share: float = Field(0.01, ge=0, lt=1, description="categorical, without classes: classes covering less than this share of the raster's valid cells inside the grid "
                                                           "(and study area) are merged into one '<name>_other' band (0 = keep every class); at most 64 class bands")
    crs: CrsText = Field(None, description="CRS of the raster when the file has none")

    @model_validator(mode="after")
    def _check_bands(self) -> "RasterSourceConfig":
        if self.band is not None and self.bands is not None:
            raise ValueError("give band or bands, not both")
        if self.bands is not None and (min(self.bands) < 1 or len(set(self.bands)) != len(self.bands)):
            raise ValueError(f"bands are distinct 1-based band numbers, got {self.bands}")
        return self

    @model_validator(mode="after")
    def _check_kind(self) -> "RasterSourceConfig":
        if self.kind == "continuous":
            given = sorted({"classes", "min_share"} & self.model_fields_set)
            if given:
                raise ValueError(f"{' and '.join(given)} are for class codes: set kind: categorical (or leave {given[0]} out)")
            return self
        if self.bands is not None and len(self.bands) > 1:
            raise ValueError("a categorical raster is one band of class codes: give band: N (not bands:)")
        if self.resampling not in (None, "nearest", "mode"):
            raise ValueError(f"resampling {self.resampling} would mix class codes into codes that mean nothing: use nearest or mode (or leave it out)")
        if self.classes is not None and not self.classes:
            raise ValueError("classes: needs at least one class (or leave it out: every class covering min_share)")
        if self.classes is not None and "min_share" in self.model_fields_set:
            raise ValueError("min_share chooses the classes when classes: is not given: keep one of them")
        return self


class InterpolationConfig(_Strict):
    method: Literal["idw", "ordinary_kriging", "universal_kriging"] = Field("idw", description="IDW (settings under idw:) or kriging")
    variogram_model: Literal["spherical", "exponential", "gaussian", "linear", "power"] = "spherical"
    neighbors: Optional[int] = Field(32, ge=3, description="ordinary kriging from this many nearest samples (null = all)")


class SelectionConfig(_Strict):
    """Element selection by Z_AUC (papers 000-002) before interpolation."""

    enabled: bool = False
    distance: float = Field(2000.0, gt=0, description="samples within this distance (map units) of a training-area deposit are positives")
    z_crit: float = Field(2.58, ge=0, description="keep elements with Z_AUC above this (2.58 = the 0.01 level)")
    score: Literal["svm", "raw"] = "svm"
    min_elements: int = Field(1, ge=1, description="if fewer pass, keep this many best-ranked elements")


Scalar = Union[str, int, float, bool]


class DepositsConfig(_Strict):
    path: Path
    layer: Optional[str] = None
    crs: CrsText = Field(None, description="CRS of the deposits when the file has none")
    where: Optional[dict[str, Union[Scalar, list[Scalar]]]] = Field(
        None, description="keep only the features whose field equals a value, or is one of a list: {status: deposit} or {status: [deposit, mine]}; several fields: all must match")
    label: str = Field("known deposits", description="what the points are, for map legends (e.g. 'known deposits and occurrences')")

    @field_validator("where")
    @classmethod
    def _where_not_empty(cls, v: Optional[dict]) -> Optional[dict]:
        if v is not None and (not v or any(isinstance(x, list) and not x for x in v.values())):
            raise ValueError("where: needs at least one field and, for a list, at least one value (e.g. {status: deposit})")
        return v


class AreaConfig(_Strict):
    """The study area: a polygon layer; cells outside are nodata and never ranked."""

    path: Path
    layer: Optional[str] = None
    crs: Optional[str] = Field(None, description="CRS of the polygons when the file has none")


class WindowsConfig(_Strict):
    """The sample unit: every cell (default) or the papers' windows."""

    unit: Literal["cell", "window"] = Field("cell", description="cell: every cell with data is a sample labelled by the deposits in that cell (labels.radius), models see a patch centred on it, the map has one score per grid cell; "
                                                                 "window: the papers' recipe (windows of `size` every `stride` cells, positive when a deposit lies anywhere inside, one score per window) to reproduce them")
    size: Optional[int] = Field(None, ge=1, description="cells a side of what the model sees: with unit cell the patch centred on each cell (null = 1 for per-cell models, the model's context for CNNs, e.g. 15 for dense_cnn); with unit window the window (null = 32)")
    stride: Optional[int] = Field(None, ge=1, description="unit window only: cells between windows (null = 16); with unit cell every cell is a sample")
    min_valid: float = Field(0.5, ge=0, le=1, description="unit window only: windows with a smaller share of valid cells are dropped; with unit cell a sample is a cell with data in every band")
    test_fraction: float = Field(0.3, gt=0, lt=1, description="evaluation.method block only: the share of the rows (or columns) held out")
    split_axis: Literal["rows", "cols"] = "rows"
    test_side: Literal["start", "end"] = "end"

    def patch(self, model: str) -> int:
        """Cells a side of what ``model`` sees (``size``, or its default for the unit and model)."""
        if self.size is not None:
            return self.size
        if self.unit == "window":
            return 32
        builder = MODELS.get(model)
        if getattr(builder, "sees", "window") == "cell":
            return 1
        return int(getattr(builder, "context", 33))

    def step(self) -> int:
        """Cells between samples: 1 for cells, ``stride`` (default 16) for windows."""
        return 1 if self.unit == "cell" else (self.stride or 16)


class LabelsConfig(_Strict):
    """How deposits label the cells (windows.unit cell)."""

    radius: float = Field(0.0, ge=0, description="map units: cells whose centre lies within this distance of a deposit cell are positive too, with weight exp(-d²/2σ²), σ = radius/2 (0 = the deposit's own cell only)")


class EvaluationConfig(_Strict):
    """How `run` measures skill on ground its models never saw (out of fold), beside the baselines."""

    method: Literal["cv", "block"] = Field("cv", description="cv: deposit-stratified spatial k-fold cross-validation (every deposit scored by a model that never saw its block); block: the single test block of windows.test_fraction")
    folds: int = Field(5, ge=2, description="number of folds (cv)")
    block_size: Optional[float] = Field(None, gt=0, description="side of the spatial blocks in MAP UNITS (e.g. 40000 for 40 km in metres); null = automatic from the area's size and deposit count (the log and metrics.json say the choice; windows.folds.auto_block_side)")
    buffer: Optional[float] = Field(None, ge=0, description="distance in MAP UNITS from a training cell to a test block; null = the model's context radius, so no training patch reads a test-block cell (0 for a per-cell model); unit window: the gap between training and test windows, null = half a window")
    layouts: int = Field(3, ge=1, description="shifted block layouts (cv): the block grid shifted by 0, 1/n, 2/n ... of a block; > 1 reports the mean and spread over them")
    epochs: Optional[int] = Field(None, ge=1, description="training epochs of each fold's model; null = half of train.epochs (at least 1), to keep k folds affordable; the final map's model trains train.epochs")
    calibration: Literal["platt", "temperature", "isotonic", "none"] = Field("platt", description="how the map's probability band is calibrated from the out-of-fold window margins: platt (logistic on the margin; robust with few deposits), temperature (margin / T), isotonic (overfits with few deposits), none (the model's own softmax)")
    mc_dropout: int = Field(10, ge=0, description="Monte Carlo dropout passes of the final model for uncertainty.tif (only models with dropout layers; 0 = off)")
    baselines: list[str] = Field(["best_layer", "weights_of_evidence", "fuzzy", "logistic_cell", "random_forest_cell"], description="rows beside the model on the same folds: best_layer (best single evidence band, chosen on each fold's training area, sign included), weights_of_evidence and fuzzy (fitted on each fold's training area, evaluation/classic.py) and registered models (see `geoprospect models`)")


class PredictConfig(_Strict):
    batch_size: int = Field(256, ge=1)


class AttributionConfig(_Strict):
    """Why the model scores what it scores: attribution.tif and permutation importance."""

    enabled: bool = Field(True, description="write attribution.tif (per window, per evidence layer) and the out-of-fold permutation importance of each layer")
    method: Literal["auto", "integrated_gradients", "occlusion"] = Field("auto", description="auto: integrated gradients for models with gradients (CNNs), occlusion (layer set to its mean) for scikit-learn models")
    steps: int = Field(16, ge=2, description="integration steps of integrated gradients")
    repeats: int = Field(3, ge=1, description="permutations per layer (permutation importance: mean and std of the AUC drop)")


class TargetsConfig(_Strict):
    """Bounds of the P-A classes and the targets (geoprospect/evaluation/area_bounds.py; README "Classes and targets")."""

    high_share: float = Field(AreaBounds.high_share, gt=0, le=0.5, description="the high class holds at most this share of the ranked area (the out-of-fold P-A intersection's area when smaller); medium as much again")
    max_target_share: float = Field(AreaBounds.max_target_share, gt=0, le=0.5, description="one target holds at most this share of the ranked area: a larger connected high region keeps only its best-ranked cells")
    max_targets: int = Field(AreaBounds.max_targets, ge=1, description="targets.gpkg lists at most this many targets, the best by mean score")

    def bounds(self) -> AreaBounds:
        """These bounds for :mod:`geoprospect.evaluation.area_bounds`."""
        return AreaBounds(self.high_share, self.max_target_share, self.max_targets)


class ComputeConfig(_Strict):
    dask_scheduler: Optional[str] = Field(None, description="dask scheduler address (tcp://host:8786) or local / local:N; null = this machine, block by block")
    block_size: int = Field(1024, ge=16, description="block (and dask chunk) side in pixels; memory scales with its square")
    prefetch: int = Field(2, ge=0, description="batches read ahead by the background reader while predicting (0 = none)")
    memory_mb: Optional[float] = Field(None, gt=0, description="memory budget (MiB) for holding the stack while tiling and training; a larger stack is memory-mapped under OUTPUT/.scratch; null = a quarter of the available RAM")


class RunConfig(_Strict):
    """Everything `geoprospect run` needs."""

    name: str = "geoprospect run"
    output: Path = Path("geoprospect-out")
    crs: CrsText = Field(None, description="CRS of every input file that declares none (CSV points, rasters, vectors, deposits, area) unless its entry sets crs:; "
                               "an EPSG code, or the WKT of a local (engineering) frame for a survey in mine-grid coordinates: " + LOCAL_CRS_EXAMPLE)
    points: Optional[PointsConfig] = Field(None, description="geochemical samples, interpolated into one band per element; optional when rasters or vectors are given")
    grid: GridConfig
    idw: IDWConfig = IDWConfig()
    interpolation: InterpolationConfig = InterpolationConfig()
    selection: SelectionConfig = SelectionConfig()
    vectors: list[VectorLayerConfig] = []
    rasters: list[RasterSourceConfig] = []
    deposits: DepositsConfig
    area: Optional[AreaConfig] = Field(None, description="study-area polygons: the grid's bounds default to them; cells outside are nodata and not ranked")
    windows: WindowsConfig = WindowsConfig()
    labels: LabelsConfig = LabelsConfig()
    train: TrainConfig = TrainConfig()  # the one training configuration (geoprospect.training.config)
    evaluation: EvaluationConfig = EvaluationConfig()
    predict: PredictConfig = PredictConfig()
    attribution: AttributionConfig = AttributionConfig()
    targets: TargetsConfig = TargetsConfig()
    compute: ComputeConfig = ComputeConfig()

    @field_validator("vectors", "rasters")
    @classmethod
    def _vectors(cls, v: list) -> list:
        return _unique_names(v)

    @model_validator(mode="after")
    def _default_crs(self) -> "RunConfig":
        """The top-level crs: fills every entry's crs: left unset (it applies only where the file has none)."""
        if self.crs is not None:
            for entry in [self.points, self.deposits, self.area, *self.vectors, *self.rasters]:
                if entry is not None and entry.crs is None:
                    entry.crs = self.crs
        return self

    @model_validator(mode="after")
    def _some_evidence(self) -> "RunConfig":
        if self.points is None and not self.vectors and not self.rasters:
            raise ValueError("no evidence: give points: (geochemistry), vectors: (faults, geology...) or rasters: (geophysics...), at least one of them")
        if self.points is None and self.selection.enabled:
            raise ValueError("selection.enabled chooses geochemical elements: it needs points: (or set selection.enabled: false)")
        return self

    @model_validator(mode="after")
    def _crop_fits(self) -> "RunConfig":
        size = self.windows.patch(self.train.model)
        if self.train.crop is not None and self.train.crop > size:
            raise ValueError(f"train.crop ({self.train.crop}) is larger than windows.size ({size}): set windows.size to at least the crop")
        return self

    @model_validator(mode="after")
    def _small_windows_for_cell_models(self) -> "RunConfig":
        kind = getattr(MODELS.get(self.train.model), "sees", "window")
        size = self.windows.patch(self.train.model)
        if size < 4 and kind != "cell":
            raise ValueError(f"windows.size {size} is for per-cell models (e.g. blend_cell, logistic_cell); {self.train.model} sees {kind} windows: set windows.size to at least 4 (or leave it out: the model's own context)")
        return self

    @model_validator(mode="after")
    def _selection_needs_a_held_out_block(self) -> "RunConfig":
        # Element selection runs once, before the stack is built, from the deposits outside the
        # single held-out block. Under cv every deposit is in some fold's test set, so one choice
        # would have seen each fold's test deposits (an optimistic out-of-fold table); a choice per
        # fold would need one stack per fold. Refused rather than silently leaking.
        if self.selection.enabled and self.evaluation.method == "cv":
            raise ValueError("selection.enabled with evaluation.method cv: the element choice would see every fold's test deposits (optimistic out-of-fold table); "
                             "set evaluation.method: block (selection then uses the training-area deposits only) or selection.enabled: false")
        return self

    def sample_geometry(self) -> tuple[int, int, bool]:
        """(size, stride, centred) of the run's samples: a ``size``-cell patch centred on every cell
        (windows.unit cell: stride 1, centred), or the papers' windows (stride, not centred)."""
        return self.windows.patch(self.train.model), self.windows.step(), self.windows.unit == "cell"

    def resolve(self, base: Path) -> "RunConfig":
        """Resolve relative input paths against ``base`` (the config's folder)."""
        def r(p: Path) -> Path:
            return p if p.is_absolute() else (base / p).resolve()

        c = self.model_copy(deep=True)
        if c.points is not None:
            c.points.path = r(c.points.path)
        c.grid.template = None if c.grid.template is None else r(c.grid.template)
        c.deposits.path = r(c.deposits.path)
        if c.area is not None:
            c.area.path = r(c.area.path)
        for v in c.vectors:
            v.path = r(v.path)
        for rs in c.rasters:
            rs.path = r(rs.path)
        return c

    def input_files(self) -> list[Path]:
        files = [*([self.points.path] if self.points else []), self.deposits.path, *[v.path for v in self.vectors], *[r.path for r in self.rasters]]
        if self.area is not None:
            files.append(self.area.path)
        if self.grid.template:
            files.append(self.grid.template)
        return files


def _duplicate_key(node: Any) -> str | None:
    """The first key given twice in one mapping of a composed YAML tree (YAML silently keeps the last)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                if k.value in seen:
                    return f"key {k.value!r} is given twice (lines {seen[k.value] + 1} and {k.start_mark.line + 1})"
                seen[k.value] = k.start_mark.line
            found = _duplicate_key(v)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            found = _duplicate_key(v)
            if found:
                return found
    return None


def _known_keys(loc: tuple) -> list[str]:
    """Field names allowed at ``loc`` (the parent of an unknown key), for "did you mean"."""
    model: Any = RunConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        for arg in (getattr(ann, "__args__", None) or (ann,)):
            if hasattr(arg, "model_fields"):
                model = arg
                break
        else:
            return []
    return list(getattr(model, "model_fields", {}))


def _describe(e: dict) -> str:
    loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
    if e["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(e["loc"][-1]), _known_keys(tuple(e["loc"][:-1])), n=1)
        return f"{loc}: unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    if e["type"] == "missing":
        return f"{loc}: required key missing"
    got = e.get("input")
    shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
    return f"{loc}: {e['msg']}{shown}"


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run configuration; input paths resolved against its folder.

    YAML is read with a safe loader (no Python objects); a key given twice, an unknown key
    (with a "did you mean") and a wrong type are errors naming the key.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError("configuration file not found", path=path)
    if path.is_dir():
        raise ConfigError("this is a folder, not a configuration file", path=path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc})", path=path, hint="save the configuration as UTF-8") from exc
    try:
        raw = yaml.safe_load(text)
        dup = _duplicate_key(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML ({exc})", path=path) from exc
    if dup:
        raise ConfigError(f"not valid YAML: {dup}", path=path, hint="keep one of them")
    if not isinstance(raw, dict):
        raise ConfigError("the configuration must be a mapping of keys to values", path=path, hint="write a commented starter configuration with `geoprospect init` (pre-filled from your files: geoprospect init FILE...)")
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(dict(e)) for e in exc.errors()]
        raise ConfigError("invalid configuration:\n    " + "\n    ".join(lines), path=path, hint="see the config format in the README") from exc
    cfg = cfg.resolve(path.parent.resolve())
    missing = [p for p in cfg.input_files() if not p.exists()]
    if missing:
        raise ConfigError("input file(s) not found: " + ", ".join(map(str, missing)), path=path, hint="paths are relative to the config file's folder")
    folders = [p for p in cfg.input_files() if p.is_dir()]
    if folders:
        raise ConfigError("input path(s) are folders, not files: " + ", ".join(map(str, folders)), path=path, hint="name the file inside the folder")
    return cfg
