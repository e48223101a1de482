"""Every geoprospect algorithm run through the real command-line tool, ``qgis_process run
geoprospect:<alg> -`` (parameters as JSON on stdin), against the real geoprospect CLI, on small
inputs generated here; every output read back with QGIS's own GDAL/OGR (``osgeo`` in QGIS's
Python) and checked against values computed here by hand (IDW, distances, chord lengths, class
masks, W+, fuzzy memberships, ensemble means, AUC by Mann-Whitney).

The grid: 60 x 60 cells of 100 m in EPSG:32649; two straight faults crossing it edge to edge
(so distances and chords are exact), two geology polygons leaving a strip unmapped, ten
deposits, 90 samples whose Au decays away from the deposits.

Skipped when qgis_process or the geoprospect environment is missing (see conftest.py).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest
from conftest import PLUGIN_ROOT, SOURCE, X0, Y0, _find_geoprospect_python

RES, N = 100.0, 60
TOP = Y0 + N * RES
FAULT_Y, FAULT_X = Y0 + 3050.0, X0 + 1950.0  # a horizontal and a vertical fault, edge to edge
# off cell edges, so 'in a window' and 'in a cell' have one answer
DEPOSITS = [(X0 + 1030, Y0 + 1020), (X0 + 4530, Y0 + 1540), (X0 + 2030, Y0 + 4520), (X0 + 5030, Y0 + 5040), (X0 + 3030, Y0 + 3020),
            (X0 + 530, Y0 + 4030), (X0 + 5530, Y0 + 520), (X0 + 1530, Y0 + 2530), (X0 + 4030, Y0 + 3530), (X0 + 2530, Y0 + 5530)]  # spread: every CV fold trains on some
RADIUS = 1000.0  # density search radius
EXTENT = f"{X0},{X0 + N * RES},{Y0},{TOP} [EPSG:32649]"
ALL = ["prepare_geochem", "interpolate", "kriging_cv", "distance", "density", "geology", "stack", "select_elements", "tile", "train", "predict",
       "weights_of_evidence", "fuzzy", "evaluate", "evaluate_cv", "ensemble", "run", "run_layers"]


def centre(r: int, c: int) -> tuple[float, float]:
    return X0 + (c + 0.5) * RES, TOP - (r + 0.5) * RES


def _ogr_layer(path: Path, geoms: list[str], fields: dict[str, list]) -> Path:
    from osgeo import ogr, osr

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32649)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    lyr = ds.CreateLayer(path.stem, srs, ogr.CreateGeometryFromWkt(geoms[0]).GetGeometryType())
    for name, values in fields.items():
        lyr.CreateField(ogr.FieldDefn(name, ogr.OFTReal if isinstance(values[0], float) else ogr.OFTString))
    for i, wkt in enumerate(geoms):
        f = ogr.Feature(lyr.GetLayerDefn())
        for name, values in fields.items():
            f.SetField(name, values[i])
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        lyr.CreateFeature(f)
    ds = None
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    import random

    d = tmp_path_factory.mktemp("qp_data")
    rnd = random.Random(7)
    pts, au, as_, cu = [], [], [], []
    for _ in range(90):
        x, y = X0 + rnd.uniform(50, 5950), Y0 + rnd.uniform(50, 5950)
        near = min(math.hypot(x - dx, y - dy) for dx, dy in DEPOSITS)
        pts.append((x, y))
        au.append(round(5 + 60 * math.exp(-near / 700) + rnd.uniform(0, 3), 3))
        as_.append(round(rnd.uniform(5, 90), 3))
        cu.append(round(rnd.uniform(10, 200), 3))
    samples = _ogr_layer(d / "samples.gpkg", [f"POINT({x} {y})" for x, y in pts], {"Au": au, "As": as_, "Cu": cu})
    deposits = _ogr_layer(d / "deposits.gpkg", [f"POINT({x} {y})" for x, y in DEPOSITS], {"name": [f"d{i}" for i in range(len(DEPOSITS))]})
    faults = _ogr_layer(d / "faults.gpkg", [f"LINESTRING({X0 - 1000} {FAULT_Y}, {X0 + 7000} {FAULT_Y})", f"LINESTRING({FAULT_X} {Y0 - 1000}, {FAULT_X} {TOP + 1000})"],
                        {"kind": ["h", "v"]})
    box = lambda x1, x2: f"POLYGON(({x1} {Y0}, {x2} {Y0}, {x2} {TOP}, {x1} {TOP}, {x1} {Y0}))"  # noqa: E731
    geology = _ogr_layer(d / "geology.gpkg", [box(X0, X0 + 3000), box(X0 + 3000, X0 + 4500)], {"unit": ["granite", "basalt"]})
    return {"dir": d, "samples": samples, "deposits": deposits, "faults": faults, "geology": geology, "points": pts, "Au": au}


def _qgis_process_exe() -> str:
    import shutil

    for name in ("qgis_process", "qgis_process.bin"):
        exe = shutil.which(name)
        if exe:
            return exe
    pytest.skip("qgis_process not found")


@pytest.fixture(scope="module")
def qp(tmp_path_factory):
    """``qp(alg, inputs)``: ``qgis_process --json run geoprospect:alg -`` with the real CLI; its results."""
    exe_py, why = _find_geoprospect_python()
    if exe_py is None:
        pytest.skip(why)
    exe = _qgis_process_exe()
    profile = tmp_path_factory.mktemp("qp_profile")
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env.update(QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(profile), QGIS_PLUGINPATH=str(PLUGIN_ROOT), GEOPROSPECT_NO_BROWSER="1",
               GEOPROSPECT_EXECUTABLE=exe_py, GEOPROSPECT_PYTHONPATH=str(SOURCE))
    r = subprocess.run([exe, "plugins", "enable", "geoprospect_qgis"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr

    def run(alg: str, inputs: dict, timeout: int = 600) -> dict:
        r = subprocess.run([exe, "--json", "run", f"geoprospect:{alg}", "-"], input=json.dumps({"inputs": inputs}), env=env,
                           capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, f"qgis_process run geoprospect:{alg} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        return json.loads(r.stdout[r.stdout.index("{"):])["results"]

    run.exe, run.env = exe, env
    return run


class Outputs:
    """Each algorithm runs once (lazily); later ones take the earlier ones' outputs."""

    def __init__(self, qp, data, work: Path):
        self.qp, self.data, self.work, self.done = qp, data, work, {}

    def __getitem__(self, alg: str) -> dict:
        if alg not in self.done:
            self.done[alg] = getattr(self, "_" + alg)()
        return self.done[alg]

    def w(self, name: str) -> str:
        return str(self.work / name)

    def _interpolate(self):
        return self.qp("interpolate", {"POINTS": str(self.data["samples"]), "ELEMENTS": ["Au", "As", "Cu"], "LOG10": False, "POWER": 2.0, "NEIGHBORS": 0,
                                       "RADIUS": 3000.0, "GRID_CRS": "EPSG:32649", "EXTENT": EXTENT, "RESOLUTION": RES, "OUTPUT": self.w("idw.tif")})

    def _distance(self):
        return self.qp("distance", {"INPUT": str(self.data["faults"]), "BAND_NAME": "dist", "TEMPLATE": self["interpolate"]["OUTPUT"], "OUTPUT": self.w("dist.tif")})

    def _density(self):
        return self.qp("density", {"INPUT": str(self.data["faults"]), "RADIUS": RADIUS, "BAND_NAME": "dens", "TEMPLATE": self["interpolate"]["OUTPUT"],
                                   "OUTPUT": self.w("dens.tif")})

    def _stack(self):
        return self.qp("stack", {"RASTERS": [self["interpolate"]["OUTPUT"], self["distance"]["OUTPUT"], self["density"]["OUTPUT"]], "OUTPUT": self.w("stack.tif")})

    def _tile(self):
        return self.qp("tile", {"STACK": self["stack"]["OUTPUT"], "DEPOSITS": str(self.data["deposits"]), "SIZE": 8, "STRIDE": 4, "OUTPUT": self.w("windows.gpkg")})

    def _train(self):
        return self.qp("train", {"STACK": self["stack"]["OUTPUT"], "WINDOWS": self["tile"]["OUTPUT"], "EPOCHS": 1, "BATCH_SIZE": 32, "DEVICE": 1,
                                 "OUTPUT": self.w("model")})

    def _predict(self):
        return self.qp("predict", {"STACK": self["stack"]["OUTPUT"], "MODEL": self["train"]["OUTPUT"], "WINDOWS": self["tile"]["OUTPUT"], "DEVICE": 1,
                                   "OUTPUT": self.w("prospectivity.tif"), "SCORES": self.w("scores.gpkg")})

    def _weights_of_evidence(self):
        return self.qp("weights_of_evidence", {"STACK": self["stack"]["OUTPUT"], "DEPOSITS": str(self.data["deposits"]), "BANDS": "dist,Au",
                                               "THRESHOLDS": "dist=500", "DIRECTIONS": "dist=ascending",
                                               "OUTPUT": self.w("woe.tif"), "TABLE": self.w("woe_weights.csv")})

    def _fuzzy(self):
        return self.qp("fuzzy", {"STACK": self["stack"]["OUTPUT"], "MEMBERSHIPS": "Au:linear:0:60\ndist:linear:3000:0", "OPERATOR": 0, "WITH_MEMBERSHIPS": True,
                                 "OUTPUT": self.w("fuzzy.tif")})


