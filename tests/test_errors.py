"""One exception hierarchy: a bad argument is a ParameterError (also a ValueError), and the CLI
reports it as a user error (exit 2, "How to fix"), never as "Unexpected error"."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from geoprospect import errors
from geoprospect.cli import cli

ROOT = Path(__file__).resolve().parent.parent

# pydantic validators must raise ValueError (pydantic turns it into a ValidationError, then ConfigError)
ALLOWED = {"geoprospect/pipeline/config.py", "geoprospect/training/config.py"}  # pydantic validators must raise ValueError


def _bare_value_errors(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "ValueError":
                lines.append(node.lineno)
    return sorted(lines)


def test_scanner_finds_a_bare_value_error():
    assert _bare_value_errors(ast.parse("def f(x):\n    if x:\n        raise ValueError('no')\n    raise ValueError\n")) == [3, 4]
    assert _bare_value_errors(ast.parse("raise ParameterError('no')\ntry:\n    pass\nexcept ValueError:\n    raise\n")) == []


def test_library_raises_no_bare_value_error():
    found = []
    for f in sorted((ROOT / "geoprospect").rglob("*.py")):
        rel = f.relative_to(ROOT).as_posix()
        if rel in ALLOWED:
            continue
        found += [f"{rel}:{n}" for n in _bare_value_errors(ast.parse(f.read_text(encoding="utf-8")))]
    assert not found, "raise ParameterError (or a more specific GeoprospectError) instead:\n" + "\n".join(found)


def test_one_hierarchy():
    assert issubclass(errors.ParameterError, errors.GeoprospectError) and issubclass(errors.ParameterError, ValueError)
    for name in ("GeochemError", "CensoringError", "CensoredValueError", "ConstantElementError", "TransformError", "SelectionError", "KrigingError"):
        assert issubclass(getattr(errors, name), errors.InputError), name
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("geoprospect.geochem.errors")
    e = errors.ParameterError("fraction must be in (0, 1], got 2", hint="--fraction 0.5")
    assert "How to fix: --fraction 0.5" in str(e)


def test_library_parameter_errors_name_the_knob():
    from geoprospect.geochem.censored import CensoredColumn, substitute
    from geoprospect.geochem.outliers import tukey_fences

    col = CensoredColumn(np.array([1.0, 2.0]), np.array([False, True]), np.array([np.nan, 0.5]))
    with pytest.raises(errors.ParameterError, match="fraction") as e:
        substitute(col, 2.0)
    assert "--fraction" in str(e.value)
    with pytest.raises(ValueError, match="--tukey-k"):  # still a ValueError for callers that catch that
        tukey_fences(np.arange(10.0), k=0)


@pytest.fixture
def points(tmp_path):
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 5000, (40, 2)) + [500000, 2800000]
    au = ["<0.5" if i % 7 == 0 else f"{v:.3f}" for i, v in enumerate(10 ** rng.normal(0, 0.4, 40))]
    p = tmp_path / "pts.csv"
    pd.DataFrame({"E": xy[:, 0], "N": xy[:, 1], "Au": au, "Cu": 10 ** rng.normal(1, 0.3, 40)}).to_csv(p, index=False)
    return p


@pytest.mark.parametrize("bad, knob", [
    (["--censored", "fraction", "--fraction", "2"], "--fraction"),
    (["--factors", "three"], "--factors"),
    (["--factors", "1", "--anomaly", "high"], "--anomaly"),
    (["--tukey-k", "0", "--outliers", "flag"], "--tukey-k"),
])
def test_cli_bad_parameter_is_a_user_error(points, tmp_path, bad, knob):
    args = ["--progress", "none", "prepare-geochem", str(points), "--out", str(tmp_path / "p.csv"), "--elements", "Au,Cu",
            "--x-field", "E", "--y-field", "N", "--crs", "EPSG:32649", *bad]
    r = CliRunner().invoke(cli, args)
    assert "Unexpected error" not in r.output, r.output
    assert r.exit_code == 2 and knob in r.output and "How to fix" in r.output, r.output


def test_cli_bad_ensemble_weights_are_a_user_error(tmp_path):
    from geoprospect.grid import GridSpec
    from geoprospect.io.rasters import write_raster

    g = GridSpec.from_bounds((0.0, 0.0, 400.0, 400.0), 100.0, "EPSG:32649")
    for i in range(2):
        write_raster(tmp_path / f"p{i}.tif", np.full((1, 4, 4), 0.5), g, ["prospectivity"])
    r = CliRunner().invoke(cli, ["--progress", "none", "ensemble", str(tmp_path / "p0.tif"), str(tmp_path / "p1.tif"), "--out", str(tmp_path / "e.tif"), "--weights", "0.8,high"])
    assert "Unexpected error" not in r.output and r.exit_code == 2 and "--weights" in r.output, r.output
