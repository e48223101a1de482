"""Ordinary and universal kriging (paper 004) through pykrige, and a leave-one-out comparison with IDW.

* Variogram models: "spherical" (paper 004's choice, eq. 14-16), "exponential", "gaussian",
  "linear", "power"; fitted by pykrige (least squares on the experimental variogram, eq. 13)
  unless parameters are given (map units).
* Universal kriging: drift "linear" (pykrige's regional linear drift) or "quadratic" (linear +
  x², y², xy functional drift: paper 004's second-order trend surface, its Fig. 1).
* Coordinates are shifted to a local origin and divided by the sample extent before pykrige
  sees them (conditioning of the kriging system with large UTM coordinates and quadratic drift);
  variogram ranges are converted back to map units in every report.
* The grid is predicted at cell centres in blocks of cells, so memory is bounded by
  ``block_cells × n_samples``, not by the map.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from geoprospect.geochem.errors import KrigingError
from geoprospect.grid import GridSpec

log = logging.getLogger(__name__)

MODELS = ("spherical", "exponential", "gaussian", "linear", "power")


@dataclass
class Variogram:
    """A variogram model with parameters in map units.

    ``parameters``: spherical/exponential/gaussian: psill, range, nugget; linear: slope, nugget;
    power: scale, exponent, nugget.
    """

    model: str
    parameters: dict[str, float] = field(default_factory=dict)

    def to_scaled(self, scale: float) -> dict[str, float]:
        """pykrige's dict form for coordinates divided by ``scale``.

        (The dict form is used on purpose: pykrige reads a *list* as [sill, range, nugget]
        but reports ``variogram_model_parameters`` as [psill, range, nugget].)
        """
        p = self.parameters
        if self.model in ("spherical", "exponential", "gaussian"):
            return {"psill": p["psill"], "range": p["range"] / scale, "nugget": p["nugget"]}
        if self.model == "linear":
            return {"slope": p["slope"] * scale, "nugget": p["nugget"]}
        if self.model == "power":
            return {"scale": p["scale"] * scale ** p["exponent"], "exponent": p["exponent"], "nugget": p["nugget"]}
        raise KrigingError(f"unknown variogram model {self.model!r}", hint=f"choose one of {', '.join(MODELS)}")

    @classmethod
    def from_scaled_list(cls, model: str, values: Sequence[float], scale: float) -> "Variogram":
        """From pykrige's fitted ``variogram_model_parameters`` ([psill, range, nugget], ...)."""
        v = [float(x) for x in values]
        if model in ("spherical", "exponential", "gaussian"):
            return cls(model, {"psill": v[0], "range": v[1] * scale, "nugget": v[2]})
        if model == "linear":
            return cls(model, {"slope": v[0] / scale, "nugget": v[1]})
        if model == "power":
            return cls(model, {"scale": v[0] / scale ** v[1], "exponent": v[1], "nugget": v[2]})
        raise KrigingError(f"unknown variogram model {model!r}")


class _Frame:
    """Local, scaled coordinates: u = (xy − origin) / scale."""

    def __init__(self, xy: np.ndarray) -> None:
        self.origin = xy.min(axis=0)
        ext = float(np.max(xy.max(axis=0) - self.origin))
        self.scale = ext if ext > 0 else 1.0

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        return (np.asarray(xy, dtype=np.float64) - self.origin) / self.scale


def _check(xy: np.ndarray, z: np.ndarray, model: str) -> None:
    if model not in MODELS:
        raise KrigingError(f"unknown variogram model {model!r}", hint=f"choose one of {', '.join(MODELS)}")
    if xy.shape[0] < 5:
        raise KrigingError(f"kriging needs at least 5 samples with values, got {xy.shape[0]}", hint="use IDW for so few samples")
    if np.ptp(z) == 0:
        raise KrigingError("every sample has the same value: the variogram is flat", hint="drop this element (constant)")
    _, counts = np.unique(xy, axis=0, return_counts=True)
    if (counts > 1).any():
        raise KrigingError(
            f"{int((counts > 1).sum())} locations hold more than one sample: the kriging system is singular",
            hint="average or reject duplicate locations first (geoprospect.geochem.duplicates, --duplicates average)",
        )


def _ok(u: np.ndarray, z: np.ndarray, vario: Variogram | None, model: str, frame: _Frame, nlags: int):
    from pykrige.ok import OrdinaryKriging

    params = None if vario is None else vario.to_scaled(frame.scale)
    try:
        return OrdinaryKriging(u[:, 0], u[:, 1], z, variogram_model=model, variogram_parameters=params, nlags=nlags)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise KrigingError(f"pykrige cannot set up ordinary kriging ({exc})") from exc


