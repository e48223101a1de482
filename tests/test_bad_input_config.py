"""Bad run configurations (issue 8): unknown keys (with "did you mean"), wrong types, missing
files, duplicate keys, impossible bounds, relative paths. Extends test_config.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from faults_helpers import tiny_config

from geoprospect.errors import ConfigError
from geoprospect.pipeline.config import load_config


@pytest.fixture
def cfg_dir(tmp_path) -> Path:
    tiny_config(tmp_path)
    return tmp_path


def _with(cfg_dir: Path, change, name: str = "c.yaml") -> Path:
    c = yaml.safe_load((cfg_dir / "cfg.yaml").read_text())
    change(c)
    p = cfg_dir / name
    p.write_text(yaml.safe_dump(c))
    return p


def test_the_tiny_config_is_valid(cfg_dir):
    cfg = load_config(cfg_dir / "cfg.yaml")
    assert cfg.points.path == (cfg_dir / "pts.csv").resolve()


def test_unknown_key_suggests_the_right_one(cfg_dir):
    p = _with(cfg_dir, lambda c: c["train"].update(epoch=3))
    with pytest.raises(ConfigError, match=r"train\.epoch: unknown key \(did you mean 'epochs'\?\)") as e:
        load_config(p)
    assert "c.yaml" in str(e.value)


def test_unknown_key_in_a_list_item(cfg_dir):
    p = _with(cfg_dir, lambda c: c["vectors"][0].update(pth="x"))
    with pytest.raises(ConfigError, match=r"vectors\.0\.pth: unknown key \(did you mean 'path'\?\)"):
        load_config(p)


def test_unknown_top_level_section(cfg_dir):
    p = _with(cfg_dir, lambda c: c.update(window={"size": 8}))
    with pytest.raises(ConfigError, match=r"window: unknown key \(did you mean 'windows'\?\)"):
        load_config(p)


@pytest.mark.parametrize(
    "change,pattern",
    [
        (lambda c: c["train"].update(epochs="many"), r"train\.epochs: .*integer.*'many'"),
        (lambda c: c["grid"].update(resolution=-100), r"grid\.resolution: .*greater than 0.*-100"),
        (lambda c: c["windows"].update(test_fraction=1.5), r"windows\.test_fraction"),
        (lambda c: c["train"].update(device="gpu"), r"train\.device.*auto, cpu or cuda"),
        (lambda c: c["grid"].update(bounds=[505000, 2800000, 500000, 2805000]), r"xmin < xmax"),
        (lambda c: c["grid"].update(bounds=[1, 2, 3]), r"grid\.bounds"),
        (lambda c: c["points"].update(elements=[]), r"points\.elements"),
        (lambda c: c["vectors"].append(dict(c["vectors"][0])), r"distinct.*dist_faults"),
        (lambda c: c.pop("deposits"), r"deposits: required key missing"),
        (lambda c: c.update(vectors={"name": "x"}), r"vectors"),
    ],
)
def test_wrong_values_are_named(cfg_dir, change, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config(_with(cfg_dir, change))


def test_duplicate_key(cfg_dir):
    text = (cfg_dir / "cfg.yaml").read_text() + "name: again\n"
    p = cfg_dir / "dup.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match="key 'name' is given twice"):
        load_config(p)


def test_missing_config_file_and_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="folder"):
        load_config(tmp_path)


def test_empty_and_non_mapping_configs(tmp_path):
    for text in ("", "- a\n- b\n", "just words\n"):
        p = tmp_path / "c.yaml"
        p.write_text(text)
        with pytest.raises(ConfigError, match="mapping"):
            load_config(p)


def test_input_path_is_a_folder(cfg_dir):
    (cfg_dir / "pts_dir").mkdir()
    with pytest.raises(ConfigError, match="folders, not files"):
        load_config(_with(cfg_dir, lambda c: c["points"].update(path="pts_dir")))


def test_missing_input_names_the_resolved_path(cfg_dir):
    with pytest.raises(ConfigError, match="not found") as e:
        load_config(_with(cfg_dir, lambda c: c["vectors"][0].update(path="sub/faults.gpkg")))
    assert str(cfg_dir / "sub" / "faults.gpkg") in str(e.value)


def test_relative_paths_resolve_against_the_config_folder_not_the_cwd(cfg_dir, tmp_path_factory, monkeypatch):
    sub = cfg_dir / "configs"
    sub.mkdir()
    c = yaml.safe_load((cfg_dir / "cfg.yaml").read_text())
    c["points"]["path"] = "../pts.csv"
    c["deposits"]["path"] = "../dep.gpkg"
    c["vectors"][0]["path"] = str((cfg_dir / "faults.gpkg").resolve())  # absolute paths stay as they are
    (sub / "c.yaml").write_text(yaml.safe_dump(c))
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    cfg = load_config(sub / "c.yaml")
    assert cfg.points.path == (cfg_dir / "pts.csv").resolve() and cfg.deposits.path == (cfg_dir / "dep.gpkg").resolve()
    assert cfg.vectors[0].path == (cfg_dir / "faults.gpkg").resolve()


def test_utf8_bom_config(cfg_dir):
    p = cfg_dir / "bom.yaml"
    p.write_bytes(b"\xef\xbb\xbf" + (cfg_dir / "cfg.yaml").read_bytes())
    assert load_config(p).name == "tiny"


def test_python_tags_are_refused(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text("name: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)
    assert not (tmp_path / "pwned").exists()
