"""Ensembles of trained models (paper 003): averages, votes, Table 2 statistics, spread."""

from geoprospect.ensemble.combine import (
    REFUSE,
    combine,
    majority_vote,
    plurality_vote,
    simple_average,
    spread,
    weighted_average,
    weighted_vote,
    weights_from_scores,
)
from geoprospect.ensemble.members import build_ensemble, ensemble_bands, member_weights, read_members, window_statistics, write_ensemble
from geoprospect.ensemble.stats import ore_statistics

__all__ = [
    "REFUSE",
    "build_ensemble",
    "ensemble_bands",
    "member_weights",
    "read_members",
    "window_statistics",
    "write_ensemble",
    "combine",
    "majority_vote",
    "plurality_vote",
    "simple_average",
    "spread",
    "weighted_average",
    "weighted_vote",
    "weights_from_scores",
    "ore_statistics",
]
