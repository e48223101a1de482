"""Prospectivity at the stack's full resolution: each cell scored by the windows that cover it.

Every scored window spreads its score over its whole ``size`` x ``size`` footprint; a cell's
value is the weighted mean over the windows covering it. Weights: ``"tent"`` (default) falls
linearly from the window's centre to its edge (separable), so neighbouring cells get distinct
values and the map has no artificial ties at the stride scale; ``"box"`` weighs the whole
footprint equally (cells of one stride block then tie). Box sums are accumulated with 2-D
difference arrays (O(windows + cells)); tent sums by an FFT convolution of the scattered
window scores with the tent kernel (scipy.signal.fftconvolve).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geoprospect.errors import ParameterError
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import write_qml, write_raster

if TYPE_CHECKING:
    import geopandas as gpd


@dataclass
class FullResMap:
    """Blended scores on the stack grid.

    Attributes:
        prob: (H, W) weighted mean deposit probability of the covering windows (NaN: no window).
        margin: (H, W) weighted mean logit margin (use it to rank: no sigmoid ties).
        count: (H, W) number of windows covering each cell.
        grid: the stack's grid.
    """

    prob: np.ndarray
    margin: np.ndarray
    count: np.ndarray
    grid: GridSpec


def _scatter_boxes(shape: tuple[int, int], row_off: np.ndarray, col_off: np.ndarray, size: int, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over the footprints of the windows covering each cell (float64)."""
    H, W = shape
    d = np.zeros((H + 1, W + 1), dtype=np.float64)
    r0 = np.clip(row_off, 0, H)
    c0 = np.clip(col_off, 0, W)
    r1 = np.clip(row_off + size, 0, H)
    c1 = np.clip(col_off + size, 0, W)
    np.add.at(d, (r0, c0), values)
    np.add.at(d, (r0, c1), -values)
    np.add.at(d, (r1, c0), -values)
    np.add.at(d, (r1, c1), values)
    return np.cumsum(np.cumsum(d, axis=0), axis=1)[:H, :W]


def tent_kernel(size: int) -> np.ndarray:
    """(size, size) separable tent: weight of pixel i is min(i + 0.5, size - i - 0.5)."""
    i = np.arange(size)
    t = np.minimum(i + 0.5, size - i - 0.5)
    return np.outer(t, t)


