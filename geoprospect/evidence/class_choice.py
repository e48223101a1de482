"""Which classes of a raster of class codes become one-hot bands, and their names.

From the cell count of every code (on the run's grid, inside the study area), the names of the
codes (the raster's attribute table, else the codes themselves) and the user's choice:

* ``classes`` given: exactly those classes (by name or by code), in that order; a cell of any
  other class reads 0 in every band ("none of the classes", as geology polygons of a class
  not listed);
* else every class covering at least ``min_share`` of the counted cells, in code order, and
  the rarer ones merged into one :data:`OTHER` band (rare classes make one-hot bands that are
  almost always 0: noise to a model and undefined weights of evidence).

Codes sharing a name are one class. More than :data:`MAX_CLASSES` bands, or codes that are not
whole numbers, are refused with a :class:`~geoprospect.errors.CategoricalError` whose hint names
the key (or option) that fixes it (``knobs``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from geoprospect.errors import CategoricalError

log = logging.getLogger(__name__)

#: the band of the rare classes merged together
OTHER = "other"
#: default share of the counted cells under which a class is merged into OTHER (1 %)
DEFAULT_MIN_SHARE = 0.01
#: most class bands one categorical raster may give (after merging)
MAX_CLASSES = 64
#: distinct codes counted at most before a raster is refused as not categorical
MAX_CODES = 65536

#: how the knobs are spelled on the command line (``geoprospect stack --categorical``)
CLI_KNOBS = {"kind": "leave it out of --categorical (a continuous layer)", "classes": "classes: [...] on its rasters entry of a run config",
             "min_share": "--min-share", "band": "a one-band raster (gdal_translate -b N)"}


def entry_knobs(i: int) -> dict[str, str]:
    """How the knobs of entry ``i`` of a run config's ``rasters:`` are spelled, for hints."""
    return {"kind": f"rasters[{i}].kind: continuous (a continuous layer)", "classes": f"rasters[{i}].classes (the classes to keep) or rasters[{i}].min_share",
            "min_share": f"rasters[{i}].min_share", "band": f"rasters[{i}].band"}


@dataclass
class RasterClass:
    """One class band: its name, the codes it holds and the share of the counted cells it covers."""

    name: str
    codes: list[int] = field(default_factory=list)
    share: float = 0.0

    def describe(self) -> str:
        codes = "" if [str(c) for c in self.codes] == [self.name] else f" = {','.join(map(str, self.codes[:8]))}{'...' if len(self.codes) > 8 else ''}"
        return f"{self.name}{codes} ({100 * self.share:.1f} %)"


def whole_codes(counts: Mapping[float, int], path: str, knobs: Mapping[str, str]) -> dict[int, int]:
    """``counts`` keyed by integer codes; CategoricalError when a value is not a whole number
    (a continuous raster given as categorical)."""
    bad = [v for v in counts if v != round(v)]
    if bad:
        raise CategoricalError(f"a categorical raster holds class codes (whole numbers), but this one holds values such as {bad[0]:g} "
                               f"({len(bad)} of its {len(counts)} distinct values are not whole numbers)", path=path,
                               hint=f"is it a continuous layer (magnetics, a DEM)? Then {knobs['kind']}")
    return {int(v): int(n) for v, n in counts.items()}


def present_classes(counts: Mapping[int, int], names: Mapping[int, str]) -> list[RasterClass]:
    """Every class present, in code order: codes sharing a name make one class; shares of the total count."""
    total = max(sum(counts.values()), 1)
    by_name: dict[str, RasterClass] = {}
    for code in sorted(counts):
        c = by_name.setdefault(names.get(code, str(code)), RasterClass(names.get(code, str(code))))
        c.codes.append(code)
        c.share += counts[code] / total
    return list(by_name.values())


def choose_classes(counts: Mapping[int, int], names: Mapping[int, str], *, classes: Sequence[object] | None = None,
                   min_share: float = DEFAULT_MIN_SHARE, path: str = "", knobs: Mapping[str, str] = CLI_KNOBS) -> tuple[list[RasterClass], list[RasterClass]]:
    """(the class bands, the rare classes merged into :data:`OTHER`) (module docstring)."""
    present = present_classes(counts, names)
    if not present:
        raise CategoricalError("no cell of the grid (inside the study area) has a value in this raster", path=path,
                               hint="check that the raster covers the grid, and its nodata value")
    if classes is not None:
        return _requested(present, classes, path, knobs), []
    kept = [c for c in present if c.share >= min_share]
    rare = [c for c in present if c.share < min_share]
    if rare and not kept:
        raise CategoricalError(f"every one of its {len(present)} classes covers less than {min_share:g} of the cells: all would merge into one '{OTHER}' band",
                               path=path, hint=f"lower {knobs['min_share']}, or choose classes with {knobs['classes']}; a raster of measured values is not categorical: {knobs['kind']}")
    if rare:
        other = next((c for c in kept if c.name == OTHER), None)
        if other is None:
            other = RasterClass(OTHER)
            kept.append(other)
        other.codes += [code for c in rare for code in c.codes]
        other.share += sum(c.share for c in rare)
    if len(kept) > MAX_CLASSES:
        raise CategoricalError(f"{len(kept)} class bands after merging the classes under {min_share:g} of the cells (at most {MAX_CLASSES})", path=path,
                               hint=f"raise {knobs['min_share']} or choose the classes with {knobs['classes']}; a raster of measured values is not categorical: {knobs['kind']}")
    return kept, rare


def _requested(present: list[RasterClass], classes: Sequence[object], path: str, knobs: Mapping[str, str]) -> list[RasterClass]:
    """The classes named (or coded) in ``classes``, in that order; CategoricalError for one absent."""
    out: list[RasterClass] = []
    missing = []
    for want in classes:
        text = str(want).strip()
        code = int(text) if text.lstrip("-").isdigit() else None
        found = next((c for c in present if c.name == text), None) or next((c for c in present if code in c.codes), None)
        if found is None:
            missing.append(want)
        elif found not in out:
            out.append(found)
    if missing:
        listed = ", ".join(c.describe() for c in present[:30])
        raise CategoricalError(f"class(es) {missing} do not occur in the raster (inside the grid and study area)", path=path,
                               hint=f"fix {knobs['classes']}; the classes present (name = codes, share of the cells): {listed}")
    if len(out) > MAX_CLASSES:
        raise CategoricalError(f"{len(out)} classes chosen (at most {MAX_CLASSES})", path=path, hint=f"choose fewer with {knobs['classes']}")
    return out


def log_classes(what: str, kept: Sequence[RasterClass], rare: Sequence[RasterClass], source: str, min_share: float) -> None:
    """One log line: the class bands kept and the classes merged into :data:`OTHER`."""
    named = f"names from {source}" if source else "no attribute table, the codes name the classes"
    log.info("%s: %d class band(s), %s: %s", what, len(kept), named, "; ".join(c.describe() for c in kept))
    if rare:
        log.info("%s: %d class(es) under %g of the cells merged into '%s': %s", what, len(rare), min_share, OTHER, "; ".join(c.describe() for c in rare))
