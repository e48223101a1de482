"""Sample-level classifier of paper 004 (Tahmooresi et al., Gonabad).

Paper 004 classifies each geochemical *sample* (not a window) from its fuzzy factor scores into
anomaly classes (7 factors + "no mineralisation" = 8 classes). Its MATLAB appendix fixes the net:
``featureInputLayer(Normalization='rescale-symmetric') -> fullyConnected(20) -> ReLU ->
fullyConnected(numClasses) -> softmax``, trained with SGD-momentum (lr 0.01, 500 epochs,
mini-batch 12, learning rate x0.7 every 50 epochs), a random 75/10/15 % train/validation/test
split (``randperm``), and evaluated by accuracy, per-class precision/recall/F1, per-class AUC
(``perfcurve`` one-vs-rest) and the confusion matrix. Metrics here come from scikit-learn.
The class probabilities of every sample can then be gridded like any other layer
(:func:`probability_map`, IDW from :mod:`geoprospect.evidence.idw`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from geoprospect.errors import InputError


class SampleNet(nn.Module):
    """FC(hidden) -> ReLU -> FC(classes) on features rescaled to [-1, 1] with the training min/max."""

    def __init__(self, n_features: int, n_classes: int, hidden: int = 20, dropout: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("lo", torch.zeros(n_features))
        self.register_buffer("hi", torch.ones(n_features))
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def set_range(self, x: torch.Tensor) -> None:
        """MATLAB 'rescale-symmetric': map each feature's training [min, max] to [-1, 1]."""
        self.lo.copy_(x.min(0).values)
        self.hi.copy_(x.max(0).values)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        span = (self.hi - self.lo).clamp_min(1e-12)
        return self.net(2.0 * (x - self.lo) / span - 1.0)


def split_indices(n: int, fractions: tuple[float, float, float] = (0.75, 0.10, 0.15), seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random train/validation/test indices (paper 004: 75/10/15 % by a random permutation)."""
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise InputError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
    perm = np.random.default_rng(seed).permutation(n)
    n_tr = int(round(n * fractions[0]))
    n_va = int(round(n * fractions[1]))
    return perm[:n_tr], perm[n_tr : n_tr + n_va], perm[n_tr + n_va :]


def classification_report(y_true: np.ndarray, proba: np.ndarray, class_names: list[str] | None = None) -> dict:
    """Accuracy, per-class precision/recall/F1/AUC (one-vs-rest) and confusion matrix (scikit-learn).

    A class absent from ``y_true`` gets AUC ``None`` (undefined), never a made-up value.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support, roc_auc_score

    y_true = np.asarray(y_true)
    k = proba.shape[1]
    labels = list(range(k))
    names = class_names or [str(i) for i in labels]
    y_pred = proba.argmax(1)
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    aucs: list[float | None] = []
    for c in labels:
        pos = y_true == c
        aucs.append(float(roc_auc_score(pos, proba[:, c])) if 0 < pos.sum() < len(pos) else None)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "classes": names,
        "precision": [float(v) for v in p],
        "recall": [float(v) for v in r],
        "f1": [float(v) for v in f],
        "auc": aucs,
        "support": [int(v) for v in support],
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


@dataclass
class SampleModelResult:
    model: SampleNet
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    history: list[dict] = field(default_factory=list)
    test_report: dict = field(default_factory=dict)
    val_report: dict = field(default_factory=dict)


def train_sample_model(
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: list[str] | None = None,
    hidden: int = 20,
    dropout: float = 0.0,
    lr: float = 0.01,
    momentum: float = 0.9,
    epochs: int = 500,
    batch_size: int = 12,
    step_epochs: int = 50,
    gamma: float = 0.7,
    fractions: tuple[float, float, float] = (0.75, 0.10, 0.15),
    seed: int = 0,
) -> SampleModelResult:
    """Train the paper-004 sample classifier on (N, F) factor scores and (N,) integer classes."""
    x = np.asarray(scores, dtype=np.float32)
    y = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(y):
        raise InputError(f"scores must be (N, F) with one label per sample; got {x.shape} and {y.shape}")
    if not np.isfinite(x).all():
        raise InputError("factor scores hold NaN or infinite values", hint="drop or fill those samples first")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise InputError("labels must be integer classes 0..K-1")
    k = int(y.max()) + 1 if class_names is None else len(class_names)
    tr, va, te = split_indices(len(x), fractions, seed)
    torch.manual_seed(seed)
    model = SampleNet(x.shape[1], k, hidden, dropout)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.astype(np.int64))
    model.set_range(xt[tr])
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_epochs, gamma=gamma)
    crit = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(seed)
    history = []
    tr_t = torch.from_numpy(tr)
    for epoch in range(epochs):
        model.train()
        perm = tr_t[torch.randperm(len(tr_t), generator=g)]
        total = 0.0
        for i in range(0, len(perm), batch_size):
            b = perm[i : i + batch_size]
            loss = crit(model(xt[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(b)
        sched.step()
        row = {"epoch": epoch + 1, "train_loss": total / max(1, len(perm))}
        if len(va):
            model.eval()
            with torch.no_grad():
                lv = model(xt[va])
                row["val_loss"] = float(crit(lv, yt[va]))
                row["val_accuracy"] = float((lv.argmax(1) == yt[va]).float().mean())
        history.append(row)
    result = SampleModelResult(model.eval(), tr, va, te, history)
    if len(te):
        result.test_report = classification_report(y[te], predict_proba(model, x[te]), class_names)
    if len(va):
        result.val_report = classification_report(y[va], predict_proba(model, x[va]), class_names)
    return result


def predict_proba(model: SampleNet, scores: np.ndarray) -> np.ndarray:
    """(N, K) class probabilities of samples."""
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(torch.as_tensor(np.asarray(scores, dtype=np.float32))), 1).numpy().astype(np.float64)


def probability_map(model: SampleNet, xy: np.ndarray, scores: np.ndarray, grid, **idw_options) -> np.ndarray:
    """Grid the per-sample class probabilities with IDW onto ``grid``: (K, H, W) float32, NaN = no data.

    ``xy`` are sample coordinates in the grid's CRS (map units); ``idw_options`` go to
    :func:`geoprospect.evidence.idw.idw` (power, neighbors, radius, ...).
    """
    from geoprospect.evidence.idw import idw

    proba = predict_proba(model, scores)
    return idw(np.asarray(xy, dtype=np.float64), proba, grid, **idw_options)
