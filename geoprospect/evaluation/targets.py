"""From a prospectivity map to what a geologist acts on: classes, a numbered window grid, targets.

- Classes: 1 low, 2 medium, 3 high, by two score thresholds: from the prediction-area (P-A)
  plot (:func:`pa_thresholds`: high = scores at or above the P-A intersection; medium = down to
  the score whose area is twice the high class's), bounded as `run` does
  (:func:`bounded_thresholds`: the rule of :mod:`geoprospect.evaluation.area_bounds`), or given
  by the user.
- Numbered window grid (as the papers' 12 x 12 figures): non-overlapping cells of ``cell`` pixels
  numbered 1..N row by row from the top left, each with its mean score, class and deposits.
- Target areas: connected high cells (8-neighbour) as polygons, ranked by mean score then area,
  numbered 1..n, with the known deposits they contain and their area in km² (from the CRS's
  linear unit; "map units²" only for a local CRS of unknown unit); bounded in size and number by
  :class:`~geoprospect.evaluation.area_bounds.AreaBounds` (:func:`bounded_targets`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoprospect.errors import GridError
from geoprospect.evaluation.area_bounds import AreaBounds, cap_regions, flat_reason, top_cut
from geoprospect.evaluation.metrics import prediction_area
from geoprospect.grid import AREA_KM2, GridSpec, cell_areas
from geoprospect.io.atomic import atomic_path, write_text
from geoprospect.io.rasters import write_raster

log = logging.getLogger(__name__)

CLASS_NAMES = {1: "low", 2: "medium", 3: "high"}
CLASS_COLOURS = {1: "#2c7bb6", 2: "#fdae61", 3: "#d7191c"}


@dataclass
class Thresholds:
    """Score boundaries: medium >= ``medium``, high >= ``high``; ``source`` says where they came from."""

    medium: float
    high: float
    source: str
    high_share: float | None = None  # share of the scored cells in the high class (0-1), when the rule is bounded
    medium_share: float | None = None  # share of the scored cells in the medium class
    flat: str | None = None  # why there is no high or medium class (a constant map), else None


def pa_thresholds(scores: np.ndarray, deposit_cells: np.ndarray) -> Thresholds:
    """High = the P-A intersection score; medium = the score whose top area is twice the high class's."""

    s = np.asarray(scores, dtype=np.float64).ravel()
    s = np.sort(s[np.isfinite(s)])[::-1]
    if s.size == 0:
        raise GridError("the score map holds no valid cell")
    dep = np.asarray(deposit_cells, dtype=np.int64).ravel()
    if dep.size == 0 or not np.isfinite(np.asarray(scores, dtype=np.float64).ravel()[dep]).any():
        # no deposit to draw a P-A plot from: top 10 % high, next 20 % medium (said so)
        return Thresholds(float(s[max(int(0.3 * s.size), 1) - 1]), float(s[max(int(0.1 * s.size), 1) - 1]), "area quantiles (no known deposit on the map): top 10 % high, next 20 % medium")
    pa = prediction_area(scores, deposit_cells)
    high = pa.intersection_threshold
    n_high = int((s >= high).sum())
    medium = float(s[min(max(2 * n_high, 1), s.size) - 1])
    return Thresholds(min(medium, high), high, f"prediction-area intersection ({100 * pa.intersection_rate:.0f}% of deposits in {100 * pa.intersection_area:.0f}% of the area)")


