"""The papers' own nets checked against their equations (MFAF: paper 000; SKT: paper 001)."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from geoprospect.models import build_model
from geoprospect.models.branches import vote
from geoprospect.models.checkpoint import ModelMeta, load_checkpoint, save_checkpoint
from geoprospect.models.mfaf import ChannelAttention, SpatialAttention
from geoprospect.models.skt import TransferConv2d

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


def _skt(meta: bool = False, **opt):
    """An SKT on 32-px windows; ``meta``: shapes only (structure tests, no memory or init cost)."""
    with warnings.catch_warnings(), torch.device("meta" if meta else "cpu"):
        warnings.simplefilter("ignore", UserWarning)
        torch.manual_seed(0)
        return build_model("skt", 3, 2, 32, small_input=False, **opt)


# ---------------------------------------------------------------- MFAF (paper 000)
def test_channel_attention_is_eq2():
    torch.manual_seed(0)
    ca = ChannelAttention(32, reduction=8)
    f = torch.randn(2, 32, 5, 5)
    mlp = lambda v: ca.mlp[2](torch.relu(ca.mlp[0](v)))  # noqa: E731
    avg = f.mean(dim=(2, 3), keepdim=True)
    mx = f.amax(dim=(2, 3), keepdim=True)
    expected = torch.sigmoid(mlp(avg) + mlp(mx))
    torch.testing.assert_close(ca.weights(f), expected)
    torch.testing.assert_close(ca(f), f * expected)


def test_spatial_attention_is_eq3():
    torch.manual_seed(0)
    sa = SpatialAttention()
    assert sa.conv.kernel_size == (7, 7)
    f = torch.randn(2, 16, 9, 9)
    pooled = torch.stack([f.mean(1), f.amax(1)], dim=1)
    expected = torch.sigmoid(F.conv2d(pooled, sa.conv.weight, padding=3))
    torch.testing.assert_close(sa.weights(f), expected)


def test_mfaf_branches_rates_and_switches():
    with torch.device("meta"):  # structure only
        m = build_model("mfaf", 3, 2, 32, small_input=False)
    assert [b[0].dilation[0] for b in m.branches] == [1, 6, 12, 18, 24]
    assert all(isinstance(b[2], ChannelAttention) for b in m.branches)
    assert isinstance(m.spatial, SpatialAttention)
    no_ca = build_model("mfaf", 3, 2, 32, channel_attention=False, small_input=False)
    assert not any(isinstance(x, ChannelAttention) for x in no_ca.modules())
    no_sa = build_model("mfaf", 3, 2, 32, spatial_attention=False, small_input=False)
    assert not any(isinstance(x, SpatialAttention) for x in no_sa.modules())
    shuf = build_model("mfaf_shufflenet", 14, 2, 32, rates=[1, 6], small_input=False)
    assert shuf(torch.randn(2, 14, 32, 32)).shape == (2, 2)


def test_mfaf_loss_is_main_plus_weighted_auxiliary():
    torch.manual_seed(0)
    m = build_model("mfaf", 3, 2, 32, rates=[1, 6, 12], small_input=False).eval()  # eval: BN fixed, same outputs twice
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 1, 0])
    ce = nn.CrossEntropyLoss()
    bl = m.branch_logits(x)
    loss, logits = m.training_loss(x, y, ce)
    torch.testing.assert_close(loss, ce(bl[0], y) + 0.4 * (ce(bl[1], y) + ce(bl[2], y)))
    torch.testing.assert_close(logits, torch.log(torch.softmax(bl, -1).mean(0)))
    torch.testing.assert_close(m(x), logits)
    m.aux_weight = 0.0  # Table 5 row "0": only the plain (rate-1) branch is trained
    torch.testing.assert_close(m.training_loss(x, y, ce)[0], ce(bl[0], y))


def test_hard_vote_is_majority_with_soft_tie_break():
    # 3 branches, 2 samples, 2 classes: sample 0 -> votes 1,1,0 ; sample 1 -> votes 0,0,1
    bl = torch.tensor([[[0.0, 2.0], [3.0, 0.0]], [[0.0, 0.1], [0.1, 0.0]], [[5.0, 0.0], [0.0, 9.0]]])
    hard = vote(bl, "hard")
    assert hard.argmax(1).tolist() == [1, 0]  # the majority, although soft voting disagrees on both
    assert vote(bl, "soft").argmax(1).tolist() == [0, 1]
    torch.testing.assert_close(hard.exp().sum(1), torch.ones(2))


# ---------------------------------------------------------------- SKT (paper 001)
def test_transfer_conv_is_eq8_eq9():
    torch.manual_seed(0)
    src = nn.Conv2d(4, 6, 3, padding=1, bias=False)
    tc = TransferConv2d(nn.Conv2d(4, 6, 3, padding=1, bias=False), src, "product", select_init=0.5, dilation=6)
    assert tc.dilation == (6, 6) and tc.padding == (6, 6)
    with torch.no_grad():
        tc.weight.normal_()
        tc.select.normal_()
    x = torch.randn(2, 4, 16, 16)
    w = (src.weight * torch.sigmoid(tc.select)) * tc.weight  # eq. 8 then eq. 9
    torch.testing.assert_close(tc(x), F.conv2d(x, w, padding=6, dilation=6))
    tc.select.grad = None
    tc(x).sum().backward()
    assert tc.select.grad is not None and tc.weight.grad is not None


def test_skt_structure_and_ablations():
    m = _skt(meta=True)
    assert len(m.targets) == 5
    assert [t.conv1.dilation[0] for t in m.targets] == [1, 6, 12, 18, 24]
    assert m.mask is not None and m.mask.shape == (3,) and m.beta == 0.7
    assert not any(p.requires_grad for p in m.source.parameters())
    assert isinstance(m.targets[0].layer1[0].conv1, TransferConv2d)
    r = _skt(meta=True, rates=[1, 6], soft_mask=False)
    assert r.mask is None
    r = _skt(meta=True, rates=[1, 6], dilated=False)
    assert [t.conv1.dilation[0] for t in r.targets] == [1, 1]
    r = _skt(meta=True, rates=[1, 6], selective_transfer=False)
    assert r.source is None and not any(isinstance(x, TransferConv2d) for x in r.modules())
    assert [t.conv1.dilation[0] for t in r.targets] == [1, 6]
    r = _skt(meta=True, rates=[1, 6], self_distillation=False)
    assert r.beta == 0.0


def test_skt_soft_mask_is_eq6():
    m = _skt(rates=[1, 6]).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        m.mask.copy_(torch.tensor([0.5, 2.0, 0.0]))
        got = m.branch_logits(x)
        m.mask.fill_(1.0)
        want = m.branch_logits(x * torch.tensor([0.5, 2.0, 0.0]).view(1, 3, 1, 1))
    torch.testing.assert_close(got, want)


def test_skt_distillation_and_objective_are_eq10_eq12():
    m = _skt(rates=[1, 6, 12]).eval()
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 0, 1])
    bl = m.branch_logits(x)
    p = torch.softmax(bl, -1)

    def kl(a, b):  # sum_i p_a log(p_a / p_b), batch mean
        return (p[a] * (p[a].log() - p[b].log())).sum(-1).mean()

    kd = m.distillation_losses(bl)
    torch.testing.assert_close(kd[0], torch.tensor(0.0))
    torch.testing.assert_close(kd[1], kl(0, 1))
    torch.testing.assert_close(kd[2], kl(0, 2) + kl(1, 2))
    ce = nn.CrossEntropyLoss()
    loss, logits = m.training_loss(x, y, ce)
    want = sum(ce(bl[v], y) for v in range(3)) + 0.7 * (kl(0, 1) + kl(0, 2) + kl(1, 2))
    torch.testing.assert_close(loss, want)
    torch.testing.assert_close(logits, m(x))


def test_skt_source_transfer_and_checkpoint_roundtrip(tmp_path):
    torch.manual_seed(1)
    src = build_model("resnet18", 3, 2, 32, small_input=False)
    meta = ModelMeta("resnet18", 3, ["a", "b", "c"], [0.0] * 3, [1.0] * 3, 32, 32, options={"small_input": False})
    save_checkpoint(tmp_path / "src", src, meta)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a source is given: no warning
        m = build_model("skt", 3, 2, 32, rates=[1, 6], small_input=False, source=str(tmp_path / "src"))
    torch.testing.assert_close(m.source.conv1.weight, src.conv1.weight)
    # at initialisation each target kernel is the masked source kernel: sigmoid(2) * w_S
    eff = m.targets[0].layer1[0].conv1.effective_weight()
    torch.testing.assert_close(eff, torch.sigmoid(torch.tensor(2.0)) * src.layer1[0].conv1.weight)
    meta2 = ModelMeta("skt", 3, ["a", "b", "c"], [0.0] * 3, [1.0] * 3, 32, 32, options={"rates": [1, 6], "small_input": False, "source": str(tmp_path / "gone")})
    save_checkpoint(tmp_path / "skt", m, meta2)
    m2, _ = load_checkpoint(tmp_path / "skt")  # the source folder is not needed any more
    x = torch.randn(2, 3, 32, 32)
    m.eval()
    with torch.no_grad():
        torch.testing.assert_close(m2(x), m(x))


def test_mfaf_checkpoint_roundtrip(tmp_path):
    m = build_model("mfaf", 4, 2, 32, rates=[1, 6], small_input=False).eval()
    meta = ModelMeta("mfaf", 4, list("abcd"), [0.0] * 4, [1.0] * 4, 32, 32, options={"rates": [1, 6], "small_input": False})
    save_checkpoint(tmp_path, m, meta)
    m2, _ = load_checkpoint(tmp_path, band_names=list("abcd"))
    x = torch.randn(2, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(m2(x), m(x))


def test_skt_source_mismatch_is_model_error():
    from geoprospect.errors import ModelError

    m = _skt(rates=[1])
    with pytest.raises(ModelError, match="does not fit"):
        m.load_source(build_model("resnet18", 5, 2, 32, small_input=False))