@pytest.fixture(scope="module")
def out(qp, data, tmp_path_factory) -> Outputs:
    return Outputs(qp, data, tmp_path_factory.mktemp("qp_out"))


def _read(path, band: int = 1):
    """(array float64 with nodata as NaN, dataset) through QGIS's GDAL."""
    import numpy as np
    from osgeo import gdal

    ds = gdal.Open(str(path))
    assert ds is not None, path
    b = ds.GetRasterBand(band)
    a = b.ReadAsArray().astype("float64")
    nd = b.GetNoDataValue()
    if nd is not None:
        a[a == nd] = np.nan
    return a, ds


def _names(ds) -> list[str]:
    return [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)]


def _on_grid(ds) -> None:
    from osgeo import osr

    srs = osr.SpatialReference(wkt=ds.GetProjection())
    srs.AutoIdentifyEPSG()
    assert srs.GetAuthorityCode(None) == "32649"
    assert (ds.RasterXSize, ds.RasterYSize) == (N, N)
    assert ds.GetGeoTransform() == pytest.approx((X0, RES, 0, TOP, 0, -RES))


def _features(path):
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(str(path), "l", "ogr")
    assert layer.isValid(), path
    return layer


CELLS = [(0, 0), (5, 17), (29, 31), (30, 19), (44, 52), (59, 59), (12, 40)]