def bounded_thresholds(final: np.ndarray, oof: np.ndarray, deposit_cells: np.ndarray, bounds: AreaBounds | None = None) -> Thresholds:
    """Class boundaries of the final map ``final`` ((H, W) ranking score, e.g. the logit margin)
    by the bounded rule of :mod:`geoprospect.evaluation.area_bounds`: the high class's share is the
    area fraction at the P-A intersection of the OUT-OF-FOLD map ``oof`` (same grid, ranked on its
    cells with a score; ``deposit_cells`` flat indices) capped at ``bounds.high_share``; medium as
    much again. Ties are never split; a (near) constant ``final`` gets no high or medium class
    (``flat`` says why; both thresholds are +inf)."""
    b = bounds or AreaBounds()
    reason = flat_reason(final)
    if reason is not None:
        return Thresholds(float("inf"), float("inf"), f"no high or medium class: {reason}", 0.0, 0.0, reason)
    o = np.asarray(oof, dtype=np.float64)
    dep = np.asarray(deposit_cells, dtype=np.int64).ravel()
    dep = dep[np.isfinite(o.ravel()[dep])] if dep.size else dep
    if dep.size and flat_reason(o) is None:
        pa = prediction_area(o, dep)
        share = min(pa.intersection_area, b.high_share)
        why = (f"the out-of-fold P-A intersection ({100 * pa.intersection_rate:.0f} % of the deposits in {100 * pa.intersection_area:.1f} % of the area)"
               + (f" is above the {100 * b.high_share:g} % bound (targets.high_share)" if pa.intersection_area > b.high_share else ""))
    else:
        share, why = b.high_share, "no out-of-fold P-A plot (no scored deposit or a constant out-of-fold map): the bound itself"
    n = int(np.isfinite(np.asarray(final, dtype=np.float64)).sum())
    share = max(share, 1.0 / n)  # an intersection inside the best cell: that cell
    high, n_high = top_cut(final, share)
    medium, n_med = top_cut(final, 2 * share)
    if n_high == 0:
        why += "; the best-scoring cells tie over more than that share: no high class"
    medium = min(medium, high)
    return Thresholds(medium, high, f"high = top {100 * n_high / n:.1f} % of the ranked area, medium = the next {100 * (n_med - n_high) / n:.1f} % ({why})",
                      n_high / n, (n_med - n_high) / n)


