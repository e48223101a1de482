""""Did you mean" for column names the user typed (elements, x/y fields, class fields, flags)."""

from __future__ import annotations

import difflib
from typing import Iterable


def closest_column(name: str, columns: Iterable[object]) -> str | None:
    """The column ``name`` most likely meant: same name ignoring case, a column starting with it
    ("Cu" -> "Cu_ppm"), else the closest spelling (difflib, cutoff 0.6); None when nothing is close."""
    cols = [str(c) for c in columns]
    low = str(name).strip().lower()
    for c in cols:
        if c.lower() == low:
            return c
    starts = [c for c in cols if low and c.lower().startswith(low)]
    if len(starts) == 1:
        return starts[0]
    close = difflib.get_close_matches(str(name), cols, n=1, cutoff=0.6) or difflib.get_close_matches(low, [c.lower() for c in cols], n=1, cutoff=0.6)
    if close:
        return next(c for c in cols if c.lower() == close[0].lower())
    return None


def did_you_mean(names: Iterable[str], columns: Iterable[object]) -> str:
    """" (did you mean `Cu_ppm`?)" for the first of ``names`` with a close column, else ""."""
    cols = list(columns)
    for n in names:
        c = closest_column(n, cols)
        if c is not None:
            return f" (did you mean `{c}`?)"
    return ""
