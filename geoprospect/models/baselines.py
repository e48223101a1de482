"""scikit-learn baselines as registered models (paper 001, Table 3; EIS Toolkit / ArcSDM style).

Two kinds, registered like every other model (``--model random_forest``, ``logistic_cell``):

* **flattened window** (``svm``, ``knn``, ``random_forest``, ``decision_tree``, ``logistic``):
  paper 001 "compress[es] each data point ... into a one-dimensional tensor": a (C, H, W)
  window becomes C*H*W features.
* **per cell** (``logistic_cell``, ``random_forest_cell``, ``svm_cell``, ``knn_cell``,
  ``decision_tree_cell``): each cell's C band values are the features, as EIS Toolkit and
  ArcSDM do. Choice made here: a window is represented by its centre cell (the mean of the 2x2
  centre cells when the window side is even); the model is trained on the centre cells of the
  training windows with the windows' labels, and a window's score is the model applied to its
  centre cell. So the per-cell models use the same windows, folds and scoring as the CNNs.

:class:`SklearnModel` is an ``nn.Module`` adapter: ``forward`` maps (B, C, H, W) to (B, 2)
float64 logits, so the one scoring core handles it like a CNN. The logits are
``[0, decision_function]`` for logistic regression (softmax gives its probability exactly,
the margin is the decision function: no saturation ties) and ``[log(1-p), log(p)]`` otherwise.
Features are standardised (SVM, KNN and logistic regression need it; trees ignore it).

Saving: the fitted pipeline is serialised with ``skops.io`` (no pickle) into the module's
extra state, a uint8 tensor inside ``model.pt``; the checkpoint code therefore stores and loads
baselines like CNNs (``torch.load(weights_only=True)``), and loading refuses any type outside
:data:`TRUSTED_TYPES`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from geoprospect.errors import InputError, ModelError
from geoprospect.models.registry import register
from geoprospect.windows.folds import sigmoid

BASELINES = ("svm", "knn", "random_forest", "decision_tree", "logistic", "blend")
CELL_BASELINES = tuple(f"{name}_cell" for name in BASELINES)
#: types skops may rebuild besides its defaults (scikit-learn internals of the estimators above)
TRUSTED_TYPES = (
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.tree._tree.Tree",
    "geoprospect.models.baselines.ForestLogisticBlend",
    "imblearn.ensemble._forest.BalancedRandomForestClassifier",
    "imblearn.under_sampling._prototype_selection._random_under_sampler.RandomUnderSampler",
    "imblearn.pipeline.Pipeline",
)
_EPS = 1e-15  # probabilities are clipped to [eps, 1 - eps] before the log
#: float32 window data handed to a baseline in one scoring call. The features are copied to
#: float64, scaled and copied again inside the estimators, so the call holds several times this;
#: measured with benchmarks/bench_dense_scoring.py (3,000 x 3,000 x 10, blend_cell, 2 cores):
#: 64 MiB -> 8 MiB lowered the peak RSS by ~250 MiB at the same cells per second (a forest's
#: fixed cost per call stays small against 200,000 cells).
SCORE_CHUNK_BYTES = 8 << 20


def make_estimator(name: str, random_state: int | None = 0, **params: Any) -> Pipeline:
    """A scaling + classifier pipeline for one of :data:`BASELINES`; ``params`` go to the classifier."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    if name == "svm":
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
    elif name == "blend":
        clf = ForestLogisticBlend(random_state=random_state, **params)
    else:
        raise ModelError(f"unknown baseline {name!r}", hint=f"choose one of: {', '.join(BASELINES)}")
    return make_pipeline(StandardScaler(), clf)


