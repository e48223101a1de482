"""The uncertainty of a run's map: how much its ensemble members disagree, at full resolution.

Members are the cross-validation's fold models (each trained without one fold's blocks) and,
where the final model has dropout, Monte Carlo dropout passes of the final model. Every
member scores every window of the stack once; its margins go through the run's calibrator
(:mod:`geoprospect.evaluation.calibration`), so the spread is in the units of the map's
probability band; the per-window standard deviation (population, ddof = 0) is blended to the
stack's full resolution as the map is (:func:`~geoprospect.prediction.fullres.blend_windows`,
centre-weighted windows).

``uncertainty.tif`` (float32, nodata -9999, the stack's grid):

* ``member_std``: std of the fold models' calibrated probabilities (NaN with a single member);
* ``member_mean``: their mean;
* ``mc_dropout_std``: std over the MC dropout passes of the final model (only when it has dropout).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from geoprospect.ensemble.combine import simple_average, spread
from geoprospect.evaluation.calibration import Calibrator
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import read_bands, write_qml, write_raster
from geoprospect.prediction.fullres import blend_windows

UNCERTAINTY = "uncertainty.tif"
MEMBER_STD, MEMBER_MEAN, MC_STD = "member_std", "member_mean", "mc_dropout_std"


def member_margins(models: Sequence, score: Callable[[object], np.ndarray]) -> np.ndarray:
    """(M, ...) logit margins: ``score(model)`` (every window of the stack, once) per member."""
    return np.stack([np.asarray(score(m), dtype=np.float64) for m in models])


def window_spread(margins: np.ndarray, calibrator: Calibrator) -> tuple[np.ndarray, np.ndarray]:
    """Per-window (std, mean) of the members' calibrated probabilities; ``margins`` (M, ...).

    Windows no member scored are NaN; with a single member the std is NaN (no spread to read).
    """
    p = calibrator.apply(np.asarray(margins, dtype=np.float64))
    std = spread(p) if p.shape[0] > 1 else np.full(p.shape[1:], np.nan)
    return std, simple_average(p)


def blend_spread(grid: GridSpec, row_off: np.ndarray, col_off: np.ndarray, size: int, values: dict[str, np.ndarray], valid: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-window values (name -> (N,), e.g. the std and mean of :func:`window_spread`) blended to
    the stack grid like the map (centre-weighted windows): name -> (H, W); NaN windows are left out."""
    out = {}
    for name, v in values.items():
        v = np.asarray(v, dtype=np.float64).ravel()
        out[name] = blend_windows(grid, row_off, col_off, size, v, v, valid=valid).prob
    return out


def write_uncertainty(path: str | Path, bands: dict[str, np.ndarray], grid: GridSpec, tags: dict[str, str]) -> Path:
    """Write ``uncertainty.tif`` (one band per entry of ``bands``, float32, NaN as nodata) and
    a QGIS style stretched over band 1's finite values."""
    path = Path(path)
    write_raster(path, np.stack([np.asarray(v, dtype=np.float32) for v in bands.values()]), grid, list(bands), tags={"GEOPROSPECT_KIND": "uncertainty", **tags})
    first = np.asarray(next(iter(bands.values())), dtype=np.float64)
    finite = first[np.isfinite(first)]
    write_qml(path.with_suffix(".qml"), "evidence", 0.0, float(finite.max()) if finite.size and finite.max() > 0 else 1.0)
    return path


def read_uncertainty(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The bands (name -> (H, W) float64, NaN = nodata) and dataset tags of ``uncertainty.tif``."""
    data, names, tags, _ = read_bands(path)
    return dict(zip(names, data, strict=True)), tags


def summary(bands: dict[str, np.ndarray], tags: dict[str, str]) -> dict:
    """metrics.json's ``uncertainty``: per band its mean and 95th percentile, and how it was made."""
    out: dict = {"file": UNCERTAINTY, "members": tags.get("GEOPROSPECT_MEMBERS", ""), "method": tags.get("GEOPROSPECT_UNCERTAINTY", ""),
                 "mc_dropout_passes": int(tags.get("GEOPROSPECT_MC_DROPOUT_PASSES", "0") or 0), "calibration": tags.get("GEOPROSPECT_CALIBRATION", ""), "bands": {}}
    for name, a in bands.items():
        f = a[np.isfinite(a)]
        out["bands"][name] = {"mean": float(f.mean()) if f.size else None, "p95": float(np.percentile(f, 95)) if f.size else None}
    return out
