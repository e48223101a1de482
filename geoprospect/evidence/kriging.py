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

import functools
import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from geoprospect.errors import KrigingError, ParameterError
from geoprospect.grid import GridSpec

log = logging.getLogger(__name__)

MODELS = ("spherical", "exponential", "gaussian", "linear", "power")



@functools.cache
def _backend() -> str:
    """pykrige's compiled moving-neighbourhood backend "C" (pure-Python "loop" otherwise).

    Looked up on first use, like pykrige itself (imported in the functions that krige): pykrige
    imports scipy.optimize (~0.3 s), which the other evidence commands do not need."""
    try:
        import pykrige.lib.cok  # noqa: F401
    except ImportError:  # pragma: no cover
        return "loop"
    return "C"


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
    neighbors: int | None = None,
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
        neighbors: ordinary kriging from the this many nearest samples per cell (pykrige's
            ``n_closest_points``, compiled backend), as GIS packages do; None = all samples
            (one global system; cost grows as N² per cell). Universal kriging uses all samples.
        block_cells: cells per block (default: about 2e7 / N, so blocks hold ~160 MB of float64).
        progress: called with the number of cells done after each block.

    Returns:
        (estimate, variance): two (E, rows, cols) float32 arrays (kriging variance in value units²).
    """
    _check_kriging_args(method, neighbors)
    xy = np.asarray(xy, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    vals = vals[:, None] if vals.ndim == 1 else vals
    if xy.ndim != 2 or xy.shape[1] != 2 or vals.shape[0] != xy.shape[0]:
        raise ParameterError(f"xy {xy.shape} and values {vals.shape} do not match", hint="pass xy as (N, 2) and values as (N,) or (N, E) for the same N samples")
    varios = _variograms(variogram, vals.shape[1])
    est = np.full((vals.shape[1], grid.height, grid.width), np.nan, dtype=np.float32)
    var = np.full_like(est, np.nan)
    for e in range(vals.shape[1]):
        ok = np.isfinite(vals[:, e])
        pxy, z = xy[ok], vals[ok, e]
        model = varios[e].model if varios[e] is not None else variogram_model
        _check(pxy, z, model)
        frame = _Frame(pxy)
        u = frame(pxy)
        k = _ok(u, z, varios[e], model, frame, nlags) if method == "ordinary" else _uk(u, z, varios[e], model, frame, nlags, drift)
        fitted = Variogram.from_scaled_list(model, k.variogram_model_parameters, frame.scale)
        # fitted here: say so; given (a stack layer's block): the caller said it once
        log.log(logging.INFO if varios[e] is None else logging.DEBUG, "kriging element %d (%s, %s): %s", e, method, model, fitted.parameters)
        _execute_rows(k, frame, grid, len(z), neighbors, block_cells, est[e], var[e], progress)
    return est, var


def _check_kriging_args(method: str, neighbors: int | None) -> None:
    """KrigingError for an unknown method or an impossible neighbourhood."""
    if method not in ("ordinary", "universal"):
        raise KrigingError(f"method must be 'ordinary' or 'universal', got {method!r}")
    if neighbors is not None and method == "universal":
        raise KrigingError("a moving neighbourhood (neighbors) is available for ordinary kriging only", hint="leave neighbors unset for universal kriging")
    if neighbors is not None and neighbors < 3:
        raise KrigingError(f"neighbors must be at least 3, got {neighbors}")


def _variograms(variogram: Variogram | Sequence[Variogram] | None, n_el: int) -> list[Variogram | None]:
    """One fixed variogram (or None = fit) per element."""
    if variogram is None:
        return [None] * n_el
    if isinstance(variogram, Variogram):
        return [variogram] * n_el
    varios: list[Variogram | None] = list(variogram)
    if len(varios) != n_el:
        raise ParameterError(f"variogram: {len(varios)} variograms for {n_el} elements", hint="pass one Variogram, or one per element (values column)")
    return varios


def _execute_rows(k, frame: "_Frame", grid: GridSpec, n_samples: int, neighbors: int | None, block_cells: int | None,
                  est: np.ndarray, var: np.ndarray, progress: Callable[[int], None] | None) -> None:
    """Fill one element's (rows, cols) estimate and variance, blocks of rows at a time."""
    bc = block_cells or max(256, int(2e7 // (n_samples + 4)))
    rows_per_block = max(1, bc // grid.width)
    for r0 in range(0, grid.height, rows_per_block):
        h = min(rows_per_block, grid.height - r0)
        c = frame(grid.cell_centers(r0, 0, h, grid.width))
        try:
            if neighbors is not None:
                zz, ss = k.execute("points", c[:, 0], c[:, 1], backend=_backend(), n_closest_points=min(int(neighbors), n_samples))
            else:
                zz, ss = k.execute("points", c[:, 0], c[:, 1])
        except np.linalg.LinAlgError as exc:
            raise KrigingError(f"the kriging system is singular ({exc})", hint="check for duplicate samples or use another variogram model") from exc
        est[r0 : r0 + h] = np.asarray(zz, dtype=np.float64).reshape(h, grid.width)
        var[r0 : r0 + h] = np.maximum(np.asarray(ss, dtype=np.float64), 0.0).reshape(h, grid.width)
        if progress is not None:
            progress(h * grid.width)


def _point_grid(x: float, y: float, crs: object) -> GridSpec:
    """A 1 × 1 grid whose single cell centre is (x, y)."""
    return GridSpec.from_bounds((x - 0.5, y - 0.5, x + 0.5, y + 0.5), 1.0, crs)


def _variogram_fn(model: str):
    from pykrige import variogram_models as vm

    return {
        "spherical": vm.spherical_variogram_model, "exponential": vm.exponential_variogram_model,
        "gaussian": vm.gaussian_variogram_model, "linear": vm.linear_variogram_model, "power": vm.power_variogram_model,
    }[model]


def loo_fast(u: np.ndarray, z: np.ndarray, vario: Variogram, scale: float, *, method: str = "ordinary", drift: str = "linear") -> np.ndarray:
    """Exact leave-one-out kriging predictions at every sample, from one factorisation.

    Dubrule (1983, Math. Geol. 15, 687-699): with the kriging matrix A = [[−Γ, F], [Fᵀ, 0]]
    (Γ the variogram between samples, F the drift columns: 1 for ordinary kriging; 1, x, y
    (+ x², y², xy) for universal kriging) and w = A⁻¹ [z; 0], the error of predicting sample i
    from all the others with the same variogram is z_i − ẑ_(−i) = w_i / (A⁻¹)_ii.
    Written here because refitting pykrige N times costs O(N⁴); this is O(N³) once, and the
    test suite checks it against pykrige refitted without each sample.
    """
    n = len(z)
    d = np.hypot(u[:, None, 0] - u[None, :, 0], u[:, None, 1] - u[None, :, 1])
    p = vario.to_scaled(scale)
    g = _variogram_fn(vario.model)(list(p.values()), d)
    np.fill_diagonal(g, 0.0)
    cols = [np.ones(n)]
    if method == "universal":
        x, y = u[:, 0], u[:, 1]
        cols += [x, y]
        if drift == "quadratic":
            cols += [x * x, y * y, x * y]
        elif drift != "linear":
            raise KrigingError(f"drift must be 'linear' or 'quadratic', got {drift!r}")
    f = np.column_stack(cols)
    k = f.shape[1]
    a = np.zeros((n + k, n + k))
    a[:n, :n] = -g
    a[:n, n:] = f
    a[n:, :n] = f.T
    try:
        ainv = np.linalg.inv(a)
    except np.linalg.LinAlgError as exc:
        raise KrigingError(f"the kriging system is singular ({exc})", hint="check for duplicate samples or use another variogram model") from exc
    w = ainv[:, :n] @ z
    err = w[:n] / np.diag(ainv)[:n]
    return z - err


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
    max_points: int | None = None,
    seed: int = 0,
    crs: object = "EPSG:3857",
    kriging_loo: str = "fast",
    neighbors: int | None = None,
):
    """Leave-one-out cross-validation of IDW and kriging at the sample points.

    Each held-out sample is predicted from all others: IDW by
    :func:`geoprospect.evidence.idw.idw` itself (a one-cell grid centred on the sample, so its
    exact semantics apply), kriging by pykrige with the variogram fitted once on all samples
    (the usual geostatistical LOO): ``kriging_loo="fast"`` uses Dubrule's exact shortcut
    (:func:`loo_fast`, one N × N inverse), ``"refit"`` re-runs pykrige without each sample (slow,
    for checking; always used with ``neighbors``, the moving neighbourhood of ordinary kriging). ``max_points`` held-out samples may be drawn at random (seed) to bound the cost.

    Returns:
        (summary DataFrame with method, n, rmse, mae, me (mean error = bias), variogram;
        predictions DataFrame with index, observed and one column per method).
    """
    import pandas as pd

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
    if kriging_loo not in ("fast", "refit"):
        raise ParameterError(f"kriging_loo must be 'fast' or 'refit', got {kriging_loo!r}", hint="kriging_loo='fast' (Dubrule's exact LOO) or 'refit'")
    if neighbors is not None and "universal" in methods:
        raise KrigingError("a moving neighbourhood (neighbors) is available for ordinary kriging only", hint="drop 'universal' from the methods or unset neighbors")
    fast_methods = {m for m in methods if m in ("ordinary", "universal")} if (kriging_loo == "fast" and neighbors is None) else set()
    for m in fast_methods:
        preds[m][:] = loo_fast(u, z, vario, frame.scale, method=m, drift=drift)[held]
    _loo_refit(preds, held, xy, z, u, methods, fast_methods, vario, model, frame, nlags, drift, neighbors, crs, idw_kwargs)
    obs = z[held]
    rows = [_loo_row(m, preds[m] - obs, model, vario, drift, neighbors, idw_kwargs) for m in methods]
    predictions = pd.DataFrame({"index": held, "observed": obs, **preds})
    return pd.DataFrame(rows), predictions


def _loo_refit(preds: dict, held: np.ndarray, xy: np.ndarray, z: np.ndarray, u: np.ndarray, methods: Sequence[str], fast_methods: set,
               vario, model: str, frame: "_Frame", nlags: int, drift: str, neighbors: int | None, crs: object, idw_kwargs: dict) -> None:
    """Fill ``preds`` for the methods not done by the fast shortcut: refit without each held-out sample."""
    from geoprospect.evidence.idw import idw

    n = len(z)
    for j, i in enumerate(held):
        keep = np.arange(n) != i
        for m in methods:
            if m == "idw":
                g = _point_grid(xy[i, 0], xy[i, 1], crs)
                preds[m][j] = float(idw(xy[keep], z[keep], g, require_inside=False, **idw_kwargs)[0, 0, 0])
            elif m in fast_methods:
                continue
            elif m in ("ordinary", "universal"):
                k = _ok(u[keep], z[keep], vario, model, frame, nlags) if m == "ordinary" else _uk(u[keep], z[keep], vario, model, frame, nlags, drift)
                if neighbors is not None:
                    zz, _ = k.execute("points", u[i : i + 1, 0], u[i : i + 1, 1], backend=_backend(), n_closest_points=min(int(neighbors), n - 1))
                else:
                    zz, _ = k.execute("points", u[i : i + 1, 0], u[i : i + 1, 1])
                preds[m][j] = float(np.asarray(zz)[0])
            else:
                raise KrigingError(f"unknown method {m!r} in the comparison", hint="use idw, ordinary, universal")


def _loo_row(m: str, err: np.ndarray, model: str, vario, drift: str, neighbors: int | None, idw_kwargs: dict) -> dict:
    """One summary row (n, rmse, mae, mean error, settings) of a method's leave-one-out errors."""
    good = np.isfinite(err)
    return {
        "method": m, "n": int(good.sum()),
        "rmse": float(math.sqrt(np.mean(err[good] ** 2))) if good.any() else math.nan,
        "mae": float(np.mean(np.abs(err[good]))) if good.any() else math.nan,
        "me": float(np.mean(err[good])) if good.any() else math.nan,
        "settings": (f"{model} {vario.parameters}" + (f", drift {drift}" if m == "universal" else "") + (f", {neighbors} nearest" if neighbors and m == "ordinary" else "")) if m != "idw" and vario is not None
        else ", ".join(f"{k}={v}" for k, v in idw_kwargs.items()),
    }


def loo_cv_elements(
    xy: np.ndarray,
    values: np.ndarray,
    elements: Sequence[str],
    *,
    variogram_model: str = "spherical",
    nlags: int = 6,
    drift: str = "linear",
    power: float = 2.0,
    idw_neighbors: int | None = 12,
    max_points: int | None = None,
    seed: int = 0,
):
    """:func:`loo_cv` for every element: the variogram is fitted once per element, then IDW,
    ordinary and universal kriging are compared at the samples.

    Args:
        xy: (N, 2) sample coordinates in a projected CRS (map units).
        values: (N, E) element values (NaN = missing, skipped per element).
        elements: the E element names.
        idw_neighbors: IDW nearest samples (None or 0 = all samples).
        max_points: hold out at most this many random samples per element (None = all).

    Returns:
        DataFrame with element, method, n, rmse, mae, me, settings (one row per element and method).
    """
    import pandas as pd

    vals = np.asarray(values, dtype=np.float64)
    vals = vals[:, None] if vals.ndim == 1 else vals
    if vals.shape[1] != len(elements):
        raise ParameterError(f"values have {vals.shape[1]} columns for {len(elements)} elements", hint="pass one element name per values column")
    frames = []
    for j, e in enumerate(elements):
        v = fit_variogram(xy, vals[:, j], variogram_model, nlags=nlags)
        s, _ = loo_cv(xy, vals[:, j], variogram=v, nlags=nlags, drift=drift, max_points=max_points or None, seed=seed,
                      idw_kwargs={"power": power, "neighbors": idw_neighbors or None})
        s.insert(0, "element", e)
        frames.append(s)
        best = s.loc[s["rmse"].idxmin(), "method"]
        log.info("%s: RMSE %s (best: %s)", e, ", ".join(f"{m}={r:.4g}" for m, r in zip(s["method"], s["rmse"], strict=True)), best)
    return pd.concat(frames, ignore_index=True)


def loo_markdown(table) -> str:
    """The :func:`loo_cv_elements` table as a Markdown page."""
    lines = ["# Leave-one-out cross-validation: IDW vs kriging", "", "| element | method | n | RMSE | MAE | mean error | settings |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.element} | {r.method} | {r.n} | {r.rmse:.4g} | {r.mae:.4g} | {r.me:.3g} | {r.settings} |" for r in table.itertuples()]
    return "\n".join(lines) + "\n"
