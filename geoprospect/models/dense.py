"""The small dense CNN for few deposits (``dense_cnn``): benchmarks/skill/cnn.py's network, registered.

A 1x1 convolution (C -> width) and three 3x3 convolutions with dilations 1, 2 and 4 (ReLU and
dropout between them), a 1x1 convolution to one logit, plus a linear per-cell path (a 1x1
convolution C -> 1) added to it: the network learns a correction to a per-cell logistic
regression. Input channels are dropped out as a whole (``band_dropout``) while training.
Receptive field: ``1 + 2 * sum(dilations)`` = 15 cells, so :data:`CONTEXT` is the patch side a
run gives it (``windows.size`` null with ``windows.unit: cell``). About 1.9k parameters with
18 bands at width 8 (written here: torchvision has no such network).

It is fully convolutional: :meth:`DenseCNN.dense_logits` scores every cell of a block in one
pass (zero padding = the band mean after z-scoring, what a patch overhanging the stack edge
reads), and ``forward`` -- the registry's (B, C, H, W) -> (B, 2) contract -- returns
``[0, logit of the centre cell]``, so the softmax of the deposit class is the sigmoid of the
centre logit (the training loss is then the binary cross-entropy of that logit).
"""

from __future__ import annotations

import torch
from torch import nn

from geoprospect.models.registry import register

DILATIONS = (1, 2, 4)
CONTEXT = 1 + 2 * sum(DILATIONS)  # 15 cells: the receptive field, the patch it is given


class DenseCNN(nn.Module):
    """(B, C, H, W) -> (B, 2) logits of each patch's centre cell; :meth:`dense_logits` for every cell."""

    def __init__(self, in_channels: int, width: int = 8, dilations: tuple[int, ...] = DILATIONS, dropout: float = 0.2, band_dropout: float = 0.1, linear_path: bool = True) -> None:
        super().__init__()
        self.band_dropout = nn.Dropout2d(band_dropout)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 1), nn.ReLU()]
        for d in dilations:
            # no padding inside: the input is padded once with zeros (the band mean), so a cell's logit is
            # the same whether its patch or the whole block is scored (intermediate zero padding would differ)
            layers += [nn.Conv2d(width, width, 3, dilation=d), nn.ReLU(), nn.Dropout2d(dropout)]
        layers.append(nn.Conv2d(width, 1, 1))
        self.body = nn.Sequential(*layers)
        self.linear = nn.Conv2d(in_channels, 1, 1) if linear_path else None
        self.context = 1 + 2 * sum(dilations)

    def dense_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) z-scored block -> (B, 1, H, W) deposit logit of every cell."""
        x = self.band_dropout(x)
        p = self.context // 2
        out = self.body(nn.functional.pad(x, (p, p, p, p)))
        return out + self.linear(x) if self.linear is not None else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.dense_logits(x)[:, 0, x.shape[-2] // 2, x.shape[-1] // 2]
        return torch.stack([torch.zeros_like(z), z], dim=1)


@register("dense_cnn")
def dense_cnn(in_channels: int, num_classes: int = 2, window_size: int = CONTEXT, width: int = 8, dropout: float = 0.2, band_dropout: float = 0.1, linear_path: bool = True) -> nn.Module:
    """Small dense CNN (~1.9k parameters): dilated 3x3 convolutions (receptive field 15 cells) plus a per-cell linear path; scores a patch's centre cell."""
    if num_classes != 2:
        from geoprospect.errors import ModelError

        raise ModelError(f"dense_cnn is a two-class model, got num_classes={num_classes}")
    return DenseCNN(in_channels, width=width, dropout=dropout, band_dropout=band_dropout, linear_path=linear_path)


dense_cnn.context = CONTEXT  # type: ignore[attr-defined]  # patch side given by windows.unit cell