def classify(scores: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """0 nodata, 1 low, 2 medium, 3 high (uint8, same shape as ``scores``)."""
    if thresholds.medium > thresholds.high:
        raise GridError(f"the medium threshold {thresholds.medium} is above the high one {thresholds.high}")
    s = np.asarray(scores, dtype=np.float64)
    out = np.zeros(s.shape, dtype=np.uint8)
    ok = np.isfinite(s)
    out[ok] = 1
    out[ok & (s >= thresholds.medium)] = 2
    out[ok & (s >= thresholds.high)] = 3
    return out


def write_classes(classes: np.ndarray, grid: GridSpec, out: str | Path, thresholds: Thresholds) -> Path:
    """Class raster (1/2/3, nodata 0 shown as nodata) with a paletted QML style."""
    out = Path(out)
    data = np.where(classes > 0, classes, np.nan).astype(np.float32)
    tags = {"GEOPROSPECT_KIND": "prospectivity_classes", "GEOPROSPECT_THRESHOLD_MEDIUM": repr(thresholds.medium), "GEOPROSPECT_THRESHOLD_HIGH": repr(thresholds.high),
            "GEOPROSPECT_THRESHOLD_SOURCE": thresholds.source, "GEOPROSPECT_CLASSES": "1=low,2=medium,3=high"}
    if thresholds.high_share is not None:
        tags.update({"GEOPROSPECT_HIGH_SHARE": f"{thresholds.high_share:.6g}", "GEOPROSPECT_MEDIUM_SHARE": f"{thresholds.medium_share or 0.0:.6g}"})
    write_raster(out, data[None], grid, ["potential_class"], tags=tags)
    items = "\n".join(f'          <paletteEntry value="{k}" label="{v}" color="{CLASS_COLOURS[k]}" alpha="255"/>' for k, v in CLASS_NAMES.items())
    write_text(
        out.with_suffix(".qml"),
        f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.40" styleCategories="AllStyleCategories">
  <pipe>
    <rasterrenderer type="paletted" band="1" opacity="1">
      <colorPalette>
{items}
      </colorPalette>
    </rasterrenderer>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
""",
    )
    return out


def _deposit_cells(grid: GridSpec, deposits_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dep = np.asarray(deposits_xy, dtype=np.float64).reshape(-1, 2)
    inside = grid.contains(dep[:, 0], dep[:, 1])
    r, c = grid.rowcol(dep[inside, 0], dep[inside, 1])
    return np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64), np.flatnonzero(inside)


def window_grid(scores: np.ndarray, grid: GridSpec, deposits_xy: np.ndarray, *, cell: int, classes: np.ndarray | None = None, prob: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Numbered grid of non-overlapping ``cell`` x ``cell`` pixel squares over the stack.

    Args:
        scores: (H, W) full-resolution score (e.g. blended probability) on ``grid``.
        grid: the stack's grid.
        deposits_xy: (N, 2) known deposits in the grid's CRS.
        cell: square side in pixels (the window size reproduces the papers' figures).
        classes: optional (H, W) class raster; a square's class is its most frequent valid class.
        prob: optional (H, W) probability to average as well (when ``scores`` are margins).

    Returns:
        GeoDataFrame (grid CRS): number (1..N row-major from the top left), row, col, score
        (mean of valid cells), [prob], class, class_name, n_deposits, has_deposit.
    """
    H, W = grid.shape
    if cell < 1 or cell > min(H, W):
        raise GridError(f"window-grid cell of {cell} px does not fit the {H} x {W} stack")
    nr, nc = H // cell, W // cell
    s = np.asarray(scores, dtype=np.float64)[: nr * cell, : nc * cell].reshape(nr, cell, nc, cell)
    ok = np.isfinite(s)
    cnt = ok.sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, np.where(ok, s, 0).sum(axis=(1, 3)) / np.maximum(cnt, 1), np.nan)
    rows, cols = np.meshgrid(np.arange(nr), np.arange(nc), indexing="ij")
    data = {"number": (rows * nc + cols + 1).ravel(), "row": rows.ravel(), "col": cols.ravel(), "score": mean.ravel()}
    if prob is not None:
        p = np.asarray(prob, dtype=np.float64)[: nr * cell, : nc * cell].reshape(nr, cell, nc, cell)
        pok = np.isfinite(p)
        with np.errstate(invalid="ignore", divide="ignore"):
            data["prob"] = np.where(pok.sum(axis=(1, 3)) > 0, np.where(pok, p, 0).sum(axis=(1, 3)) / np.maximum(pok.sum(axis=(1, 3)), 1), np.nan).ravel()
    if classes is not None:
        k = np.asarray(classes)[: nr * cell, : nc * cell].reshape(nr, cell, nc, cell)
        counts = np.stack([(k == v).sum(axis=(1, 3)) for v in (1, 2, 3)])
        cls = np.where(counts.sum(0) > 0, counts.argmax(0) + 1, 0)
        data["class"] = cls.ravel().astype(np.int64)
        data["class_name"] = np.array(["nodata", "low", "medium", "high"])[cls.ravel()]
    r, c, _ = _deposit_cells(grid, deposits_xy)
    inn = (r < nr * cell) & (c < nc * cell)
    ndep = np.zeros((nr, nc), dtype=np.int64)
    np.add.at(ndep, (r[inn] // cell, c[inn] // cell), 1)
    data["n_deposits"] = ndep.ravel()
    data["has_deposit"] = (ndep.ravel() > 0).astype(np.int64)
    t = grid.transform
    x0 = t.c + cols.ravel() * cell * t.a
    y0 = t.f + rows.ravel() * cell * t.e
    geom = shapely.box(x0, y0 + cell * t.e, x0 + cell * t.a, y0)
    return gpd.GeoDataFrame(data, geometry=geom, crs=grid.crs.to_wkt())


def target_areas(scores: np.ndarray, classes: np.ndarray, grid: GridSpec, deposits_xy: np.ndarray, *, min_cells: int = 1, level: int = 3,
                 extra: Mapping[str, np.ndarray] | None = None, rank: np.ndarray | None = None, bounds: AreaBounds | None = None) -> gpd.GeoDataFrame:
    """Connected cells of class >= ``level`` (8-neighbour) as ranked, numbered polygons.

    Args:
        scores: (H, W) score averaged per target (``mean_score``, e.g. the calibrated probability).
        classes: (H, W) classes (:func:`classify`) on ``grid``.
        grid: the map's grid; its CRS's linear unit gives the areas in km².
        deposits_xy: (N, 2) known deposits in the grid's CRS.
        extra: name -> (H, W) map averaged per target as ``mean_<name>``.
        rank: (H, W) ranking score used to cap large regions (default ``scores``).
        bounds: with it, a region over ``bounds.max_target_share`` of the scored cells keeps its
            best-ranked cells (:func:`~geoprospect.evaluation.area_bounds.cap_regions`) and only the
            ``bounds.max_targets`` best targets are kept; None: every region, whole.

    Returns a GeoDataFrame (grid CRS): target (1 = best), mean_score, max_score, n_cells,
    ``area_km2`` (``area_map_units2`` for a local CRS of unknown unit), area_pct (% of the cells
    with a score), n_deposits, deposit_ids (comma-separated indices into ``deposits_xy``) and the
    ``mean_<name>`` columns; ranked by mean score, then area, both descending.
    """
    lab, n, _ = _regions(scores, classes, level, rank, bounds)
    table = _target_table(scores, lab, n, grid, deposits_xy, extra or {}, min_cells)
    return table if bounds is None else _renumber(table.head(bounds.max_targets))


def bounded_targets(scores: np.ndarray, rank: np.ndarray, classes: np.ndarray, grid: GridSpec, deposits_xy: np.ndarray, bounds: AreaBounds, *,
                    extra: Mapping[str, np.ndarray] | None = None, flat: str | None = None) -> tuple[gpd.GeoDataFrame, str]:
    """:func:`target_areas` under ``bounds`` (``rank``: the (H, W) ranking score the classes were
    cut on) and one sentence saying what was written and why (log, report, metrics.json).
    ``flat``: the reason the map has no high class (:attr:`Thresholds.flat`): no target then."""
    lab, n, capped = _regions(scores, np.where(flat is None, classes, 0), 3, rank, bounds)
    table = _target_table(scores, lab, n, grid, deposits_xy, extra or {}, 1)
    if n == 0:
        return table, f"no target written: {flat or 'no cell is in the high class'}"
    out = _renumber(table.head(bounds.max_targets))
    acol = area_column(grid)
    unit = "km²" if acol == "area_km2" else "map units²"
    total, share = float(out[acol].sum()), float(out["area_pct"].sum())
    note = (f"{len(out)} target(s), {total:.4g} {unit} in all ({share:.1f} % of the ranked area), the largest {float(out[acol].max()):.4g} {unit}, "
            f"{int((out['n_deposits'] > 0).sum())} holding known deposits")
    if capped:
        note += f"; {capped} high region(s) larger than {100 * bounds.max_target_share:g} % of the area kept only their best cells"
    if len(table) > len(out):
        note += f"; {len(table) - len(out)} smaller-scoring high region(s) beyond the best {bounds.max_targets} are not listed"
    return out, note


def area_column(grid: GridSpec) -> str:
    """The targets' area column for ``grid``'s CRS: ``area_km2``, or ``area_map_units2`` when its unit is unknown."""
    return "area_km2" if cell_areas(grid)[1] == AREA_KM2 else "area_map_units2"


def _regions(scores: np.ndarray, classes: np.ndarray, level: int, rank: np.ndarray | None, bounds: AreaBounds | None) -> tuple[np.ndarray, int, int]:
    """Labels of the connected regions of class >= ``level`` (capped with ``bounds``), their count, and how many were capped."""
    from scipy import ndimage

    lab, n = ndimage.label(np.asarray(classes) >= level, structure=np.ones((3, 3), dtype=bool))
    if bounds is None or n == 0:
        return lab, int(n), 0
    scored = int(np.isfinite(np.asarray(scores, dtype=np.float64)).sum())
    max_cells = max(1, int(np.floor(bounds.max_target_share * scored + 1e-9)))
    return cap_regions(lab, scores if rank is None else rank, max_cells)


def _target_table(scores: np.ndarray, lab: np.ndarray, n: int, grid: GridSpec, deposits_xy: np.ndarray, extra: Mapping[str, np.ndarray], min_cells: int) -> gpd.GeoDataFrame:
    """One row per labelled region (1..n) with at least ``min_cells`` cells, ranked and numbered."""
    from rasterio import features
    from scipy import ndimage

    acol = area_column(grid)
    cols = ["target", "mean_score", "max_score", "n_cells", acol, "area_pct", "n_deposits", "deposit_ids", *[f"mean_{k}" for k in extra]]
    empty = gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=grid.crs.to_wkt())
    if n == 0:
        return empty
    idx = np.arange(1, n + 1)
    s = np.asarray(scores, dtype=np.float64)
    sz = np.where(np.isfinite(s), s, 0.0)
    n_cells = ndimage.sum_labels(np.ones_like(sz), lab, idx).astype(np.int64)
    per_row, _ = cell_areas(grid)
    area = ndimage.sum_labels(np.broadcast_to(per_row[:, None], lab.shape), lab, idx)
    scored = max(int(np.isfinite(s).sum()), 1)
    mean, mx = ndimage.mean(sz, lab, idx), ndimage.maximum(sz, lab, idx)
    extra_means = {k: _label_means(v, lab, idx) for k, v in extra.items()}
    r, c, dep_idx = _deposit_cells(grid, deposits_xy)
    dl = lab[r, c]
    geoms: dict[int, list] = {}
    # 8-connectivity polygons so diagonal-only neighbours stay one target
    for geom, val in features.shapes(lab.astype(np.int32), mask=lab > 0, connectivity=8, transform=grid.transform):
        geoms.setdefault(int(val), []).append(shapely.geometry.shape(geom))
    rows = []
    for i in idx:
        if n_cells[i - 1] < min_cells:
            continue
        ids = dep_idx[dl == i]
        rows.append({"mean_score": float(mean[i - 1]), "max_score": float(mx[i - 1]), "n_cells": int(n_cells[i - 1]), acol: float(area[i - 1]),
                     "area_pct": 100.0 * float(n_cells[i - 1]) / scored, "n_deposits": int(ids.size), "deposit_ids": ",".join(str(int(v)) for v in ids),
                     **{f"mean_{k}": float(v[i - 1]) for k, v in extra_means.items()}, "geometry": shapely.union_all(geoms[int(i)])})
    if not rows:
        return empty
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=grid.crs.to_wkt())
    return _renumber(gdf.sort_values(["mean_score", acol], ascending=[False, False], kind="stable"))


def _renumber(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``target`` = 1..n in the table's order (first column)."""
    gdf = gdf.drop(columns="target", errors="ignore").reset_index(drop=True)
    gdf.insert(0, "target", np.arange(1, len(gdf) + 1, dtype=np.int64))
    return gdf


def _label_means(values: np.ndarray, lab: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Mean of the finite ``values`` over each label of ``idx`` (NaN for a label without any)."""
    from scipy import ndimage

    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    s = ndimage.sum_labels(np.where(ok, v, 0.0), lab, idx)
    n = ndimage.sum_labels(ok.astype(np.float64), lab, idx)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def write_gpkg(gdf: gpd.GeoDataFrame, path: str | Path, layer: str) -> Path:
    """Write a GeoDataFrame as a GeoPackage layer, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        gdf.to_file(tmp, layer=layer, driver="GPKG")
    return path


def thresholds_from_user(values: Sequence[float]) -> Thresholds:
    """User thresholds (medium, high)."""
    if len(values) != 2:
        raise GridError(f"give two thresholds (medium, high), got {list(values)}")
    return Thresholds(float(values[0]), float(values[1]), "chosen by the user")


def top_layers(targets: gpd.GeoDataFrame, values: np.ndarray, names: Sequence[str], grid: GridSpec, n: int = 3) -> gpd.GeoDataFrame:
    """``targets`` with the ``n`` layers contributing most to each target: columns ``top1`` ..
    ``top{n}`` (layer names) and ``top1_value`` .. (mean attribution, logit margin, over the
    cells of ``grid`` whose centre lies in the target; a target holding no cell centre takes
    the cells it touches). ``values``: (layers, rows, cols) attribution on ``grid``, NaN = none."""
    from rasterio import features

    out = targets.copy()
    k = min(n, len(names))
    tops: list[list] = [[] for _ in range(2 * n)]
    for geom in targets.geometry:
        mask = features.geometry_mask([geom], grid.shape, grid.transform, invert=True)
        if not mask.any():
            mask = features.geometry_mask([geom], grid.shape, grid.transform, invert=True, all_touched=True)
        cells = values[:, mask]
        has = np.isfinite(cells).any(axis=1)
        mean = np.full(len(names), -np.inf)
        mean[has] = np.nanmean(cells[has], axis=1)
        order = [int(i) for i in np.argsort(-mean, kind="stable")[:k] if np.isfinite(mean[i])]
        for j in range(n):
            tops[2 * j].append(names[order[j]] if j < len(order) else "")
            tops[2 * j + 1].append(float(mean[order[j]]) if j < len(order) else float("nan"))
    for j in range(n):
        out[f"top{j + 1}"] = pd.Series(tops[2 * j], index=out.index, dtype=object)
        out[f"top{j + 1}_value"] = pd.Series(tops[2 * j + 1], index=out.index, dtype=np.float64)
    return out
