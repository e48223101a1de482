from pathlib import Path

import pytest
import yaml

from geoprospect.errors import ConfigError
from geoprospect.pipeline.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def _write(tmp_path, cfg):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def _base(tiny_inputs):
    return {
        "points": {"path": "pts.csv", "crs": "EPSG:32649", "elements": ["Au"]},
        "grid": {"resolution": 100},
        "deposits": {"path": "dep.gpkg"},
        "vectors": [{"name": "dist_faults", "path": "faults.gpkg"}],
    }


def test_relative_paths_resolve_against_the_config_folder(tiny_inputs, monkeypatch, tmp_path_factory):
    p = _write(tiny_inputs["dir"], _base(tiny_inputs))
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    cfg = load_config(p)
    assert cfg.points.path == tiny_inputs["points"].resolve()
    assert cfg.vectors[0].path == tiny_inputs["faults"].resolve()


def test_unknown_key_is_named(tiny_inputs):
    c = _base(tiny_inputs)
    c["windows"] = {"sise": 32}
    with pytest.raises(ConfigError, match=r"windows\.sise: unknown key"):
        load_config(_write(tiny_inputs["dir"], c))


def test_wrong_type_is_named(tiny_inputs):
    c = _base(tiny_inputs)
    c["train"] = {"epochs": "many"}
    with pytest.raises(ConfigError, match=r"train\.epochs"):
        load_config(_write(tiny_inputs["dir"], c))


def test_crop_larger_than_the_windows_is_refused(tiny_inputs):
    c = _base(tiny_inputs)
    c["windows"] = {"size": 32, "stride": 16}
    c["train"] = {"crop": 40}
    with pytest.raises(ConfigError, match=r"train\.crop \(40\) is larger than windows\.size \(32\)"):
        load_config(_write(tiny_inputs["dir"], c))
    c["train"] = {"crop": 28}
    assert load_config(_write(tiny_inputs["dir"], c)).train.crop == 28


def test_element_selection_is_refused_with_cross_validation(tiny_inputs):
    """One element choice before the stack would see every CV fold's test deposits (a leak)."""
    c = _base(tiny_inputs)
    c["selection"] = {"enabled": True}
    c["evaluation"] = {"method": "cv"}
    with pytest.raises(ConfigError, match=r"selection\.enabled with evaluation\.method cv.*evaluation\.method: block"):
        load_config(_write(tiny_inputs["dir"], c))
    c["evaluation"] = {"method": "block"}
    assert load_config(_write(tiny_inputs["dir"], c)).selection.enabled
    c["selection"], c["evaluation"] = {"enabled": False}, {"method": "cv"}
    assert load_config(_write(tiny_inputs["dir"], c)).evaluation.method == "cv"


def test_one_cell_windows_only_for_per_cell_models(tiny_inputs):
    c = _base(tiny_inputs)
    c["windows"] = {"size": 1, "stride": 1}
    c["train"] = {"model": "blend_cell"}
    assert load_config(_write(tiny_inputs["dir"], c)).windows.size == 1
    c["train"] = {"model": "lenet"}
    with pytest.raises(ConfigError, match=r"windows\.size 1 is for per-cell models.*lenet"):
        load_config(_write(tiny_inputs["dir"], c))


def test_missing_file_is_named(tiny_inputs):
    c = _base(tiny_inputs)
    c["deposits"]["path"] = "nowhere.gpkg"
    with pytest.raises(ConfigError, match="nowhere.gpkg"):
        load_config(_write(tiny_inputs["dir"], c))


def test_yaml_is_loaded_safely(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_the_sample_config_is_valid():
    cfg = load_config(ROOT / "sample_data" / "config.yaml")
    assert len(cfg.points.elements) == 16


def test_train_section_is_the_one_train_config(tiny_inputs):
    """`train:` is geoprospect.training.config.TrainConfig: preset, noise, flips, rotations, crop."""
    from geoprospect.training.config import TrainConfig

    c = _base(tiny_inputs)
    c["windows"] = {"size": 32, "stride": 16}
    c["train"] = {"preset": "003", "epochs": 2, "noise_variance": 0.01, "flips": True, "rotations": True, "crop": 28}
    t = load_config(_write(tiny_inputs["dir"], c)).train
    assert isinstance(t, TrainConfig)
    assert (t.model, t.optimizer, t.scheduler, t.lr, t.epochs) == ("resnet50_2fc", "adam", "cosine", 1e-4, 2)  # preset + overrides
    assert (t.noise_variance, t.flips, t.rotations, t.crop) == (0.01, True, True, 28)
    c["train"] = {"preset": "009"}
    with pytest.raises(ConfigError, match=r"unknown training preset"):
        load_config(_write(tiny_inputs["dir"], c))
    c["train"] = {"flip": True}
    with pytest.raises(ConfigError, match=r"train\.flip: unknown key \(did you mean 'flips'\?\)"):
        load_config(_write(tiny_inputs["dir"], c))


def test_the_murchison_benchmark_runs_the_defaults_a_new_user_gets():
    """benchmarks/murchison.yaml (issue 23): inputs, grid, area and deposits only -- no windows:,
    train:, evaluation: or predict: section, so the benchmark measures what a new user runs."""
    if not (ROOT.parent / "shared" / "datasets" / "murchison").is_dir():
        pytest.skip("the shared Murchison data is not beside the checkout")
    raw = yaml.safe_load((ROOT / "benchmarks" / "murchison.yaml").read_text(encoding="utf-8"))
    assert not {"windows", "train", "evaluation", "predict", "labels"} & set(raw)
    cfg = load_config(ROOT / "benchmarks" / "murchison.yaml")
    assert cfg.area is not None and cfg.evaluation == type(cfg.evaluation)() and cfg.windows.unit == "cell"
