"""Window augmentation (issue 4; papers 000-003).

On-the-fly (per iteration, torch tensors (C, H, W) or batches (B, C, H, W)):
  * :func:`gaussian_noise`: additive N(mean 0, variance 0.01) noise (papers 000, 001).
  * :func:`random_flip_rot90`: flips and 90-degree rotations (paper 002). Optional: paper 003
    argues that flips and rotations change the geology (fault strike, layering), so it is off
    in every preset except 002's.
  * :func:`random_crop` / :func:`center_crop`: e.g. a random 224 crop of a 256 window each
    iteration (papers 001, 002); :class:`WindowAugment` chains them.
Offline (numpy arrays (N, C, H, W), before training):
  * :func:`crop_oversample`: N crops per sample, stepping a pixels in x and b in y (paper 003:
    32x32 crops, N=50 for positives with a=12, b=24; N=10 for negatives with a=32, b=64).
  * :func:`smote_windows`: SMOTE on flattened windows through imbalanced-learn (paper 000).
  * :func:`balanced_sample_weights`: per-window weights for class-balanced sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from geoprospect.errors import ConfigError, InputError


def gaussian_noise(x: torch.Tensor, variance: float = 0.01, mean: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """x + N(mean, variance) noise, element-wise (papers 000/001: mean 0, variance 0.01 => std 0.1)."""
    if variance < 0:
        raise ConfigError(f"noise variance must be >= 0, got {variance}")
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype if x.is_floating_point() else torch.float32, device="cpu" if generator is not None else x.device)
    return x + (noise.to(x.device) * variance**0.5 + mean)


def random_flip_rot90(x: torch.Tensor, generator: torch.Generator | None = None, flips: bool = True, rotations: bool = True) -> torch.Tensor:
    """Random horizontal/vertical flip and rotation by k*90 degrees of the last two axes (paper 002)."""
    if flips:
        if torch.rand((), generator=generator) < 0.5:
            x = torch.flip(x, dims=(-1,))
        if torch.rand((), generator=generator) < 0.5:
            x = torch.flip(x, dims=(-2,))
    if rotations:
        if x.shape[-1] != x.shape[-2]:
            raise InputError(f"90-degree rotations need square windows, got {tuple(x.shape[-2:])}")
        k = int(torch.randint(0, 4, (), generator=generator))
        if k:
            x = torch.rot90(x, k, dims=(-2, -1))
    return x


def random_crop(x: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random ``size`` x ``size`` crop of the last two axes (papers 001/002: 224 of 256)."""
    h, w = x.shape[-2:]
    if size > h or size > w:
        raise ConfigError(f"crop size {size} is larger than the {h}x{w} window", hint="choose a crop no larger than the window size")
    r = int(torch.randint(0, h - size + 1, (), generator=generator))
    c = int(torch.randint(0, w - size + 1, (), generator=generator))
    return x[..., r : r + size, c : c + size]


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size`` x ``size`` crop (evaluation counterpart of :func:`random_crop`)."""
    h, w = x.shape[-2:]
    if size > h or size > w:
        raise ConfigError(f"crop size {size} is larger than the {h}x{w} window")
    r, c = (h - size) // 2, (w - size) // 2
    return x[..., r : r + size, c : c + size]


@dataclass
class WindowAugment:
    """Per-iteration augmentation of one window tensor (C, H, W); picklable for DataLoader workers.

    Order: crop, flips/rotations, noise. ``train=False`` applies only the centre crop.
    """

    noise_variance: float = 0.0
    flips: bool = False
    rotations: bool = False
    crop: int | None = None
    train: bool = True

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.crop is not None:
            x = random_crop(x, self.crop, generator) if self.train else center_crop(x, self.crop)
        if not self.train:
            return x
        if self.flips or self.rotations:
            x = random_flip_rot90(x, generator, self.flips, self.rotations)
        if self.noise_variance > 0:
            x = gaussian_noise(x, self.noise_variance, generator=generator)
        return x

    def eval(self) -> "WindowAugment":
        """The evaluation transform matching this one (centre crop only)."""
        return WindowAugment(crop=self.crop, train=False)


def crop_oversample(windows: np.ndarray, labels: np.ndarray, crop: int, n_per_class: dict[int, int], steps: dict[int, tuple[int, int]] | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N crops of ``crop`` pixels from every window (paper 003's crop augmentation).

    Args:
        windows: (N, C, H, W) samples larger than ``crop``.
        labels: (N,) integer classes.
        n_per_class: crops per sample by class, e.g. {1: 50, 0: 10} (paper 003).
        steps: (a, b) per class: the crop moves a pixels along x and b along y (raster order,
            wrapping inside the window); paper 003 uses {1: (12, 24), 0: (32, 64)}. Without a
            step for a class, crop corners are drawn at random (``seed``).
    Returns:
        crops (M, C, crop, crop), their labels (M,), and the index of the source window (M,)
        (keep crops of one window on the same side of a split: they overlap).
    """
    windows = np.asarray(windows)
    labels = np.asarray(labels)
    if windows.ndim != 4 or len(windows) != len(labels):
        raise InputError(f"windows must be (N, C, H, W) with one label each, got {windows.shape} and {labels.shape}")
    n, _, h, w = windows.shape
    if crop > h or crop > w:
        raise ConfigError(f"crop size {crop} is larger than the {h}x{w} samples")
    rng = np.random.default_rng(seed)
    ny, nx = h - crop + 1, w - crop + 1
    out, out_y, out_src = [], [], []
    for i in range(n):
        cls = int(labels[i])
        count = int(n_per_class.get(cls, 0))
        step = (steps or {}).get(cls)
        for t in range(count):
            if step is None:
                r, c = int(rng.integers(0, ny)), int(rng.integers(0, nx))
            else:
                a, b = step
                per_row = max(1, (nx - 1) // a + 1) if a > 0 else 1
                c = (t % per_row) * a % nx
                r = (t // per_row) * b % ny
            out.append(windows[i, :, r : r + crop, c : c + crop])
            out_y.append(cls)
            out_src.append(i)
    if not out:
        raise ConfigError("crop oversampling produced no crops", hint="give n_per_class a positive count for the classes present")
    return np.stack(out), np.asarray(out_y, dtype=labels.dtype), np.asarray(out_src)


def smote_windows(windows: np.ndarray, labels: np.ndarray, k_neighbors: int = 5, sampling_strategy: str | float | dict = "auto", random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """SMOTE (imbalanced-learn) on flattened windows, reshaped back to (M, C, H, W) (paper 000).

    The originals come first, in order; synthetic windows follow. Use on training windows only.
    """
    from imblearn.over_sampling import SMOTE

    windows = np.asarray(windows)
    labels = np.asarray(labels)
    if windows.ndim != 4 or len(windows) != len(labels):
        raise InputError(f"windows must be (N, C, H, W) with one label each, got {windows.shape} and {labels.shape}")
    flat = windows.reshape(len(windows), -1)
    if not np.isfinite(flat).all():
        raise InputError("windows hold NaN: SMOTE cannot interpolate nodata", hint="drop windows with nodata first (tiling does)")
    counts = np.bincount(labels.astype(np.int64))
    minority = counts[counts > 0].min()
    if minority < 2:
        raise InputError(f"SMOTE needs at least 2 windows of every class; the smallest class has {minority}")
    k = min(k_neighbors, int(minority) - 1)
    sm = SMOTE(k_neighbors=k, sampling_strategy=sampling_strategy, random_state=random_state)
    fx, fy = sm.fit_resample(flat, labels)
    return fx.reshape((len(fx),) + windows.shape[1:]).astype(windows.dtype, copy=False), fy


def balanced_sample_weights(labels: np.ndarray) -> np.ndarray:
    """Weight 1/count(class) per window: a WeightedRandomSampler with these draws classes equally."""
    labels = np.asarray(labels).astype(np.int64)
    counts = np.bincount(labels)
    if (counts[np.unique(labels)] == 0).any():  # pragma: no cover - cannot happen
        raise InputError("empty class")
    return 1.0 / counts[labels].astype(np.float64)
