"""Training recipes of papers 000-003 (issue 4)."""

from __future__ import annotations

import pytest
import torch

from geoprospect.errors import ConfigError
from geoprospect.training.presets import PRESETS, get_preset, lr_at, make_optimizer, make_scheduler


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


def _run_schedule(p, epochs):
    opt = make_optimizer([torch.nn.Parameter(torch.zeros(1))], p)
    sch = make_scheduler(opt, p)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return opt, lrs


def test_paper_recipes():
    p0, p1, p2, p3 = (get_preset(k) for k in ("000", "001", "002", "003"))
    assert (p0.lr, p0.gamma, p0.step_epochs, p0.epochs, p0.batch_size, p0.momentum) == (0.02, 0.6, 30, 220, 32, 0.2)
    assert (p0.window_size, p0.stride, p0.noise_variance, p0.smote) == (128, 128, 0.01, True)
    assert (p1.lr, p1.gamma, p1.epochs, p1.batch_size, p1.window_size, p1.stride, p1.crop) == (0.1, 0.5, 150, 128, 256, 128, 224)
    assert (p2.lr, p2.gamma, p2.epochs, p2.batch_size, p2.flips, p2.rotations) == (0.01, 0.5, 120, 32, True, True)
    assert (p3.optimizer, p3.scheduler, p3.lr, p3.min_lr, p3.epochs, p3.batch_size, p3.window_size) == ("adam", "cosine", 1e-4, 1e-5, 50, 16, 32)
    assert not (p3.flips or p3.rotations or p3.noise_variance)  # paper 003: these change geology
    assert p0.model_options["aux_weight"] == 0.4 and p1.model_options["beta"] == 0.7


def test_step_schedule_000():
    opt, lrs = _run_schedule(get_preset("000"), 91)
    assert isinstance(opt, torch.optim.SGD)
    assert lrs[0] == pytest.approx(0.02) and lrs[29] == pytest.approx(0.02)
    assert lrs[30] == pytest.approx(0.012) and lrs[60] == pytest.approx(0.0072) and lrs[90] == pytest.approx(0.00432)
    assert all(lrs[e] == pytest.approx(lr_at(get_preset("000"), e)) for e in range(91))


def test_cosine_schedule_003():
    p = get_preset("003")
    opt, lrs = _run_schedule(p, 51)
    assert isinstance(opt, torch.optim.Adam)
    assert lrs[0] == pytest.approx(1e-4) and lrs[50] == pytest.approx(1e-5)
    assert lrs[25] == pytest.approx((1e-4 + 1e-5) / 2)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_overrides_and_errors():
    p = get_preset("1", lr=0.05, epochs=3)
    assert (p.name, p.lr, p.epochs, p.batch_size) == ("001", 0.05, 3, 128)
    assert PRESETS["001"].lr == 0.1  # the stored preset is unchanged
    with pytest.raises(ConfigError, match="unknown training preset"):
        get_preset("007")
    with pytest.raises(ConfigError, match="unknown preset field"):
        get_preset("000", learning_rate=1)
    with pytest.raises(ConfigError, match="optimizer"):
        make_optimizer([torch.nn.Parameter(torch.zeros(1))], get_preset("000", optimizer="lbfgs"))
