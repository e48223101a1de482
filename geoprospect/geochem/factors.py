"""Factor analysis / PCA scores of the elements, fuzzy factor scores and anomalous samples.

Paper 004: factor analysis of the standardised elements, keeping the factors whose eigenvalue
(of the correlation matrix) exceeds one (Kaiser's rule; "seven factors with special values of
more than one"), then a "fuzzy factor score" per sample "so that data values fall between zero
and one", and the anomalous samples of each factor. Paper 004 prints neither the fuzzy function
nor the anomaly threshold. Here:

* fuzzy score: the logistic function ``μ = 1 / (1 + exp(−FS))`` of the factor score FS
  (Yousefi, Kamkar-Rouhani & Carranza 2012, J. Geochem. Explor. 115, 24-35, "fuzzy factor
  score"; the method of paper 004's reference [28] family); ``"minmax"`` rescales linearly;
* anomalous samples: factor score above Tukey's upper fence Q3 + 1.5·IQR of that factor
  (paper 004 uses Tukey's box for outliers), or above a given value / mean + k·sd.

Factor analysis is ``sklearn.decomposition.FactorAnalysis(rotation="varimax")``; PCA is
``sklearn.decomposition.PCA`` (paper 001's view). Factor signs are arbitrary: each factor is
oriented so that its largest absolute loading is positive (high score = enriched).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from geoprospect.errors import GeochemError, ParameterError
from geoprospect.geochem.transforms import zscore


@dataclass
class FactorResult:
    """Scores (N, k) (NaN for samples with a missing element), loadings (E, k), eigenvalues (E,)."""

    scores: np.ndarray
    loadings: np.ndarray
    eigenvalues: np.ndarray
    names: list[str]
    elements: list[str]
    method: str

    def loadings_table(self):
        """Loadings as a pandas DataFrame (elements × factors)."""
        import pandas as pd

        return pd.DataFrame(self.loadings, index=self.elements, columns=self.names)


def kaiser_count(values: np.ndarray) -> tuple[int, np.ndarray]:
    """Number of correlation-matrix eigenvalues > 1, and the eigenvalues (descending)."""
    c = np.corrcoef(values, rowvar=False)
    ev = np.sort(np.linalg.eigvalsh(c))[::-1]
    return max(1, int((ev > 1.0).sum())), ev


def factor_scores(
    values: np.ndarray,
    elements: Sequence[str],
    *,
    method: str = "fa",
    n_factors: int | None = None,
    rotation: str | None = "varimax",
    seed: int = 0,
) -> FactorResult:
    """Factor (or principal component) scores of standardised element values.

    Args:
        values: (N, E) element values, already log-transformed if wanted (they are z-scored here).
        elements: the E names.
        method: "fa" (factor analysis) or "pca".
        n_factors: number of factors; None = Kaiser's rule (eigenvalues > 1).
        rotation: "varimax", "quartimax" or None (factor analysis only).
    """
    from sklearn.decomposition import PCA, FactorAnalysis

    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(elements):
        raise ParameterError(f"values {v.shape} do not match {len(elements)} elements", hint="pass values as (N, E) with E element names")
    if v.shape[1] < 2:
        raise GeochemError("factor analysis needs at least 2 elements", hint="add elements")
    complete = np.isfinite(v).all(axis=1)
    if complete.sum() < max(10, v.shape[1] + 1):
        raise GeochemError(
            f"only {int(complete.sum())} samples have every element analysed; factor analysis needs more",
            hint="drop sparsely analysed elements from the list",
        )
    z, _, _ = zscore(v[complete], names=list(elements))
    k_kaiser, ev = kaiser_count(z)
    k = k_kaiser if n_factors is None else int(n_factors)
    if not 1 <= k <= v.shape[1]:
        raise GeochemError(f"n_factors must be between 1 and {v.shape[1]}, got {k}")
    if method == "fa":
        model = FactorAnalysis(n_components=k, rotation=rotation, random_state=seed).fit(z)
        loadings = model.components_.T
        sc = model.transform(z)
    elif method == "pca":
        model = PCA(n_components=k, random_state=seed).fit(z)
        loadings = model.components_.T * np.sqrt(model.explained_variance_)
        sc = model.transform(z) / np.sqrt(model.explained_variance_)
    else:
        raise ParameterError(f"factor method must be 'fa' or 'pca', got {method!r}", hint="--factor-method fa|pca (prepare-geochem)")
    sign = np.sign(loadings[np.argmax(np.abs(loadings), axis=0), np.arange(k)])
    sign[sign == 0] = 1
    loadings = loadings * sign
    scores = np.full((v.shape[0], k), np.nan)
    scores[complete] = sc * sign
    prefix = "F" if method == "fa" else "PC"
    return FactorResult(scores, loadings, ev, [f"{prefix}{i + 1}" for i in range(k)], list(elements), method)


def fuzzy_scores(scores: np.ndarray, method: str = "logistic") -> np.ndarray:
    """Factor scores mapped to [0, 1] memberships (NaN stays NaN).

    "logistic": μ = 1 / (1 + exp(−FS)) (Yousefi et al. 2012); "minmax": (FS − min) / (max − min) per factor.
    """
    s = np.asarray(scores, dtype=np.float64)
    if method == "logistic":
        return 0.5 * (1.0 + np.tanh(0.5 * s))  # = 1/(1+exp(-s)), without overflow
    if method == "minmax":
        lo, hi = np.nanmin(s, axis=0), np.nanmax(s, axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        return (s - lo) / span
    raise ParameterError(f"fuzzy method must be 'logistic' or 'minmax', got {method!r}", hint="pass method='logistic' or method='minmax'")


def anomalous_samples(scores: np.ndarray, threshold: str | float = "tukey", *, k: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Flag the anomalous samples of each factor: (N, k) bool and the (k,) thresholds used.

    Args:
        scores: (N, k) factor scores.
        threshold: "tukey" (Q3 + k·IQR per factor), "sd" (mean + k·sd, k = 2 is common),
            or a number (same score threshold for every factor).
    """
    s = np.asarray(scores, dtype=np.float64)
    s2 = s if s.ndim == 2 else s[:, None]
    if isinstance(threshold, str):
        if threshold == "tukey":
            q1, q3 = np.nanpercentile(s2, [25, 75], axis=0)
            thr = q3 + k * (q3 - q1)
        elif threshold == "sd":
            thr = np.nanmean(s2, axis=0) + k * np.nanstd(s2, axis=0, ddof=1)
        else:
            raise ParameterError(f"anomaly threshold must be 'tukey', 'sd' or a number, got {threshold!r}", hint="--anomaly tukey|sd|NUMBER (prepare-geochem)")
    else:
        thr = np.full(s2.shape[1], float(threshold))
    with np.errstate(invalid="ignore"):
        flags = s2 > thr
    return (flags if s.ndim == 2 else flags[:, 0]), thr


