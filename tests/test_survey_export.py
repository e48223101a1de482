"""Survey data as it really comes (issue 15): a shapefile export with value 0 + '<' in a flag
column, '!' flags, a lithology layer not covering the whole area and a DEM raster, run through
`geoprospect run` with flag columns, detection limits, categorical and raster evidence; and
each refusal naming the knob that fixes it."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
import yaml
from click.testing import CliRunner
from rasterio.transform import from_origin

from geoprospect.cli import cli

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
CRS = "EPSG:32649"
AU_LT = list(range(0, 10))      # Au value 0, flag '<': censored, no limit stated
AU_BANG = [10, 11, 12]          # Au value 0, flag '!': no measurement -> missing
AU_BANG_KEPT = [13]             # Au value reported, flag '!': kept as reported
AS_LT = list(range(20, 25))     # As value 0, flag '<': limit from detection_limits


def _survey(d: Path) -> Path:
    """The sample data rewritten as a survey database export: a shapefile with flag columns,
    a partial lithology layer and a DEM GeoTIFF with a nodata corner."""
    df = pd.read_csv(SAMPLE / "samples.csv")
    df["Au_f"], df["As_f"] = "", ""
    df.loc[AU_LT, "Au_ppb"] = 0.0
    df.loc[AU_LT, "Au_f"] = "<"
    df.loc[AU_BANG, "Au_ppb"] = 0.0
    df.loc[AU_BANG + AU_BANG_KEPT, "Au_f"] = "!"
    df.loc[AS_LT, "As_ppm"] = 0.0
    df.loc[AS_LT, "As_f"] = "<"
    gdf = gpd.GeoDataFrame(df[["sample_id", "Au_ppb", "As_ppm", "Cu_ppm", "Au_f", "As_f"]],
                           geometry=gpd.points_from_xy(df.x, df.y), crs=CRS)
    gdf.to_file(d / "survey.shp")
    litho = gpd.GeoDataFrame({"LITH": ["granite", "greenstone"]}, crs=CRS, geometry=[
        shapely.box(500000, 2800000, 520000, 2840000), shapely.box(520000, 2800000, 537000, 2840000)])
    litho.to_file(d / "litho.shp")  # the eastern 3 km (7.5 % of the area) is unmapped
    dem = np.linspace(100, 500, 80 * 80, dtype=np.float32).reshape(80, 80)
    dem[:8, -8:] = -9999.0  # nodata corner
    with rasterio.open(d / "dem.tif", "w", driver="GTiff", width=80, height=80, count=1, dtype="float32", crs=CRS,
                       transform=from_origin(500000, 2840000, 500, 500), nodata=-9999.0) as dst:
        dst.write(dem, 1)
        dst.set_band_description(1, "elevation")
    return d


def _config(d: Path, **points) -> dict:
    pts = {"path": "survey.shp", "elements": ["Au_ppb", "As_ppm", "Cu_ppm"], "log10": True, "censored": "half",
           "flag_columns": {"Au_ppb": "Au_f", "As_ppm": "As_f"}, "detection_limits": {"As_ppm": 0.5}}
    pts.update(points)
    return {
        "points": pts,
        "grid": {"resolution": 400, "bounds": [500000, 2800000, 540000, 2840000]},
        "idw": {"radius": 3000},
        "vectors": [{"name": "lith", "path": "litho.shp", "kind": "categorical", "field": "LITH"}],
        "rasters": [{"name": "dem", "path": "dem.tif", "resampling": "bilinear"}],
        "deposits": {"path": str(SAMPLE / "deposits.gpkg")},
        "windows": {"unit": "window", "size": 28, "stride": 14, "min_valid": 0.5},
        "train": {"model": "lenet", "epochs": 1, "batch_size": 16, "device": "cpu"},
        "evaluation": {"method": "block"},  # a 100 x 100 area: the single held-out block (CV is tested in test_run_oof.py)
    }


def _run(d: Path, cfg: dict, name: str = "cfg.yaml"):
    (d / name).write_text(yaml.safe_dump(cfg))
    return CliRunner().invoke(cli, ["--progress", "none", "run", str(d / name), "--out", str(d / f"out_{Path(name).stem}")])


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return _survey(tmp_path_factory.mktemp("survey"))


@pytest.fixture(scope="module")
def survey_run(survey):
    r = _run(survey, _config(survey))
    assert r.exit_code == 0, r.output
    return survey / "out_cfg"


def test_geochemistry_report_counts_the_censored_rows(survey_run):
    rep = (survey_run / "geochem_report.md").read_text()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in rep.splitlines() if line.startswith("| ") and "element" not in line}
    analysed, detected, censored = (int(v) for v in rows["Au_ppb"][:3])
    assert censored == len(AU_LT)                        # '<' with value 0: censored, not missing
    assert analysed == 2000 - len(AU_BANG)               # 0 with '!': no measurement
    assert detected == 2000 - len(AU_LT) - len(AU_BANG)  # '!' with a value: kept
    assert int(rows["As_ppm"][2]) == len(AS_LT) and rows["As_ppm"][4] == "0.5"
    assert int(rows["Cu_ppm"][2]) == 0
    assert "smallest reported value of the element (0.177)" in rep  # Au: no limit stated anywhere
    assert "the stated detection limit (0.5)" in rep
    assert "neither censoring nor 'not analysed': set missing" in rep


def test_stack_has_categorical_nodata_and_the_dem(survey_run):
    with rasterio.open(survey_run / "stack.tif") as src:
        names = list(src.descriptions)
        data = src.read(masked=True)
        tags = src.tags(names.index("dem") + 1)
    assert names == ["log10_Au_ppb", "log10_As_ppm", "log10_Cu_ppm", "lith_granite", "lith_greenstone", "dem"]
    lith = data[3]
    cols_unmapped = lith.mask.all(axis=0)
    assert cols_unmapped[-7:].all() and not cols_unmapped[:-8].any()  # the unmapped eastern strip is nodata
    dem = data[5]
    assert dem.mask[:8, -8:].all() and not dem.mask[20:, :60].any()  # the DEM's nodata corner stays nodata
    assert 100 <= dem.min() and dem.max() <= 500
    assert "bilinear" in tags["GEOPROSPECT_SOURCE"]


def _refusal(survey: Path, name: str, cfg: dict) -> str:
    r = _run(survey, cfg, f"{name}.yaml")
    assert r.exit_code != 0
    assert "Traceback" not in r.output and "np.float64" not in r.output
    return r.output


def test_refusals_name_the_knob(survey):
    out = _refusal(survey, "noflags", _config(survey, flag_columns={}, detection_limits={}))
    # the zeros are no longer marked: log10 refuses, naming the file's row and the run config keys
    assert "survey.shp" in out and f"row {AU_LT[0] + 1}" in out
    assert "points.flag_columns" in out and "points.log10" in out
    out = _refusal(survey, "flagname", _config(survey, flag_columns={"Au_ppb": "Au_flag"}))
    assert "did you mean `Au_f`?" in out and "points.flag_columns" in out and "survey.shp" in out
    out = _refusal(survey, "element", _config(survey, elements=["Au_ppb", "Cu_pp"]))
    assert "did you mean `Cu_ppm`?" in out and "points.elements" in out and "survey.shp" in out
    out = _refusal(survey, "limits", _config(survey, detection_limits={"As": 0.5}))
    assert "did you mean `As_ppm`?" in out and "points.detection_limits" in out
    cfg = _config(survey)
    cfg["vectors"][0]["field"] = "LITHO"
    out = _refusal(survey, "field", cfg)
    assert "did you mean `LITH`?" in out and "litho.shp" in out
    cfg = _config(survey)
    cfg["rasters"][0]["band"] = 2
    out = _refusal(survey, "band", cfg)
    assert "dem.tif" in out and "band" in out


def test_interpolate_reads_the_export_with_the_same_options(survey):
    args = ["--progress", "none", "interpolate", str(survey / "survey.shp"), "--elements", "Au_ppb,As_ppm", "--resolution", "1000",
            "--bounds", "500000", "2800000", "540000", "2840000", "--log10"]
    r = CliRunner().invoke(cli, args + ["-o", str(survey / "plain.tif")])
    assert r.exit_code != 0 and "--flag-columns" in r.output and "--log10" in r.output and "points." not in r.output
    assert "row 1" in r.output and "np.float64" not in r.output
    r = CliRunner().invoke(cli, args + ["-o", str(survey / "prepared.tif"), "--censored", "half", "--flag-columns", "Au_ppb=Au_f,As_ppm=As_f",
                                        "--detection-limits", "As_ppm=0.5"])
    assert r.exit_code == 0, r.output
    with rasterio.open(survey / "prepared.tif") as src:
        assert list(src.descriptions) == ["log10_Au_ppb", "log10_As_ppm"]
        assert np.isfinite(src.read(masked=True).filled(np.nan)).any()


def test_distance_takes_the_grid_crs_from_the_input(survey, tmp_path):
    out = tmp_path / "d.tif"
    r = CliRunner().invoke(cli, ["--progress", "none", "distance", str(survey / "litho.shp"), "--bounds", "500000", "2800000", "540000", "2840000",
                                 "--resolution", "2000", "-o", str(out)])
    assert r.exit_code == 0, r.output
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32649 and src.shape == (20, 20)