def test_list_shows_every_algorithm_grouped_by_stage(qp):
    r = subprocess.run([qp.exe, "--json", "list"], env=qp.env, capture_output=True, text=True, timeout=120)
    got = json.loads(r.stdout[r.stdout.index("{"):])
    algs = got["providers"]["geoprospect"]["algorithms"]
    assert sorted(a.split(":")[1] for a in algs) == sorted(ALL)
    groups = {a.split(":")[1]: v["group"] for a, v in algs.items()}
    assert groups["weights_of_evidence"] == groups["fuzzy"] == groups["predict"] == "4 · Prediction, evaluation and ensembles"
    assert groups["interpolate"] == "1 · Geochemistry" and groups["geology"] == "2 · Evidence layers and stack" and groups["run"] == "Whole pipeline"
    assert len(set(groups.values())) == 5


def test_prepare_geochem(qp, data, tmp_path):
    res = qp("prepare_geochem", {"POINTS": str(data["samples"]), "ELEMENTS": ["Au", "As"], "TRANSFORM": 1, "OUTPUT": str(tmp_path / "prep.gpkg"),
                                 "REPORT": str(tmp_path / "prep.md")})
    layer = _features(res["OUTPUT"])
    assert layer.crs().authid() == "EPSG:32649" and layer.featureCount() == 90
    got = sorted(f["Au"] for f in layer.getFeatures())
    assert got == pytest.approx(sorted(math.log10(v) for v in data["Au"]), rel=1e-9)  # the log10 transform, by hand
    assert "Au" in (tmp_path / "prep.md").read_text()


