"""Paper 003's Table 2: cells predicted ore-bearing per model and per ensemble, and their spread."""

from __future__ import annotations

from typing import Mapping

import numpy as np

LABEL_ORE, LABEL_NON_ORE, LABEL_UNKNOWN = 1, 0, -1


def _row(pred_ore: np.ndarray, truth: np.ndarray) -> dict:
    return {
        "predicted_ore": int(pred_ore.sum()),
        "known_ore_predicted_ore": int((pred_ore & (truth == LABEL_ORE)).sum()),
        "unknown_predicted_ore": int((pred_ore & (truth == LABEL_UNKNOWN)).sum()),
        "non_ore_predicted_ore": int((pred_ore & (truth == LABEL_NON_ORE)).sum()),
    }


def _spread(rows: list[dict]) -> dict:
    out = {}
    for stat in ("std", "cv"):
        out[stat] = {}
    for key in ("predicted_ore", "known_ore_predicted_ore", "unknown_predicted_ore", "non_ore_predicted_ore"):
        v = np.array([r[key] for r in rows], dtype=np.float64)
        sd = float(v.std(ddof=0)) if v.size else float("nan")
        mu = float(v.mean()) if v.size else float("nan")
        out["std"][key] = sd
        out["cv"][key] = sd / mu if mu > 0 else (0.0 if sd == 0 else float("nan"))
    return out


def ore_statistics(models: Mapping[str, np.ndarray], ensembles: Mapping[str, np.ndarray], truth: np.ndarray) -> dict:
    """Table 2 of paper 003.

    Args:
        models, ensembles: name -> per-cell prediction, either labels (1 ore, 0 not, -1 refused)
            or probabilities (ore where >= 0.5); NaN / refused cells are not counted as ore.
        truth: per-cell 1 = known ore, 0 = known non-ore, -1 = unknown (same shape).

    Returns:
        ``{"models": {name: row}, "ensembles": {name: row}, "models_spread": {std, cv},
        "ensembles_spread": {std, cv}}`` where a row counts cells predicted ore, and of those
        the known-ore, unknown and non-ore ones. std is the population standard deviation
        across the group (ddof=0); cv = std / mean.
    """
    truth = np.asarray(truth)

    def ore(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        return np.isfinite(a) & (a >= 0.5)

    mrows = {k: _row(ore(v), truth) for k, v in models.items()}
    erows = {k: _row(ore(v), truth) for k, v in ensembles.items()}
    return {
        "models": mrows,
        "ensembles": erows,
        "models_spread": _spread(list(mrows.values())),
        "ensembles_spread": _spread(list(erows.values())),
    }


def table2_markdown(stats: dict) -> str:
    """The Table 2 statistics as a markdown table."""
    cols = ("predicted_ore", "known_ore_predicted_ore", "unknown_predicted_ore", "non_ore_predicted_ore")
    head = "| group | member | predicted ore | known ore -> ore | unknown -> ore | non-ore -> ore |\n|---|---|---:|---:|---:|---:|"
    lines = [head]
    for group, key in (("models", "models_spread"), ("ensembles", "ensembles_spread")):
        for name, r in stats[group].items():
            lines.append(f"| {group} | {name} | " + " | ".join(str(r[c]) for c in cols) + " |")
        sp = stats[key]
        lines.append(f"| {group} | standard deviation | " + " | ".join(f"{sp['std'][c]:.2f}" for c in cols) + " |")
        lines.append(f"| {group} | coefficient of variation | " + " | ".join(f"{sp['cv'][c]:.2f}" for c in cols) + " |")
    return "\n".join(lines) + "\n"
