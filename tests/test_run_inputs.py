"""`geoprospect run` from any survey: the README's examples (rasters only, vectors only,
geochemistry only, a local mine grid) run on generated files of the names they use."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
import yaml
from click.testing import CliRunner
from conftest import make_lines_gpkg
from pyproj import Transformer
from rasterio.transform import from_origin

from geoprospect.cli import cli
from geoprospect.errors import ConfigError
from geoprospect.pipeline.config import load_config

ROOT = Path(__file__).resolve().parent.parent
BOUNDS = (500000.0, 2800000.0, 508000.0, 2808000.0)  # 8 x 8 km, UTM 49N
LOCAL = (1000.0, 2000.0, 9000.0, 10000.0)  # the same survey in a mine grid's metres
#: what the README leaves to its defaults, made cheap here: a per-cell model, few baselines
FAST = {"attribution": {"enabled": False}, "train": {"model": "logistic_cell", "device": "cpu"},
        "evaluation": {"folds": 3, "block_size": 2000, "baselines": ["best_layer"], "mc_dropout": 0}}


def readme_example(title: str) -> dict:
    """The README's YAML block starting with ``# example: <title>``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(# example: [^\n]*\n.*?)```", text, flags=re.S)
    found = [b for b in blocks if b.startswith(f"# example: {title}")]
    assert len(found) == 1, f"README example {title!r}: {len(found)} blocks"
    return yaml.safe_load(found[0])


def _raster(path: Path, data: np.ndarray, bounds, res: float, crs: str | None) -> None:
    h, w = data.shape
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32", crs=crs, transform=from_origin(bounds[0], bounds[3], res, res), nodata=-9999) as d:
        d.write(data.astype("float32")[None])


def survey(d: Path, *, local: bool = False) -> Path:
    """tmi.tif (50 m), gravity.tif (lon/lat), faults.gpkg, geology.gpkg (field unit), samples.csv,
    deposits.gpkg (12 with status 'deposit', 6 'occurrence'); ``local``: in a mine grid, no CRS anywhere."""
    d.mkdir(parents=True, exist_ok=True)
    b, crs = (LOCAL, None) if local else (BOUNDS, "EPSG:32649")
    r = np.random.default_rng(0)
    yy, xx = np.mgrid[0:160, 0:160]
    _raster(d / "tmi.tif", np.sin(xx / 7) * 50 + yy + r.normal(0, 5, (160, 160)), b, 50.0, crs)
    if not local:
        lo0, la0, lo1, la1 = Transformer.from_crs("EPSG:32649", "EPSG:4326", always_xy=True).transform_bounds(*b)
        _raster(d / "gravity.tif", np.hypot(*np.mgrid[0:60, 0:60] - 30), (lo0, la0, lo1, la1), (lo1 - lo0) / 60, "EPSG:4326")
        make_lines_gpkg(d / "faults.gpkg", bounds=b)
        strips = [shapely.box(b[0] + i * 2000, b[1], b[0] + (i + 1) * 2000, b[3]) for i in range(4)]
        gpd.GeoDataFrame({"unit": ["basalt", "granite", "shale", "basalt"]}, geometry=strips, crs=crs).to_file(d / "geology.gpkg")
    xy = np.column_stack([r.uniform(b[0] + 300, b[2] - 300, 18), r.uniform(b[1] + 300, b[3] - 300, 18)])
    gpd.GeoDataFrame({"status": ["deposit"] * 12 + ["occurrence"] * 6}, geometry=shapely.points(xy), crs=crs).to_file(d / "deposits.gpkg")
    n = 80
    pts = pd.DataFrame({"x": r.uniform(b[0], b[2], n), "y": r.uniform(b[1], b[3], n)})
    for e in ("Au", "As", "Cu"):
        pts[e] = np.round(r.lognormal(1.0, 0.5, n), 4)
    pts.to_csv(d / "samples.csv", index=False)
    return d


