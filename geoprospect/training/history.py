"""Per-epoch training history and its CSV (figures are drawn by :mod:`geoprospect.report`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from geoprospect.io.atomic import write_text


@dataclass
class History:
    """Per-epoch loss and accuracy (train and, when given, validation)."""

    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"
    best_epoch: int | None = None
    stopped_early: bool = False
    resumed_from: int | None = None


def write_history(path: str | Path, rows: Sequence[Mapping[str, object]]) -> Path | None:
    """One CSV row per epoch (columns: every key met, in order; empty where a row lacks it)."""
    if not rows:
        return None
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    lines = [",".join(keys)] + [",".join("" if row.get(k) is None else f"{row[k]}" for k in keys) for row in rows]
    return write_text(Path(path), "\n".join(lines) + "\n")
