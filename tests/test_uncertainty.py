"""uncertainty.tif: the spread of ensemble members (fold models, MC dropout), at full resolution."""

import numpy as np
import pytest
import rasterio
import torch
from torch import nn

from geoprospect.ensemble.uncertainty import MEMBER_MEAN, MEMBER_STD, blend_spread, member_margins, read_uncertainty, summary, window_spread, write_uncertainty
from geoprospect.evaluation.calibration import Calibrator
from geoprospect.evaluation.targets import target_areas
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import Stack
from geoprospect.prediction.mc_dropout import MCDropout, has_dropout, mc_dropout_margins
from geoprospect.prediction.predict import predict


class _Linear(nn.Module):
    """logits [0, w . centre cell + b]: a deterministic member."""

    def __init__(self, w: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.w = w
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        h, w = x.shape[-2:]
        d = self.drop(x[:, :, h // 2, w // 2]).sum(dim=1, keepdim=True) * self.w
        return torch.cat([torch.zeros_like(d), d], dim=1)


def _stack():
    grid = GridSpec.from_bounds((500000.0, 2800000.0, 503200.0, 2803200.0), 100.0, "EPSG:32649")
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2, *grid.shape)).astype(np.float32)
    data[:, :3, :5] = np.nan  # a nodata corner
    return Stack(data, grid, ["a", "b"], [{"mean": 0.0, "std": 1.0}, {"mean": 0.0, "std": 1.0}])


def _score(stack):
    return lambda m: predict(m, stack, [0.0, 0.0], [1.0, 1.0], size=8, stride=4, device="cpu").margin


def test_identical_members_have_zero_spread_and_the_tif_reads_back_georeferenced(tmp_path):
    stack = _stack()
    cal = Calibrator("platt", 0.8, -1.0)
    margins = member_margins([_Linear(1.0), _Linear(1.0), _Linear(1.0)], _score(stack))
    std, mean = window_spread(margins, cal)
    scored = np.isfinite(mean)
    assert scored.any() and np.all(std[scored] == 0)
    np.testing.assert_allclose(mean[scored], cal.apply(margins[0][scored]))
    ii, jj = np.indices(std.shape)
    bands = blend_spread(stack.grid, (ii * 4).ravel(), (jj * 4).ravel(), 8, {MEMBER_STD: std.ravel(), MEMBER_MEAN: mean.ravel()}, valid=stack.valid)
    out = write_uncertainty(tmp_path / "uncertainty.tif", bands, stack.grid, {"GEOPROSPECT_MEMBERS": "a,b,c"})
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32649 and src.transform == stack.grid.transform and (src.height, src.width) == stack.grid.shape
        assert src.nodata == -9999.0 and src.descriptions == (MEMBER_STD, MEMBER_MEAN)
        assert src.tags()["GEOPROSPECT_KIND"] == "uncertainty"
    back, tags = read_uncertainty(out)
    assert np.nanmax(back[MEMBER_STD]) == 0 and np.isnan(back[MEMBER_STD][0, 0])  # nodata corner stays nodata
    assert np.isfinite(back[MEMBER_STD]).sum() == stack.valid.sum()
    assert summary(back, tags)["bands"][MEMBER_STD]["mean"] == 0
    assert (tmp_path / "uncertainty.qml").exists()


def test_spread_is_the_population_std_of_calibrated_member_probabilities():
    stack = _stack()
    cal = Calibrator("platt", 1.0, 0.0)
    margins = member_margins([_Linear(0.5), _Linear(1.0), _Linear(2.0)], _score(stack))
    std, mean = window_spread(margins, cal)
    p = 1 / (1 + np.exp(-margins))
    ok = np.isfinite(mean)
    np.testing.assert_allclose(std[ok], np.std(p, axis=0)[ok], atol=1e-12)
    np.testing.assert_allclose(mean[ok], np.mean(p, axis=0)[ok], atol=1e-12)
    assert std[ok].max() > 0
    one_std, one_mean = window_spread(margins[:1], cal)  # one member: no spread to read
    assert np.isnan(one_std).all() and np.isfinite(one_mean[ok]).all()


def test_mc_dropout_passes_differ_are_seeded_and_leave_the_model_in_eval_mode():
    stack = _stack()
    model = _Linear(1.0, dropout=0.5)
    assert has_dropout(model) and not has_dropout(_Linear(1.0)) and not has_dropout(_Linear(1.0, dropout=0.0))
    a = mc_dropout_margins(model, _score(stack), 4, seed=3)
    b = mc_dropout_margins(model, _score(stack), 4, seed=3)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)  # seeded (same masks; torch's CPU sums not bit-reproducible)
    ok = np.isfinite(a[0])
    assert not np.allclose(a[0][ok], a[1][ok])  # dropout was on
    assert not model.training and not model.drop.training
    plain = _score(stack)(model)  # eval mode again: deterministic
    np.testing.assert_allclose(plain, _score(stack)(model), rtol=1e-6, atol=1e-9)
    wrapped = MCDropout(model).eval()
    assert wrapped.model.drop.training and not wrapped.training


def test_targets_carry_the_mean_spread_of_their_cells():
    grid = GridSpec.from_bounds((0.0, 0.0, 1000.0, 1000.0), 100.0, "EPSG:32649")
    score = np.zeros(grid.shape)
    score[1:3, 1:3], score[6:9, 6:8] = 0.9, 0.8
    classes = np.where(score > 0.5, 3, 1).astype(np.uint8)
    spread = np.full(grid.shape, 0.01)
    spread[1:3, 1:3] = [[0.1, 0.2], [0.3, np.nan]]
    t = target_areas(score, classes, grid, np.zeros((0, 2)), extra={"spread": spread})
    assert list(t["target"]) == [1, 2] and "mean_spread" in t
    assert t.loc[0, "mean_spread"] == pytest.approx(0.2)  # NaN cells left out
    assert t.loc[1, "mean_spread"] == pytest.approx(0.01)
    empty = target_areas(np.zeros(grid.shape), np.ones(grid.shape, dtype=np.uint8), grid, np.zeros((0, 2)), extra={"spread": spread})
    assert "mean_spread" in empty.columns and len(empty) == 0