def run_example(title: str, d: Path, **override) -> dict:
    """Write the README example (plus FAST settings) next to the generated files and run it."""
    cfg = {**readme_example(title), **FAST, **override}
    (d / "cfg.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    r = CliRunner().invoke(cli, ["--progress", "none", "run", str(d / "cfg.yaml"), "--out", str(d / "out")])
    assert r.exit_code == 0, r.output
    return json.loads((d / "out" / "manifest.json").read_text())


def test_raster_only_run(tmp_path):
    m = run_example("rasters only", survey(tmp_path))
    assert m["bands"] == ["mag", "grav"]
    with rasterio.open(tmp_path / "out" / "stack.tif") as src:
        assert src.crs.to_epsg() == 32649  # the first raster's CRS
        left, bottom, right, top = src.bounds
    assert left <= BOUNDS[0] and top >= BOUNDS[3]  # the union of the rasters' extents


def test_vector_only_run(tmp_path):
    m = run_example("vectors only", survey(tmp_path))
    assert m["bands"] == ["dist_faults", "geol_basalt", "geol_granite", "geol_shale"]
    assert m["config"]["deposits"]["label"] == "known deposits"
    assert m["metrics"]["out_of_fold"]["logistic_cell"]["n_deposits"] == 12  # where: status = deposit


def test_points_only_run(tmp_path):
    m = run_example("geochemistry only", survey(tmp_path))
    assert m["bands"] == ["log10_Au", "log10_As", "log10_Cu"]


def test_local_mine_grid_run(tmp_path):
    m = run_example("a local mine grid", survey(tmp_path, local=True))
    assert m["bands"] == ["log10_Au", "log10_As", "log10_Cu", "mag"]
    with rasterio.open(tmp_path / "out" / "prospectivity.tif") as src:
        assert "mine grid" in src.crs.to_wkt() and src.bounds.left >= LOCAL[0] - 100


def test_no_evidence_at_all_is_refused(tmp_path):
    survey(tmp_path)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"grid": {"resolution": 100}, "deposits": {"path": "deposits.gpkg"}}))
    with pytest.raises(ConfigError, match="give points: .* vectors: .* or rasters:"):
        load_config(tmp_path / "c.yaml")


@pytest.mark.parametrize("where,message", [({"Status": "deposit"}, r"deposits.where names the field 'Status'.*did you mean `status`"),
                                           ({"status": ["Deposit", "mine"]}, r"deposits.where matches none of the 18 features \(status holds \['deposit', 'occurrence'\]\)")])
def test_deposit_filter_errors_name_the_key_and_the_file(tmp_path, where, message):
    from geoprospect.errors import InputError
    from geoprospect.grid import GridSpec
    from geoprospect.pipeline.stages import load_deposits

    survey(tmp_path)
    grid = GridSpec.from_bounds(BOUNDS, 100, "EPSG:32649")
    with pytest.raises(InputError, match=message) as e:
        load_deposits(tmp_path / "deposits.gpkg", grid, where=where)
    assert "deposits.gpkg" in str(e.value)
    assert len(load_deposits(tmp_path / "deposits.gpkg", grid, where={"status": ["deposit", "occurrence"]})) == 18
    before = (tmp_path / "deposits.gpkg").read_bytes()
    assert len(load_deposits(tmp_path / "deposits.gpkg", grid, where={"status": "occurrence"})) == 6
    assert (tmp_path / "deposits.gpkg").read_bytes() == before  # the input is never modified


RUN_FLAGS = {"--out", "--overwrite", "--resume", "--dask-scheduler", "--help"}  # `geoprospect run`'s own options


def _bad_runs(d: Path) -> dict[str, dict]:
    """Configs whose inputs are wrong in the ways users get them wrong."""
    pts = pd.read_csv(d / "samples.csv")
    pts.assign(Cu=5.0).to_csv(d / "constant.csv", index=False)
    pts.rename(columns={"x": "east", "y": "north"}).to_csv(d / "renamed.csv", index=False)
    gpd.read_file(d / "deposits.gpkg").set_crs(None, allow_override=True).to_file(d / "dep_nocrs.gpkg")
    gpd.read_file(d / "deposits.gpkg").to_file(d / "two.gpkg", layer="a")
    gpd.read_file(d / "deposits.gpkg").to_file(d / "two.gpkg", layer="b")
    with rasterio.open(d / "tmi.tif") as src:
        _raster(d / "tmi_nocrs.tif", src.read(1), src.bounds, 50.0, None)
    base = {"grid": {"resolution": 100}, "deposits": {"path": "deposits.gpkg"}, **FAST}
    p = {"path": "samples.csv", "crs": "EPSG:32649", "elements": ["Au", "As", "Cu"]}
    return {
        "bad CRS": {**base, "points": {**p, "crs": "EPSG:99999"}},
        "missing element": {**base, "points": {**p, "elements": ["Au", "Zn"]}},
        "constant element": {**base, "points": {**p, "path": "constant.csv"}},
        "CSV without CRS": {**base, "points": {k: v for k, v in p.items() if k != "crs"}},
        "unknown x column": {**base, "points": {**p, "path": "renamed.csv", "x_field": "x", "y_field": "y"}},
        "coordinates in the wrong CRS": {**base, "points": {**p, "crs": "EPSG:4326"}},
        "deposits without CRS": {**base, "points": p, "deposits": {"path": "dep_nocrs.gpkg"}},
        "raster without CRS": {**base, "rasters": [{"name": "mag", "path": "tmi_nocrs.tif"}]},
        "vectors without a layer name": {**base, "vectors": [{"name": "d", "path": "two.gpkg"}]},
    }


