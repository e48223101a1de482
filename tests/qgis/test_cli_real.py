"""Every algorithm run through processing.run in a real QGIS against the real geoprospect CLI
on the sample data; outputs checked with QGIS's own GDAL/OGR Python bindings (osgeo.gdal,
QgsRasterLayer/QgsVectorLayer — the same GDAL the CLI's rasterio wraps; QGIS's Python cannot
import rasterio/geopandas without pulling numpy 2 in).

Skipped when no geoprospect environment with the JSON-progress CLI is found (see conftest.py).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from conftest import SOURCE, csv_layer, sample_data

BOUNDS = (500000.0, 2800000.0, 540000.0, 2840000.0)
RES = 500.0
ELEMENTS = ["Au_ppb", "As_ppm", "Cu_ppm"]


@pytest.fixture(scope="module")
def env(provider, geoprospect_python):
    d = sample_data()
    if d is None:
        pytest.skip(f"no sample data in {SOURCE}/sample_data")
    with pytest.MonkeyPatch.context() as mp:
        from processing.core.ProcessingConfig import ProcessingConfig

        ProcessingConfig.setSettingValue("GEOPROSPECT_EXECUTABLE", "")
        mp.setenv("GEOPROSPECT_EXECUTABLE", geoprospect_python)
        mp.setenv("GEOPROSPECT_PYTHONPATH", str(SOURCE))
        yield d


class Chain:
    """Runs the stages once, lazily, in order; tests check each stage's outputs."""

    def __init__(self, data: Path, work: Path):
        self.data, self.work, self.out, self.logs = data, work, {}, {}

    def run(self, alg, params):
        import processing
        from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

        fb = QgsProcessingFeedback()
        seen = []
        fb.progressChanged.connect(seen.append)
        ctx = QgsProcessingContext()
        ctx.setProject(QgsProject.instance())
        res = processing.run(f"geoprospect:{alg}", params, feedback=fb, context=ctx)
        self.logs[alg] = (seen, fb.textLog())
        return res

    def get(self, name):
        if name not in self.out:
            self.out[name] = getattr(self, "_" + name)()
        return self.out[name]

    def _interpolate(self):
        return self.run("interpolate", {
            "POINTS": csv_layer(self.data / "samples.csv"), "ELEMENTS": ELEMENTS, "LOG10": False, "POWER": 2, "NEIGHBORS": 12,
            "RADIUS": 3000, "GRID_CRS": "EPSG:32649", "EXTENT": f"{BOUNDS[0]},{BOUNDS[2]},{BOUNDS[1]},{BOUNDS[3]} [EPSG:32649]",
            "RESOLUTION": RES, "OUTPUT": str(self.work / "idw.tif")})

    def _distance(self):
        return self.run("distance", {"INPUT": str(self.data / "fault_lines.gpkg"), "BAND_NAME": "dist_faults",
                                     "TEMPLATE": self.get("interpolate")["OUTPUT"], "OUTPUT": str(self.work / "dist.tif")})

    def _stack(self):
        return self.run("stack", {"RASTERS": [self.get("interpolate")["OUTPUT"], self.get("distance")["OUTPUT"]], "OUTPUT": str(self.work / "stack.tif")})

    def _tile(self):
        return self.run("tile", {"STACK": self.get("stack")["OUTPUT"], "DEPOSITS": str(self.data / "deposits.gpkg"), "SIZE": 8, "STRIDE": 4,
                                 "OUTPUT": str(self.work / "windows.gpkg")})

    def _train(self):
        return self.run("train", {"STACK": self.get("stack")["OUTPUT"], "WINDOWS": self.get("tile")["OUTPUT"], "EPOCHS": 1, "BATCH_SIZE": 16,
                                  "DEVICE": 1, "OUTPUT": str(self.work / "model")})

    def _predict(self):
        return self.run("predict", {"STACK": self.get("stack")["OUTPUT"], "MODEL": self.get("train")["OUTPUT"], "WINDOWS": self.get("tile")["OUTPUT"],
                                    "DEVICE": 1, "OUTPUT": str(self.work / "prospectivity.tif"), "SCORES": str(self.work / "scores.gpkg")})

    def _evaluate(self):
        return self.run("evaluate", {"PROSPECTIVITY": self.get("predict")["OUTPUT"], "WINDOWS": self.get("tile")["OUTPUT"],
                                     "DEPOSITS": str(self.data / "deposits.gpkg"), "OUTPUT": str(self.work / "metrics.json")})


