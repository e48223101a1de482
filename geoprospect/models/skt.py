"""SKT: selective knowledge transfer network (paper 001, Huang et al., Minerals 2022).

Parts, with the paper's equations:

* Source network N_S: a ResNet-18 (same structure as the targets) trained on the large task.
  Its convolution kernels are frozen (kept in ``self.source``, saved with the model). Load them
  with ``source="path/to/resnet18 checkpoint folder"`` or :meth:`SKT.load_source`; without one
  the source is an untrained (randomly initialised) ResNet-18 and a warning says so.
* Soft mask (eq. 6): x^_i = x_i * M_i, one learned scalar per band (initialised to 1).
* Target networks N_t1..N_tm (eq. 7): one ResNet-18 per dilation rate rho_v in {1,6,12,18,24};
  its first convolution is dilated with rate rho_v (padding rho_v keeps the window size).
* Selective transfer (eq. 8-9): for every convolution l of target v and output channel j,
  w^_tvj = w_Sj (.) P_tvj (eq. 8) and the layer convolves with (w^_tvj x w_tvj) (eq. 9), read as
  the element-wise product of the selected source kernel and the target's own kernel. Here
  P = sigmoid(pi) is a learned Hadamard selection mask (pi initialised to ``select_init``), and
  the target kernel w_t starts at 1, so each target starts from the masked source kernels and
  learns element-wise corrections. ``transfer_mode="sum"`` uses w^ + w_t instead (w_t starts at 0).
* Top-down self-distillation (eq. 10): target v learns from every target j < v (smaller
  dilation = larger effective feature map) through KL(softmax_j || softmax_v); the teachers'
  outputs are detached (``detach_teacher``).
* Objective (eq. 11-12): L = sum_v CE_v + beta * sum_v L_KD_v, beta = 0.7.
* Prediction: vote over the target networks (Table 4 "Voting"); ``forward`` returns voted logits.
* Ablations of Table 5: ``soft_mask=False`` (R-S-Mask), ``dilated=False`` (R-D-Convolution:
  all rates 1), ``selective_transfer=False`` (R-Sk-Transfer: ordinary target kernels, no source),
  ``self_distillation=False`` (R-S-Distillation: beta = 0).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from geoprospect.errors import ModelError
from geoprospect.models.branches import vote
from geoprospect.models.checkpoint import load_checkpoint
from geoprospect.models.registry import build_model, register

PAPER_RATES = (1, 6, 12, 18, 24)


class TransferConv2d(nn.Conv2d):
    """A convolution whose kernel is built from a frozen source kernel (paper 001, eq. 8-9).

    ``weight`` is the target kernel w_t, ``select`` the logits of the Hadamard mask P; the source
    kernel is read from ``source_conv`` (held outside this module's parameters).
    """

    def __init__(self, conv: nn.Conv2d, source_conv: nn.Conv2d, mode: str = "product", select_init: float = 2.0, dilation: int | None = None) -> None:
        d = conv.dilation[0] if dilation is None else dilation
        k = conv.kernel_size[0]
        pad = d * (k - 1) // 2 if dilation is not None else conv.padding
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, pad, d, conv.groups, conv.bias is not None)
        self.mode = mode
        self._source = [source_conv]  # a list: not registered, so not a second copy in state_dict
        self.select = nn.Parameter(torch.full_like(self.weight, float(select_init)))
        with torch.no_grad():
            if mode == "product":
                self.weight.fill_(1.0)
            elif mode == "sum":
                self.weight.zero_()
            else:
                raise ModelError(f"unknown transfer mode {mode!r}", hint="use product or sum")
            if self.bias is not None:
                self.bias.zero_()

    def effective_weight(self) -> torch.Tensor:
        """(w_S (.) P) combined with w_t: eq. 8 then eq. 9."""
        selected = self._source[0].weight * torch.sigmoid(self.select)  # eq. 8
        return selected * self.weight if self.mode == "product" else selected + self.weight  # eq. 9

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.effective_weight(), self.bias)


def _resnet18(in_channels: int, num_classes: int, window_size: int, small_input: bool | None) -> nn.Module:
    return build_model("resnet18", in_channels, num_classes, window_size, small_input=small_input)


def _convs(net: nn.Module) -> dict[str, nn.Conv2d]:
    return {n: m for n, m in net.named_modules() if isinstance(m, nn.Conv2d)}


def _set_module(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, new)


class SKT(nn.Module):
    """Selective knowledge transfer network (paper 001); see the module docstring."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int = 2,
        window_size: int = 32,
        rates: Sequence[int] = PAPER_RATES,
        beta: float = 0.7,
        soft_mask: bool = True,
        dilated: bool = True,
        selective_transfer: bool = True,
        self_distillation: bool = True,
        transfer_mode: str = "product",
        select_init: float = 2.0,
        detach_teacher: bool = True,
        vote_mode: str = "soft",
        small_input: bool | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__()
        rates = [int(r) for r in rates]
        if not rates or min(rates) < 1:
            raise ModelError(f"SKT dilation rates must be positive integers, got {rates}")
        if vote_mode not in ("soft", "hard"):
            raise ModelError(f"unknown vote mode {vote_mode!r}", hint="use soft or hard")
        self.rates = rates if dilated else [1] * len(rates)
        self.beta = float(beta) if self_distillation else 0.0
        self.detach_teacher = detach_teacher
        self.vote_mode = vote_mode
        self.selective_transfer = selective_transfer
        self.mask = nn.Parameter(torch.ones(in_channels)) if soft_mask else None
        self.source: nn.Module | None = None
        if selective_transfer:
            self.source = _resnet18(in_channels, num_classes, window_size, small_input)
            self.source.requires_grad_(False)
        self.targets = nn.ModuleList()
        for r in self.rates:
            net = _resnet18(in_channels, num_classes, window_size, small_input)
            if selective_transfer:
                src = _convs(self.source)
                for name, conv in _convs(net).items():
                    _set_module(net, name, TransferConv2d(conv, src[name], transfer_mode, select_init, dilation=r if name == "conv1" else None))
            else:
                c = net.conv1
                k = c.kernel_size[0]
                net.conv1 = nn.Conv2d(c.in_channels, c.out_channels, k, c.stride, r * (k - 1) // 2, r, bias=False)
                nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
            self.targets.append(net)
        if source is not None:
            self.load_source(source)
        elif selective_transfer:
            warnings.warn("SKT built without a trained source network: the transferred kernels are random; pass source=<resnet18 checkpoint folder>", stacklevel=3)

    # -- source network -------------------------------------------------------------------
    def load_source(self, source: str | Path | nn.Module | dict) -> None:
        """Load the frozen source ResNet-18: a checkpoint folder, a module or a state_dict."""
        if self.source is None:
            raise ModelError("this SKT has selective_transfer=False and no source network")
        if isinstance(source, (str, Path)):
            net, meta = load_checkpoint(source)
            if meta.architecture != "resnet18":
                raise ModelError(f"the SKT source must be a resnet18 checkpoint, got {meta.architecture}", path=source, hint="train the source with --model resnet18 first")
            state = net.state_dict()
        elif isinstance(source, nn.Module):
            state = source.state_dict()
        else:
            state = source
        try:
            self.source.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelError(f"the source network does not fit this SKT (bands, classes or window stem differ): {exc}") from exc
        self.source.requires_grad_(False)

    # -- forward / loss ---------------------------------------------------------------------
    def train(self, mode: bool = True) -> "SKT":
        super().train(mode)
        if self.source is not None:
            self.source.eval()  # frozen: never updates its batch-norm statistics
        return self

    def branch_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every target network, (M, B, K)."""
        if self.mask is not None:
            x = x * self.mask.view(1, -1, 1, 1)  # eq. 6
        return torch.stack([net(x) for net in self.targets], dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return vote(self.branch_logits(x), self.vote_mode)

    def distillation_losses(self, branch_logits: torch.Tensor) -> list[torch.Tensor]:
        """Eq. 10: L_KD_v = sum_{j<v} KL(p_j || p_v), batch mean, for v = 1..M (v=1 has none)."""
        logp = F.log_softmax(branch_logits.float(), dim=-1)
        out = [logp.new_zeros(())]
        for v in range(1, len(logp)):
            kd = logp.new_zeros(())
            for j in range(v):
                teacher = logp[j].detach() if self.detach_teacher else logp[j]
                kd = kd + F.kl_div(logp[v], teacher, reduction="batchmean", log_target=True)
            out.append(kd)
        return out

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, criterion: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 12: sum_v CE_v (eq. 11) + beta * sum_v L_KD_v (eq. 10)."""
        criterion = criterion if criterion is not None else nn.CrossEntropyLoss()
        bl = self.branch_logits(x)
        loss = sum(criterion(bl[v], y) for v in range(len(bl)))
        if self.beta:
            loss = loss + self.beta * sum(self.distillation_losses(bl))
        return loss, vote(bl.detach(), self.vote_mode)


@register("skt")
def skt(
    in_channels: int,
    num_classes: int = 2,
    window_size: int = 32,
    rates: Sequence[int] = PAPER_RATES,
    beta: float = 0.7,
    soft_mask: bool = True,
    dilated: bool = True,
    selective_transfer: bool = True,
    self_distillation: bool = True,
    transfer_mode: str = "product",
    vote_mode: str = "soft",
    small_input: bool | None = None,
    source: str | None = None,
) -> nn.Module:
    """SKT (paper 001): soft mask + dilated target ResNet-18s + selective kernel transfer + self-distillation."""
    return SKT(in_channels, num_classes, window_size, rates, beta, soft_mask, dilated, selective_transfer, self_distillation, transfer_mode, vote_mode=vote_mode, small_input=small_input, source=source)


# ``source`` only seeds the frozen kernels, which the checkpoint's state_dict holds anyway:
# reloading a trained SKT must not need the source folder any more.
skt.state_only_options = ("source",)  # type: ignore[attr-defined]