def test_no_message_raised_inside_run_names_a_cli_flag(tmp_path):
    """Inside `geoprospect run` the fix is a config key, never a command-line option."""
    survey(tmp_path)
    for what, cfg in _bad_runs(tmp_path).items():
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
        r = CliRunner().invoke(cli, ["--progress", "none", "run", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "out"), "--overwrite"])
        assert r.exit_code == 2, (what, r.output)
        assert "How to fix" in r.output, (what, r.output)
        flags = set(re.findall(r"(?<![\w-])--[a-z][\w-]*", r.output)) - RUN_FLAGS
        assert not flags, (what, flags, r.output)


def test_a_constant_element_is_named_with_the_key_that_drops_it(tmp_path):
    survey(tmp_path)
    cfg = _bad_runs(tmp_path)["constant element"]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(cli, ["--progress", "none", "run", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "element 'log10_Cu'" not in r.output
    assert "constant.csv" in r.output and "element 'Cu'" in r.output and "points.elements" in r.output, r.output


def test_init_writes_a_starter_that_runs_and_names_every_key(tmp_path):
    from geoprospect.pipeline.config import RunConfig

    survey(tmp_path)
    out = tmp_path / "config.yaml"
    r = CliRunner().invoke(cli, ["--progress", "none", "init", str(tmp_path / "tmi.tif"), str(tmp_path / "faults.gpkg"), str(tmp_path / "deposits.gpkg"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    for key in RunConfig.model_fields:
        assert re.search(rf"^(# )?{key}:", text, flags=re.M), key
    cfg = load_config(out)  # pre-filled from the files: a valid configuration as written
    assert [x.name for x in cfg.rasters] == ["tmi"] and [v.name for v in cfg.vectors] == ["dist_faults"] and cfg.deposits.path.name == "deposits.gpkg"
    r = CliRunner().invoke(cli, ["--progress", "none", "init", "--out", str(out)])
    assert r.exit_code == 2 and "exists" in r.output  # never overwritten unless asked
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(ConfigError, match="geoprospect init"):
        load_config(tmp_path / "empty.yaml")


def test_no_association_is_said_first_in_plain_words_and_the_map_is_not_flat(tmp_path):
    """Issue 24: deposits placed at random over evidence that knows nothing of them. The first
    line about skill says the evidence does not rank held-out deposits better than chance;
    prospectivity.tif is not constant; classes and targets exist and are bounded."""
    d = tmp_path / "null"
    survey(d)
    r = np.random.default_rng(7)
    xy = np.column_stack([r.uniform(BOUNDS[0] + 200, BOUNDS[2] - 200, 24), r.uniform(BOUNDS[1] + 200, BOUNDS[3] - 200, 24)])
    gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:32649").to_file(d / "random.gpkg")
    cfg = {"name": "no association", "grid": {"resolution": 100}, "rasters": [{"name": "mag", "path": "tmi.tif"}],
           "deposits": {"path": "random.gpkg"}, **FAST}
    (d / "c.yaml").write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(cli, ["--progress", "none", "run", str(d / "c.yaml"), "--out", str(d / "out")])
    assert res.exit_code == 0, res.output
    m = json.loads((d / "out" / "metrics.json").read_text())
    verdict = m["skill"]
    assert not verdict["any_beats_chance"] and verdict["sentence"].startswith("NO SKILL")
    first = next(line for line in res.output.splitlines() if "skill" in line.lower() or "auc" in line.lower())
    assert "NO SKILL" in first and "better than chance" in first  # before the table and the in-sample line
    assert m["model"] == "logistic_cell" and m["default_model"] == "blend_cell"
    with rasterio.open(d / "out" / "prospectivity.tif") as src:
        p = src.read(1, masked=True)
    assert p.max() > p.min()  # never a flat map
    assert 0 < m["classes"]["cells"]["high"] < p.count()
    html = (d / "out" / "report" / "index.html").read_text()
    assert html.index("NO SKILL") < html.index("Out-of-fold skill")


def test_every_cell_a_sample_with_a_single_test_block(tmp_path):
    """windows.unit cell with evaluation.method block: the test block's deposits are scored out of
    fold, the training area's are not asked to be (no error), the map is on the stack's grid."""
    d = tmp_path / "block"
    survey(d)
    cfg = {"grid": {"resolution": 100}, "rasters": [{"name": "mag", "path": "tmi.tif"}], "deposits": {"path": "deposits.gpkg"},
           **FAST, "evaluation": {"method": "block", "baselines": ["best_layer"], "mc_dropout": 0}, "windows": {"test_fraction": 0.5}}
    (d / "c.yaml").write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(cli, ["--progress", "none", "run", str(d / "c.yaml"), "--out", str(d / "out")])
    assert res.exit_code == 0, res.output
    with rasterio.open(d / "out" / "prospectivity.tif") as p, rasterio.open(d / "out" / "stack.tif") as s:
        assert p.transform == s.transform and p.shape == s.shape
    m = json.loads((d / "out" / "metrics.json").read_text())
    assert m["evaluation"]["method"] == "block" and 0 < m["out_of_fold"]["logistic_cell"]["n_deposits"] < 18
