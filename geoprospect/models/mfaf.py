"""MFAF: Multiscale Feature Attention Framework (paper 000, Gao et al.).

Layout (paper 000, Fig. 1 and sections 3.1-3.4), as implemented:

    x (B,C,H,W) --+-- dilated conv, rate a_1 --> BN/ReLU --> channel attention --+
                  +-- dilated conv, rate a_2 --> BN/ReLU --> channel attention --+--> shared backbone trunk
                  ...                                  (one branch per rate, eq. 1)   (ResNet-18 or ShuffleNetV2)
                  +-- dilated conv, rate a_k --> BN/ReLU --> channel attention --+          |
                                                                                  spatial attention on the last
                                                                                  conv features (eq. 3) -> GAP
                                                                                  -> shared FC -> softmax per branch
                                                                                  -> voting (eq. 5-6)

* Eq. 1, F_i = r(x_i, M_i, a_i): branch i has its own first-convolution kernel M_i with
  dilation a_i (rates {1, 6, 12, 18, 24}); padding a_i keeps the window size.
* Eq. 2, channel attention: M_c = sigma(MLP(AvgPool(F)) + MLP(MaxPool(F))), one MLP shared by
  both poolings (the CBAM form written in issue 4; the paper's typeset formula puts the sum
  inside the MLP, which for a linear first layer differs only through the ReLU).
* Eq. 3, spatial attention: M_s = sigma(f7x7([AvgPool_c(F); MaxPool_c(F)])), pooling across
  channels, applied to the last convolutional features.
* Eq. 4, loss: a cross-entropy term per branch. The paper's "auxiliary loss coefficient" 0.4
  (Table 5) multiplies the auxiliary branches; with coefficient 0 the model reduces to the plain
  backbone ("0 means the original result of ResNet18"), so the main term is the rate-a_1 branch
  (a_1 = 1, an ordinary convolution): L = CE_1 + 0.4 * sum_{i>=2} CE_i.
* Eq. 5-6: per-branch argmax and a vote; ``forward`` returns the voted logits (soft voting of
  the branch softmaxes by default, ``vote="hard"`` for the majority vote of eq. 6).
* Ablations (paper 000, Tables 3-4): ``channel_attention=False`` (No-CA), ``spatial_attention=False``
  (No-SA); ``aux_weight`` (Table 5) and ``rates`` (Table 6).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from geoprospect.errors import ModelError
from geoprospect.models.branches import vote
from geoprospect.models.registry import build_model, register

PAPER_RATES = (1, 6, 12, 18, 24)


class ChannelAttention(nn.Module):
    """Eq. 2 of paper 000: M_c = sigma(MLP(AvgPool(F)) + MLP(MaxPool(F))); returns F * M_c."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(4, channels // reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1, bias=False))

    def weights(self, f: torch.Tensor) -> torch.Tensor:
        """M_c, shape (B, C, 1, 1)."""
        avg = torch.mean(f, dim=(2, 3), keepdim=True)
        mx = torch.amax(f, dim=(2, 3), keepdim=True)
        return torch.sigmoid(self.mlp(avg) + self.mlp(mx))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return f * self.weights(f)


