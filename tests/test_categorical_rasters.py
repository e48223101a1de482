"""Categorical rasters (issue 24, item 2): a raster of class codes becomes one-hot class bands
(names from its attribute table or .vat.dbf, else the codes; rare classes merged; `classes:` to
choose), warped by nearest / mode, recorded as one layer, permuted and occluded with real classes,
and weighed per class by weights of evidence."""

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
import torch
import yaml
from click.testing import CliRunner
from pyproj import Transformer
from rasterio.transform import from_origin
from torch import nn

from geoprospect.cli import cli
from geoprospect.errors import CategoricalError, GeoprospectError
from geoprospect.evaluation.classic import class_index, woe_layers
from geoprospect.evaluation.importance import _variant_batches
from geoprospect.evidence.weights_of_evidence import WeightsOfEvidence
from geoprospect.grid import GridSpec
from geoprospect.io.rasters import Stack, read_stack
from geoprospect.pipeline.config import RasterSourceConfig
from geoprospect.pipeline.layers import raster_source_layer
from geoprospect.prediction.attribution import OCCLUSION, reference_values, window_attribution
from geoprospect.stack.build import build_stack
from geoprospect.stack.layers import categorical_layer
from geoprospect.stack.rasters import categorical_raster_layer
from geoprospect.windows.dataset import normalise_stack

ROOT = Path(__file__).resolve().parent.parent
X0, Y1 = 500000.0, 2806000.0  # UTM 49N: upper-left corner of the test rasters
CRS = "EPSG:32649"


def _codes_tif(path: Path, codes: np.ndarray, res: float = 100.0, *, crs: str = CRS, origin=(X0, Y1), nodata: float | None = 0, dtype: str = "int16") -> Path:
    h, w = codes.shape
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype=dtype, crs=crs,
                       transform=from_origin(origin[0], origin[1], res, res), nodata=nodata) as d:
        d.write(codes.astype(dtype)[None])
    return path


def _grid(res: float, n: int) -> GridSpec:
    return GridSpec.from_bounds((X0, Y1 - n * res, X0 + n * res, Y1), res, CRS)