class ForestLogisticBlend(ClassifierMixin, BaseEstimator):
    """Mean of a balanced random forest's logit and a logistic regression's decision function, each
    z-scored over the training samples (``benchmarks/results/skill.md``).

    Out of fold on Murchison and three synthetic areas (5 deposit-stratified spatial folds x 3
    layouts) this blend (then with a class-weighted logistic member) was the only candidate at or
    above every baseline (best single layer, logistic regression, random forest); nothing in it is
    tuned. The forest alone gives few distinct scores (tree votes: ties); the continuous logistic
    member breaks them.

    The logistic member is not class-weighted: with ``class_weight="balanced"`` a dozen positives
    among 5,000 background cells each weigh ~250, the L2 penalty (C = 1) no longer holds the fit
    back, and out of fold the blend lost 0.002-0.018 success-rate AUC on the areas with 12 deposits
    (README "Synthetic areas"); the member's scale does not matter, it is z-scored.
    ``decision_function`` is the ranking score; ``predict_proba`` its logistic sigmoid.
    """

    def __init__(self, n_estimators: int = 100, C: float = 1.0, random_state: int | None = 0, n_jobs: int | None = None) -> None:
        self.n_estimators = n_estimators
        self.C = C
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _members(self, x: np.ndarray) -> np.ndarray:
        p = np.clip(self.forest_.predict_proba(x)[:, 1], _EPS, 1 - _EPS)
        return np.column_stack([np.log(p) - np.log1p(-p), self.logistic_.decision_function(x)])

    def fit(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> "ForestLogisticBlend":
        from imblearn.ensemble import BalancedRandomForestClassifier
        from sklearn.linear_model import LogisticRegression

        self.forest_ = BalancedRandomForestClassifier(n_estimators=self.n_estimators, sampling_strategy="all", replacement=True, bootstrap=False,
                                                      max_features="sqrt", n_jobs=self.n_jobs, random_state=self.random_state).fit(x, y, sample_weight=sample_weight)
        self.logistic_ = LogisticRegression(C=self.C, max_iter=2000).fit(x, y, sample_weight=sample_weight)
        s = self._members(x)
        self.mean_, self.std_ = s.mean(axis=0), s.std(axis=0) + 1e-12
        self.classes_ = self.logistic_.classes_
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """(N,) float64 ranking score: mean of the two members' z-scores."""
        return ((self._members(x) - self.mean_) / self.std_).mean(axis=1)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        d = self.decision_function(x)
        p = sigmoid(d)
        return np.column_stack([1 - p, p])

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[(self.decision_function(x) > 0).astype(int)]


def flatten_windows(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, C*H*W) float64; NaN is refused (drop or fill windows first)."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise InputError(f"windows must be an (N, C, H, W) array, got shape {x.shape}")
    flat = x.reshape(len(x), -1).astype(np.float64, copy=False)
    if not np.isfinite(flat).all():
        raise InputError("windows hold NaN or infinite values", hint="drop windows with nodata (tiling does) or fill them before a baseline")
    return flat


def centre_cells(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, C) float64: each window's centre cell (mean of the 2x2 centre cells for an even side)."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise InputError(f"windows must be an (N, C, H, W) array, got shape {x.shape}")
    h, w = x.shape[-2:]
    r0, r1, c0, c1 = (h - 1) // 2, h // 2 + 1, (w - 1) // 2, w // 2 + 1
    return flatten_windows(x[:, :, r0:r1, c0:c1]).reshape(len(x), x.shape[1], -1).mean(axis=2)


class SklearnModel(nn.Module):
    """A scikit-learn baseline behaving as a window model: (B, C, H, W) -> (B, 2) logits.

    Trained by :meth:`fit_arrays` (``geoprospect.training.fit`` calls it), not by gradients.
    """

    def __init__(self, estimator: str, features: Literal["flattened", "cell"], in_channels: int, window_size: int, params: dict | None = None) -> None:
        super().__init__()
        if estimator not in BASELINES:
            raise ModelError(f"unknown baseline {estimator!r}", hint=f"choose one of: {', '.join(BASELINES)}")
        self.estimator, self.features, self.params = estimator, features, dict(params or {})
        self.input_shape = (int(in_channels), int(window_size), int(window_size))
        self.pipeline: Pipeline | None = None

    def _features(self, x: np.ndarray) -> np.ndarray:
        if tuple(np.asarray(x).shape[1:]) != self.input_shape:
            raise InputError(f"windows of shape {tuple(np.asarray(x).shape[1:])} given to a {self.estimator} baseline built for {self.input_shape}")
        return centre_cells(x) if self.features == "cell" else flatten_windows(x)

    def fit_arrays(self, x: np.ndarray, y: np.ndarray, random_state: int | None = 0, sample_weight: np.ndarray | None = None) -> "SklearnModel":
        """Fit on (N, C, H, W) windows and their (N,) 0/1 labels (``sample_weight``: soft labels near
        deposits; ignored by the estimators that take none: KNN)."""
        feats = self._features(x)
        y = np.asarray(y).ravel()
        if len(y) != len(feats):
            raise InputError(f"{len(feats)} windows but {len(y)} labels")
        if len(np.unique(y)) < 2:
            raise InputError("a baseline needs windows of both classes to train", hint="check the labels / deposits")
        pipe = make_estimator(self.estimator, random_state, **self.params)
        fit_params = {}
        if sample_weight is not None and not np.all(sample_weight == 1.0) and self.estimator != "knn":
            fit_params[f"{pipe.steps[-1][0]}__sample_weight"] = np.asarray(sample_weight, dtype=np.float64)
        self.pipeline = pipe.fit(feats, y, **fit_params)
        return self

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(N, 2) float64 logits of (N, C, H, W) windows (see the module docstring)."""
        if self.pipeline is None:
            raise ModelError(f"this {self.estimator} baseline is not fitted yet", hint="train it (geoprospect train --model ...) or load a trained one")
        feats = self._features(x)
        if self.estimator in ("logistic", "blend"):
            d = np.asarray(self.pipeline.decision_function(feats), dtype=np.float64)
            return np.column_stack([np.zeros_like(d), d])
        p = np.clip(self.pipeline.predict_proba(feats)[:, -1].astype(np.float64), _EPS, 1 - _EPS)
        return np.column_stack([np.log1p(-p), np.log(p)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # float32 windows stay float32 here (no copy): the features are cast to float64 after the
        # per-cell models have cut the centre cells, so a batch is not copied whole
        arr = x.detach().to("cpu", torch.float64 if x.dtype == torch.float64 else torch.float32).numpy()
        return torch.from_numpy(self.logits(arr)).to(x.device)

    def get_extra_state(self) -> torch.Tensor:
        """The fitted pipeline as skops bytes in a uint8 tensor (empty when not fitted)."""
        if self.pipeline is None:
            return torch.zeros(0, dtype=torch.uint8)
        import skops.io as sio  # imported here: importing skops.io takes seconds (it imports all of scikit-learn)

        return torch.frombuffer(bytearray(sio.dumps(self.pipeline)), dtype=torch.uint8)

    def set_extra_state(self, state: torch.Tensor) -> None:
        if state.numel() == 0:
            self.pipeline = None
            return
        import skops.io as sio

        data = state.cpu().numpy().tobytes()
        untrusted = [t for t in sio.get_untrusted_types(data=data) if t not in TRUSTED_TYPES]
        if untrusted:
            raise ModelError(f"refusing to load a baseline holding unexpected types: {', '.join(untrusted)}", hint="only load checkpoints written by geoprospect")
        self.pipeline = sio.loads(data, trusted=list(TRUSTED_TYPES))


def _builder(estimator: str, features: Literal["flattened", "cell"], doc: str):
    def build(in_channels: int, num_classes: int = 2, window_size: int = 32, **params: Any) -> nn.Module:
        if num_classes != 2:
            raise ModelError(f"the {estimator} baseline is a two-class model, got num_classes={num_classes}")
        return SklearnModel(estimator, features, in_channels, window_size, params)

    build.__doc__ = doc
    return build


def scoring_batch(model: nn.Module, window_values: int, default: int) -> int:
    """Windows per scoring call: ``default`` for networks; for a scikit-learn baseline as many
    float32 windows of ``window_values`` values as fit in about SCORE_CHUNK_BYTES (8 MiB) (never fewer than
    ``default``), since a forest pays a fixed cost per call (one joblib dispatch per tree)."""
    if not isinstance(model, SklearnModel):
        return default
    return max(default, SCORE_CHUNK_BYTES // (4 * max(1, int(window_values))))


_DOCS = {
    "svm": "scikit-learn SVM (RBF kernel, Platt-scaled probabilities)",
    "knn": "scikit-learn k-nearest neighbours (k = 5)",
    "random_forest": "scikit-learn random forest (200 trees)",
    "decision_tree": "scikit-learn decision tree",
    "logistic": "scikit-learn logistic regression (ranked by its decision function)",
    "blend": "balanced random forest + logistic regression, z-scored and averaged (skill.md)",
}
for _name, _doc in _DOCS.items():
    register(_name, sees="flattened")(_builder(_name, "flattened", f"{_doc} on the flattened window (paper 001 baseline)."))
    register(f"{_name}_cell", sees="cell")(_builder(_name, "cell", f"{_doc} on the centre cell's band values (per-cell, as EIS Toolkit / ArcSDM)."))