class SpatialAttention(nn.Module):
    """Eq. 3 of paper 000: M_s = sigma(f7x7([AvgPool(F); MaxPool(F)])) over channels; returns F * M_s."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def weights(self, f: torch.Tensor) -> torch.Tensor:
        """M_s, shape (B, 1, H, W)."""
        avg = torch.mean(f, dim=1, keepdim=True)
        mx = torch.amax(f, dim=1, keepdim=True)
        return torch.sigmoid(self.conv(torch.cat([avg, mx], dim=1)))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return f * self.weights(f)


def _backbone(name: str, window_size: int, small_input: bool | None, options: dict | None = None):
    """(stem conv template, stem norm+act+pool after conv, trunk, feature width) of a backbone."""
    small = window_size < 64 if small_input is None else bool(small_input)
    if name == "resnet18":
        net = build_model("resnet18", 3, 2, window_size, small_input=small, **(options or {}))
        conv = net.conv1
        trunk = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
        return conv, (lambda: nn.Sequential(nn.BatchNorm2d(64), nn.ReLU(inplace=True))), net.maxpool, trunk, 512
    if name == "shufflenet_v2":
        net = build_model("shufflenet_v2", 3, 2, window_size, small_input=small, **(options or {}))
        conv = net.conv1[0]
        trunk = nn.Sequential(net.stage2, net.stage3, net.stage4, net.conv5)
        return conv, (lambda: nn.Sequential(nn.BatchNorm2d(conv.out_channels), nn.ReLU(inplace=True))), net.maxpool, trunk, net.conv5[0].out_channels
    raise ModelError(f"unknown MFAF backbone {name!r}", hint="choose resnet18 or shufflenet_v2")


class MFAF(nn.Module):
    """Multiscale Feature Attention Framework (paper 000); see the module docstring."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int = 2,
        window_size: int = 32,
        backbone: str = "resnet18",
        rates: Sequence[int] = PAPER_RATES,
        channel_attention: bool = True,
        spatial_attention: bool = True,
        aux_weight: float = 0.4,
        vote_mode: str = "soft",
        reduction: int = 16,
        small_input: bool | None = None,
        backbone_options: dict | None = None,
    ) -> None:
        super().__init__()
        rates = [int(r) for r in rates]
        if not rates or min(rates) < 1:
            raise ModelError(f"MFAF dilation rates must be positive integers, got {rates}")
        if vote_mode not in ("soft", "hard"):
            raise ModelError(f"unknown vote mode {vote_mode!r}", hint="use soft or hard")
        self.rates = rates
        self.aux_weight = float(aux_weight)
        self.vote_mode = vote_mode
        conv, norm_act, pool, trunk, width = _backbone(backbone, window_size, small_input, backbone_options)
        k = conv.kernel_size[0]
        self.branches = nn.ModuleList()
        for r in rates:
            dil = nn.Conv2d(in_channels, conv.out_channels, k, stride=conv.stride, padding=r * (k - 1) // 2, dilation=r, bias=False)
            nn.init.kaiming_normal_(dil.weight, mode="fan_out", nonlinearity="relu")
            ca = ChannelAttention(conv.out_channels, reduction) if channel_attention else nn.Identity()
            self.branches.append(nn.Sequential(dil, norm_act(), ca))
        self.pool = pool
        self.trunk = trunk
        self.spatial = SpatialAttention() if spatial_attention else nn.Identity()
        self.fc = nn.Linear(width, num_classes)  # shared by every branch (section 3.4)

    def branch_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Per-branch logits (M, B, K): the shared trunk runs once on the M branches stacked."""
        b = x.shape[0]
        f = torch.cat([branch(x) for branch in self.branches], dim=0)
        f = self.spatial(self.trunk(self.pool(f)))
        logits = self.fc(torch.flatten(torch.mean(f, dim=(2, 3)), 1))
        return logits.view(len(self.branches), b, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return vote(self.branch_logits(x), self.vote_mode)

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, criterion: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 4 with the auxiliary coefficient: CE(branch a_1) + aux_weight * sum of the other branches' CE."""
        criterion = criterion if criterion is not None else nn.CrossEntropyLoss()
        bl = self.branch_logits(x)
        loss = criterion(bl[0], y)
        if self.aux_weight and len(bl) > 1:
            loss = loss + self.aux_weight * sum(criterion(bl[i], y) for i in range(1, len(bl)))
        return loss, vote(bl.detach(), self.vote_mode)


@register("mfaf")
def mfaf(
    in_channels: int,
    num_classes: int = 2,
    window_size: int = 32,
    backbone: str = "resnet18",
    rates: Sequence[int] = PAPER_RATES,
    channel_attention: bool = True,
    spatial_attention: bool = True,
    aux_weight: float = 0.4,
    vote_mode: str = "soft",
    small_input: bool | None = None,
    backbone_options: dict | None = None,
) -> nn.Module:
    """MFAF (paper 000): dilated branches {1,6,12,18,24} + channel/spatial attention + voting.

    ``backbone_options`` go to the backbone builder (e.g. {"width": "x0_5"} for ShuffleNetV2).
    """
    return MFAF(in_channels, num_classes, window_size, backbone, rates, channel_attention, spatial_attention, aux_weight, vote_mode, small_input=small_input, backbone_options=backbone_options)


@register("mfaf_shufflenet")
def mfaf_shufflenet(in_channels: int, num_classes: int = 2, window_size: int = 32, **options) -> nn.Module:
    """MFAF (paper 000) on a ShuffleNetV2 backbone (ShuffleNetV2* of its Table 2)."""
    options.setdefault("backbone", "shufflenet_v2")
    try:
        return mfaf(in_channels, num_classes, window_size, **options)
    except TypeError as exc:
        raise ModelError(f"bad option for mfaf_shufflenet: {exc}", hint="options are those of mfaf") from exc
