"""`geoprospect init`: a commented starter run configuration, written from the configuration's
own schema (every key, its default and its description), optionally pre-filled from input files."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any, Sequence

import yaml
from pydantic import BaseModel

from geoprospect.errors import InputError
from geoprospect.io.raster_classes import raster_class_names
from geoprospect.pipeline.config import RunConfig

RASTER_SUFFIXES = {".tif", ".tiff", ".vrt", ".img", ".asc", ".nc"}
VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml"}
DEPOSIT_WORDS = re.compile(r"deposit|occurrence|mine|prospect|showing|mvi", re.I)
AREA_WORDS = re.compile(r"area|boundary|aoi|outline|extent", re.I)
HEADER = """\
# geoprospect run configuration: `geoprospect run {name}`
# Written by `geoprospect init`: every key with its default (commented out) and what it does;
# the full schema: `geoprospect config-schema`. Relative paths are relative to this file's folder.
# At least one of points: (geochemistry), vectors: or rasters: is needed, and deposits:.
"""


def _dump(value: Any) -> str:
    """One YAML value on one line."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, (Path, tuple)):
        value = str(value) if isinstance(value, Path) else list(value)
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (directly, optionally, or as list items)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        inner = _submodel(arg)
        if inner is not None:
            return inner
    return None


def _render(model: type[BaseModel], values: dict, indent: int = 0, *, bare: bool = False) -> list[str]:
    """``model``'s keys as YAML lines: the given ``values`` set, every other key commented out
    with its default and description (``bare``: not commented, for a section commented as a whole)."""
    pad, lines, off = " " * indent, [], "" if bare else "# "
    for name, field in model.model_fields.items():
        desc = f"  # {field.description}" if field.description else ""
        sub = _submodel(field.annotation)
        if sub is not None and (isinstance(values.get(name), dict) or (name not in values and field.is_required())):
            lines += [f"{pad}{name}:{desc}", *_render(sub, values.get(name, {}), indent + 2)]
        elif name in values and isinstance(values[name], list) and values[name] and isinstance(values[name][0], dict):
            lines += [f"{pad}{name}:{desc}", *(f"{pad}  - {_dump(v)}" for v in values[name])]
        elif name in values:
            lines.append(f"{pad}{name}: {_dump(values[name])}{desc}")
        elif field.is_required():
            lines.append(f"{pad}{name}: ???  # required{': ' + field.description if field.description else ''}")
        elif sub is not None and (isinstance(field.default, BaseModel) or field.default is None):
            lines += [f"{pad}{off}{name}:{desc}", *(f"{pad}{off}{ln[len(pad):]}" for ln in _render(sub, {}, indent + 2, bare=True))]
        else:
            lines.append(f"{pad}{off}{name}: {_dump(field.get_default(call_default_factory=True))}{desc}")
    return lines


def _vector_entry(path: Path, rel: str) -> tuple[str, dict]:
    """(section, entry) of a vector file: deposits, area, points (other point layers) or a distance layer."""
    import pyogrio

    try:
        info = pyogrio.read_info(path)
    except Exception as exc:
        raise InputError(f"cannot read this vector file ({exc})", path=path) from exc
    geom = str(info.get("geometry_type") or "").lower()
    if DEPOSIT_WORDS.search(path.stem):
        return "deposits", {"path": rel}
    if "polygon" in geom and AREA_WORDS.search(path.stem):
        return "area", {"path": rel}
    if "point" in geom:
        return "points", {"path": rel}
    return "vectors", {"name": f"dist_{_name(path)}", "path": rel}


def _name(path: Path) -> str:
    return re.sub(r"\W+", "_", path.stem).strip("_").lower() or "layer"


def prefill(files: Sequence[str | Path], base: Path) -> dict:
    """Config values guessed from input files (paths relative to ``base``, the config's folder):
    a CSV or point layer -> points, rasters -> rasters (kind categorical when an attribute table
    names their codes), a file named like deposits -> deposits,
    polygons named like an area -> area, other vectors -> distance layers."""
    values: dict = {"grid": {"resolution": 100}}
    for f in map(Path, files):
        if not f.exists():
            raise InputError("file not found", path=f)
        rel = Path(f.resolve()).relative_to(base.resolve()).as_posix() if f.resolve().is_relative_to(base.resolve()) else str(f.resolve())
        suffix = f.suffix.lower()
        if suffix in RASTER_SUFFIXES:
            entry = {"name": _name(f), "path": rel}
            if raster_class_names(f)[0]:  # an attribute table naming its codes: a raster of classes
                entry["kind"] = "categorical"
            values.setdefault("rasters", []).append(entry)
        elif suffix in VECTOR_SUFFIXES:
            section, entry = _vector_entry(f, rel)
            if section == "vectors":
                values.setdefault("vectors", []).append(entry)
            elif section not in values:
                values[section] = entry
        elif suffix in (".csv", ".txt", ".tsv"):
            values.setdefault("points", {"path": rel, "crs": "EPSG:xxxx"})
        else:
            raise InputError(f"cannot tell what {f.suffix or 'this file'} holds", path=f, hint="give CSV points, GeoTIFF rasters or vector files (GeoPackage, Shapefile, GeoJSON)")
    return values


def starter_config(files: Sequence[str | Path] = (), *, out: Path = Path("config.yaml")) -> str:
    """The text of a commented starter configuration (pre-filled from ``files`` when given)."""
    values = prefill(files, out.parent) if files else {"grid": {"resolution": 100}}
    return HEADER.format(name=out.name) + "\n".join(_render(RunConfig, values)) + "\n"
