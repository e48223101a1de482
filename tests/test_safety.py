"""Safety (issue 8): crafted model files are refused, YAML is loaded safely, and the source has
no eval/exec/pickle loads/unsafe torch.load/shell subprocesses (checked on the AST)."""

from __future__ import annotations

import ast
import os
import pickle
from pathlib import Path

import pytest
import torch

from geoprospect.errors import ConfigError, ModelError

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ["geoprospect", "qgis_plugin", "scripts", "benchmarks", "sample_data"]


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _meta(bands):
    from geoprospect.models.checkpoint import ModelMeta

    return ModelMeta(architecture="resnet18", in_channels=len(bands), band_names=list(bands), mean=[0.0] * len(bands), std=[1.0] * len(bands), window_size=8, stride=4)


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_crafted_model_file_is_refused(tmp_path, how):
    from geoprospect.models.checkpoint import load_checkpoint, save_checkpoint
    from geoprospect.models.registry import build_model

    save_checkpoint(tmp_path / "m", build_model("resnet18", 2, 2, 8), _meta(["a", "b"]))
    marker = tmp_path / "pwned"
    payload = {"conv1.weight": _Evil(marker)}
    if how == "pickle":
        (tmp_path / "m" / "model.pt").write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, tmp_path / "m" / "model.pt")  # the zip format torch itself writes
    with pytest.raises(ModelError, match="refusing to load") as e:
        load_checkpoint(tmp_path / "m", ["a", "b"])
    assert "model.pt" in str(e.value)
    assert not marker.exists()


def test_crafted_sidecar_cannot_run_code(tmp_path):
    from geoprospect.models.checkpoint import load_meta

    (tmp_path / "model.json").write_text('{"architecture": "resnet18", "__class__": "os.system"}')
    with pytest.raises(Exception) as e:
        load_meta(tmp_path)
    assert "model.json" in str(e.value)


def test_crafted_training_state_is_refused_on_resume(tmp_path):
    from geoprospect.training.state import load_state

    marker = tmp_path / "pwned"
    torch.save({"epoch": 1, "model": _Evil(marker)}, tmp_path / "last.pt")
    with pytest.raises(ModelError, match="refusing to load the training state"):
        load_state(tmp_path)
    assert not marker.exists()


def test_yaml_python_objects_are_refused(tmp_path):
    from geoprospect.pipeline.config import load_config

    marker = tmp_path / "pwned"
    for text in (f"!!python/object/apply:os.system ['touch {marker}']\n", f"name: !!python/object/new:os.system [touch {marker}]\n"):
        p = tmp_path / "evil.yaml"
        p.write_text(text)
        with pytest.raises(ConfigError, match="not valid YAML"):
            load_config(p)
    assert not marker.exists()


# -- static checks on the source ------------------------------------------------------------------

def _sources() -> list[Path]:
    files = []
    for d in SOURCE_DIRS:
        if (ROOT / d).is_dir():
            files += sorted((ROOT / d).rglob("*.py"))
    return files


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _kw(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def _problems(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        last = name.rsplit(".", 1)[-1]
        if name in ("eval", "exec", "compile", "__import__"):
            found.append((node.lineno, f"{name}()"))
        elif name in ("os.system", "os.popen", "os.spawnl", "os.spawnlp", "commands.getoutput") or name.startswith("os.exec"):
            found.append((node.lineno, f"{name}() runs a shell or replaces the process"))
        elif name.split(".")[0] in ("pickle", "cPickle", "dill", "marshal", "shelve", "joblib") and last in ("load", "loads", "open"):
            found.append((node.lineno, f"{name}() unpickles arbitrary objects"))
        elif name in ("yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all", "yaml.full_load_all"):
            found.append((node.lineno, f"{name}() (use yaml.safe_load)"))
        elif name == "torch.load":
            w = _kw(node, "weights_only")
            if not (isinstance(w, ast.Constant) and w.value is True):
                found.append((node.lineno, "torch.load() without weights_only=True"))
        elif last == "load" and name.split(".")[0] in ("np", "numpy"):
            a = _kw(node, "allow_pickle")
            if isinstance(a, ast.Constant) and a.value is True:
                found.append((node.lineno, "numpy.load(allow_pickle=True)"))
        elif name.startswith("subprocess."):
            shell = _kw(node, "shell")
            if shell is not None and not (isinstance(shell, ast.Constant) and shell.value is False):
                found.append((node.lineno, f"{name}(shell=...)"))
            if node.args and isinstance(node.args[0], (ast.Constant, ast.JoinedStr, ast.BinOp)):
                found.append((node.lineno, f"{name}() with a command string (pass a list of arguments)"))
    return found


def test_scanner_finds_what_it_looks_for():
    bad = """
import subprocess, yaml, pickle, torch, os
eval("1")
subprocess.run("ls -l", shell=True)
subprocess.Popen(f"gdalinfo {x}")
yaml.load(s)
pickle.loads(b)
torch.load(p)
torch.load(p, weights_only=False)
os.system("ls")
"""
    good = """
import subprocess, yaml, torch
subprocess.run(["gdalinfo", path], check=True)
subprocess.Popen(args, stdout=subprocess.PIPE, shell=False)
yaml.safe_load(s)
torch.load(p, map_location="cpu", weights_only=True)
model.eval()
"""
    assert len(_problems(ast.parse(bad))) == 9
    assert _problems(ast.parse(good)) == []


def test_source_has_no_unsafe_calls():
    files = _sources()
    assert any(f.name == "checkpoint.py" for f in files)
    problems = []
    for f in files:
        for line, what in _problems(ast.parse(f.read_text(encoding="utf-8"), filename=str(f))):
            problems.append(f"{f.relative_to(ROOT)}:{line}: {what}")
    assert not problems, "\n".join(problems)


def test_every_torch_load_in_the_package_is_weights_only():
    calls = [f for f in _sources() if "torch.load(" in f.read_text(encoding="utf-8")]
    assert calls  # the checkpoint loader at least
    for f in calls:
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _dotted(node.func) == "torch.load":
                w = _kw(node, "weights_only")
                assert isinstance(w, ast.Constant) and w.value is True, f"{f}:{node.lineno}"
