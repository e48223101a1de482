"""Full-resolution blend, P-A thresholds, classes, the numbered window grid and target polygons;
rasters read back with GDAL (gdalinfo -json) as QGIS/ArcGIS would."""

import json
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from geoprospect.evaluation.metrics import per_class_metrics, prediction_area, success_rate
from geoprospect.evaluation.targets import Thresholds, classify, pa_thresholds, target_areas, thresholds_from_user, window_grid, write_classes, write_gpkg
from geoprospect.grid import GridSpec
from geoprospect.prediction.fullres import blend_windows, write_fullres


@pytest.fixture
def grid():
    return GridSpec.from_bounds((500000.0, 2800000.0, 502400.0, 2802000.0), 100.0, "EPSG:32649")  # 20 rows x 24 cols


def test_blend_matches_brute_force(grid, rng):
    size, stride = 6, 3
    ro, co = np.meshgrid(np.arange(0, grid.height - size + 1, stride), np.arange(0, grid.width - size + 1, stride), indexing="ij")
    ro, co = ro.ravel(), co.ravel()
    p = rng.uniform(0, 1, ro.size)
    p[3] = np.nan  # a window not scored
    m = rng.normal(size=ro.size)
    from geoprospect.prediction.fullres import tent_kernel

    for weights, k in (("box", np.ones((size, size))), ("tent", tent_kernel(size))):
        f = blend_windows(grid, ro, co, size, p, m, weights=weights)
        sp = np.zeros(grid.shape)
        sm = np.zeros(grid.shape)
        ws = np.zeros(grid.shape)
        n = np.zeros(grid.shape)
        for i in range(ro.size):
            if np.isnan(p[i]):
                continue
            sl = (slice(ro[i], ro[i] + size), slice(co[i], co[i] + size))
            sp[sl] += p[i] * k
            sm[sl] += m[i] * k
            ws[sl] += k
            n[sl] += 1
        ok = n > 0
        assert np.array_equal(f.count, n.astype(int))
        assert np.allclose(f.prob[ok], sp[ok] / ws[ok]) and np.allclose(f.margin[ok], sm[ok] / ws[ok])
        assert np.all(np.isnan(f.prob[~ok]))
    # the tent blend leaves no stride-scale ties
    from geoprospect.evaluation.metrics import success_rate

    assert success_rate(f.margin, np.array([0])).tied_fraction < 0.2


def test_prediction_area_intersection():
    s = np.arange(100.0)
    pa = prediction_area(s, np.array([99, 98, 97, 50, 10]))
    # 3 deposits in the top 3 %, the 4th at 50 %: 60 % of deposits in 40 % of the area
    assert pa.intersection_rate == pytest.approx(0.6) and pa.intersection_area == pytest.approx(0.4)
    assert pa.intersection_threshold == 60.0 and pa.normalized_density == pytest.approx(1.5)
    sr = success_rate(np.zeros(10), np.array([1, 2]))  # all tied: spread evenly = random
    assert sr.tied_fraction == 1.0 and sr.capture_at(0.1) == pytest.approx(0.1)


def test_per_class_metrics_eight_classes(rng):
    y = rng.integers(0, 8, 300)
    yp = np.where(rng.uniform(size=300) < 0.7, y, rng.integers(0, 8, 300))
    from sklearn.metrics import precision_score, recall_score

    m = per_class_metrics(y, yp)
    assert len([k for k in m if k not in ("macro", "confusion_matrix")]) == 8
    assert m["3"]["precision"] == pytest.approx(precision_score(y, yp, labels=[3], average="macro"))
    assert m["macro"]["recall"] == pytest.approx(recall_score(y, yp, average="macro"))
    assert np.array(m["confusion_matrix"]).sum() == 300