def factor_columns(values: np.ndarray, elements: Sequence[str], factors: str | int, *, method: str = "fa", anomaly: str | float = "tukey") -> tuple[dict[str, np.ndarray], dict]:
    """Factor scores with their fuzzy memberships and anomaly flags, as new point columns.

    Args:
        values: (N, E) prepared element values; elements: the E names.
        factors: "kaiser" (eigenvalues > 1, paper 004) or a number of factors (an int or its text).
        method: "fa" (factor analysis, varimax) or "pca".
        anomaly: "tukey" (Q3 + 1.5 IQR), "sd" (mean + 2 sd) or a score threshold (a number or its text).

    Returns:
        ({"F1": scores, "F1_fuzzy": memberships, "F1_anomaly": flags, ...} of (N,) arrays;
        the settings for the preparation report: method, n, eigenvalues, loadings, thresholds).
    """
    n = None if factors == "kaiser" else _number(factors, int, "factors", "'kaiser' or a number of factors", "--factors kaiser or --factors 3 (prepare-geochem)")
    fr = factor_scores(values, elements, method=method, n_factors=n)
    thr = anomaly if anomaly in ("tukey", "sd") else _number(anomaly, float, "anomaly", "'tukey', 'sd' or a score threshold", "--anomaly tukey, sd or a number such as 1.5 (prepare-geochem)")
    flags, thresholds = anomalous_samples(fr.scores, thr, k=2.0 if thr == "sd" else 1.5)
    mu = fuzzy_scores(fr.scores)
    columns: dict[str, np.ndarray] = {}
    for j, name in enumerate(fr.names):
        columns[name] = fr.scores[:, j]
        columns[f"{name}_fuzzy"] = mu[:, j]
        columns[f"{name}_anomaly"] = flags[:, j]
    settings = {
        "method": method, "n": len(fr.names), "eigenvalues": [float(v) for v in fr.eigenvalues],
        "loadings": {e: [float(v) for v in fr.loadings[i]] for i, e in enumerate(fr.elements)},
        "anomaly_thresholds": [float(v) for v in thresholds],
        "n_anomalous": [int(v) for v in np.nansum(flags, axis=0)],
    }
    return columns, settings


def _number(value: str | float, kind: type, name: str, expected: str, hint: str):
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be {expected}, got {value!r}", hint=hint) from None