def _scatter_kernel(shape: tuple[int, int], row_off: np.ndarray, col_off: np.ndarray, kernel: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum over windows of value * kernel placed on the window's footprint (float64)."""
    from scipy.signal import fftconvolve

    H, W = shape
    s = kernel.shape[0]
    # scatter onto a canvas large enough for windows that start before 0 or end after the edge
    pad = s
    a = np.zeros((H + 2 * pad, W + 2 * pad))
    np.add.at(a, (row_off + pad, col_off + pad), values)
    full = fftconvolve(a, kernel, mode="full")
    return full[pad : pad + H, pad : pad + W]


def blend_windows(
    grid: GridSpec,
    row_off: np.ndarray,
    col_off: np.ndarray,
    size: int,
    prob: np.ndarray,
    margin: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    weights: str = "tent",
) -> FullResMap:
    """Blend per-window scores onto the stack grid.

    Args:
        grid: the stack's grid (H x W cells).
        row_off, col_off: (N,) upper-left pixel of each window.
        size: window size in pixels.
        prob: (N,) deposit probability per window (NaN windows are skipped).
        weights: "tent" (default, centre-weighted) or "box" (uniform over the footprint).
        margin: (N,) logit margin per window (default: the logit of ``prob``).
        valid: optional (H, W) bool; cells outside it are NaN (nodata in the stack).
    """
    row_off = np.asarray(row_off, dtype=np.int64).ravel()
    col_off = np.asarray(col_off, dtype=np.int64).ravel()
    prob = np.asarray(prob, dtype=np.float64).ravel()
    if margin is None:
        from geoprospect.windows.folds import logit

        margin = logit(prob)
    margin = np.asarray(margin, dtype=np.float64).ravel()
    ok = np.isfinite(prob) & np.isfinite(margin)
    shape = grid.shape
    if size == 1:  # one score per cell (windows/cells.py): the map is the scores, nothing to blend
        return _cell_map(grid, row_off[ok], col_off[ok], prob[ok], margin[ok], valid)
    n = _scatter_boxes(shape, row_off[ok], col_off[ok], size, np.ones(int(ok.sum())))
    n = np.rint(n).astype(np.int64)
    if weights == "box":
        wsum = n.astype(np.float64)
        sp = _scatter_boxes(shape, row_off[ok], col_off[ok], size, prob[ok])
        sm = _scatter_boxes(shape, row_off[ok], col_off[ok], size, margin[ok])
    elif weights == "tent":
        k = tent_kernel(size)
        wsum = _scatter_kernel(shape, row_off[ok], col_off[ok], k, np.ones(int(ok.sum())))
        sp = _scatter_kernel(shape, row_off[ok], col_off[ok], k, prob[ok])
        sm = _scatter_kernel(shape, row_off[ok], col_off[ok], k, margin[ok])
    else:
        raise ParameterError(f"blend weights must be 'tent' or 'box', got {weights!r}", hint="pass weights='tent' or weights='box'")
    has = n > 0
    if valid is not None:
        has &= np.asarray(valid, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(has, sp / np.where(has, wsum, 1.0), np.nan)
        m = np.where(has, sm / np.where(has, wsum, 1.0), np.nan)
    return FullResMap(p, m, np.where(has, n, 0), grid)


def _cell_map(grid: GridSpec, rows: np.ndarray, cols: np.ndarray, prob: np.ndarray, margin: np.ndarray, valid: np.ndarray | None) -> FullResMap:
    """Scores of single cells placed on the grid (a cell scored twice keeps the mean)."""
    n = np.zeros(grid.shape, dtype=np.int64)
    np.add.at(n, (rows, cols), 1)
    p = np.zeros(grid.shape)
    m = np.zeros(grid.shape)
    np.add.at(p, (rows, cols), prob)
    np.add.at(m, (rows, cols), margin)
    has = n > 0
    if valid is not None:
        has &= np.asarray(valid, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        return FullResMap(np.where(has, p / n, np.nan), np.where(has, m / n, np.nan), np.where(has, n, 0), grid)


def blend_window_table(grid: GridSpec, windows: "gpd.GeoDataFrame", prob: np.ndarray, margin: np.ndarray | None = None,
                       valid: np.ndarray | None = None) -> FullResMap:
    """:func:`blend_windows` of a window table (its ``row_off``, ``col_off`` and ``size`` columns);
    a sample table of cells (``footprint`` 1, :mod:`geoprospect.windows.cells`) places each score on its cell."""
    if "footprint" in windows and int(windows["footprint"].iloc[0]) == 1:
        return blend_windows(grid, windows["row"].to_numpy(), windows["col"].to_numpy(), 1, prob, margin, valid=valid)
    return blend_windows(grid, windows["row_off"].to_numpy(), windows["col_off"].to_numpy(), int(windows["size"].iloc[0]), prob, margin, valid=valid)


RANGE_SAMPLE = 4_000_000  # cells at most behind a display range


def display_range(prob: np.ndarray, lo: float = 5.0, hi: float = 95.0) -> tuple[float, float]:
    """The QGIS style's colour range of a probability map: its ``lo`` to ``hi`` percentiles, so the
    ramp shows the ranking whatever the calibrated range (0.11-0.17 with a dozen deposits would be
    one colour on 0-1); (0, 1) without two distinct values. A map of more than
    :data:`RANGE_SAMPLE` cells is sampled on a regular lattice of cells (a display range: no
    float64 copy of a 10,000² map)."""
    flat = np.asarray(prob).ravel()
    step = max(1, flat.size // RANGE_SAMPLE)
    v = flat[::step].astype(np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return 0.0, 1.0
    a, b = (float(x) for x in np.percentile(v, [lo, hi]))
    return (a, b) if b > a else (float(v.min()), float(v.max())) if v.max() > v.min() else (0.0, 1.0)


def write_fullres(fmap: FullResMap, out: str | Path, *, model_name: str = "", uncertainty: np.ndarray | None = None, tags: dict[str, str] | None = None) -> Path:
    """Write the full-resolution prospectivity GeoTIFF (+ QML): probability, margin, [spread]."""
    out = Path(out)
    bands = [fmap.prob, fmap.margin]
    names = ["prospectivity", "logit_margin"]
    if uncertainty is not None:
        bands.append(np.asarray(uncertainty))
        names.append("uncertainty_std")
    write_raster(
        out,
        bands,  # by strips: no (bands, rows, cols) copy
        fmap.grid,
        names,
        tags={"GEOPROSPECT_KIND": "prospectivity_fullres", "GEOPROSPECT_MODEL": model_name, "GEOPROSPECT_BLEND": "weighted mean of covering windows", **(tags or {})},
    )
    write_qml(out.with_suffix(".qml"), "prospectivity", *display_range(fmap.prob))
    return out
