"""Classic scikit-learn baselines on the same windows (paper 001, Table 3).

Paper 001 "compress[es] each data point ... into a one-dimensional tensor": a (C, H, W) window
is flattened to C*H*W features. :class:`WindowClassifier` wraps a scikit-learn estimator so it
takes (N, C, H, W) arrays, and gives ``predict_proba`` / ``decision_scores`` like the CNNs.
Features are standardised (SVM, KNN and logistic regression need it; trees ignore it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from geoprospect.errors import InputError, ModelError

BASELINES = ("svm", "knn", "random_forest", "decision_tree", "logistic")


def make_estimator(name: str, random_state: int | None = 0, **params: Any) -> Pipeline:
    """A scaling + classifier pipeline for one of :data:`BASELINES`; ``params`` go to the classifier."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    if name == "svm":
        from sklearn.calibration import CalibratedClassifierCV

        # Platt-scaled probabilities (SVC(probability=True) is deprecated from scikit-learn 1.9)
        clf = CalibratedClassifierCV(SVC(**{"kernel": "rbf", "random_state": random_state, **params}), ensemble=False)
    elif name == "knn":
        clf = KNeighborsClassifier(**{"n_neighbors": 5, **params})
    elif name == "random_forest":
        clf = RandomForestClassifier(**{"n_estimators": 200, "random_state": random_state, "n_jobs": -1, **params})
    elif name == "decision_tree":
        clf = DecisionTreeClassifier(**{"random_state": random_state, **params})
    elif name == "logistic":
        clf = LogisticRegression(**{"max_iter": 2000, **params})
    else:
        raise ModelError(f"unknown baseline {name!r}", hint=f"choose one of: {', '.join(BASELINES)}")
    return make_pipeline(StandardScaler(), clf)


def flatten_windows(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, C*H*W) float64; NaN is refused (drop or fill windows first)."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise InputError(f"windows must be an (N, C, H, W) array, got shape {x.shape}")
    flat = x.reshape(len(x), -1).astype(np.float64, copy=False)
    if not np.isfinite(flat).all():
        raise InputError("windows hold NaN or infinite values", hint="drop windows with nodata (tiling does) or fill them before a baseline")
    return flat


class WindowClassifier(ClassifierMixin, BaseEstimator):
    """A scikit-learn baseline taking (N, C, H, W) windows: ``fit``, ``predict``, ``predict_proba``."""

    def __init__(self, name: str = "random_forest", random_state: int | None = 0, params: dict | None = None) -> None:
        self.name = name
        self.random_state = random_state
        self.params = params

    def fit(self, x: np.ndarray, y: np.ndarray) -> "WindowClassifier":
        flat = flatten_windows(x)
        y = np.asarray(y).ravel()
        if len(y) != len(flat):
            raise InputError(f"{len(flat)} windows but {len(y)} labels")
        if len(np.unique(y)) < 2:
            raise InputError("a baseline needs windows of both classes to train", hint="check the labels / deposits")
        self.window_shape_ = tuple(np.asarray(x).shape[1:])
        self.pipeline_ = make_estimator(self.name, self.random_state, **(self.params or {}))
        self.pipeline_.fit(flat, y)
        self.classes_ = self.pipeline_.classes_
        return self

    def _check(self, x: np.ndarray) -> np.ndarray:
        if not hasattr(self, "pipeline_"):
            raise ModelError("this baseline is not fitted yet", hint="call fit first")
        if tuple(np.asarray(x).shape[1:]) != self.window_shape_:
            raise InputError(f"windows of shape {tuple(np.asarray(x).shape[1:])} given to a baseline fitted on {self.window_shape_}")
        return flatten_windows(x)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(N, n_classes) class probabilities."""
        flat = self._check(x)
        return self.pipeline_.predict_proba(flat)

    def predict(self, x: np.ndarray) -> np.ndarray:
        flat = self._check(x)
        return self.pipeline_.predict(flat)

    def decision_scores(self, x: np.ndarray) -> np.ndarray:
        """Continuous score of the positive (last) class, for ranking: the logistic decision
        function (no saturation ties, DESIGN pitfalls), else P(positive) in float64."""
        flat = self._check(x)
        if self.name == "logistic":
            return np.asarray(self.pipeline_.decision_function(flat), dtype=np.float64)
        return self.pipeline_.predict_proba(flat)[:, -1]
