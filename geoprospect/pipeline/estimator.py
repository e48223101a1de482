"""A scikit-learn-style estimator over a whole stack: :class:`ProspectivityModel` (fit / predict / save / load).

It composes the library's single entry points and adds no logic of its own: windows from
:func:`geoprospect.windows.tiling.make_windows`, training by :func:`geoprospect.training.fit.fit`
with one :class:`~geoprospect.training.config.TrainConfig`, scoring by
:func:`geoprospect.prediction.predict.predict`, and the checkpoint (``model.pt`` state_dict +
``model.json`` sidecar, read back with ``torch.load(weights_only=True)``) of
:mod:`geoprospect.models.checkpoint`::

    model = ProspectivityModel("blend_cell")       # every cell a sample (unit="cell"), the default model
    model.fit("out/stack.tif", "sample_data/deposits.gpkg")
    pred = model.predict("out/stack.tif")          # Prediction on the stack's own grid: prob, margin
    ProspectivityModel("lenet", window=32, stride=16, unit="window")   # the papers' windows
    write_prediction(pred, "out/prospectivity.tif")
    model.save("out/model"); ProspectivityModel.load("out/model")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from pydantic import ValidationError
from torch import nn

from geoprospect.errors import ModelError, ParameterError
from geoprospect.evaluation.metrics import deposit_capture, deposit_flat
from geoprospect.io.rasters import Stack, raster_band_names, read_stack
from geoprospect.io.vectors import deposit_points, read_vectors
from geoprospect.models.checkpoint import ModelMeta, load_checkpoint, save_checkpoint
from geoprospect.models.registry import MODELS
from geoprospect.prediction.predict import Prediction, predict
from geoprospect.training.config import TrainConfig
from geoprospect.training.fit import fit, model_meta
from geoprospect.windows.cells import block_split, make_cells
from geoprospect.windows.dataset import WindowDataset, normalise_stack
from geoprospect.windows.tiling import make_windows

StackLike = str | Path | Stack
DepositsLike = str | Path | np.ndarray


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} must be a positive integer (pixels), not {value!r}", hint=f"ProspectivityModel({name}=...)")
    return int(value)


def _train_config(model: str, epochs: int, seed: int, device: str, settings: dict[str, Any]) -> TrainConfig:
    """The TrainConfig of the estimator's arguments; ParameterError naming the bad one."""
    if not isinstance(model, str) or model not in MODELS:
        raise ParameterError(f"model must be one of the registered models, not {model!r}", hint=f"model=... one of: {', '.join(MODELS)}")
    try:
        return TrainConfig.model_validate({**settings, "model": model, "epochs": epochs, "seed": seed, "device": device})
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(map(str, err["loc"])) or "train_settings"
        raise ParameterError(f"{name}: {err['msg']}", hint=f"ProspectivityModel({name}=...); settings: {', '.join(TrainConfig.model_fields)}") from exc


def as_stack(stack: StackLike) -> Stack:
    """A :class:`Stack` in memory from a stack GeoTIFF path (or the stack itself)."""
    if isinstance(stack, Stack):
        return stack
    if isinstance(stack, (str, Path)):
        return read_stack(stack)
    raise ParameterError(f"stack must be a stack GeoTIFF path or an io.rasters.Stack, not {type(stack).__name__}", hint="fit(stack=...) / predict(stack=...)")


def deposit_xy(deposits: DepositsLike, crs: object) -> np.ndarray:
    """(N, 2) deposit coordinates in ``crs`` from a vector file (reprojected) or an (N, 2) array (already in ``crs``)."""
    if isinstance(deposits, (str, Path)):
        return deposit_points(read_vectors(deposits, target_crs=crs, what="deposits"))
    if isinstance(deposits, gpd.GeoDataFrame):
        return deposit_points(deposits.to_crs(crs) if deposits.crs is not None else deposits)
    xy = np.asarray(deposits, dtype=np.float64) if isinstance(deposits, (np.ndarray, list, tuple)) else None
    if xy is None or xy.ndim != 2 or xy.shape[1] != 2 or not len(xy):
        raise ParameterError("deposits must be a vector file or an (N, 2) array of x, y in the stack's CRS",
                             hint=f"fit(deposits=...); got {getattr(xy, 'shape', type(deposits).__name__)}")
    return xy


