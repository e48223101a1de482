"""geoprospect: mineral prospectivity mapping with deep learning.

``import geoprospect as gp`` gives the pipeline's verbs (loaded on first use, so importing the
package stays fast and does not import torch):

- read: ``read_points`` (CSV/GPKG points + element values), ``read_vectors``, ``deposit_points``,
  ``read_stack``; the grid: ``GridSpec``.
- evidence layers as arrays on a grid: ``idw``, ``kriging``, ``distance``, ``density``,
  ``categorical``.
- the stack: ``build_stack`` from layer constructors (``idw_layer``, ``kriging_layer``,
  ``distance_layer``, ``density_layer``, ``categorical_layer``, ``array_layer``,
  ``raster_layer``, ``categorical_raster_layer``) -> one multiband GeoTIFF.
- windows and folds: ``make_windows``, ``spatial_folds``.
- models: ``ProspectivityModel(model, window, stride, epochs, seed, device, **train_settings)``
  with ``fit(stack, deposits)``, ``predict(stack) -> Prediction``, ``capture``, ``save`` /
  ``ProspectivityModel.load``; ``TrainConfig`` (every training setting).
- lower level: ``fit`` (training), ``predict`` (scoring a stack), ``write_prediction``
  (the prospectivity GeoTIFF), ``cross_validate`` (spatially held-out metrics).
- errors: ``GeoprospectError`` and its subclasses ``ParameterError``, ``InputError``,
  ``ConfigError``, ``ModelError``, ``FoldError``.

Library calls are silent: no progress bar unless asked (``geoprospect.progress.set_mode("bar")``);
figures never touch pyplot or the matplotlib backend. Example (runs from the repository root)::

    import numpy as np
    import geoprospect as gp

    grid = gp.GridSpec.from_bounds((500000, 2800000, 540000, 2840000), 1000, "EPSG:32649")
    points = gp.read_points("sample_data/samples.csv", ["Au_ppb", "As_ppm"], x_field="x", y_field="y", crs="EPSG:32649")
    au = gp.idw(points.xy, points.values, grid, radius=5000)          # (2, 40, 40) float32
    faults = gp.read_vectors("sample_data/fault_lines.gpkg", target_crs=grid.crs)
    d = gp.distance(faults.geometry.values, grid)                      # (40, 40) metres
    print(au.shape, d.shape, round(float(np.nanmax(d))))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> "module:attribute" (imported on first access, PEP 562)
_LAZY: dict[str, str] = {
    # grid and errors
    "GridSpec": "geoprospect.grid:GridSpec",
    "GeoprospectError": "geoprospect.errors:GeoprospectError",
    "ParameterError": "geoprospect.errors:ParameterError",
    "InputError": "geoprospect.errors:InputError",
    "ConfigError": "geoprospect.errors:ConfigError",
    "ModelError": "geoprospect.errors:ModelError",
    "FoldError": "geoprospect.errors:FoldError",
    # reading
    "read_points": "geoprospect.io.points:read_points",
    "read_vectors": "geoprospect.io.vectors:read_vectors",
    "deposit_points": "geoprospect.io.vectors:deposit_points",
    "read_stack": "geoprospect.io.rasters:read_stack",
    # evidence layers as arrays
    "idw": "geoprospect.evidence.idw:idw",
    "kriging": "geoprospect.evidence.kriging:kriging",
    "distance": "geoprospect.evidence.distance:distance_to_features",
    "density": "geoprospect.evidence.density:feature_density",
    "categorical": "geoprospect.evidence.categorical:categorical_bands",
    # the stack
    "build_stack": "geoprospect.stack.build:build_stack",
    "idw_layer": "geoprospect.stack.layers:idw_layer",
    "kriging_layer": "geoprospect.stack.layers:kriging_layer",
    "distance_layer": "geoprospect.stack.layers:distance_layer",
    "density_layer": "geoprospect.stack.layers:density_layer",
    "categorical_layer": "geoprospect.stack.layers:categorical_layer",
    "array_layer": "geoprospect.stack.layers:array_layer",
    "raster_layer": "geoprospect.stack.rasters:raster_layer",
    "categorical_raster_layer": "geoprospect.stack.rasters:categorical_raster_layer",
    # windows, training, prediction, evaluation
    "make_windows": "geoprospect.windows.tiling:make_windows",
    "spatial_folds": "geoprospect.windows.folds:spatial_block_folds",
    "TrainConfig": "geoprospect.training.config:TrainConfig",
    "fit": "geoprospect.training.fit:fit",
    "predict": "geoprospect.prediction.predict:predict",
    "Prediction": "geoprospect.prediction.predict:Prediction",
    "write_prediction": "geoprospect.prediction.predict:write_prediction",
    "cross_validate": "geoprospect.evaluation.crossval:cross_validate",
    "ProspectivityModel": "geoprospect.pipeline.estimator:ProspectivityModel",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    """Import a public name on first access (keeps ``import geoprospect`` free of torch)."""
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'geoprospect' has no attribute {name!r}")
    module, attr = target.split(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
