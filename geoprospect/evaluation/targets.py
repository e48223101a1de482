"""From a prospectivity map to what a geologist acts on: classes, a numbered window grid, targets.

- Classes: 1 low, 2 medium, 3 high, by two score thresholds: from the prediction-area (P-A)
  plot by default (high = scores at or above the P-A intersection; medium = down to the score
  whose area is twice the high class's), or given by the user.
- Numbered window grid (as the papers' 12 x 12 figures): non-overlapping cells of ``cell`` pixels
  numbered 1..N row by row from the top left, each with its mean score, class and deposits.
- Target areas: connected high cells (8-neighbour) as polygons, ranked by mean score then area,
  numbered 1..n, with the known deposits they contain.
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
from geoprospect.evaluation.metrics import prediction_area
from geoprospect.grid import GridSpec
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
    write_raster(out, data[None], grid, ["potential_class"], tags={"GEOPROSPECT_KIND": "prospectivity_classes", "GEOPROSPECT_THRESHOLD_MEDIUM": repr(thresholds.medium), "GEOPROSPECT_THRESHOLD_HIGH": repr(thresholds.high), "GEOPROSPECT_THRESHOLD_SOURCE": thresholds.source, "GEOPROSPECT_CLASSES": "1=low,2=medium,3=high"})
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
                 extra: Mapping[str, np.ndarray] | None = None) -> gpd.GeoDataFrame:
    """Connected cells of class >= ``level`` (8-neighbour) as ranked, numbered polygons.

    Returns a GeoDataFrame (grid CRS): target (1 = best), mean_score, max_score, n_cells,
    area (map units squared), n_deposits, deposit_ids (comma-separated indices into
    ``deposits_xy``), and ``mean_<name>`` for each (H, W) map of ``extra`` (mean over the
    target's cells with a value, e.g. ``mean_prob``, ``mean_spread``); ranked by mean score,
    then area, both descending.
    """
    from rasterio import features
    from scipy import ndimage

    hi = np.asarray(classes) >= level
    lab, n = ndimage.label(hi, structure=np.ones((3, 3), dtype=bool))
    extra = dict(extra or {})
    cols = ["target", "mean_score", "max_score", "n_cells", "area", "n_deposits", "deposit_ids", *[f"mean_{k}" for k in extra]]
    if n == 0:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=grid.crs.to_wkt())
    idx = np.arange(1, n + 1)
    s = np.asarray(scores, dtype=np.float64)
    sz = np.where(np.isfinite(s), s, 0.0)
    n_cells = ndimage.sum_labels(np.ones_like(sz), lab, idx).astype(np.int64)
    mean = ndimage.mean(sz, lab, idx)
    mx = ndimage.maximum(sz, lab, idx)
    extra_means = {k: _label_means(v, lab, idx) for k, v in extra.items()}
    r, c, dep_idx = _deposit_cells(grid, deposits_xy)
    dl = lab[r, c]
    geoms: dict[int, list] = {}
    # 8-connectivity polygons so diagonal-only neighbours stay one target
    for geom, val in features.shapes(lab.astype(np.int32), mask=lab > 0, connectivity=8, transform=grid.transform):
        geoms.setdefault(int(val), []).append(shapely.geometry.shape(geom))
    cell_area = abs(grid.transform.a * grid.transform.e - grid.transform.b * grid.transform.d)
    rows = []
    for i in idx:
        if n_cells[i - 1] < min_cells:
            continue
        ids = dep_idx[dl == i]
        rows.append({
            "mean_score": float(mean[i - 1]),
            "max_score": float(mx[i - 1]),
            "n_cells": int(n_cells[i - 1]),
            "area": float(n_cells[i - 1] * cell_area),
            "n_deposits": int(ids.size),
            "deposit_ids": ",".join(str(int(v)) for v in ids),
            **{f"mean_{k}": float(v[i - 1]) for k, v in extra_means.items()},
            "geometry": shapely.union_all(geoms[int(i)]),
        })
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=grid.crs.to_wkt())
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=grid.crs.to_wkt())
    gdf = gdf.sort_values(["mean_score", "area"], ascending=[False, False], kind="stable").reset_index(drop=True)
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
