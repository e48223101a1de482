"""The two commands the QGIS plugin reads its lists and defaults from (issue 16)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from geoprospect.cli import cli
from geoprospect.models.registry import list_models
from geoprospect.pipeline.config import RunConfig


def invoke(*args):
    return CliRunner().invoke(cli, ["--progress", "none", *args], catch_exceptions=False)


def test_models_json_lists_every_model_with_its_kind():
    r = invoke("models", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [row["name"] for row in rows] == list_models()
    assert all(set(row) >= {"name", "parameters", "description", "kind"} for row in rows)
    assert all(row["kind"] in {"network", "baseline"} for row in rows)


def test_config_schema_is_the_run_configs():
    r = invoke("config-schema")
    assert r.exit_code == 0, r.output
    schema = json.loads(r.output)
    assert schema == json.loads(json.dumps(RunConfig.model_json_schema(), default=str))
    train = schema["$defs"][schema["properties"]["train"]["$ref"].rsplit("/", 1)[-1]]
    assert train["properties"]["epochs"]["default"] == RunConfig.model_fields["train"].default.epochs