def _uk(u: np.ndarray, z: np.ndarray, vario: Variogram | None, model: str, frame: _Frame, nlags: int, drift: str):
    from pykrige.uk import UniversalKriging

    params = None if vario is None else vario.to_scaled(frame.scale)
    kw: dict = {"drift_terms": ["regional_linear"]}
    if drift == "quadratic":
        kw = {
            "drift_terms": ["regional_linear", "functional"],
            "functional_drift": [lambda x, y: x * x, lambda x, y: y * y, lambda x, y: x * y],
        }
    elif drift != "linear":
        raise KrigingError(f"drift must be 'linear' or 'quadratic', got {drift!r}")
    try:
        return UniversalKriging(u[:, 0], u[:, 1], z, variogram_model=model, variogram_parameters=params, nlags=nlags, **kw)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise KrigingError(f"pykrige cannot set up universal kriging ({exc})") from exc


def fit_variogram(xy: np.ndarray, values: np.ndarray, model: str = "spherical", *, nlags: int = 6) -> Variogram:
    """Fit a variogram model to (N,) values at (N, 2) points (pykrige's least-squares fit)."""
    xy = np.asarray(xy, dtype=np.float64)
    z = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(z)
    xy, z = xy[ok], z[ok]
    _check(xy, z, model)
    frame = _Frame(xy)
    k = _ok(frame(xy), z, None, model, frame, nlags)
    return Variogram.from_scaled_list(model, k.variogram_model_parameters, frame.scale)


