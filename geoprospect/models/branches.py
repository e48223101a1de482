"""Shared pieces of the multi-branch nets (MFAF, SKT): voting and branch bookkeeping."""

from __future__ import annotations

import torch

from geoprospect.errors import ParameterError


def vote(branch_logits: torch.Tensor, mode: str = "soft") -> torch.Tensor:
    """Voted logits (B, K) from per-branch logits (M, B, K).

    ``soft``: log of the mean softmax over branches (softmax voting).
    ``hard``: majority vote of the per-branch argmax (paper 000, eq. 5-6), returned as
    log((votes + mean softmax) / (M + 1)); the soft term is < 1, so it never overturns a
    majority, only breaks ties, and keeps scores continuous for ranking (DESIGN pitfalls).
    """
    probs = torch.softmax(branch_logits.float(), dim=-1)
    mean = probs.mean(0)
    if mode == "soft":
        return torch.log(mean.clamp_min(1e-12))
    if mode == "hard":
        m, _, k = branch_logits.shape
        votes = torch.nn.functional.one_hot(probs.argmax(-1), k).sum(0).to(mean.dtype)
        return torch.log(((votes + mean) / (m + 1)).clamp_min(1e-12))
    raise ParameterError(f"vote mode must be 'soft' or 'hard', got {mode!r}", hint="set the model option vote=soft or vote=hard (--option vote=soft)")