class ProspectivityModel:
    """A cell (or window) classifier over an evidence stack: ``fit(stack, deposits)``, ``predict(stack)``, ``save``/``load``.

    Args:
        model: a registered model name (``geoprospect models``): the default per-cell blend,
            the dense CNN, torchvision nets, the papers' nets, scikit-learn baselines.
        window: side in cells of what the model sees: with ``unit="cell"`` the patch centred on
            each cell (None: 1 for per-cell models, the model's context for CNNs, e.g. 15 for
            dense_cnn); with ``unit="window"`` the window (None: 32).
        stride: ``unit="window"`` only: cells between windows (None: 16; windows with less than
            ``min_valid`` valid pixels are skipped).
        unit: ``"cell"`` (default: every cell with data a sample labelled at the cell, one score
            per grid cell, :mod:`geoprospect.windows.cells`) or ``"window"`` (the papers' recipe).
        radius: ``unit="cell"``: label radius in map units (soft weights; 0 = the deposit's cell).
        epochs, seed, device: training length, the seed (CPU runs repeat bit for bit),
            ``auto``/``cpu``/``cuda[:N]`` (training and prediction).
        test_fraction: None trains on every window; a fraction holds out that spatial block
            (``split_axis``/``test_side`` as :func:`~geoprospect.windows.tiling.make_windows`).
        train_settings: any other :class:`~geoprospect.training.config.TrainConfig` setting
            (``batch_size``, ``lr``, ``optimizer``, ``preset``, ``flips``, ``crop``, ...).

    After :meth:`fit`: ``network_`` (the trained module), ``meta_`` (its checkpoint sidecar:
    bands, normalisation, window geometry), ``history_`` (per-epoch rows), ``windows_``.
    """

    def __init__(self, model: str = "blend_cell", window: int | None = None, stride: int | None = None, epochs: int = 10, seed: int = 0,
                 device: str = "auto", *, unit: str = "cell", radius: float = 0.0, min_valid: float = 0.5, test_fraction: float | None = None,
                 **train_settings: Any) -> None:
        from geoprospect.pipeline.config import WindowsConfig

        if unit not in ("cell", "window"):
            raise ParameterError(f"unit must be 'cell' or 'window', not {unit!r}", hint="ProspectivityModel(unit=...)")
        if not (isinstance(radius, (int, float)) and radius >= 0):
            raise ParameterError(f"radius must be a distance >= 0 in map units, not {radius!r}", hint="ProspectivityModel(radius=...)")
        self.unit, self.radius = unit, float(radius)
        geom = WindowsConfig(unit=unit, size=None if window is None else _positive_int("window", window), stride=None if stride is None else _positive_int("stride", stride))
        self.window = geom.patch(model if isinstance(model, str) else "")
        self.stride = geom.step()
        if not 0 < float(min_valid) <= 1:
            raise ParameterError(f"min_valid must be in (0, 1], not {min_valid!r}", hint="ProspectivityModel(min_valid=...)")
        if test_fraction is not None and not 0 < float(test_fraction) < 1:
            raise ParameterError(f"test_fraction must be None or in (0, 1), not {test_fraction!r}", hint="ProspectivityModel(test_fraction=...)")
        self.min_valid, self.test_fraction = float(min_valid), test_fraction
        self.split = {k: train_settings.pop(k) for k in ("split_axis", "test_side") if k in train_settings}
        self.config = _train_config(model, epochs, seed, device, train_settings)
        if self.config.crop is not None and self.config.crop > self.window:
            raise ParameterError(f"crop {self.config.crop} is larger than the {self.window}-pixel windows", hint="ProspectivityModel(crop=...) or a larger window")
        self.network_: nn.Module | None = None
        self.meta_: ModelMeta | None = None
        self.history_: list[dict] = []
        self.windows_: gpd.GeoDataFrame | None = None

    def __repr__(self) -> str:
        return f"ProspectivityModel(model={self.config.model!r}, window={self.window}, stride={self.stride}, unit={self.unit!r}, epochs={self.config.epochs}, seed={self.config.seed})"

    def fit(self, stack: StackLike, deposits: DepositsLike) -> "ProspectivityModel":
        """Train on the stack's cells (or windows) labelled by ``deposits``; returns self."""
        st = as_stack(stack)
        xy = deposit_xy(deposits, st.grid.crs)
        if self.unit == "cell":
            windows, _ = make_cells(st.valid, st.grid, xy, size=self.window, radius=self.radius)
            if self.test_fraction is not None:
                windows["split"] = block_split(windows, st.grid, self.test_fraction, self.split.get("split_axis", "rows"), self.split.get("test_side", "end"))
        else:
            windows, _ = make_windows(st.valid, st.grid, xy, size=self.window, stride=self.stride, min_valid=self.min_valid,
                                      test_fraction=self.test_fraction, **self.split)
        train = windows[windows["split"] == "train"]
        mean, std = st.moments()
        ds = WindowDataset(normalise_stack(st), train[["row_off", "col_off"]].to_numpy(), self.window, train["label"].to_numpy(),
                           weights=train["weight"].to_numpy() if "weight" in train else None)
        net, hist = fit(self.config.model, ds, self.config)
        self.network_, self.windows_, self.history_ = net, windows, hist.rows
        self.meta_ = model_meta(self.config.model, self.config, hist, band_names=st.band_names, mean=mean, std=std, window_size=self.window,
                                stride=self.stride, grid=st.grid.to_dict(), min_valid=self.min_valid, sample_unit=self.unit, label_radius=self.radius)
        return self

    def _fitted(self) -> tuple[nn.Module, ModelMeta]:
        if self.network_ is None or self.meta_ is None:
            raise ModelError("this ProspectivityModel is not fitted yet", hint="call fit(stack, deposits) or ProspectivityModel.load(folder) first")
        return self.network_, self.meta_

    def predict(self, stack: StackLike, *, batch_size: int = 256) -> Prediction:
        """Deposit probability and logit margin of every cell with data (``unit="cell"``: on the
        stack's own grid) or every window position (``unit="window"``: the window-stride grid).

        ``stack``: a Stack in memory or a stack GeoTIFF (read block by block); its bands must be
        the training stack's. Write the result with :func:`~geoprospect.prediction.predict.write_prediction`.
        """
        net, meta = self._fitted()
        if isinstance(stack, (str, Path)):
            names = raster_band_names(stack)
        elif isinstance(stack, Stack):
            names = stack.band_names
        else:
            as_stack(stack)  # raises the ParameterError
        if list(names) != list(meta.band_names):
            raise ModelError(f"the stack's bands {list(names)} are not the model's {meta.band_names}",
                             hint="predict on a stack built with the same layers, in the same order, as the training stack")
        return predict(net, stack, meta.mean, meta.std, size=meta.window_size, stride=meta.stride, min_valid=self.min_valid,
                       batch_size=_positive_int("batch_size", batch_size), device=self.config.device, crop=meta.input_size,
                       centred=meta.training.get("sample_unit") == "cell")

    def capture(self, prediction: Prediction, deposits: DepositsLike) -> dict:
        """Deposit capture of ``prediction`` (top 5/10/20 % of scored cells, success-rate AUC), ranked by logit margin.

        In-sample when ``deposits`` are the training deposits: quote held-out figures
        (:func:`geoprospect.evaluation.crossval.cross_validate`) as the model's skill.
        """
        xy = deposit_xy(deposits, prediction.grid.crs)
        return deposit_capture(prediction.margin.ravel(), deposit_flat(prediction.grid, xy))

    def save(self, folder: str | Path) -> Path:
        """Write ``model.pt`` (state_dict) and ``model.json`` (architecture, bands, normalisation, windows, settings)."""
        net, meta = self._fitted()
        return save_checkpoint(folder, net, meta)

    @classmethod
    def load(cls, folder: str | Path) -> "ProspectivityModel":
        """A fitted estimator from a folder written by :meth:`save` or ``geoprospect train``."""
        net, meta = load_checkpoint(folder)
        settings = {k: v for k, v in meta.training.items() if k in TrainConfig.model_fields and k not in ("model", "epochs", "seed", "device", "preset")}
        settings["options"] = dict(meta.options)
        unit = meta.training.get("sample_unit", "window")
        self = cls(meta.architecture, meta.window_size, None if unit == "cell" else meta.stride, meta.training.get("epochs", 10), meta.training.get("seed", 0),
                   meta.training.get("device", "auto"), unit=unit, radius=meta.training.get("label_radius", 0.0), min_valid=meta.training.get("min_valid", 0.5), **settings)
        self.network_, self.meta_, self.history_ = net, meta, list(meta.training.get("history", []))
        return self
