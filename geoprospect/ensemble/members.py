"""An ensemble from the prospectivity GeoTIFFs of several models: read the members, weigh them,
apply every rule, write one multiband GeoTIFF and (given the window index) paper 003's Table 2."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import geopandas as gpd
import numpy as np
import rasterio

from geoprospect.ensemble.combine import RULES, combine, spread, weights_from_scores
from geoprospect.ensemble.stats import ore_statistics
from geoprospect.errors import GridError, InputError
from geoprospect.grid import GridSpec
from geoprospect.io.atomic import write_json
from geoprospect.io.rasters import write_raster


def read_members(paths: Sequence[Path]) -> tuple[GridSpec, np.ndarray]:
    """The grid and the (M, H, W) float64 deposit probabilities (band 1, NaN = nodata) of M
    rasters on one grid; GridError names the first raster on another grid."""
    if len(paths) < 2:
        raise InputError("an ensemble needs at least two rasters")
    grid = GridSpec.from_raster(paths[0])
    probs = []
    for p in paths:
        if not GridSpec.from_raster(p).same_as(grid):
            raise GridError("the rasters are not on one grid", path=p, hint="predict every model on the same stack")
        with rasterio.open(p) as src:
            probs.append(src.read(1, masked=True).astype("float64").filled(np.nan))
    return grid, np.stack(probs)


def member_weights(n: int, weights: Sequence[float] | None = None, *, from_auc: bool = False) -> np.ndarray:
    """Normalised weights of ``n`` members: equal by default; ``weights`` as given (one per
    member), or, with ``from_auc``, ROC AUCs turned into max(AUC - 0.5, 0), normalised."""
    if not weights:
        return np.full(n, 1.0 / n)
    if len(weights) != n:
        raise InputError(f"{len(weights)} weights for {n} rasters")
    return weights_from_scores(weights) if from_auc else np.asarray(weights) / np.sum(weights)


def ensemble_bands(probs: np.ndarray, weights: np.ndarray, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Every rule of :data:`~geoprospect.ensemble.combine.RULES` plus ``spread_std``, each (H, W)."""
    bands = {r: combine(probs, r, weights=weights, threshold=threshold) for r in RULES}
    bands["spread_std"] = spread(probs)
    return bands


def write_ensemble(out: Path, probs: np.ndarray, bands: dict[str, np.ndarray], grid: GridSpec, members: Sequence[str], weights: np.ndarray) -> Path:
    """One band per rule (NaN where no member scored), tagged with the members and weights."""
    scored = np.isfinite(probs).any(0)
    data = np.stack([np.where(scored, bands[k], np.nan).astype(np.float32) for k in bands])
    tags = {"GEOPROSPECT_KIND": "ensemble", "GEOPROSPECT_MEMBERS": ",".join(members), "GEOPROSPECT_WEIGHTS": ",".join(f"{v:.4g}" for v in weights)}
    return write_raster(out, data, grid, list(bands), tags=tags)


def window_statistics(probs: np.ndarray, members: Sequence[str], bands: dict[str, np.ndarray], windows: gpd.GeoDataFrame, grid: GridSpec, *, path: Path | None = None) -> dict:
    """Paper 003's Table 2 over the windows of a window index (``row``/``col`` on the members'
    window grid, ``label``): ore-bearing counts per member and per voting/averaging rule."""
    r, c = windows["row"].to_numpy(), windows["col"].to_numpy()
    if r.max() >= grid.height or c.max() >= grid.width:
        raise GridError("the window index does not match the rasters' window grid", path=path)
    per_model = {m: probs[i][r, c] for i, m in enumerate(members)}
    return ore_statistics(per_model, {k: bands[k][r, c] for k in RULES}, windows["label"].to_numpy())


def build_ensemble(
    paths: Sequence[Path],
    out: Path,
    *,
    weights: Sequence[float] | None = None,
    weights_from_auc: bool = False,
    threshold: float = 0.5,
    windows: gpd.GeoDataFrame | None = None,
    windows_path: Path | None = None,
) -> dict[str, Path]:
    """Combine the prospectivity GeoTIFFs ``paths`` into ``out`` (every rule as a band, plus the
    spread); with ``windows``, also Table 2 as JSON beside ``out`` (``.table2.json``).

    Returns the outputs written: ``raster`` and, with windows, ``table2``.
    """
    grid, probs = read_members(paths)
    w = member_weights(len(paths), weights, from_auc=weights_from_auc)
    bands = ensemble_bands(probs, w, threshold)
    members = [Path(p).name for p in paths]
    write_ensemble(out, probs, bands, grid, members, w)
    res = {"raster": out}
    if windows is not None:
        stats = window_statistics(probs, [Path(p).stem for p in paths], bands, windows, grid, path=windows_path)
        res["table2"] = write_json(out.with_suffix(".table2.json"), stats)
    return res