def kriging(
    xy: np.ndarray,
    values: np.ndarray,
    grid: GridSpec,
    *,
    method: str = "ordinary",
    variogram_model: str = "spherical",
    variogram: Variogram | Sequence[Variogram] | None = None,
    nlags: int = 6,
    drift: str = "linear",
    block_cells: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Krige point values onto ``grid`` cell centres.

    Args:
        xy: (N, 2) sample coordinates in the grid's CRS (map units).
        values: (N,) or (N, E); NaN = not analysed (skipped for that element).
        grid: target grid.
        method: "ordinary" or "universal".
        variogram_model: model fitted per element when ``variogram`` is None.
        variogram: fixed variogram(s) in map units (one, or one per element).
        nlags: lags of the experimental variogram.
        drift: universal kriging drift, "linear" or "quadratic".
        block_cells: cells per block (default: about 2e7 / N, so blocks hold ~160 MB of float64).
        progress: called with the number of cells done after each block.

    Returns:
        (estimate, variance): two (E, rows, cols) float32 arrays (kriging variance in value units²).
    """
    if method not in ("ordinary", "universal"):
        raise KrigingError(f"method must be 'ordinary' or 'universal', got {method!r}")
    xy = np.asarray(xy, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    vals = vals[:, None] if vals.ndim == 1 else vals
    if xy.ndim != 2 or xy.shape[1] != 2 or vals.shape[0] != xy.shape[0]:
        raise ValueError(f"xy {xy.shape} and values {vals.shape} do not match")
    n_el = vals.shape[1]
    varios: list[Variogram | None]
    if variogram is None:
        varios = [None] * n_el
    elif isinstance(variogram, Variogram):
        varios = [variogram] * n_el
    else:
        varios = list(variogram)
        if len(varios) != n_el:
            raise ValueError(f"{len(varios)} variograms for {n_el} elements")
    est = np.full((n_el, grid.height, grid.width), np.nan, dtype=np.float32)
    var = np.full_like(est, np.nan)
    n_cells = grid.height * grid.width
    for e in range(n_el):
        ok = np.isfinite(vals[:, e])
        pxy, z = xy[ok], vals[ok, e]
        model = varios[e].model if varios[e] is not None else variogram_model
        _check(pxy, z, model)
        frame = _Frame(pxy)
        u = frame(pxy)
        k = _ok(u, z, varios[e], model, frame, nlags) if method == "ordinary" else _uk(u, z, varios[e], model, frame, nlags, drift)
        fitted = Variogram.from_scaled_list(model, k.variogram_model_parameters, frame.scale)
        log.info("kriging element %d (%s, %s): %s", e, method, model, fitted.parameters)
        bc = block_cells or max(256, int(2e7 // (len(z) + 4)))
        rows_per_block = max(1, bc // grid.width)
        for r0 in range(0, grid.height, rows_per_block):
            h = min(rows_per_block, grid.height - r0)
            c = frame(grid.cell_centers(r0, 0, h, grid.width))
            try:
                zz, ss = k.execute("points", c[:, 0], c[:, 1])
            except np.linalg.LinAlgError as exc:
                raise KrigingError(f"the kriging system is singular ({exc})", hint="check for duplicate samples or use another variogram model") from exc
            est[e, r0 : r0 + h] = np.asarray(zz, dtype=np.float64).reshape(h, grid.width)
            var[e, r0 : r0 + h] = np.maximum(np.asarray(ss, dtype=np.float64), 0.0).reshape(h, grid.width)
            if progress is not None:
                progress(h * grid.width)
    return est, var


def _point_grid(x: float, y: float, crs: object) -> GridSpec:
    """A 1 × 1 grid whose single cell centre is (x, y)."""
    return GridSpec.from_bounds((x - 0.5, y - 0.5, x + 0.5, y + 0.5), 1.0, crs)


def loo_cv(
    xy: np.ndarray,
    values: np.ndarray,
    *,
    methods: Sequence[str] = ("idw", "ordinary", "universal"),
    variogram_model: str = "spherical",
    variogram: Variogram | None = None,
    nlags: int = 6,
    drift: str = "linear",
    idw_kwargs: dict | None = None,
    max_points: int | None = 200,
    seed: int = 0,
    crs: object = "EPSG:3857",
):
    """Leave-one-out cross-validation of IDW and kriging at the sample points.

    Each held-out sample is predicted from all others: IDW by
    :func:`geoprospect.evidence.idw.idw` itself (a one-cell grid centred on the sample, so its
    exact semantics apply), kriging by pykrige with the variogram fitted once on all samples
    (the usual geostatistical LOO). ``max_points`` held-out samples are drawn at random (seed)
    to bound the cost (each kriging fold solves an N × N system).

    Returns:
        (summary DataFrame with method, n, rmse, mae, me (mean error = bias), variogram;
        predictions DataFrame with index, observed and one column per method).
    """
    import pandas as pd

    from geoprospect.evidence.idw import idw

    xy = np.asarray(xy, dtype=np.float64)
    z = np.asarray(values, dtype=np.float64).ravel()
    ok = np.isfinite(z)
    xy, z = xy[ok], z[ok]
    model = variogram.model if variogram is not None else variogram_model
    _check(xy, z, model)
    n = len(z)
    held = np.arange(n)
    if max_points is not None and n > max_points:
        held = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
    frame = _Frame(xy)
    u = frame(xy)
    vario = variogram
    if vario is None and any(m in ("ordinary", "universal") for m in methods):
        vario = Variogram.from_scaled_list(model, _ok(u, z, None, model, frame, nlags).variogram_model_parameters, frame.scale)
    idw_kwargs = {"power": 2.0, "neighbors": 12, **(idw_kwargs or {})}
    preds = {m: np.full(held.size, np.nan) for m in methods}
    for j, i in enumerate(held):
        keep = np.arange(n) != i
        for m in methods:
            if m == "idw":
                g = _point_grid(xy[i, 0], xy[i, 1], crs)
                preds[m][j] = float(idw(xy[keep], z[keep], g, **idw_kwargs)[0, 0, 0])
            elif m in ("ordinary", "universal"):
                k = _ok(u[keep], z[keep], vario, model, frame, nlags) if m == "ordinary" else _uk(u[keep], z[keep], vario, model, frame, nlags, drift)
                zz, _ = k.execute("points", u[i : i + 1, 0], u[i : i + 1, 1])
                preds[m][j] = float(np.asarray(zz)[0])
            else:
                raise KrigingError(f"unknown method {m!r} in the comparison", hint="use idw, ordinary, universal")
    obs = z[held]
    rows = []
    for m in methods:
        err = preds[m] - obs
        good = np.isfinite(err)
        rows.append({
            "method": m, "n": int(good.sum()),
            "rmse": float(math.sqrt(np.mean(err[good] ** 2))) if good.any() else math.nan,
            "mae": float(np.mean(np.abs(err[good]))) if good.any() else math.nan,
            "me": float(np.mean(err[good])) if good.any() else math.nan,
            "settings": (f"{model} {vario.parameters}" + (f", drift {drift}" if m == "universal" else "")) if m != "idw" and vario is not None
            else ", ".join(f"{k}={v}" for k, v in idw_kwargs.items()),
        })
    predictions = pd.DataFrame({"index": held, "observed": obs, **preds})
    return pd.DataFrame(rows), predictions
