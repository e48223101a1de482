"""The one-layer baseline: what a geologist gets from the best single evidence band."""

from __future__ import annotations

import numpy as np

from geoprospect.evaluation.metrics import deposit_capture, success_rate
from geoprospect.io.rasters import Stack


def one_layer_baseline(stack: Stack, choose_area: np.ndarray, report_area: np.ndarray, dep_flat: np.ndarray) -> dict | None:
    """The best single evidence band (either sign), chosen on ``choose_area``'s deposits by
    success-rate AUC, scored on ``report_area``: what a geologist gets from one layer.

    Args:
        stack: the evidence stack (bands, H, W).
        choose_area, report_area: (H, W) boolean masks of the cells to choose on and to score.
        dep_flat: flat cell indices of the known deposits (:func:`~geoprospect.evaluation.metrics.deposit_flat`).

    Returns ``{"band", "sign", "score": (H, W) map on report_area, "capture": dict}`` or None
    when no deposit lies in ``choose_area``.
    """
    inside_choose = choose_area.ravel()[dep_flat]
    if not inside_choose.any():
        return None
    best = None
    for b, _name in enumerate(stack.band_names):
        for sign in (1.0, -1.0):
            s = np.where(choose_area, sign * stack.data[b].astype(np.float64), np.nan)
            auc = success_rate(s, dep_flat[inside_choose]).auc
            if best is None or auc > best[0]:
                best = (auc, b, sign)
    _, b, sign = best
    score = np.where(report_area, sign * stack.data[b].astype(np.float64), np.nan)
    held = report_area.ravel()[dep_flat]
    return {"band": stack.band_names[b], "sign": "higher" if sign > 0 else "lower", "score": score, "capture": deposit_capture(score, dep_flat[held])}
