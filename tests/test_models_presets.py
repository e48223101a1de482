"""Training recipes of papers 000-003 (issue 4), held as data by the one TrainConfig."""

from __future__ import annotations

import pytest
import torch

from geoprospect.errors import ConfigError
from geoprospect.training.config import PRESETS, TrainConfig, get_preset, parse_model_options, train_config
from geoprospect.training.optim import lr_at, make_optimizer, make_scheduler

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


def _run_schedule(cfg, epochs):
    opt = make_optimizer([torch.nn.Parameter(torch.zeros(1))], cfg)
    sch = make_scheduler(opt, cfg)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return opt, lrs


def test_paper_recipes():
    p0, p1, p2, p3 = (TrainConfig.from_preset(k) for k in ("000", "001", "002", "003"))
    assert (p0.lr, p0.gamma, p0.step_epochs, p0.epochs, p0.batch_size, p0.momentum) == (0.02, 0.6, 30, 220, 32, 0.2)
    assert (get_preset("000").window_size, get_preset("000").stride, p0.noise_variance, get_preset("000").smote) == (128, 128, 0.01, True)
    assert (p1.lr, p1.gamma, p1.epochs, p1.batch_size, get_preset("001").window_size, get_preset("001").stride, p1.crop) == (0.1, 0.5, 150, 128, 256, 128, 224)
    assert (p2.lr, p2.gamma, p2.epochs, p2.batch_size, p2.flips, p2.rotations) == (0.01, 0.5, 120, 32, True, True)
    assert (p3.optimizer, p3.scheduler, p3.lr, p3.min_lr, p3.epochs, p3.batch_size, get_preset("003").window_size) == ("adam", "cosine", 1e-4, 1e-5, 50, 16, 32)
    assert not (p3.flips or p3.rotations or p3.noise_variance)  # paper 003: these change geology
    assert p0.options["aux_weight"] == 0.4 and p1.options["beta"] == 0.7
    assert (p0.model, p1.model, p2.model, p3.model) == ("mfaf", "skt", "resnet50", "resnet50_2fc")


def test_step_schedule_000():
    cfg = TrainConfig.from_preset("000")
    opt, lrs = _run_schedule(cfg, 91)
    assert isinstance(opt, torch.optim.SGD)
    assert lrs[0] == pytest.approx(0.02) and lrs[29] == pytest.approx(0.02)
    assert lrs[30] == pytest.approx(0.012) and lrs[60] == pytest.approx(0.0072) and lrs[90] == pytest.approx(0.00432)
    assert all(lrs[e] == pytest.approx(lr_at(cfg, e)) for e in range(91))


def test_cosine_schedule_003():
    opt, lrs = _run_schedule(TrainConfig.from_preset("003"), 51)
    assert isinstance(opt, torch.optim.Adam)
    assert lrs[0] == pytest.approx(1e-4) and lrs[50] == pytest.approx(1e-5)
    assert lrs[25] == pytest.approx((1e-4 + 1e-5) / 2)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_overrides_and_errors():
    p = TrainConfig.from_preset("1", lr=0.05, epochs=3)
    assert (p.preset, p.lr, p.epochs, p.batch_size) == ("001", 0.05, 3, 128)
    assert PRESETS["001"].train["lr"] == 0.1  # the stored preset is unchanged
    with pytest.raises(ConfigError, match="unknown training preset"):
        get_preset("007")
    with pytest.raises(ConfigError, match="learning_rate"):
        TrainConfig.from_preset("000", learning_rate=1)
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig.from_preset("000", optimizer="lbfgs")


def test_preset_in_a_config_mapping_gives_the_defaults():
    """The run YAML's `train: {preset: "002", epochs: 2}` = the preset with epochs overridden."""
    cfg = TrainConfig.model_validate({"preset": "2", "epochs": 2})
    assert cfg == TrainConfig.from_preset("002", epochs=2)
    assert (cfg.preset, cfg.model, cfg.crop, cfg.flips, cfg.epochs) == ("002", "resnet50", 224, True, 2)
    # another model drops the preset's model options; options given explicitly stay
    assert TrainConfig.from_preset("000", model="lenet").options == {}
    assert TrainConfig.from_preset("000", model="lenet", options={"dropout": 0.1}).options == {"dropout": 0.1}


def test_train_config_merges_preset_given_settings_and_key_value_options():
    cfg = train_config("003", ["rates=[1,6]", 'backbone_options={"width": "x0_5"}', "source=runs/a"], model="mfaf_shufflenet", batch_size=8)
    assert (cfg.model, cfg.batch_size, cfg.lr, cfg.scheduler) == ("mfaf_shufflenet", 8, 1e-4, "cosine")
    assert cfg.options == {"rates": [1, 6], "backbone_options": {"width": "x0_5"}, "source": "runs/a"}
    assert train_config(None, epochs=3) == TrainConfig(epochs=3)
    assert parse_model_options(["k= 1.5"]) == {"k": 1.5}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_model_options(["rates"])
