"""The README's configuration block agrees with `geoprospect config-schema`: every key it shows
exists, every value it shows for a key with a default is that default (entries of lists, and
keys whose default is null or empty, are examples), and every top-level key is shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from geoprospect.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def _schema() -> dict:
    r = CliRunner().invoke(cli, ["--progress", "none", "config-schema"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output[r.output.index("{"):])


def _resolve(s: dict, defs: dict) -> dict:
    """The object schema behind $ref / Optional (anyOf with null) / list items."""
    while True:
        if "$ref" in s:
            s = defs[s["$ref"].split("/")[-1]]
        elif "anyOf" in s and len([x for x in s["anyOf"] if x.get("type") != "null"]) == 1:
            s = next(x for x in s["anyOf"] if x.get("type") != "null")
        elif s.get("type") == "array" and "$ref" in s.get("items", {}):
            s = s["items"]
        else:
            return s


def _differences(node: object, s: dict, defs: dict, path: str = "", example: bool = False) -> list[str]:
    s = _resolve(s, defs)
    props = s.get("properties")
    if isinstance(node, list) and props:  # entries of a list (vectors, rasters): examples
        return [d for i, item in enumerate(node) for d in _differences(item, s, defs, f"{path}[{i}]", True)]
    if not isinstance(node, dict) or not props:
        return []
    out = []
    for key, value in node.items():
        p = f"{path}.{key}" if path else key
        if key not in props:
            out.append(f"{p}: not a key of the schema")
            continue
        default = props[key].get("default")
        shown = list(value) if isinstance(value, tuple) else value
        if not example and default not in (None, [], {}) and not isinstance(value, dict) and shown != default:
            out.append(f"{p}: the README shows {shown!r}, the default is {default!r}")
        out += _differences(value, props[key], defs, p, example)
    return out


def test_readme_configuration_block_matches_the_schema():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## Configuration\n.*?```yaml\n(.*?)```", text, flags=re.S)
    assert block, "no yaml block under ## Configuration"
    schema = _schema()
    assert _differences(yaml.safe_load(block.group(1)), schema, schema["$defs"]) == []
    missing = [k for k in schema["properties"] if not re.search(rf"^(# )?{k}:", block.group(1), flags=re.M)]
    assert missing == [], f"top-level keys absent from the README's block: {missing}"
