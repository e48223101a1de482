"""Calibrated deposit probabilities: a calibrator fitted on OUT-OF-FOLD window scores, and the
Brier score, expected calibration error (ECE) and reliability bins that judge it.

Why: a model's "probability" is not a frequency. The default ``blend_cell``'s is the sigmoid of
an average of z-scores (about 0.5 for a typical window when one in ten holds a deposit), and a
CNN trained on balanced batches is over-confident. A calibrator maps the model's logit margin
to the frequency of deposit windows at that margin, learnt from scores the model gave to
windows it never saw (out of fold), then applied to the final model's map (as scikit-learn's
``CalibratedClassifierCV(ensemble=False)`` does with ``cross_val_predict``).

Methods (``evaluation.calibration`` in a run):

* ``platt`` (default): p = sigmoid(a * margin + b), a logistic regression on the margin (two
  parameters). Robust with a dozen deposits, smooth, and strictly monotone in the margin
  (a > 0), so the map's ranking is unchanged.
* ``temperature``: p = sigmoid(margin / T) (one parameter, no intercept): for margins whose 0
  already means "even odds" (CNN logits); wrong for scores centred on the average window.
* ``isotonic``: scikit-learn's ``IsotonicRegression`` on the margin (a non-decreasing step
  function): flexible, but with few positive windows it overfits (steps learnt from a handful
  of deposits) and creates ties in the probability band.
* ``none``: the model's own softmax probability, sigmoid(margin).

Which is measured honestly: :func:`cross_fitted` fits the calibrator on the other folds' windows
and scores each fold's windows with it, so the "after" Brier score and ECE are not measured
on the windows the calibrator was fitted on. Sample run (blend_cell, 5 folds): see README.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from geoprospect.errors import ParameterError
from geoprospect.windows.folds import sigmoid

log = logging.getLogger(__name__)

Method = Literal["platt", "temperature", "isotonic", "none"]
METHODS: tuple[str, ...] = ("platt", "temperature", "isotonic", "none")
DEFAULT_METHOD = "platt"
DESCRIPTIONS = {
    "platt": "Platt scaling: sigmoid(a * margin + b), a logistic regression fitted on out-of-fold window margins",
    "temperature": "temperature scaling: sigmoid(margin / T), fitted on out-of-fold window margins",
    "isotonic": "isotonic regression of the window label on the out-of-fold margin",
    "none": "uncalibrated: the model's softmax probability sigmoid(margin)",
}


@dataclass
class Calibrator:
    """A fitted map from logit margin to calibrated deposit probability.

    Attributes:
        method: one of :data:`METHODS`.
        slope, intercept: p = sigmoid(slope * margin + intercept) (``platt``, ``temperature``
            with intercept 0, ``none`` with slope 1 and intercept 0).
        x, y: isotonic knots: margins (increasing) and their probabilities; linear between
            knots, clipped outside (as ``IsotonicRegression(out_of_bounds="clip")``).
        n, positives: windows and positive windows it was fitted on.
    """

    method: str = "none"
    slope: float = 1.0
    intercept: float = 0.0
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    n: int = 0
    positives: int = 0

    def apply(self, margin: np.ndarray) -> np.ndarray:
        """Calibrated probability (float64, same shape as ``margin``; NaN stays NaN)."""
        m = np.asarray(margin, dtype=np.float64)
        if self.method == "isotonic":
            out = np.interp(m, np.asarray(self.x), np.asarray(self.y))
            return np.where(np.isfinite(m), out, np.nan)
        return sigmoid(self.slope * m + self.intercept)

    def describe(self) -> str:
        """One line for band descriptions and tags: the method and its parameters."""
        if self.method == "isotonic":
            return f"{DESCRIPTIONS['isotonic']} ({len(self.x)} knots; {self.positives} positive of {self.n} windows)"
        if self.method == "none":
            return DESCRIPTIONS["none"]
        return f"{DESCRIPTIONS[self.method]} (a = {self.slope:.4g}, b = {self.intercept:.4g}; {self.positives} positive of {self.n} windows)"

    def to_dict(self) -> dict:
        return {"method": self.method, "slope": self.slope, "intercept": self.intercept, "x": list(self.x), "y": list(self.y), "n": self.n, "positives": self.positives}

    @classmethod
    def from_dict(cls, d: dict) -> "Calibrator":
        return cls(str(d["method"]), float(d.get("slope", 1.0)), float(d.get("intercept", 0.0)), [float(v) for v in d.get("x", [])],
                   [float(v) for v in d.get("y", [])], int(d.get("n", 0)), int(d.get("positives", 0)))


def _finite(margin: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(margin, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(np.int64)
    if m.shape != y.shape:
        raise ParameterError(f"{m.size} margins for {y.size} labels")
    ok = np.isfinite(m)
    return m[ok], y[ok]


def fit_calibrator(margin: np.ndarray, labels: np.ndarray, method: str = DEFAULT_METHOD, *, warn: bool = True) -> Calibrator:
    """Fit a :class:`Calibrator` on (N,) out-of-fold logit margins and (N,) 0/1 window labels.

    NaN margins are skipped. Without both classes the result is constant at the positive rate;
    with ``none`` it is the model's softmax. A fitted slope at or below zero (out of fold, the
    model ranks deposits last) is refused as a calibration: the map would be flat, so the
    result is ``none`` (the model's own probability: the ranking is kept), said once in plain
    words when ``warn`` (the cross-fitted and compared fits stay quiet).
    """
    if method not in METHODS:
        raise ParameterError(f"unknown calibration method {method!r}", hint=f"set evaluation.calibration to one of: {', '.join(METHODS)}")
    m, y = _finite(margin, labels)
    n, pos = int(y.size), int(y.sum())
    if method == "none":
        return Calibrator("none", n=n, positives=pos)
    if pos == 0 or pos == n:
        rate = min(max(pos / max(n, 1), 1e-6), 1 - 1e-6)
        return Calibrator("platt", 0.0, float(np.log(rate / (1 - rate))), n=n, positives=pos)
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(m, y)
        return Calibrator("isotonic", x=[float(v) for v in iso.X_thresholds_], y=[float(v) for v in iso.y_thresholds_], n=n, positives=pos)
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=np.inf, fit_intercept=method == "platt", max_iter=1000).fit(m[:, None], y)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])  # intercept 0 for temperature
    if a <= 0:
        if warn:
            why = ("temperature scaling (no intercept) cannot fit these margins" if method == "temperature"
                   else "out of fold, the model's scores rank the held-out deposits below other cells")
            log.warning("calibration: %s (fitted slope %.3g): no calibration is possible, so the map's probability band is the model's own "
                        "uncalibrated score, which keeps its ranking; read the out-of-fold table before trusting the map", why, a)
        return Calibrator("none", n=n, positives=pos)
    return Calibrator(method, a, b, n=n, positives=pos)


def cross_fitted(margin: np.ndarray, labels: np.ndarray, groups: np.ndarray, method: str = DEFAULT_METHOD) -> np.ndarray:
    """(N,) calibrated probabilities, each window's from a calibrator fitted on the OTHER groups
    (folds) only: an honest "after" for the Brier score and ECE. Group < 0 or NaN margin: NaN;
    NaN too when there is no other group (a single test block: nothing to cross-fit on)."""
    m = np.asarray(margin, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(np.int64)
    g = np.asarray(groups).ravel()
    out = np.full(m.shape, np.nan)
    for k in np.unique(g[g >= 0]):
        test, train = g == k, (g >= 0) & (g != k) & np.isfinite(m)
        if not train.any():
            continue
        out[test] = fit_calibrator(m[train], y[train], method, warn=False).apply(m[test])
    return out


def reliability_bins(prob: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Equal-width probability bins over [0, 1] (the bins of
    ``sklearn.calibration.calibration_curve(strategy="uniform")``): per bin its edges, window
    count, mean predicted probability and observed positive fraction (None when empty)."""
    p = np.asarray(prob, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(np.float64)
    ok = np.isfinite(p)
    p, y = p[ok], y[ok]
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], p)  # as calibration_curve
    rows = []
    for b in range(n_bins):
        sel = ids == b
        c = int(sel.sum())
        rows.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": c,
                     "mean_prob": float(p[sel].mean()) if c else None, "observed": float(y[sel].mean()) if c else None})
    return rows


