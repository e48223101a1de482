"""Evaluate a prospectivity map: held-out window metrics and deposit capture."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np

from geoprospect.errors import InputError
from geoprospect.evaluation.metrics import deposit_capture, window_metrics
from geoprospect.io.rasters import read_bands
from geoprospect.prediction.predict import Prediction

log = logging.getLogger(__name__)


def read_prediction(path: str | Path) -> Prediction:
    """Read a prospectivity GeoTIFF written by :func:`~geoprospect.prediction.predict.write_prediction`."""
    path = Path(path)
    if not path.exists():
        raise InputError("prospectivity raster not found", path=path)
    arr, _, tags, grid = read_bands(path)
    if "GEOPROSPECT_WINDOW_SIZE" not in tags:
        raise InputError("not a geoprospect prospectivity raster (no window tags)", path=path, hint="use the prospectivity.tif written by `geoprospect predict`")
    return Prediction(arr[0], arr[1], grid, int(tags["GEOPROSPECT_WINDOW_SIZE"]), int(tags["GEOPROSPECT_WINDOW_STRIDE"]))


def evaluate_prediction(pred: Prediction, windows: gpd.GeoDataFrame, deposits_xy: np.ndarray) -> dict:
    """Metrics of a prediction.

    - ``windows_test``: scikit-learn metrics on the held-out (split == 'test') windows.
    - ``deposits_all``: capture of all known deposits over the whole scored map (optimistic:
      the training deposits are included).
    - ``deposits_test``: capture of the held-out deposits, ranking only the held-out area.
    """
    r = windows["row"].to_numpy()
    c = windows["col"].to_numpy()
    prob = pred.prob[r, c]
    split = windows["split"].to_numpy()
    out: dict = {"split": "spatial block (contiguous test block, half-window buffer)"}
    for name in ("test", "train"):
        m = (split == name) & np.isfinite(prob)
        if m.any():
            out[f"windows_{name}"] = window_metrics(windows["label"].to_numpy()[m], prob[m])
    # deposit capture on the stride grid, ranked by the logit margin (no sigmoid ties)
    g = pred.grid
    dep = np.asarray(deposits_xy, dtype=np.float64).reshape(-1, 2)
    inside = g.contains(dep[:, 0], dep[:, 1])
    dr, dc = g.rowcol(dep[inside, 0], dep[inside, 1])
    flat = dr * g.width + dc
    out["deposits_all"] = deposit_capture(pred.margin, flat)
    out["deposits_all"]["outside_scored_grid"] = int((~inside).sum())
    test_area = np.zeros(g.shape, dtype=bool)
    tm = split == "test"
    test_area[r[tm], c[tm]] = True
    if test_area.any():
        held = np.where(test_area, pred.margin, np.nan)
        in_test = test_area.ravel()[flat]
        out["deposits_test"] = deposit_capture(held, flat[in_test])
    log.info(
        "deposits: top 10%% of area captures %s of all, %s of held-out",
        _pct(out["deposits_all"].get("capture_top_10pct")),
        _pct(out.get("deposits_test", {}).get("capture_top_10pct")),
    )
    return out


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.0f}%"