def test_interpolate_is_idw_by_hand(out, data):
    res = out["interpolate"]
    a, ds = _read(res["OUTPUT"])
    _on_grid(ds)
    assert _names(ds) == ["Au", "As", "Cu"]
    for r, c in CELLS:  # every sample within 3 km, weights 1 / d^2
        x, y = centre(r, c)
        w = [(1 / math.hypot(x - px, y - py) ** 2, v) for (px, py), v in zip(data["points"], data["Au"]) if math.hypot(x - px, y - py) <= 3000]
        assert a[r, c] == pytest.approx(sum(wi * v for wi, v in w) / sum(wi for wi, _ in w), rel=1e-5), (r, c)


def test_kriging_cv(qp, data, tmp_path):
    res = qp("kriging_cv", {"POINTS": str(data["samples"]), "ELEMENTS": ["As"], "MAX_POINTS": 20, "OUTPUT": str(tmp_path / "kcv.csv")})
    rows = Path(res["OUTPUT"]).read_text().splitlines()
    assert len(rows) >= 2 and all("As" in r for r in rows[1:])
    assert (tmp_path / "kcv.md").exists()


def test_distance_exact(out):
    a, ds = _read(out["distance"]["OUTPUT"])
    _on_grid(ds)
    assert _names(ds) == ["dist"]
    for r in range(0, N, 7):
        for c in range(0, N, 5):
            x, y = centre(r, c)
            assert a[r, c] == pytest.approx(min(abs(y - FAULT_Y), abs(x - FAULT_X)), abs=0.05), (r, c)


def test_density_is_chord_length_per_disk_area(out):
    a, ds = _read(out["density"]["OUTPUT"])
    _on_grid(ds)
    for r in range(0, N, 4):
        for c in range(0, N, 3):
            x, y = centre(r, c)
            chords = sum(2 * math.sqrt(RADIUS**2 - d**2) for d in (abs(y - FAULT_Y), abs(x - FAULT_X)) if d < RADIUS)
            assert a[r, c] == pytest.approx(chords / (math.pi * RADIUS**2), rel=3e-3, abs=1e-9), (r, c)


@pytest.mark.parametrize("unmapped", [0, 1], ids=["nodata", "zero"])
def test_geology_classes_and_unmapped(qp, out, data, tmp_path, unmapped):
    import numpy as np

    res = qp("geology", {"INPUT": str(data["geology"]), "FIELD": "unit", "UNMAPPED": unmapped, "TEMPLATE": out["interpolate"]["OUTPUT"],
                         "OUTPUT": str(tmp_path / "geology.tif")})
    _, ds = _read(res["OUTPUT"])
    _on_grid(ds)
    names = _names(ds)
    granite = next(i for i, n in enumerate(names) if "granite" in n) + 1
    g, _ = _read(res["OUTPUT"], granite)
    assert (g[:, :30] == 1).all() and (g[:, 30:45] == 0).all()  # centres inside the granite / the basalt
    if unmapped == 0:
        assert np.isnan(g[:, 45:]).all()  # no polygon: nodata
    else:
        assert (g[:, 45:] == 0).all()  # no polygon: 'none of the classes'


def test_stack(out):
    a, ds = _read(out["stack"]["OUTPUT"], 4)
    _on_grid(ds)
    assert _names(ds) == ["Au", "As", "Cu", "dist", "dens"]
    d, _ = _read(out["distance"]["OUTPUT"])
    assert (a == d).all()


def test_select_elements_auc_by_hand(qp, data, tmp_path):
    """Raw-concentration AUC of Au (samples within 800 m of a deposit are positives) = Mann-Whitney by hand."""
    import csv

    res = qp("select_elements", {"POINTS": str(data["samples"]), "ELEMENTS": ["Au", "As"], "DEPOSITS": str(data["deposits"]), "DISTANCE": 800.0,
                                 "SCORE": 1, "OUTPUT": str(tmp_path / "sel.csv")})
    rows = {r["element"]: r for r in csv.DictReader(open(res["OUTPUT"]))}
    assert set(rows) == {"Au", "As"}
    pos = [v for (x, y), v in zip(data["points"], data["Au"]) if min(math.hypot(x - dx, y - dy) for dx, dy in DEPOSITS) <= 800]
    neg = [v for (x, y), v in zip(data["points"], data["Au"]) if min(math.hypot(x - dx, y - dy) for dx, dy in DEPOSITS) > 800]
    auc = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
    col = next(k for k in rows["Au"] if k.lower() in {"auc", "auc_raw"})
    assert float(rows["Au"][col]) == pytest.approx(auc, abs=1e-6)
    assert auc > 0.8  # Au decays away from the deposits