def expected_calibration_error(prob: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> float | None:
    """ECE: sum over equal-width bins of (bin count / N) * |mean probability - positive fraction|."""
    bins = reliability_bins(prob, labels, n_bins)
    n = sum(b["n"] for b in bins)
    if n == 0:
        return None
    return float(sum(b["n"] / n * abs(b["mean_prob"] - b["observed"]) for b in bins if b["n"]))


def brier(prob: np.ndarray, labels: np.ndarray) -> float | None:
    """Brier score (scikit-learn's ``brier_score_loss``) over the finite probabilities."""
    from sklearn.metrics import brier_score_loss

    p = np.asarray(prob, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(np.int64)
    ok = np.isfinite(p)
    return float(brier_score_loss(y[ok], p[ok], pos_label=1)) if ok.any() else None


def calibration_report(margin: np.ndarray, prob: np.ndarray, labels: np.ndarray, groups: np.ndarray, method: str = DEFAULT_METHOD, n_bins: int = 10) -> tuple[Calibrator, dict]:
    """Fit the calibrator on all out-of-fold windows and judge it honestly.

    Args:
        margin, prob: (N,) out-of-fold logit margins and the model's own probabilities.
        labels: (N,) 0/1 window labels; groups: (N,) fold of each window (-1: none).
    Returns:
        the calibrator, and ``{"method", "description", "calibrator", "windows", "positives",
        "brier": {"before", "after"}, "ece": {"before", "after"}, "reliability": {"before", "after"},
        "compared": {method: {"brier", "ece"}}}``: "before" is the model's own probability,
        "after" the cross-fitted calibrated one; "compared" the cross-fitted figures of every method.
    """
    y = np.asarray(labels).ravel().astype(np.int64)
    g = np.asarray(groups).ravel()
    scored = np.isfinite(np.asarray(margin, dtype=np.float64)) & (g >= 0)
    raw = np.where(scored, np.asarray(prob, dtype=np.float64), np.nan)
    cal = fit_calibrator(np.where(scored, margin, np.nan), y, method)
    after = {}
    for mth in METHODS:
        pc = cross_fitted(margin, y, np.where(scored, g, -1), mth) if mth != "none" else raw
        after[mth] = pc
    compared = {mth: {"brier": brier(pc, y), "ece": expected_calibration_error(pc, y, n_bins)} for mth, pc in after.items()}
    rep = {
        "method": method,
        "description": cal.describe(),
        "calibrator": cal.to_dict(),
        "windows": int(scored.sum()),
        "positives": int(y[scored].sum()),
        "brier": {"before": brier(raw, y), "after": compared[method]["brier"]},
        "ece": {"before": expected_calibration_error(raw, y, n_bins), "after": compared[method]["ece"]},
        "reliability": {"before": reliability_bins(raw, y, n_bins), "after": reliability_bins(after[method], y, n_bins)},
        "compared": compared,
        "after_is": "cross-fitted: each fold's windows calibrated by a calibrator fitted on the other folds' out-of-fold windows",
        "before_is": "the model's own probability (softmax of its logits) out of fold",
    }
    return cal, rep
