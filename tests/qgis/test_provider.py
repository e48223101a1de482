"""The provider loads in a real QGIS and declares every algorithm with its parameters."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile

import pytest
from conftest import PLUGIN_ROOT

EXPECTED = {
    "interpolate": {"POINTS", "X_FIELD", "Y_FIELD", "ELEMENTS", "METHOD", "VARIOGRAM", "POWER", "NEIGHBORS", "RADIUS", "TEMPLATE", "GRID_CRS", "EXTENT", "RESOLUTION", "OUTPUT"},
    "distance": {"INPUT", "AREA", "TEMPLATE", "GRID_CRS", "EXTENT", "RESOLUTION", "OUTPUT"},
    "density": {"INPUT", "RADIUS", "MODE", "OUTPUT"},
    "stack": {"RASTERS", "OUTPUT"},
    "select_elements": {"POINTS", "ELEMENTS", "DEPOSITS", "DISTANCE", "Z_CRIT", "OUTPUT"},
    "prepare_geochem": {"POINTS", "ELEMENTS", "CENSORED", "OUTLIERS", "TRANSFORM", "OUTPUT"},
    "tile": {"STACK", "DEPOSITS", "SIZE", "STRIDE", "MIN_VALID", "TEST_FRACTION", "SPLIT_AXIS", "OUTPUT"},
    "train": {"STACK", "WINDOWS", "MODEL", "EPOCHS", "BATCH_SIZE", "LR", "OPTIMIZER", "DEVICE", "SEED", "OUTPUT"},
    "predict": {"STACK", "MODEL", "WINDOWS", "BATCH_SIZE", "DEVICE", "OUTPUT", "SCORES"},
    "evaluate": {"PROSPECTIVITY", "WINDOWS", "DEPOSITS", "OUTPUT"},
    "ensemble": {"INPUTS", "WEIGHTS", "WEIGHTS_FROM_AUC", "THRESHOLD", "WINDOWS", "OUTPUT"},
    "run": {"CONFIG", "OVERWRITE", "OUTPUT"},
    "run_layers": {"POINTS", "RASTERS", "CATEGORICAL_RASTERS", "AREA", "FAULTS", "ALTERATION", "DEPOSITS", "RESOLUTION", "MODEL", "EPOCHS", "BATCH_SIZE", "OUTPUT"},
    "geology": {"INPUT", "FIELD", "CLASSES", "UNMAPPED", "TEMPLATE", "GRID_CRS", "EXTENT", "RESOLUTION", "OUTPUT"},
    "weights_of_evidence": {"STACK", "DEPOSITS", "BANDS", "CATEGORICAL", "THRESHOLDS", "DIRECTIONS", "MIN_STUDENTIZED", "UNIT_AREA", "MASK_BAND", "AREA", "OUTPUT", "TABLE"},
    "fuzzy": {"STACK", "MEMBERSHIPS", "OPERATOR", "GAMMA", "WITH_MEMBERSHIPS", "AREA", "OUTPUT"},
    "kriging_cv": {"POINTS", "ELEMENTS", "VARIOGRAM", "MAX_POINTS", "OUTPUT"},
    "evaluate_cv": {"STACK", "WINDOWS", "DEPOSITS", "MODEL", "FOLDS", "SPLIT", "EPOCHS", "OUTPUT"},
}


def test_provider_loads(provider):
    assert provider.id() == "geoprospect"
    assert provider.isActive()
    assert not provider.icon().isNull()


def test_qgis_python_keeps_debian_numpy():
    import numpy

    assert numpy.__version__.startswith("1."), numpy.__file__
    assert "torch" not in sys.modules and "geoprospect" not in sys.modules


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_algorithm_registered_with_parameters(provider, name):
    from qgis.core import QgsApplication

    alg = QgsApplication.processingRegistry().algorithmById(f"geoprospect:{name}")
    assert alg is not None, name
    params = {p.name(): p for p in alg.parameterDefinitions()}
    assert EXPECTED[name] <= set(params), EXPECTED[name] - set(params)
    visible = [p for p in params.values() if not p.name().startswith("_")]
    missing_help = [p.name() for p in visible if not p.help()]
    assert not missing_help, f"{name}: parameters without help: {missing_help}"
    assert alg.shortHelpString() and "geoprospect" in alg.shortHelpString()
    assert "geoprospect" not in sys.modules  # the provider never imports the library


def test_parameter_types_are_qgis_types(provider):
    from qgis.core import (
        QgsApplication,
        QgsProcessingParameterCrs,
        QgsProcessingParameterDistance,
        QgsProcessingParameterEnum,
        QgsProcessingParameterExtent,
        QgsProcessingParameterField,
        QgsProcessingParameterRasterDestination,
        QgsProcessingParameterVectorLayer,
    )

    alg = QgsApplication.processingRegistry().algorithmById("geoprospect:interpolate")
    p = alg.parameterDefinition
    assert isinstance(p("POINTS"), QgsProcessingParameterVectorLayer)
    assert isinstance(p("X_FIELD"), QgsProcessingParameterField) and p("X_FIELD").parentLayerParameterName() == "POINTS"
    assert isinstance(p("ELEMENTS"), QgsProcessingParameterField) and p("ELEMENTS").allowMultiple()
    assert isinstance(p("METHOD"), QgsProcessingParameterEnum)
    assert isinstance(p("GRID_CRS"), QgsProcessingParameterCrs)
    assert isinstance(p("EXTENT"), QgsProcessingParameterExtent)
    assert isinstance(p("RESOLUTION"), QgsProcessingParameterDistance)
    assert isinstance(p("OUTPUT"), QgsProcessingParameterRasterDestination)
    train = QgsApplication.processingRegistry().algorithmById("geoprospect:train")
    assert isinstance(train.parameterDefinition("MODEL"), QgsProcessingParameterEnum)


def test_algorithms_grouped_by_stage(provider):
    groups = {}
    for alg in provider.algorithms():
        assert alg.groupId() and alg.group(), alg.id()
        groups.setdefault(alg.group(), []).append(alg.name())
    assert len(provider.algorithms()) >= 16
    assert len(groups) == 5
    assert {"interpolate", "kriging_cv", "prepare_geochem", "select_elements"} <= set(groups["1 · Geochemistry"])
    assert {"distance", "density", "geology", "stack"} <= set(groups["2 · Evidence layers and stack"])


def test_metadata_and_zip(tmp_path):
    cp = configparser.ConfigParser()
    cp.read(PLUGIN_ROOT / "geoprospect_qgis" / "metadata.txt")
    assert cp["general"]["hasProcessingProvider"] == "yes"
    out = tmp_path / "geoprospect_qgis.zip"
    r = subprocess.run([sys.executable, str(PLUGIN_ROOT / "build_zip.py"), "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
    assert "geoprospect_qgis/metadata.txt" in names and "geoprospect_qgis/__init__.py" in names
    assert "geoprospect_qgis/styles/prospectivity.qml" in names
    assert all(n.startswith("geoprospect_qgis/") for n in names)
    assert not any("__pycache__" in n for n in names)


def test_zip_installs_as_a_plugin(tmp_path):
    """Unzip into a plugin folder (as 'Install from ZIP' does) and load it with qgis.utils."""
    out = tmp_path / "p.zip"
    subprocess.run([sys.executable, str(PLUGIN_ROOT / "build_zip.py"), "--out", str(out)], check=True, capture_output=True)
    plugins = tmp_path / "plugins"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(plugins)
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from qgis.core import QgsApplication\n"
        "app = QgsApplication([], False); app.initQgis()\n"
        "import geoprospect_qgis; p = geoprospect_qgis.classFactory(None); p.initProcessing()\n"
        "prov = QgsApplication.processingRegistry().providerById('geoprospect')\n"
        "print(len(prov.algorithms()), geoprospect_qgis.__file__)\n"
    ) % str(plugins)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    n, where = r.stdout.split()[-2:]
    assert int(n) == len(EXPECTED) and where.startswith(str(plugins))


@pytest.mark.parametrize(
    "style,kind,renderer",
    [("prospectivity", "raster", "singlebandpseudocolor"), ("uncertainty", "raster", "singlebandpseudocolor"),
     ("windows", "vector", "categorizedSymbol"), ("targets", "vector", "singleSymbol")],
)
def test_styles_load_into_real_layers(qgis_app, tmp_path, style, kind, renderer):
    from conftest import write_gpkg
    from osgeo import gdal, osr
    from qgis.core import QgsRasterLayer, QgsVectorLayer

    qml = PLUGIN_ROOT / "geoprospect_qgis" / "styles" / f"{style}.qml"
    if kind == "raster":
        path = tmp_path / "r.tif"
        ds = gdal.GetDriverByName("GTiff").Create(str(path), 4, 4, 1, gdal.GDT_Float32)
        ds.SetGeoTransform((500000, 100, 0, 2501000, 0, -100))
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(32649)
        ds.SetProjection(srs.ExportToWkt())
        ds.GetRasterBand(1).Fill(0.5)
        ds = None
        layer = QgsRasterLayer(str(path), "r")
    else:
        path = write_gpkg(tmp_path / "w.gpkg", ["POLYGON((500000 2500000, 501000 2500000, 501000 2501000, 500000 2500000))"])
        layer = QgsVectorLayer(str(path), "w", "ogr")
    msg, ok = layer.loadNamedStyle(str(qml))
    assert ok, msg
    assert layer.renderer().type() == renderer


def test_step_numbers_match_their_group(provider):
    """'1d · Select elements' sits in '1 · Geochemistry': a step's number is its group's."""
    for alg in provider.algorithms():
        group = alg.group().split(" ·")[0]
        if group.isdigit():
            assert alg.displayName().startswith(group), (alg.displayName(), alg.group())