def test_classes_grid_targets_and_gdal_readback(grid, tmp_path):
    H, W = grid.shape
    s = np.full(grid.shape, 0.1)
    s[2:5, 2:6] = 0.9  # target A: 12 cells
    s[10:12, 15:20] = 0.8  # target B: 10 cells
    s[15, 0] = np.nan
    x0, y0 = grid.transform.c, grid.transform.f
    deps = np.array([[x0 + 350, y0 - 350], [x0 + 450, y0 - 250], [x0 + 1650, y0 - 1050], [x0 + 2250, y0 - 1850]])  # 2 in A, 1 in B, 1 outside
    r, c = grid.rowcol(deps[:, 0], deps[:, 1])
    th = pa_thresholds(s, np.asarray(r) * W + np.asarray(c))
    assert th.high == pytest.approx(0.8) and th.medium <= th.high
    cls = classify(s, th)
    assert cls[15, 0] == 0 and cls[3, 3] == 3 and cls[11, 16] == 3 and cls[0, 23] in (1, 2)
    with pytest.raises(Exception, match="medium threshold"):
        classify(s, Thresholds(0.9, 0.5, "x"))
    assert thresholds_from_user([0.3, 0.6]).high == 0.6

    t = target_areas(s, cls, grid, deps)
    assert t["target"].tolist() == [1, 2]
    assert t["n_cells"].tolist() == [12, 10] and t["n_deposits"].tolist() == [2, 1]
    assert t["deposit_ids"].tolist() == ["0,1", "2"]
    assert t.geometry.area.tolist() == pytest.approx([12 * 1e4, 10 * 1e4])
    write_gpkg(t, tmp_path / "targets.gpkg", "targets")
    back = gpd.read_file(tmp_path / "targets.gpkg")
    assert back.crs.to_epsg() == 32649 and len(back) == 2

    g = window_grid(s, grid, deps, cell=4, classes=cls)
    assert len(g) == (H // 4) * (W // 4) and g["number"].tolist() == list(range(1, 31))
    # deposits in cells (row 3, col 3), (2, 4), (10, 16), (18, 22) -> squares 1, 2, 17, 30 (6 per row)
    assert g.loc[g.has_deposit == 1, "number"].tolist() == [1, 2, 17, 30] and g["n_deposits"].sum() == 4
    assert g.loc[g.number == 1, "score"].item() == pytest.approx(np.mean(s[:4, :4]))
    assert set(g["class_name"]) <= {"low", "medium", "high", "nodata"}

    # rasters: full-resolution map and classes, read back with GDAL
    ro, co = np.meshgrid(np.arange(0, H - 4 + 1, 2), np.arange(0, W - 4 + 1, 2), indexing="ij")
    f = blend_windows(grid, ro.ravel(), co.ravel(), 4, np.linspace(0.01, 0.99, ro.size))
    write_fullres(f, tmp_path / "fullres.tif", model_name="test", uncertainty=np.full(grid.shape, 0.05))
    write_classes(cls, grid, tmp_path / "classes.tif", th)
    assert (tmp_path / "fullres.qml").exists() and "paletted" in (tmp_path / "classes.qml").read_text()
    with rasterio.open(tmp_path / "fullres.tif") as src:
        assert src.descriptions == ("prospectivity", "logit_margin", "uncertainty_std")
        assert src.crs.to_epsg() == 32649 and src.nodata == -9999.0
    if shutil.which("gdalinfo") is None:
        pytest.skip("gdalinfo not installed")
    for name in ("fullres.tif", "classes.tif"):
        info = json.loads(subprocess.run(["gdalinfo", "-json", "-stats", str(tmp_path / name)], capture_output=True, text=True, check=True).stdout)
        assert 'ID["EPSG",32649]' in info["coordinateSystem"]["wkt"]
        b = info["bands"][0]
        assert b["noDataValue"] == -9999.0
        assert "STATISTICS_MEAN" in b["metadata"][""]
        assert b["description"] in ("prospectivity", "potential_class")


def test_thresholds_without_deposits_fall_back_to_quantiles():
    s = np.arange(100.0).reshape(10, 10)
    th = pa_thresholds(s, np.array([], dtype=int))
    assert th.high == 90.0 and th.medium == 70.0 and "quantiles" in th.source
    assert (classify(s, th) == 3).sum() == 10