def _stripes(h: int = 12, w: int = 12) -> np.ndarray:
    """Codes 1, 2, 3 in vertical stripes of 4 columns; code 0 (nodata) in the first row's first 3 cells."""
    c = np.repeat([1, 2, 3], w // 3)[None].repeat(h, axis=0)
    c[0, :3] = 0
    return c


AUX_XML = """<PAMDataset>
  <PAMRasterBand band="1">
    <GDALRasterAttributeTable tableType="thematic">
      <FieldDefn index="0"><Name>VALUE</Name><Type>0</Type><Usage>5</Usage></FieldDefn>
      <FieldDefn index="1"><Name>COUNT</Name><Type>0</Type><Usage>1</Usage></FieldDefn>
      <FieldDefn index="2"><Name>UNIT</Name><Type>2</Type><Usage>2</Usage></FieldDefn>
      <Row index="0"><F>1</F><F>44</F><F>basalt</F></Row>
      <Row index="1"><F>2</F><F>48</F><F>granite</F></Row>
      <Row index="2"><F>3</F><F>48</F><F>shale</F></Row>
    </GDALRasterAttributeTable>
  </PAMRasterBand>
</PAMDataset>
"""  # as GDAL writes a GeoTIFF's RAT (Band.SetDefaultRAT, checked with GDAL 3.6's Python bindings)


def test_class_names_from_the_raster_attribute_table(tmp_path):
    p = _codes_tif(tmp_path / "lith.tif", _stripes())
    Path(f"{p}.aux.xml").write_text(AUX_XML)
    lay = categorical_raster_layer(p, _grid(100, 12), name="lith")
    assert lay.names == ["lith_basalt", "lith_granite", "lith_shale"] and lay.categorical == "lith"
    bands = lay.compute(_grid(100, 12))
    np.testing.assert_array_equal(bands[:, 5, [0, 5, 10]], np.eye(3))
    assert np.isnan(bands[:, 0, :3]).all() and np.isfinite(bands[:, 1:]).all()  # nodata stays nodata in every band


def test_class_names_from_a_table_of_linear_bins(tmp_path):
    """A RAT without a code column: row i names code Row0Min + i * BinSize (as GDAL writes SetLinearBinning)."""
    p = _codes_tif(tmp_path / "lith.tif", _stripes())
    Path(f"{p}.aux.xml").write_text("""<PAMDataset>
  <PAMRasterBand band="1">
    <GDALRasterAttributeTable Row0Min="1" BinSize="1" tableType="thematic">
      <FieldDefn index="0"><Name>Name</Name><Type>2</Type><Usage>2</Usage></FieldDefn>
      <Row index="0"><F>basalt</F></Row>
      <Row index="1"><F>granite</F></Row>
      <Row index="2"><F>shale</F></Row>
    </GDALRasterAttributeTable>
  </PAMRasterBand>
</PAMDataset>
""")
    assert categorical_raster_layer(p, _grid(100, 12), name="lith").names == ["lith_basalt", "lith_granite", "lith_shale"]


def test_class_names_through_gdal_bindings(tmp_path):
    gdal = pytest.importorskip("osgeo.gdal")
    p = _codes_tif(tmp_path / "lith.tif", _stripes())
    ds = gdal.Open(str(p), gdal.GA_Update)
    rat = gdal.RasterAttributeTable()
    rat.CreateColumn("VALUE", gdal.GFT_Integer, gdal.GFU_MinMax)
    rat.CreateColumn("UNIT", gdal.GFT_String, gdal.GFU_Name)
    for i, (v, n) in enumerate([(1, "basalt"), (2, "granite"), (3, "shale")]):
        rat.SetValueAsInt(i, 0, v)
        rat.SetValueAsString(i, 1, n)
    ds.GetRasterBand(1).SetDefaultRAT(rat)
    ds = None
    assert categorical_raster_layer(p, _grid(100, 12), name="lith").names == ["lith_basalt", "lith_granite", "lith_shale"]


def test_class_names_from_an_esri_vat_dbf(tmp_path):
    import pyogrio

    p = _codes_tif(tmp_path / "lith.tif", _stripes())
    pyogrio.write_dataframe(pd.DataFrame({"Value": [1, 2, 3], "Count": [44, 48, 48], "Lithology": ["basalt", "granite", "shale"]}),
                            f"{p}.vat.dbf", driver="ESRI Shapefile")
    assert categorical_raster_layer(p, _grid(100, 12), name="lith").names == ["lith_basalt", "lith_granite", "lith_shale"]


def test_the_codes_name_the_classes_without_a_table(tmp_path, caplog):
    p = _codes_tif(tmp_path / "lith.tif", _stripes())
    with caplog.at_level("INFO"):
        lay = categorical_raster_layer(p, _grid(100, 12))
    assert lay.names == ["lith_1", "lith_2", "lith_3"]  # name default: the file's stem
    assert "the codes name the classes" in caplog.text


def _shares_raster(tmp_path: Path) -> Path:
    """10 x 10 cells: code 1 on 60, 2 on 34, 3 on 4 and 4 on 2 of them."""
    c = np.full(100, 1)
    c[60:94], c[94:98], c[98:] = 2, 3, 4
    return _codes_tif(tmp_path / "lith.tif", c.reshape(10, 10))


def test_rare_classes_merge_into_one_other_band(tmp_path, caplog):
    p = _shares_raster(tmp_path)
    g = _grid(100, 10)
    with caplog.at_level("INFO"):
        lay = categorical_raster_layer(p, g, name="lith", min_share=0.05)
    assert lay.names == ["lith_1", "lith_2", "lith_other"]
    assert re.search(r"2 class\(es\) under 0.05 of the cells merged into 'other': 3 \(4.0 %\); 4 \(2.0 %\)", caplog.text)
    bands = lay.compute(g).reshape(3, 100)
    np.testing.assert_array_equal(bands[2], np.r_[np.zeros(94), np.ones(6)])
    np.testing.assert_array_equal(bands.sum(axis=0), 1)
    assert categorical_raster_layer(p, g, min_share=0).names == ["lith_1", "lith_2", "lith_3", "lith_4"]
    assert categorical_raster_layer(p, g).names == ["lith_1", "lith_2", "lith_3", "lith_4"]  # default 0.01: 2 % is kept


def test_shares_are_counted_inside_the_study_area(tmp_path):
    from geoprospect.grid import to_crs
    from geoprospect.stack.area import StudyArea

    p = _shares_raster(tmp_path)
    g = _grid(100, 10)
    # the area holds the last row only: code 2 on 4 cells, 3 on 4, 4 on 2
    area = StudyArea([shapely.box(X0, Y1 - 1000, X0 + 1000, Y1 - 900)], to_crs(CRS))
    assert categorical_raster_layer(p, g, min_share=0.3, area=area).names == ["lith_2", "lith_3", "lith_other"]


def test_classes_choose_bands_by_name_or_code_in_order(tmp_path):
    p = _codes_tif(tmp_path / "lith.tif", _stripes())
    Path(f"{p}.aux.xml").write_text(AUX_XML)
    g = _grid(100, 12)
    lay = categorical_raster_layer(p, g, name="lith", classes=["shale", 1])
    assert lay.names == ["lith_shale", "lith_basalt"]
    bands = lay.compute(g)
    np.testing.assert_array_equal(bands[:, 5, [0, 5, 10]], [[0, 0, 1], [1, 0, 0]])  # granite: none of the classes
    assert np.isnan(bands[:, 0, :3]).all()
    with pytest.raises(CategoricalError, match=r"class\(es\) \['gneiss'\] do not occur.*\n.*fix classes: .*basalt = 1 \(") as e:
        categorical_raster_layer(p, g, classes=["gneiss"])
    assert "lith.tif" in str(e.value)


def _mode_blocks(a: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """numpy mode over f x f blocks, and whether the majority is unique (ties are GDAL's to break)."""
    h, w = a.shape
    blocks = a.reshape(h // f, f, w // f, f).transpose(0, 2, 1, 3).reshape(h // f, w // f, f * f)
    counts = np.stack([(blocks == c).sum(axis=2) for c in range(1, 5)], axis=2)
    top = np.sort(counts, axis=2)
    return counts.argmax(axis=2) + 1, top[..., -1] > top[..., -2]


def test_a_coarser_grid_takes_the_majority_class(tmp_path, caplog):
    src = np.random.default_rng(3).choice([1, 2, 3, 4], size=(30, 30), p=[0.4, 0.3, 0.2, 0.1])
    p = _codes_tif(tmp_path / "lith.tif", src, 100.0)
    g = _grid(300.0, 10)
    with caplog.at_level("INFO"):
        lay = categorical_raster_layer(p, g, name="lith", min_share=0)
    assert re.search(r"100 x 100 -> 300 x 300 map units per cell .* mode \(the majority class", caplog.text)
    got = np.argmax(lay.compute(g), axis=0) + 1  # every cell has data: one class band is 1
    want, unique = _mode_blocks(src, 3)
    assert unique.sum() > 50
    np.testing.assert_array_equal(got[unique], want[unique])


def test_a_finer_grid_takes_the_nearest_class(tmp_path, caplog):
    src = _stripes(6, 6)
    src[2, 4] = 1
    p = _codes_tif(tmp_path / "lith.tif", src, 100.0)
    g = _grid(50.0, 12)
    with caplog.at_level("INFO"):
        bands = categorical_raster_layer(p, g, name="lith", min_share=0).compute(g)
    assert re.search(r"100 x 100 -> 50 x 50 map units per cell .* nearest resampling", caplog.text)
    want = np.repeat(np.repeat(src, 2, axis=0), 2, axis=1)
    np.testing.assert_array_equal(np.isnan(bands[0]), want == 0)
    for k, code in enumerate([1, 2, 3]):
        np.testing.assert_array_equal(bands[k][want > 0], (want == code)[want > 0])


def test_a_raster_in_another_crs_is_warped_by_nearest_without_fractions(tmp_path):
    """Codes in lon/lat onto a UTM grid: every cell a whole class, the class of the source cell
    under its centre (checked by transforming the cell centres, away from source cell edges)."""
    g = _grid(200.0, 20)
    lo0, la0, lo1, la1 = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform_bounds(*g.bounds)
    n = 10
    rx, ry = (lo1 - lo0) / n, (la1 - la0) / n
    src = np.random.default_rng(4).choice([1, 2, 3], size=(n, n))
    p = _codes_tif(tmp_path / "geo4326.tif", src, crs="EPSG:4326", origin=(lo0, la1), nodata=None, dtype="uint8")
    with rasterio.open(p, "r+") as d:
        d.transform = from_origin(lo0, la1, rx, ry)
    lay = categorical_raster_layer(p, g, name="lith", min_share=0)
    bands = lay.compute(g)
    finite = bands[:, np.isfinite(bands).all(axis=0)]
    assert set(np.unique(finite)) <= {0.0, 1.0} and (finite.sum(axis=0) == 1).all()
    rows, cols = np.mgrid[0:g.height, 0:g.width]
    xs, ys = g.transform * (cols + 0.5, rows + 0.5)
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(xs, ys)
    fc, fr = (lon - lo0) / rx, (la1 - lat) / ry
    inside = (fc > 0.1) & (fc < n - 0.1) & (fr > 0.1) & (fr < n - 0.1) & (np.abs(fc - np.round(fc)) > 0.1) & (np.abs(fr - np.round(fr)) > 0.1)
    want = src[fr[inside].astype(int), fc[inside].astype(int)]
    got = np.argmax(np.nan_to_num(bands), axis=0)[inside] + 1
    assert inside.sum() > 100
    np.testing.assert_array_equal(got, want)


def test_non_integer_codes_are_refused_naming_the_file_and_the_key(tmp_path):
    p = _codes_tif(tmp_path / "mag.tif", np.linspace(0, 50, 144).reshape(12, 12), dtype="float32", nodata=-9999)
    r = RasterSourceConfig(name="lith", path=p, kind="categorical")
    with pytest.raises(CategoricalError, match=r"holds values such as [\d.]+") as e:
        raster_source_layer(r, _grid(100, 12), i=2)
    assert "mag.tif" in str(e.value) and "rasters[2].kind: continuous" in str(e.value)
    assert "--" not in str(e.value)  # a run's hint names config keys, never a command-line option
    whole = _codes_tif(tmp_path / "whole.tif", _stripes().astype(float), dtype="float32")
    assert raster_source_layer(RasterSourceConfig(name="lith", path=whole, kind="categorical"), _grid(100, 12)).names == ["lith_1", "lith_2", "lith_3"]


def test_too_many_classes_are_refused_naming_min_share(tmp_path):
    p = _codes_tif(tmp_path / "many.tif", np.arange(100).reshape(10, 10) + 1)
    with pytest.raises(CategoricalError, match=r"100 class bands after merging .* \(at most 64\)") as e:
        raster_source_layer(RasterSourceConfig(name="lith", path=p, kind="categorical", min_share=0), _grid(100, 10), i=0)
    assert "many.tif" in str(e.value) and "rasters[0].min_share" in str(e.value) and "--" not in str(e.value)
    with pytest.raises(CategoricalError, match=r"every one of its 100 classes covers less than 0.02"):
        raster_source_layer(RasterSourceConfig(name="lith", path=p, kind="categorical", min_share=0.02), _grid(100, 10), i=0)


def test_config_keys_are_in_the_schema_and_checked():
    from pydantic import ValidationError

    r = CliRunner().invoke(cli, ["--progress", "none", "config-schema"])
    raster = json.loads(r.output[r.output.index("{"):])["$defs"]["RasterSourceConfig"]["properties"]
    assert raster["kind"]["default"] == "continuous" and "categorical" in raster["kind"]["description"]
    assert raster["min_share"]["default"] == 0.01 and "other" in raster["min_share"]["description"]
    assert "by name or code" in raster["classes"]["description"]
    for bad, msg in [({"classes": ["a"]}, "set kind: categorical"), ({"kind": "categorical", "resampling": "bilinear"}, "use nearest or mode"),
                     ({"kind": "categorical", "bands": [1, 2]}, "give band: N"), ({"kind": "categorical", "classes": ["a"], "min_share": 0.1}, "keep one of them")]:
        with pytest.raises(ValidationError, match=msg):
            RasterSourceConfig.model_validate({"name": "lith", "path": "l.tif", **bad})


def test_stack_command_marks_a_raster_categorical(tmp_path):
    lith = _codes_tif(tmp_path / "lith.tif", _stripes())
    Path(f"{lith}.aux.xml").write_text(AUX_XML)
    with rasterio.open(tmp_path / "mag.tif", "w", driver="GTiff", width=12, height=12, count=1, dtype="float32", crs=CRS, transform=from_origin(X0, Y1, 100, 100)) as d:
        d.write(np.linspace(0, 1, 144, dtype="float32").reshape(1, 12, 12))
    h = CliRunner().invoke(cli, ["stack", "--help"])
    assert "--categorical" in h.output and "--min-share" in h.output
    r = CliRunner().invoke(cli, ["--progress", "none", "stack", str(tmp_path / "mag.tif"), "--categorical", str(lith), "--out", str(tmp_path / "s.tif")])
    assert r.exit_code == 0, r.output
    st = read_stack(tmp_path / "s.tif")
    assert st.band_names == ["mag", "lith_basalt", "lith_granite", "lith_shale"]
    assert st.categorical_layers() == {"lith": [1, 2, 3]}
    assert (tmp_path / "lith.tif.aux.xml").read_text() == AUX_XML  # inputs never modified
    # a categorical raster of measured values: refused, naming the file and the option
    r = CliRunner().invoke(cli, ["--progress", "none", "stack", str(lith), "--categorical", str(tmp_path / "mag.tif"), "--out", str(tmp_path / "s2.tif")])
    assert r.exit_code == 2 and "mag.tif" in r.output and "--categorical" in r.output


def test_geology_polygons_are_recorded_as_one_layer_too(tmp_path):
    g = _grid(100, 12)
    gdf = gpd.GeoDataFrame({"unit": ["a", "b"]}, geometry=[shapely.box(X0, Y1 - 1200, X0 + 600, Y1), shapely.box(X0 + 600, Y1 - 1200, X0 + 1200, Y1)], crs=CRS)
    lay = categorical_layer(gdf, g, "unit")
    lay.names, lay.categorical = [f"geol_{n}" for n in lay.names], "geol"  # as the run names a vectors entry
    lith = categorical_raster_layer(_codes_tif(tmp_path / "lith.tif", _stripes()), g, name="lith")
    build_stack([lay, lith], g, tmp_path / "s.tif")
    assert read_stack(tmp_path / "s.tif").categorical_layers() == {"geol": [0, 1], "lith": [2, 3, 4]}


def _class_stack() -> Stack:
    """12 x 12 cells: a 3-class layer 'lith' (class 2 most common), a continuous band, nodata in one cell."""
    g = _grid(100, 12)
    codes = np.ones((12, 12), int)
    codes[:, 4:] = 2
    codes[:3, 10:] = 3
    onehot = np.stack([(codes == k).astype(np.float32) for k in (1, 2, 3)])
    onehot[:, 0, 0] = np.nan
    cont = np.random.default_rng(0).normal(size=(1, 12, 12)).astype(np.float32)
    data = np.concatenate([cont, onehot])
    names = ["mag", "lith_1", "lith_2", "lith_3"]
    stats = [{"mean": float(np.nanmean(b)), "std": float(np.nanstd(b))} for b in data]
    return Stack(data, g, names, stats, {"GEOPROSPECT_CATEGORICAL": json.dumps({"lith": names[1:]})})


class _Recorder(nn.Module):
    """A model without gradients (so occlusion is used) that keeps every input it scores."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.3, -1.0, 0.5, 2.0]), requires_grad=False)
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        m = (x.mean(dim=(2, 3)) * self.w).sum(dim=1)
        return torch.stack([-m / 2, m / 2], dim=1)


def test_occlusion_puts_a_real_class_in_place_of_a_categorical_layer():
    st = _class_stack()
    mean, std = (np.asarray(m, dtype=np.float64) for m in st.moments())
    ref = reference_values(st, st.categorical_layers())
    assert ref[0] == 0 and np.allclose(ref[1:] * std[1:] + mean[1:], [0, 1, 0])  # class 2, the commonest
    model = _Recorder()
    offs = np.array([[r, c] for r in range(1, 10, 3) for c in range(1, 10, 3)])  # windows clear of the nodata cell
    vals, used = window_attribution(model, normalise_stack(st), offs, 3, {"mag": [0], "lith": [1, 2, 3]}, device="cpu", reference=ref)
    assert used == OCCLUSION and vals.shape == (len(offs), 2)
    x = torch.cat(model.seen).double().numpy()  # every window the model scored: the originals and the occluded copies
    classes = x[:, 1:] * std[1:, None, None] + mean[1:, None, None]
    assert np.allclose(classes, np.round(classes), atol=1e-5) and set(np.unique(np.round(classes))) == {0.0, 1.0}  # never a fractional class
    np.testing.assert_allclose(classes.sum(axis=1), 1.0, atol=1e-5)  # one class per cell
    as_class_2 = np.isclose(classes, np.array([0, 1, 0])[:, None, None], atol=1e-5).all(axis=(1, 2, 3))
    assert as_class_2.sum() >= len(offs)  # the occluded copies (and original windows lying on class 2)


def test_the_reference_is_none_of_the_classes_when_that_is_commoner():
    st = _class_stack()
    st.data[1:3] = np.where(np.isfinite(st.data[1:3]), 0.0, np.nan)  # classes 1 and 2 chosen out: only class 3 (6 cells) left
    st.stats[1:] = [{"mean": float(np.nanmean(b)), "std": float(np.nanstd(b))} for b in st.data[1:]]
    ref = reference_values(st, {"lith": [3]})
    assert np.isclose(ref[3] * st.stats[3]["std"] + st.stats[3]["mean"], 0.0)


def test_permutation_moves_a_cells_class_whole():
    st = _class_stack()
    x = torch.from_numpy(normalise_stack(st)[:, 1:11, 1:11].reshape(4, 100).T.reshape(100, 4, 1, 1).copy())
    perm = np.random.default_rng(0).permutation(100)
    (batch,) = list(_variant_batches(x, [(None, []), (perm, [1, 2, 3])], 1000))
    permuted = batch.x[100:]
    np.testing.assert_array_equal(permuted[:, 1:], x[perm, 1:])  # the class bands move together
    np.testing.assert_array_equal(permuted[:, 0], x[:, 0])  # the rest stays


def test_weights_of_evidence_weighs_a_categorical_layer_per_class():
    st = _class_stack()
    layers, cats = woe_layers(st)
    assert list(layers) == ["mag", "lith"] and cats == ["lith"]
    idx = class_index(st.data[1:])
    assert np.isnan(idx[0, 0]) and idx[5, 0] == 0 and idx[5, 5] == 1 and idx[0, 11] == 2
    deposits = np.array([[4, 6], [6, 8], [8, 9], [1, 11], [10, 1]])
    woe = WeightsOfEvidence(categorical=cats).fit(layers, deposits)
    t = woe.table()
    assert list(t.loc[t["layer"] == "lith", "class"]) == ["0", "1", "2"]  # one weight per class, not a threshold per band
    assert woe.layers_["lith"].kind == "categorical"


def readme_example(title: str) -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = [b for b in re.findall(r"```yaml\n(# example: [^\n]*\n.*?)```", text, flags=re.S) if b.startswith(f"# example: {title}")]
    assert len(found) == 1
    return yaml.safe_load(found[0])


def _survey(d: Path) -> None:
    """tmi.tif (50 m), lithology.tif (class codes with a RAT, 100 m, a rare unit 9), 14 deposits, most on basalt."""
    r = np.random.default_rng(0)
    b = (X0, Y1 - 6000, X0 + 6000, Y1)
    with rasterio.open(d / "tmi.tif", "w", driver="GTiff", width=120, height=120, count=1, dtype="float32", crs=CRS, transform=from_origin(X0, Y1, 50, 50), nodata=-9999) as f:
        f.write((np.sin(np.arange(120) / 9)[None] * np.ones((120, 1)) * 30 + r.normal(0, 5, (120, 120))).astype("float32")[None])
    lith = np.ones((60, 60), int)
    lith[:, 20:40], lith[:, 40:] = 2, 3
    lith[r.random((60, 60)) < 0.004] = 9  # a rare unit: merged into lith_other
    _codes_tif(d / "lithology.tif", lith, 100.0, origin=(X0, Y1))
    Path(d / "lithology.tif.aux.xml").write_text(AUX_XML)
    xy = np.column_stack([X0 + r.uniform(200, 1900, 14), Y1 - r.uniform(300, 5700, 14)])
    xy[10:, 0] += 3000
    gpd.GeoDataFrame(geometry=shapely.points(xy), crs=CRS).to_file(d / "deposits.gpkg")
    assert b


def test_run_with_a_categorical_raster_lists_it_once(tmp_path):
    _survey(tmp_path)
    cfg = {**readme_example("rasters with a lithology map"),
           "attribution": {"repeats": 1}, "train": {"model": "logistic_cell", "device": "cpu"},
           "evaluation": {"folds": 3, "block_size": 2000, "layouts": 1, "baselines": ["weights_of_evidence"], "mc_dropout": 0}}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(cli, ["--progress", "none", "run", str(tmp_path / "cfg.yaml"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["bands"] == ["mag", "lith_basalt", "lith_granite", "lith_shale", "lith_other"]
    metrics = m["metrics"]
    assert sorted(metrics["importance"]) == ["lith", "mag"]
    assert sorted(metrics["attribution"]["mean"]) == ["lith", "mag"]
    chosen = metrics["out_of_fold"]["weights_of_evidence"]["chosen"]
    assert all(f["layers"]["lith"]["pattern"] == "categorical" for f in chosen if "lith" in f["layers"])
    with rasterio.open(tmp_path / "out" / "attribution.tif") as src:
        assert list(src.descriptions) == ["mag", "lith"]
    assert read_stack(tmp_path / "out" / "stack.tif").categorical_layers() == {"lith": [1, 2, 3, 4]}


def test_errors_inside_run_name_config_keys(tmp_path):
    _survey(tmp_path)
    with rasterio.open(tmp_path / "tmi.tif") as src:
        assert src.dtypes[0] == "float32"
    cfg = {**readme_example("rasters with a lithology map"), "evaluation": {"folds": 3, "baselines": []}}
    cfg["rasters"] = [{"name": "mag", "path": "tmi.tif", "kind": "categorical"}]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(cli, ["--progress", "none", "run", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "tmi.tif" in r.output and "rasters[0].kind" in r.output, r.output
    assert not set(re.findall(r"(?<![\w-])--[a-z][\w-]*", r.output)) - {"--out"}, r.output
    assert isinstance(CategoricalError("x"), GeoprospectError)


def test_init_prefills_a_raster_with_a_class_table_as_categorical(tmp_path):
    _survey(tmp_path)
    out = tmp_path / "config.yaml"
    r = CliRunner().invoke(cli, ["--progress", "none", "init", str(tmp_path / "tmi.tif"), str(tmp_path / "lithology.tif"), str(tmp_path / "deposits.gpkg"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rasters = yaml.safe_load(out.read_text())["rasters"]
    assert [r.get("kind", "continuous") for r in rasters] == ["continuous", "categorical"]


def test_a_categorical_raster_of_several_bands_needs_band(tmp_path):
    p = tmp_path / "two.tif"
    with rasterio.open(p, "w", driver="GTiff", width=12, height=12, count=2, dtype="int16", crs=CRS, transform=from_origin(X0, Y1, 100, 100), nodata=0) as d:
        d.write(np.stack([_stripes(), 4 - _stripes()]).astype("int16"))
    with pytest.raises(CategoricalError, match="one band of class codes; this one has 2 bands") as e:
        raster_source_layer(RasterSourceConfig(name="lith", path=p, kind="categorical"), _grid(100, 12), i=1)
    assert "rasters[1].band" in str(e.value)
    lay = raster_source_layer(RasterSourceConfig(name="lith", path=p, kind="categorical", band=2), _grid(100, 12), i=1)
    assert lay.names == ["lith_1", "lith_2", "lith_3", "lith_4"]  # band 2: 4 - codes (nodata 0 -> 4)