def test_tile_labels_by_hand(out):
    from qgis.core import QgsGeometry, QgsPointXY

    layer = _features(out["tile"]["OUTPUT"])
    assert layer.crs().authid() == "EPSG:32649"
    assert layer.featureCount() == ((N - 8) // 4 + 1) ** 2
    label = next(f for f in ("label", "positive", "y") if layer.fields().indexOf(f) >= 0)
    for f in layer.getFeatures():
        inside = any(f.geometry().contains(QgsGeometry.fromPointXY(QgsPointXY(x, y))) for x, y in DEPOSITS)
        assert int(f[label]) == int(inside), f.geometry().asWkt()


@pytest.mark.slow
def test_train_predict_evaluate(out):
    import numpy as np

    assert any(Path(out["train"]["OUTPUT"]).iterdir())
    p, ds = _read(out["predict"]["OUTPUT"])
    assert ds.GetProjection() and np.isfinite(p).any()
    v = p[np.isfinite(p)]
    assert v.min() >= 0 and v.max() <= 1
    assert _features(out["predict"]["SCORES"]).featureCount() > 0
    res = out.qp("evaluate", {"PROSPECTIVITY": out["predict"]["OUTPUT"], "WINDOWS": out["tile"]["OUTPUT"], "DEPOSITS": str(out.data["deposits"]),
                              "OUTPUT": out.w("metrics.json")})
    metrics = json.loads(Path(res["OUTPUT"]).read_text())
    assert metrics and "auc" in json.dumps(metrics).lower()


def test_weights_of_evidence_w_plus_by_hand(out):
    """W+ of 'within 500 m of a fault' = ln((D_b / D) / (N_b,not-D / N_not-D)), counted here on the stack."""
    import csv

    import numpy as np

    res = out["weights_of_evidence"]
    post, ds = _read(res["OUTPUT"])
    _on_grid(ds)
    assert _names(ds) == ["posterior", "posterior_variance"]
    v = post[np.isfinite(post)]
    assert v.size == N * N and 0 < v.min() and v.max() < 1
    rows = list(csv.DictReader(open(res["TABLE"])))
    assert {r["layer"] for r in rows} == {"dist", "Au"}
    dist, _ = _read(out["stack"]["OUTPUT"], 4)
    dep = np.zeros((N, N), bool)
    for x, y in DEPOSITS:
        dep[int((TOP - y) // RES), int((x - X0) // RES)] = True
    b = dist <= 500
    n_d, n_notd = dep.sum(), (~dep).sum()
    w_plus = math.log(((b & dep).sum() / n_d) / ((b & ~dep).sum() / n_notd))
    row = next(r for r in rows if r["layer"] == "dist")
    assert float(row["W+"]) == pytest.approx(w_plus, rel=1e-6)
    assert float(row["threshold"]) == 500


def test_fuzzy_and_by_hand(out):
    import numpy as np

    res = out["fuzzy"]
    f, ds = _read(res["OUTPUT"])
    _on_grid(ds)
    assert _names(ds) == ["fuzzy_and", "mu_Au", "mu_dist"]
    au, _ = _read(out["stack"]["OUTPUT"], 1)
    dist, _ = _read(out["stack"]["OUTPUT"], 4)
    expect = np.minimum(np.clip(au / 60, 0, 1), np.clip((dist - 3000) / (0 - 3000), 0, 1))
    ok = np.isfinite(expect)
    assert ok.sum() > N * N / 2
    np.testing.assert_allclose(f[ok], expect[ok], rtol=1e-6, atol=1e-7)


def test_ensemble_of_classic_maps(out, tmp_path):
    """Two members on one grid (fuzzy overlay, weights-of-evidence posterior): the simple average and the spread by hand."""
    import numpy as np

    a, _ = _read(out["fuzzy"]["OUTPUT"])
    b, _ = _read(out["weights_of_evidence"]["OUTPUT"])
    res = out.qp("ensemble", {"INPUTS": [out["fuzzy"]["OUTPUT"], out["weights_of_evidence"]["OUTPUT"]], "OUTPUT": str(tmp_path / "ens.tif")})
    mean, ds = _read(res["OUTPUT"], 1)
    _on_grid(ds)
    sd, _ = _read(res["OUTPUT"], ds.RasterCount)
    assert _names(ds)[0] == "simple_average" and _names(ds)[-1] == "spread_std"
    ok = np.isfinite(a) & np.isfinite(b)
    np.testing.assert_allclose(mean[ok], (a[ok] + b[ok]) / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sd[ok], np.abs(a[ok] - b[ok]) / 2, rtol=1e-4, atol=1e-6)


def _run_layers_inputs(data, folder: Path) -> dict:
    return {"POINTS": str(data["samples"]), "ELEMENTS": ["Au", "As", "Cu"], "FAULTS": str(data["faults"]), "DEPOSITS": str(data["deposits"]),
            "GRID_CRS": "EPSG:32649", "EXTENT": EXTENT, "RESOLUTION": RES, "EPOCHS": 1, "FOLDS": 3, "OUTPUT": str(folder)}


def _check_run(folder: Path, res: dict) -> None:
    import numpy as np

    assert res["PROSPECTIVITY_FULLRES"] and Path(res["PROSPECTIVITY_FULLRES"]).exists()
    p, ds = _read(res["PROSPECTIVITY_FULLRES"])
    _on_grid(ds)
    v = p[np.isfinite(p)]
    assert v.size > 0 and v.min() >= 0 and v.max() <= 1
    st, sds = _read(folder / "stack.tif", 1)
    assert sds.RasterCount == 4 and _names(sds)[0].endswith("Au")
    assert json.loads((folder / "manifest.json").read_text())
    assert res["REPORT"].endswith(os.path.join("report", "index.html")) and Path(res["REPORT"]).exists()


@pytest.mark.slow
def test_run_layers_then_run_from_its_config(qp, data, tmp_path):
    """Run whole pipeline (from layers), then (from a config file) on the configuration it wrote."""
    first = tmp_path / "run_layers"
    res = qp("run_layers", _run_layers_inputs(data, first), timeout=1200)
    _check_run(first, res)
    config = first / "config_from_qgis.yaml"
    cfg = json.loads(config.read_text().split("\n", 1)[1])
    assert cfg["points"]["elements"] == ["Au", "As", "Cu"] and cfg["windows"] == {}
    second = tmp_path / "run"
    res2 = qp("run", {"CONFIG": str(config), "OUTPUT": str(second)}, timeout=1200)
    _check_run(second, res2)
    a, _ = _read(folder_file := second / "stack.tif", 1)  # same configuration, same evidence
    b, _ = _read(first / "stack.tif", 1)
    import numpy as np

    assert folder_file.exists() and np.array_equal(np.isnan(a), np.isnan(b)) and np.allclose(a[~np.isnan(a)], b[~np.isnan(b)])


@pytest.mark.slow
def test_evaluate_cv(out, tmp_path):
    res = out.qp("evaluate_cv", {"STACK": out["stack"]["OUTPUT"], "WINDOWS": out["tile"]["OUTPUT"], "DEPOSITS": str(out.data["deposits"]), "FOLDS": 3,
                                 "BLOCK_SIZE": 20, "EPOCHS": 1, "BATCH_SIZE": 32, "DEVICE": 1, "OUTPUT": str(tmp_path / "cv")})
    assert json.loads(Path(res["METRICS"]).read_text())
    m, ds = _read(res["MAP"])
    _on_grid(ds)
    assert res["REPORT"].endswith("index.html")


def test_every_algorithm_is_covered():
    """Each algorithm of the provider is run by a test in this file (keeps the list honest)."""
    text = Path(__file__).read_text()
    for alg in ALL:
        assert f'qp("{alg}"' in text or f'"_{alg}"' in text or f"def _{alg}(self)" in text, alg
