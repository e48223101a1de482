"""The public Python API: ``import geoprospect as gp`` (lazy verbs, no torch at import), the
ProspectivityModel estimator, the package docstring's example and the README's Python section."""

from __future__ import annotations

import os
import pydoc
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_scores_close

import geoprospect as gp

ROOT = Path(__file__).resolve().parents[1]
VERBS = ["read_points", "idw", "distance", "density", "categorical", "build_stack", "idw_layer", "distance_layer", "make_windows",
         "spatial_folds", "cross_validate", "predict", "write_prediction", "ProspectivityModel", "GridSpec", "ParameterError"]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}


def test_import_does_not_import_torch():
    code = "import sys, geoprospect as gp; gp.GridSpec; gp.ParameterError; print(sorted(m for m in ('torch', 'matplotlib.pyplot', 'tqdm') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_verbs_listed_by_dir_all_and_help():
    names = dir(gp)
    text = pydoc.render_doc(gp, renderer=pydoc.plaintext)
    for v in VERBS:
        assert v in names and v in gp.__all__
        assert v in text, f"help(gp) does not mention {v}"
        assert getattr(gp, v) is not None
    assert gp.distance.__name__ == "distance_to_features"
    with pytest.raises(AttributeError):
        gp.no_such_verb  # noqa: B018


def test_package_docstring_example_runs():
    code = textwrap.dedent(gp.__doc__.split("::", 1)[1])
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == ["(2,", "40,"]


def test_library_is_silent_by_default():
    from geoprospect import progress

    assert progress.get_mode() == "none"


def test_readme_python_section_runs(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^## Python\n.*?```python\n(.*?)```", readme, re.S | re.M)
    assert m, "README has no ## Python section with a ```python block"
    assert ".fit(" in m.group(1) and ".predict(" in m.group(1)
    shutil.copytree(ROOT / "sample_data", tmp_path / "sample_data")  # a working copy: outputs stay out of the repository
    out = subprocess.run([sys.executable, "-c", m.group(1)], env=_env(), capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.search(r"top 10 % of the area holds \d+% of the deposits", out.stdout)
    res = tmp_path / "geoprospect-python-out"
    for f in ("stack.tif", "prospectivity.tif", "model/model.pt", "model/model.json"):
        assert (res / f).exists(), f


@pytest.fixture(scope="module")
def tiny_stack(tmp_path_factory):
    """A 3-band 96 x 96 stack GeoTIFF whose first band is high near the deposits."""
    d = tmp_path_factory.mktemp("api")
    grid = gp.GridSpec.from_bounds((0, 0, 9600, 9600), 100, "EPSG:32649")
    rng = np.random.default_rng(0)
    deposits = np.array([[1850.0, 7750.0], [7250.0, 6650.0], [3350.0, 2450.0], [8050.0, 1850.0]])
    xy = grid.cell_centers()
    xc, yc = xy[:, 0].reshape(grid.shape), xy[:, 1].reshape(grid.shape)
    near = np.min([np.hypot(xc - x, yc - y) for x, y in deposits], axis=0)
    data = np.stack([np.exp(-near / 800.0), rng.normal(size=grid.shape), rng.uniform(size=grid.shape)]).astype(np.float32)
    data[2, :3, :3] = np.nan
    stack = gp.build_stack([gp.array_layer(["a", "b", "c"], data, grid)], grid, d / "stack.tif")
    return stack.path, deposits


def test_estimator_fit_predict_save_load_round_trip(tiny_stack, tmp_path):
    path, deposits = tiny_stack
    model = gp.ProspectivityModel("lenet", window=32, stride=16, unit="window", epochs=1, seed=0, device="cpu", batch_size=16)
    assert model.fit(path, deposits) is model
    assert model.meta_.band_names == ["a", "b", "c"] and model.windows_["label"].sum() > 0
    pred = model.predict(path)
    assert pred.prob.shape == (5, 5) and np.isfinite(pred.prob).all()
    assert pred.size == 32 and pred.stride == 16
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "model.pt").exists() and (tmp_path / "m" / "model.json").exists()
    again = gp.ProspectivityModel.load(tmp_path / "m")
    assert (again.window, again.stride, again.unit, again.config.model, again.config.batch_size) == (32, 16, "window", "lenet", 16)
    for p in (again.predict(path), again.predict(gp.read_stack(path))):
        assert_scores_close(p, pred)  # the same weights; torch on the CPU is not bit-reproducible under load
    tif = gp.write_prediction(pred, tmp_path / "p.tif")
    assert gp.GridSpec.from_raster(tif).shape == (5, 5)
    cap = model.capture(pred, deposits)
    assert cap["n_deposits"] == 4 and 0 <= cap["capture_top_10pct"] <= 1


@pytest.mark.parametrize("name,patch", [("blend_cell", 1), ("dense_cnn", 15)])
def test_estimator_on_cells_scores_every_cell_on_the_stack_grid(tiny_stack, tmp_path, name, patch):
    """The default unit (issue 23): every cell with data a sample, one score per grid cell."""
    path, deposits = tiny_stack
    model = gp.ProspectivityModel(name, epochs=1, seed=0, device="cpu", samples_per_epoch=512)
    assert (model.unit, model.window, model.stride) == ("cell", patch, 1)
    model.fit(path, deposits)
    assert model.windows_["label"].sum() == 4 and len(model.windows_) == 96 * 96 - 9
    pred = model.predict(path)
    st = gp.read_stack(path)
    assert pred.grid == st.grid and pred.prob.shape == (96, 96)
    assert (np.isfinite(pred.margin) == st.valid).all()  # every cell with data, edges included
    model.save(tmp_path / name)
    again = gp.ProspectivityModel.load(tmp_path / name)
    assert (again.unit, again.window) == ("cell", patch)
    assert_scores_close(again.predict(path), pred)


def test_estimator_same_seed_same_weights(tiny_stack):
    path, deposits = tiny_stack
    a = gp.ProspectivityModel("lenet", window=32, stride=16, unit="window", epochs=1, device="cpu").fit(path, deposits).predict(path)
    b = gp.ProspectivityModel("lenet", window=32, stride=16, unit="window", epochs=1, device="cpu").fit(gp.read_stack(path), deposits).predict(path)
    np.testing.assert_allclose(a.margin, b.margin, rtol=1e-5, atol=1e-5)  # same seed; two trainings on CPU threads


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"model": "no_such_net"}, "model"),
        ({"window": 0}, "window"),
        ({"stride": 2.5}, "stride"),
        ({"epochs": 0}, "epochs"),
        ({"lr": -1.0}, "lr"),
        ({"min_valid": 0}, "min_valid"),
        ({"test_fraction": 1.5}, "test_fraction"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, name):
    with pytest.raises(gp.ParameterError, match=name):
        gp.ProspectivityModel(**kwargs)


def test_bad_fit_and_predict_arguments(tiny_stack):
    path, deposits = tiny_stack
    model = gp.ProspectivityModel("lenet", window=32, stride=16, unit="window", epochs=1, device="cpu")
    with pytest.raises(gp.ParameterError, match="deposits"):
        model.fit(path, np.zeros((3, 3)))
    with pytest.raises(gp.ParameterError, match="stack"):
        model.fit(42, deposits)
    with pytest.raises(gp.ModelError, match="not fitted"):
        model.predict(path)
