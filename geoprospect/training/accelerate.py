"""Where and how batches run: the device, mixed precision and channels-last on CUDA.

:func:`accelerate` gives channels-last memory format and an autocast context (bf16 where the GPU
supports it, else fp16 with a gradient scaler) when the device is CUDA; plain float32 on CPU.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class Accel:
    """How batches run on the device: memory format, autocast, gradient scaler."""

    device: torch.device
    amp: bool = False
    dtype: torch.dtype | None = None
    channels_last: bool = False
    scaler: Any = None

    def autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            opt.step()


def accelerate(model: nn.Module, device: torch.device, amp: bool | None = None, channels_last: bool | None = None) -> Accel:
    """Mixed precision and channels-last on CUDA (defaults on there, off on CPU); moves ``model``."""
    cuda = device.type == "cuda"
    amp = cuda if amp is None else (bool(amp) and cuda)
    channels_last = cuda if channels_last is None else (bool(channels_last) and cuda)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    acc = Accel(device=device, amp=amp, channels_last=channels_last)
    if amp:
        if torch.cuda.is_bf16_supported():
            acc.dtype = torch.bfloat16  # no loss scaling needed
        else:  # pragma: no cover - older GPUs
            acc.dtype = torch.float16
            acc.scaler = torch.amp.GradScaler("cuda")
        torch.backends.cudnn.benchmark = True
    return acc