@pytest.fixture(scope="module")
def chain(env, tmp_path_factory):
    return Chain(env, tmp_path_factory.mktemp("chain"))


def _raster(path):
    from osgeo import gdal

    ds = gdal.Open(str(path))
    assert ds is not None, path
    return ds


def _epsg(ds):
    from osgeo import osr

    srs = osr.SpatialReference(wkt=ds.GetProjection())
    srs.AutoIdentifyEPSG()
    return srs.GetAuthorityCode(None)


def test_interpolate_matches_gdal_grid(chain, tmp_path):
    import numpy as np
    from osgeo import gdal

    out = chain.get("interpolate")["OUTPUT"]
    ds = _raster(out)
    assert _epsg(ds) == "32649"
    assert ds.RasterXSize == ds.RasterYSize == 80 and ds.RasterCount == 3
    assert ds.GetGeoTransform() == pytest.approx((BOUNDS[0], RES, 0, BOUNDS[3], 0, -RES))
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(3)] == ELEMENTS
    ours = ds.GetRasterBand(1).ReadAsArray().astype("float64")
    nodata = ds.GetRasterBand(1).GetNoDataValue()
    # independent reference: GDAL's own gdal_grid invdistnn on the same CSV and grid
    vrt = tmp_path / "s.vrt"
    vrt.write_text(
        f'<OGRVRTDataSource><OGRVRTLayer name="samples"><SrcDataSource>{chain.data / "samples.csv"}</SrcDataSource>'
        '<GeometryType>wkbPoint</GeometryType><LayerSRS>EPSG:32649</LayerSRS><GeometryField encoding="PointFromColumns" x="x" y="y"/>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    )
    ref_ds = gdal.Grid(str(tmp_path / "ref.tif"), str(vrt), zfield="Au_ppb", algorithm="invdistnn:power=2:radius=3000:max_points=12:min_points=1:nodata=-9999",
                       outputBounds=[BOUNDS[0], BOUNDS[3], BOUNDS[2], BOUNDS[1]], width=80, height=80, outputType=gdal.GDT_Float64)
    ref = ref_ds.GetRasterBand(1).ReadAsArray()
    ref_ds = None
    valid = (ours != nodata) & np.isfinite(ours)
    assert ((ref != -9999) == valid).mean() > 0.99
    both = valid & (ref != -9999)
    assert both.sum() > 1000
    np.testing.assert_allclose(ours[both], ref[both], rtol=1e-4, atol=1e-4)
    seen, log = chain.logs["interpolate"]
    assert seen and max(seen) == 100


def test_distance_is_exact(chain):
    import numpy as np
    from qgis.core import QgsGeometry, QgsPointXY, QgsVectorLayer

    ds = _raster(chain.get("distance")["OUTPUT"])
    assert _epsg(ds) == "32649" and ds.RasterXSize == 80 and ds.GetRasterBand(1).GetDescription() == "dist_faults"
    arr = ds.GetRasterBand(1).ReadAsArray().astype("float64")
    faults = QgsVectorLayer(str(chain.data / "fault_lines.gpkg"), "f", "ogr")
    union = QgsGeometry.unaryUnion([f.geometry() for f in faults.getFeatures()])
    rng = np.random.default_rng(0)
    for r, c in rng.integers(0, 80, size=(25, 2)):
        x = BOUNDS[0] + (c + 0.5) * RES
        y = BOUNDS[3] - (r + 0.5) * RES
        exact = union.distance(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        assert arr[r, c] == pytest.approx(exact, abs=0.05), (r, c)


def test_stack_and_windows(chain):
    from qgis.core import QgsVectorLayer

    st = _raster(chain.get("stack")["OUTPUT"])
    assert st.RasterCount == 4 and _epsg(st) == "32649"
    assert st.GetRasterBand(4).GetDescription() == "dist_faults"
    win = QgsVectorLayer(chain.get("tile")["OUTPUT"], "w", "ogr")
    assert win.isValid() and win.crs().authid() == "EPSG:32649"
    assert win.featureCount() > 20
    ext = win.extent()
    assert ext.xMinimum() >= BOUNDS[0] - 1 and ext.yMaximum() <= BOUNDS[3] + 1


def test_train_predict_evaluate(chain):
    import numpy as np
    from qgis.core import QgsRasterLayer

    model = Path(chain.get("train")["OUTPUT"])
    assert any(model.iterdir())
    seen, log = chain.logs["train"]
    # the bar moved during training (a network, epoch by epoch) or went to 100 (a scikit-learn model: one fit)
    assert seen and (len(set(int(p) for p in seen)) >= 3 or max(seen) == 100)
    pred = chain.get("predict")["OUTPUT"]
    layer = QgsRasterLayer(pred, "p")
    assert layer.isValid() and layer.crs().authid() == "EPSG:32649"
    ds = _raster(pred)
    arr = ds.GetRasterBand(1).ReadAsArray()
    nd = ds.GetRasterBand(1).GetNoDataValue()
    v = arr[(arr != nd) & np.isfinite(arr)]
    assert v.size > 0 and v.min() >= 0 and v.max() <= 1
    assert os.path.exists(chain.get("predict")["SCORES"])
    metrics = json.loads(Path(chain.get("evaluate")["OUTPUT"]).read_text())
    assert metrics
    assert "metrics" in chain.logs["evaluate"][1].lower() or str(chain.get("evaluate")["OUTPUT"]) in chain.logs["evaluate"][1]


def test_bad_element_from_cli_is_a_qgis_error(env, tmp_path):
    """A value only the CLI can judge (a text CSV value) comes back as a QGIS error with its message."""
    import processing
    from qgis.core import QgsProcessingException

    csv = tmp_path / "bad.csv"
    csv.write_text("x,y,Au\n500100,2800100,1.5\n500900,2800900,<0.5\n501500,2801200,2\n")
    with pytest.raises(QgsProcessingException, match="non-numeric value '<0.5'"):
        processing.run("geoprospect:interpolate", {"POINTS": csv_layer(csv), "LOG10": False, "RESOLUTION": 100, "GRID_CRS": "EPSG:32649",
                                                   "OUTPUT": str(tmp_path / "o.tif")})
    assert not (tmp_path / "o.tif").exists()


def test_ensemble_of_two_predictions(chain, tmp_path):
    """paper 003's five rules and the spread, band by band, from the real CLI."""
    import numpy as np
    from osgeo import gdal

    p1 = chain.get("predict")["OUTPUT"]
    # a second member: the first one squared (still in [0, 1], same grid and nodata)
    p2 = str(tmp_path / "p2.tif")
    gdal.Translate(p2, p1)
    ds = gdal.Open(p2, gdal.GA_Update)
    b = ds.GetRasterBand(1)
    a1 = b.ReadAsArray().astype("float64")
    nd = b.GetNoDataValue()
    valid = (a1 != nd) & np.isfinite(a1)
    b.WriteArray(np.where(valid, a1**2, nd))
    ds = b = None
    out = tmp_path / "ens.tif"
    res = chain.run("ensemble", {"INPUTS": [p1, p2], "WEIGHTS": "0.8,0.6", "WINDOWS": chain.get("tile")["OUTPUT"], "OUTPUT": str(out)})
    assert res["OUTPUT"] == str(out)
    e = _raster(out)
    names = [e.GetRasterBand(i + 1).GetDescription() for i in range(e.RasterCount)]
    assert names == ["simple_average", "weighted_average", "majority_vote", "plurality_vote", "weighted_vote", "spread_std"]
    assert _epsg(e) == "32649" and e.GetGeoTransform() == pytest.approx(_raster(p1).GetGeoTransform())
    mean = e.GetRasterBand(1).ReadAsArray().astype("float64")
    wmean = e.GetRasterBand(2).ReadAsArray().astype("float64")
    sd = e.GetRasterBand(6).ReadAsArray().astype("float64")
    np.testing.assert_allclose(mean[valid], (a1[valid] + a1[valid] ** 2) / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wmean[valid], (0.8 * a1[valid] + 0.6 * a1[valid] ** 2) / 1.4, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sd[valid], np.std(np.stack([a1[valid], a1[valid] ** 2]), axis=0), rtol=1e-4, atol=1e-6)
    votes = e.GetRasterBand(3).ReadAsArray()[valid]
    assert set(np.unique(votes)) <= {-1, 0, 1}
    assert (tmp_path / "ens.table2.json").exists()


def test_density_against_qgis_geometry(chain, tmp_path):
    """Fault length within R of a cell centre per unit area, checked with QGIS's own geometry engine."""
    import numpy as np
    from qgis.core import QgsGeometry, QgsPointXY, QgsVectorLayer

    out = tmp_path / "dens.tif"
    radius = 3000.0
    chain.run("density", {"INPUT": str(chain.data / "fault_lines.gpkg"), "RADIUS": radius, "BAND_NAME": "dens_faults",
                          "TEMPLATE": chain.get("interpolate")["OUTPUT"], "OUTPUT": str(out)})
    ds = _raster(out)
    assert _epsg(ds) == "32649" and ds.RasterXSize == 80 and ds.GetRasterBand(1).GetDescription() == "dens_faults"
    arr = ds.GetRasterBand(1).ReadAsArray().astype("float64")
    faults = QgsVectorLayer(str(chain.data / "fault_lines.gpkg"), "f", "ogr")
    union = QgsGeometry.unaryUnion([f.geometry() for f in faults.getFeatures()])
    rng = np.random.default_rng(1)
    checked = 0
    for r, c in rng.integers(0, 80, size=(30, 2)):
        centre = QgsPointXY(BOUNDS[0] + (c + 0.5) * RES, BOUNDS[3] - (r + 0.5) * RES)
        disk = QgsGeometry.fromPointXY(centre).buffer(radius, 256)
        length = union.intersection(disk).length()
        expect = length / (np.pi * radius**2)
        checked += length > 0
        # the 256-segment polygon disk is within 1e-4 of the true circle's chords
        assert arr[r, c] == pytest.approx(expect, rel=2e-3, abs=1e-9), (r, c)
    assert checked >= 5
    res = chain.run("density", {"INPUT": str(chain.data / "fault_lines.gpkg"), "RADIUS": radius, "MODE": 1,
                                "TEMPLATE": chain.get("interpolate")["OUTPUT"], "OUTPUT": str(tmp_path / "dd.tif")})
    dds = _raster(res["OUTPUT"])  # keep the dataset alive while its band is read (GDAL's Python)
    dd = dds.GetRasterBand(1).ReadAsArray()
    assert dd.min() >= 0 and dd.max() > 1  # max(0, 1 - d/R) x (1 + density / one-feature density): > 1 in fault swarms


def test_prepare_geochem_reads_censored_text(env, tmp_path):
    """Censored values as text ("<0.5") are picked as elements and replaced by half the limit."""
    from qgis.core import QgsVectorLayer

    csv = tmp_path / "assays.csv"
    rows = ["x,y,Au,As"] + [f"{500000 + 150 * i},{2800000 + 97 * i},{'<0.5' if i % 4 == 0 else 1.0 + i / 10},{3 + i % 7}" for i in range(40)]
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "prepared.gpkg"
    res = _run_alg("prepare_geochem", {"POINTS": csv_layer(csv), "ELEMENTS": ["Au", "As"], "CENSORED": 0, "OUTPUT": str(out), "REPORT": str(tmp_path / "prep.md")})
    assert Path(res["OUTPUT"]).exists() and (tmp_path / "prep.md").exists()
    layer = QgsVectorLayer(str(out), "p", "ogr")
    assert layer.isValid() and layer.crs().authid() == "EPSG:32649" and layer.featureCount() == 40
    au = sorted(f["Au"] for f in layer.getFeatures())
    assert au[:10] == [0.25] * 10  # 10 censored "<0.5" -> 0.5 / 2
    assert "Au" in (tmp_path / "prep.md").read_text()


def test_interpolate_ordinary_kriging(chain, tmp_path):
    import numpy as np

    out = tmp_path / "ok.tif"
    chain.run("interpolate", {"POINTS": csv_layer(chain.data / "samples.csv"), "ELEMENTS": ["As_ppm"], "LOG10": True, "METHOD": 1, "VARIOGRAM": 1,
                              "NEIGHBORS": 12, "GRID_CRS": "EPSG:32649", "EXTENT": f"{BOUNDS[0]},{BOUNDS[0] + 10000},{BOUNDS[1]},{BOUNDS[1] + 10000} [EPSG:32649]",
                              "RESOLUTION": RES, "OUTPUT": str(out)})
    ds = _raster(out)
    assert _epsg(ds) == "32649" and (ds.RasterXSize, ds.RasterYSize) == (20, 20)
    assert ds.GetRasterBand(1).GetDescription() == "log10_As_ppm"
    arr = ds.GetRasterBand(1).ReadAsArray().astype("float64")
    assert np.isfinite(arr).all() and 0 < arr.min() < arr.max() < 4  # log10 ppm


def _run_alg(alg, params):
    import processing

    return processing.run(f"geoprospect:{alg}", params)


@pytest.mark.slow
def test_cancel_real_run_leaves_no_partial_output(env, tmp_path):
    """Cancel `geoprospect run` on the sample data while it works: it stops within seconds and
    leaves no half-written file (finished stages may stay, complete, for --resume)."""
    import processing
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    fb = QgsProcessingFeedback()
    seen = []
    fb.progressChanged.connect(seen.append)
    started = {}

    def watch(p):
        if p > 0 and "t" not in started:
            started["t"] = time.monotonic()
            threading.Timer(3.0, fb.cancel).start()

    fb.progressChanged.connect(watch)
    out = tmp_path / "run"
    with pytest.raises(QgsProcessingException, match="[Cc]ancel"):
        processing.run("geoprospect:run", {"CONFIG": str(env / "config.yaml"), "OUTPUT": str(out)}, feedback=fb)
    stopped = time.monotonic()
    assert stopped - started["t"] < 3.0 + 8.0
    assert not (out / "prospectivity.tif").exists()
    names = [p.name for p in out.rglob("*")] if out.exists() else []
    assert not [n for n in names if n.endswith((".tmp", ".part")) or n.startswith(".tmp")], names


def test_run_from_layers_loads_outputs(env, tmp_path):
    """The whole pipeline from layers picked in the dialog; outputs queued for the project with styles."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    ctx = QgsProcessingContext()
    ctx.setProject(QgsProject.instance())
    fb = QgsProcessingFeedback()
    seen = []
    fb.progressChanged.connect(seen.append)
    out = tmp_path / "run"
    res = processing.run("geoprospect:run_layers", {
        "POINTS": csv_layer(env / "samples.csv"), "ELEMENTS": ELEMENTS, "FAULTS": str(env / "fault_lines.gpkg"),
        "ALTERATION": str(env / "alteration.gpkg"), "DEPOSITS": str(env / "deposits.gpkg"), "GRID_CRS": "EPSG:32649",
        "EXTENT": f"{BOUNDS[0]},{BOUNDS[2]},{BOUNDS[1]},{BOUNDS[3]} [EPSG:32649]", "RESOLUTION": RES,
        "EPOCHS": 1, "FOLDS": 3, "OUTPUT": str(out)}, context=ctx, feedback=fb)  # 80 x 80 cells, every cell a sample: 3 spatial folds
    prosp = res["PROSPECTIVITY"]
    assert prosp and Path(prosp).exists() and Path(res["STACK"]).exists()
    from osgeo import gdal

    st = gdal.Open(res["STACK"])
    assert st.RasterCount == len(ELEMENTS) + 2 and (st.RasterXSize, st.RasterYSize) == (80, 80)
    assert ctx.willLoadLayerOnCompletion(prosp) and ctx.willLoadLayerOnCompletion(res["STACK"])
    assert ctx.layerToLoadOnCompletionDetails(prosp).postProcessor() is not None
    assert res["MANIFEST"] and Path(res["MANIFEST"]).exists()
    assert "Run manifest" in fb.textLog()
    # one bar over the stages: it only moves forward, through each stage's slice, to 100
    assert seen == sorted(seen) and max(seen) == 100
    assert len(set(int(p) for p in seen)) >= 4


def test_select_elements_table(env, tmp_path):
    import processing

    out = tmp_path / "sel.csv"
    params = {"POINTS": csv_layer(env / "samples.csv"), "ELEMENTS": ["Au_ppb", "Cu_ppm"], "DEPOSITS": str(env / "deposits.gpkg"),
              "DISTANCE": 2000, "OUTPUT": str(out)}
    res = processing.run("geoprospect:select_elements", params)
    assert (tmp_path / "sel.md").exists()
    rows = out.read_text().splitlines()
    assert rows[0].startswith("element,") and {r.split(",")[0] for r in rows[1:]} == {"Au_ppb", "Cu_ppm"}
    assert res["OUTPUT"] == str(out)


def test_geology_one_band_per_class(chain, tmp_path):
    """Alteration polygons by type -> one 0/1 band per class, on the interpolation's grid."""
    import numpy as np
    from qgis.core import QgsVectorLayer

    out = tmp_path / "geology.tif"
    res = chain.run("geology", {"INPUT": str(chain.data / "alteration.gpkg"), "FIELD": "type", "TEMPLATE": chain.get("interpolate")["OUTPUT"], "OUTPUT": str(out)})
    assert res["OUTPUT"] == str(out)
    ds = _raster(out)
    classes = sorted({str(f["type"]) for f in QgsVectorLayer(str(chain.data / "alteration.gpkg"), "a", "ogr").getFeatures()})
    names = [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)]
    assert len(names) == len(classes) and all(any(c in n for n in names) for c in classes), (names, classes)
    assert _epsg(ds) == "32649" and ds.RasterXSize == 80
    b1 = ds.GetRasterBand(1)
    band, nodata = b1.ReadAsArray(), b1.GetNoDataValue()
    inside = band != nodata  # cells outside every polygon are nodata (issue 15; --unmapped zero gives 0)
    assert set(np.unique(band[inside])) <= {0, 1} and band[inside].max() == 1
    assert (~inside).any() and inside.any()


def test_kriging_cv_table(env, tmp_path):
    out = tmp_path / "kcv.csv"
    res = _run_alg("kriging_cv", {"POINTS": csv_layer(env / "samples.csv"), "ELEMENTS": ["As_ppm"], "MAX_POINTS": 25, "OUTPUT": str(out)})
    assert res["OUTPUT"] == str(out)
    text = out.read_text()
    assert "As_ppm" in text and len(text.splitlines()) >= 2
    assert (tmp_path / "kcv.md").exists()


@pytest.mark.slow
def test_evaluate_cv_spatial_folds(chain, tmp_path):
    """Spatial cross-validation of the chosen model through the provider: metrics, out-of-fold map, report."""
    out = tmp_path / "cv"
    res = chain.run("evaluate_cv", {"STACK": chain.get("stack")["OUTPUT"], "WINDOWS": chain.get("tile")["OUTPUT"], "DEPOSITS": str(chain.data / "deposits.gpkg"),
                                    "FOLDS": 3, "BLOCK_SIZE": 32, "EPOCHS": 1, "BATCH_SIZE": 32, "DEVICE": 1, "OUTPUT": str(out)})
    metrics = json.loads(Path(res["METRICS"]).read_text())
    assert metrics
    assert res["MAP"] and Path(res["MAP"]).exists()
    assert res["REPORT"] and res["REPORT"].endswith("index.html")
    ds = _raster(res["MAP"])
    assert _epsg(ds) == "32649"
