"""Window augmentation: noise (000/001), flips + rotations (002), crops (001/002/003), SMOTE (000)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoprospect.errors import ConfigError, InputError
from geoprospect.windows.augment import (
    WindowAugment,
    balanced_sample_weights,
    center_crop,
    crop_oversample,
    gaussian_noise,
    random_crop,
    random_flip_rot90,
    smote_windows,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


def test_gaussian_noise_has_mean_0_variance_001():
    x = torch.zeros(4, 64, 64)
    g = torch.Generator().manual_seed(0)
    n = gaussian_noise(x, 0.01, generator=g)
    assert abs(float(n.mean())) < 0.005
    assert float(n.var()) == pytest.approx(0.01, rel=0.05)
    assert torch.equal(x, torch.zeros(4, 64, 64))  # input untouched
    with pytest.raises(ConfigError):
        gaussian_noise(x, -1.0)


def test_flip_rot90_is_a_symmetry_of_the_square():
    x = torch.arange(2 * 5 * 5, dtype=torch.float32).view(2, 5, 5)
    g = torch.Generator().manual_seed(1)
    seen = set()
    for _ in range(60):
        y = random_flip_rot90(x, g)
        assert sorted(y.flatten().tolist()) == sorted(x.flatten().tolist())
        assert torch.equal(y[1] - y[0], torch.full((5, 5), 25.0))  # bands move together
        seen.add(tuple(y[0].flatten().tolist()))
    assert len(seen) == 8  # the dihedral group of the square
    with pytest.raises(InputError, match="square"):
        random_flip_rot90(torch.zeros(1, 4, 6), g, flips=False)


def test_crops():
    x = torch.arange(256 * 256, dtype=torch.float32).view(1, 256, 256)
    g = torch.Generator().manual_seed(0)
    c = random_crop(x, 224, g)
    assert c.shape == (1, 224, 224)
    r, col = divmod(int(c[0, 0, 0]), 256)
    assert torch.equal(c, x[:, r : r + 224, col : col + 224])
    assert torch.equal(center_crop(x, 224), x[:, 16:240, 16:240])
    with pytest.raises(ConfigError, match="larger"):
        random_crop(x, 300)


def test_window_augment_train_and_eval():
    aug = WindowAugment(noise_variance=0.01, flips=True, rotations=True, crop=24)
    x = torch.randn(3, 32, 32)
    assert aug(x, torch.Generator().manual_seed(0)).shape == (3, 24, 24)
    ev = aug.eval()
    assert torch.equal(ev(x), x[:, 4:28, 4:28])


def test_crop_oversample_paper003_counts_and_positions():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 2, 64, 64)).astype(np.float32)
    y = np.array([1, 0, 1])
    crops, cy, src = crop_oversample(w, y, 32, {1: 50, 0: 10}, steps={1: (12, 24), 0: (32, 64)})
    assert crops.shape == (110, 2, 32, 32)
    assert (cy == 1).sum() == 100 and (cy == 0).sum() == 10
    assert np.array_equal(np.unique(src[cy == 1]), [0, 2])
    # every crop is a real sub-window of its source (nothing invented)
    for k in (0, 1, 13, 60, 105):
        found = any(
            np.array_equal(crops[k], w[src[k], :, r : r + 32, c : c + 32]) for r in range(33) for c in range(33)
        )
        assert found
    # positives step 12 px in x: second crop starts 12 px right of the first
    assert np.array_equal(crops[1], w[0, :, 0:32, 12:44])
    rand, _, _ = crop_oversample(w, y, 16, {1: 3})
    assert rand.shape == (6, 2, 16, 16)
    with pytest.raises(ConfigError):
        crop_oversample(w, y, 80, {1: 1})


def test_smote_balances_and_interpolates():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2, 4, 4)).astype(np.float32)
    y = np.array([1] * 8 + [0] * 32)
    xs, ys = smote_windows(x, y, random_state=0)
    assert xs.shape[1:] == (2, 4, 4) and (ys == 1).sum() == (ys == 0).sum() == 32
    assert np.array_equal(xs[:40], x)  # originals first
    # synthetic positives lie inside the positives' bounding box (convex combinations)
    lo, hi = x[y == 1].min(0), x[y == 1].max(0)
    syn = xs[40:]
    assert ((syn >= lo - 1e-5) & (syn <= hi + 1e-5)).all()
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        smote_windows(bad, y)
    with pytest.raises(InputError, match="at least 2"):
        smote_windows(x, np.array([1] + [0] * 39))


def test_balanced_weights_draw_classes_equally():
    y = np.array([0] * 90 + [1] * 10)
    w = balanced_sample_weights(y)
    assert w[y == 0].sum() == pytest.approx(w[y == 1].sum())
