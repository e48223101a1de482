"""One algorithm per pipeline stage. Each is a declaration: parameters and their CLI mapping.

Every algorithm maps onto a `geoprospect` CLI command of the same release; against an older
geoprospect that lacks a command, the runner stops with a readable error naming it.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Sequence

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterDistance,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
)

from .. import cli_info
from ..cli_info import CliInfo
from .base import Arg, GeoprospectAlgorithm, ResultOutput, delimited_text_info, elements_to_argv, file_path_of, grid_to_argv, no_argv, points_to_argv
from .layers_config import check_evidence, grid_section, points_section, raster_entries, vector_entry

NUM_INT = QgsProcessingParameterNumber.Integer
NUM_DBL = QgsProcessingParameterNumber.Double
POINT_TYPES = [QgsProcessing.TypeVectorPoint]
LINE_POLY = [QgsProcessing.TypeVectorLine, QgsProcessing.TypeVectorPolygon]
ANY_GEOM = [QgsProcessing.TypeVectorAnyGeometry]
NUMERIC_FIELD = QgsProcessingParameterField.Numeric
ANY_FIELD = QgsProcessingParameterField.Any

DEVICES = ["auto", "cpu", "cuda"]
#: the model offered when the environment has not (yet) told its list: geoprospect's default
#: model of the plugin's own release (``train.model``)
FALLBACK_MODEL = "blend_cell"
#: the longest a dialog being built in QGIS Desktop waits for the environment's first answers
#: (the first dialog within seconds of pointing QGIS at a new environment); then the form opens
#: without them (numbers without a default: the CLI's own apply) and the next dialog has them
DIALOG_WAIT_S = 0.5


def _gui_thread() -> bool:
    """True in QGIS Desktop's GUI thread (a dialog being built), where waiting freezes QGIS;
    False in qgis_process, scripts and tests (platform "external") and worker threads (they may wait)."""
    return QgsApplication.platform() == "desktop" and threading.current_thread() is threading.main_thread()


def _info() -> CliInfo:
    """The environment's models and run-config schema (see cli_info); never blocks QGIS's start,
    nor the desktop's GUI for more than :data:`DIALOG_WAIT_S`."""
    got = cli_info.get(wait=not GeoprospectAlgorithm.LOADING, timeout=DIALOG_WAIT_S if _gui_thread() else None)
    return got if got is not None else CliInfo(error="still asking the geoprospect environment for its models and defaults")


def _num(name: str, desc: str, kind, key: str, minimum=None, maximum=None, info: CliInfo | None = None):
    """A number whose default is the run config's (``key`` such as ``train.epochs``).

    When the environment cannot be asked, the parameter has no default and is optional: the
    CLI then applies its own default (nothing is passed)."""
    info = info or _info()
    default = info.default(key)
    kw = {}
    if minimum is not None:
        kw["minValue"] = minimum
    if maximum is not None:
        kw["maxValue"] = maximum
    return QgsProcessingParameterNumber(name, desc, kind, default, optional=default is None, **kw)


def _enum_arg(name: str, desc: str, key: str, flag: str | None, labels: dict[str, str] | None = None, help: str = "", advanced: bool = False,
              info: CliInfo | None = None, fallback: Sequence[str] = (), **kw) -> Arg:
    """An enum whose values and default are the run config's Literal (``key``); ``fallback`` (or the
    keys of ``labels``) only when the environment cannot tell."""
    info = info or _info()
    choices = info.choices(key) or list(fallback) or list(labels or {})
    default = info.default(key)
    idx = choices.index(default) if default in choices else 0
    options = [(labels or {}).get(c, c) for c in choices]
    return Arg(QgsProcessingParameterEnum(name, desc, options=options, defaultValue=idx), flag=flag, choices=choices, help=help, advanced=advanced, **kw)


def _preset_arg(info: CliInfo | None = None) -> Arg:
    """A paper's recipe (``--preset``); values from the run config's ``train.preset`` when it has one."""
    info = info or _info()
    presets = info.choices("train.preset") or ["000", "001", "002", "003"]

    def to_argv(alg, parameters, context, feedback) -> list[str]:
        idx = alg.parameterAsEnum(parameters, "PRESET", context) if parameters.get("PRESET") not in (None, "") else 0
        return ["--preset", presets[idx - 1]] if idx > 0 else []

    return Arg(
        QgsProcessingParameterEnum("PRESET", "Paper recipe (preset)", options=["none", *(f"paper {p}" for p in presets)], defaultValue=0),
        flag="--preset",
        to_argv=to_argv,
        help="A paper's model, optimiser, schedule and augmentation. Values set in this form still override it: clear a field to take the preset's.",
        advanced=True,
    )


def _model_arg(flag: str | None, info: CliInfo | None = None, **kw) -> Arg:
    """The model list of ``geoprospect models --json`` (networks and scikit-learn baselines)."""
    info = info or _info()
    names = info.model_names() or [str(info.default("train.model") or FALLBACK_MODEL)]
    labels = {str(m["name"]): info.model_label(m) for m in info.models}
    default = info.default("train.model", names[0])
    idx = names.index(default) if default in names else 0
    about = "; ".join(f"{n}: {info.model(n).get('description', '')}" for n in names if info.model(n))
    help = ("Model, as listed by `geoprospect models` in the configured environment; the first is the recommended default. "
            "Options of network training (epochs, batch size, optimiser, augmentation) do not apply to the scikit-learn models"
            + (f" ({about})." if about else "."))
    if not info.ok:
        help += f" (Could not ask the environment: {info.error})"
    param = QgsProcessingParameterEnum("MODEL", "Model", options=[labels.get(n, n) for n in names], defaultValue=idx)
    # the dialog's picker (model_widget.py, imported by the dialog only) hides the network-only
    # fields while a scikit-learn model is picked
    param.setMetadata({"widget_wrapper": {"class": MODEL_WIDGET, "networks": [info.is_network(n) for n in names], "network_only": list(NETWORK_ONLY)}})
    return Arg(param, flag=flag, choices=names, help=help, **kw)


MODEL_WIDGET = "geoprospect_qgis.model_widget.ModelWidgetWrapper"
#: parameters of the training of networks (epochs, batches, optimiser, augmentation): a
#: scikit-learn baseline has none, so they are neither passed nor shown for one
NETWORK_ONLY = ("EPOCHS", "BATCH_SIZE", "LR", "OPTIMIZER", "WEIGHT_DECAY", "BALANCED", "DEVICE", "PRESET", "CROP", "NOISE", "FLIPS")


def chosen_model(alg, parameters, context) -> str:
    """The model picked in the form (its CLI name); '' when the algorithm has none."""
    arg = next((a for a in alg._args or alg.arguments() if a.name == "MODEL"), None)
    if arg is None or not arg.choices:
        return ""
    return str(arg.choices[alg.parameterAsEnum(parameters, "MODEL", context)])


class _ModelAlgorithm(GeoprospectAlgorithm):
    """An algorithm with a model picker: network-only options are dropped for a baseline."""

    def skipped(self, parameters, context, feedback=None) -> set[str]:
        model = chosen_model(self, parameters, context)
        if not model or _info().is_network(model):
            return set()
        used = [n for n in NETWORK_ONLY if n in parameters and self.parameterDefinition(n) is not None]
        if used and feedback is not None:
            names = ", ".join(self.parameterDefinition(n).description() for n in used)
            feedback.pushInfo(f"{model} is not a network: {names} do not apply and are not passed.")
        return {n for n in NETWORK_ONLY if self.parameterDefinition(n) is not None}


def _distance(name, desc, default, parent, optional=False, minimum=0.0):
    p = QgsProcessingParameterDistance(name, desc, defaultValue=default, parentParameterName=parent, minValue=minimum, optional=optional)
    p.setDefaultUnit(Qgis.DistanceUnit.Meters)
    return p


def _points_args(with_elements: bool = True, emit: bool = True, text_elements: bool = False) -> list[Arg]:
    """Samples layer, x/y columns, CRS, elements. emit=False: read by a custom mapping instead.

    text_elements: element columns may be text (censored "<0.5", "BDL"), as the geochemistry
    tools read them; interpolation needs numeric columns.
    """
    args = [
        Arg(
            QgsProcessingParameterVectorLayer("POINTS", "Geochemical samples", [QgsProcessing.TypeVectorPoint],
                                              defaultValue=pick_layer([0], SAMPLE_NAMES, avoid=DEPOSIT_NAMES)),
            to_argv=points_to_argv("POINTS", "X_FIELD", "Y_FIELD", "POINTS_CRS") if emit else no_argv,
            help="Point layer of samples: a CSV loaded as delimited text (x/y columns) or a GeoPackage/Shapefile of points. "
            "Suggested: a point layer named like samples/geochemistry.",
        ),
        Arg(
            QgsProcessingParameterField("X_FIELD", "X (easting) column", parentLayerParameterName="POINTS", type=NUMERIC_FIELD, optional=True),
            to_argv=no_argv,
            help="CSV column with x coordinates; empty: the column used by the delimited-text layer (or a guess such as x/easting).",
            advanced=True,
        ),
        Arg(
            QgsProcessingParameterField("Y_FIELD", "Y (northing) column", parentLayerParameterName="POINTS", type=NUMERIC_FIELD, optional=True),
            to_argv=no_argv,
            help="CSV column with y coordinates; empty: the column used by the delimited-text layer (or a guess such as y/northing).",
            advanced=True,
        ),
        Arg(
            QgsProcessingParameterCrs("POINTS_CRS", "CRS of the samples (when the file has none)", optional=True),
            to_argv=no_argv,
            help="Only for a CSV: the CRS of its coordinates. Empty: the layer's CRS.",
            advanced=True,
        ),
    ]
    if with_elements:
        args.append(
            Arg(
                QgsProcessingParameterField("ELEMENTS", "Elements", parentLayerParameterName="POINTS", type=ANY_FIELD if text_elements else NUMERIC_FIELD, allowMultiple=True, optional=True),
                flag="--elements" if emit else None,
                # numeric elements: coordinates (x/y attribute columns) never become evidence
                to_argv=(None if text_elements else elements_to_argv("POINTS", "ELEMENTS", "X_FIELD", "Y_FIELD")) if emit else no_argv,
                help="Element columns to use (e.g. Au, As, Cu). Empty: every numeric column except the coordinates"
                + (" (and every column with censored values such as '<0.5')." if text_elements else "."),
            )
        )
    return args


def area_path(alg, parameters, context, feedback, name: str = "AREA") -> str:
    """File of the study-area polygons (exported to a GeoPackage when QGIS's layer is not a
    single-layer file); '' when none is picked."""
    if not parameters.get(name):
        return ""
    return alg.parameterAsCompatibleSourceLayerPath(parameters, name, context, ["gpkg", "shp", "geojson", "fgb"], "gpkg", feedback)


def _area_arg() -> Arg:
    """The study area: optional polygons mapped to the CLI's ``--area``."""
    return Arg(
        QgsProcessingParameterFeatureSource("AREA", "Study area (polygons)", [QgsProcessing.TypeVectorPolygon], optional=True),
        flag="--area",
        to_argv=lambda alg, p, c, f: ["--area", path] if (path := area_path(alg, p, c, f)) else [],
        help="Polygons of the study area: cells outside are nodata, and cells are ranked inside it only. Empty: the whole grid.",
    )


def _grid_args(input_name: str, resolution_default: float = 100.0) -> list[Arg]:
    return [
        _area_arg(),
        Arg(
            QgsProcessingParameterRasterLayer("TEMPLATE", "Grid template raster", optional=True),
            to_argv=grid_to_argv("TEMPLATE", "EXTENT", "RESOLUTION", "GRID_CRS", input_name),
            help="A raster whose grid (CRS, cell size, extent) the output copies. When set, extent, cell size and grid CRS are ignored.",
        ),
        Arg(
            QgsProcessingParameterCrs("GRID_CRS", "Grid CRS", optional=True),
            to_argv=no_argv,
            help="Projected CRS of the output grid (metres). Empty: the CRS of the input layer. A CRS whose area of use does not contain the input is refused.",
        ),
        Arg(
            QgsProcessingParameterExtent("EXTENT", "Grid extent", optional=True),
            to_argv=no_argv,
            help="Extent of the output grid (reprojected to the grid CRS). Empty: the study area's extent when one is given, else the input's.",
        ),
        Arg(
            _distance("RESOLUTION", "Cell size", resolution_default, input_name, optional=True, minimum=0.0),
            to_argv=no_argv,
            help="Cell size in grid units (metres for a UTM grid).",
        ),
    ]


METHODS = ["idw", "kriging", "universal-kriging"]
VARIOGRAMS = ["spherical", "exponential", "gaussian", "linear", "power"]


class Interpolate(GeoprospectAlgorithm):
    GROUP = "geochemistry"
    NAME = "interpolate"
    DISPLAY = "1b · Interpolate geochemistry (IDW / kriging)"
    COMMAND = "interpolate"
    TAGS = ("idw", "kriging", "geochemistry", "interpolation")
    STAGES = ("idw",)
    HELP = (
        "Interpolates element concentrations of sample points onto a grid, one band per element, "
        "with inverse distance weighting (power, k nearest samples, search radius; matches "
        "gdal_grid invdistnn) or ordinary kriging. Cell values are computed at cell centres."
    )

    def arguments(self):
        return [
            *_points_args(),
            Arg(QgsProcessingParameterEnum("METHOD", "Method", options=["IDW (inverse distance)", "Ordinary kriging", "Universal kriging (linear drift)"], defaultValue=0), flag="--method", choices=METHODS, help="IDW (default), ordinary kriging (variogram fitted per element, k nearest samples) or universal kriging (pykrige)."),
            _enum_arg("VARIOGRAM", "Kriging variogram model", "interpolation.variogram_model", "--variogram-model", fallback=VARIOGRAMS, help="Variogram model fitted to each element (kriging only).", advanced=True),
            Arg(_num("POWER", "IDW power", NUM_DBL, "idw.power", minimum=0.1), flag="--power", help="Weight = 1 / distance^power."),
            Arg(_num("NEIGHBORS", "Nearest samples (k)", NUM_INT, "idw.neighbors", minimum=0), flag="--neighbors", help="Number of nearest samples used per cell (0 = all samples, the papers' exact formula)."),
            Arg(_distance("RADIUS", "Search radius", 3000.0, "POINTS", optional=True), flag="--radius", help="Only samples within this distance (map units) count; cells with none are nodata. Empty: unlimited."),
            Arg(_num("MIN_POINTS", "Minimum samples per cell", NUM_INT, "idw.min_points", minimum=1), flag="--min-points", help="Cells with fewer samples in reach are nodata.", advanced=True),
            Arg(_distance("SMOOTHING", "Smoothing distance", 0.0, "POINTS"), flag="--smoothing", help="Smoothing distance in map units, as gdal_grid's (0 = exact).", advanced=True),
            Arg(QgsProcessingParameterBoolean("LOG10", "Interpolate log10 of the concentrations", True), flag="--log10", help="Concentrations are log-normal: interpolating their log10 is usual (bands are then named log10_<element>)."),
            *_grid_args("POINTS"),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Interpolated elements"), flag="--out", style="evidence", help="Multiband GeoTIFF, one band per element."),
        ]

    def output_name(self, arg, parameters, context) -> str:
        """e.g. 'IDW log10 Au, As, Cu' rather than 'Interpolated elements' for every run."""
        method = ["IDW", "Ordinary kriging", "Universal kriging"][self.parameterAsEnum(parameters, "METHOD", context)]
        elements = elements_to_argv("POINTS", "ELEMENTS", "X_FIELD", "Y_FIELD")(self, parameters, context, None)
        log = " log10" if self.parameterAsBool(parameters, "LOG10", context) else ""
        return f"{method}{log} {elements[1].replace(',', ', ')}" if elements else ""


class DistanceToFeatures(GeoprospectAlgorithm):
    GROUP = "evidence"
    NAME = "distance"
    DISPLAY = "2a · Distance to features (faults, contacts, alteration)"
    COMMAND = "distance"
    TAGS = ("distance", "proximity", "faults")
    STAGES = ("distance",)
    HELP = "Exact Euclidean distance (map units) from every cell centre to the nearest line or polygon (0 inside polygons)."

    def arguments(self):
        return [
            Arg(QgsProcessingParameterFeatureSource("INPUT", "Features (lines or polygons)", LINE_POLY), layer_flag="--layer", help="Faults, geological contacts, alteration zones…"),
            Arg(QgsProcessingParameterString("BAND_NAME", "Band name", optional=True), flag="--name", help="Name of the output band (default: the file's name)."),
            Arg(QgsProcessingParameterCrs("VECTOR_CRS", "CRS of the features (when the file has none)", optional=True), flag="--vector-crs", help="Only for files without a CRS.", advanced=True),
            *_grid_args("INPUT"),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Distance"), flag="--out", style="evidence", help="Single-band GeoTIFF of distances in metres."),
        ]


class Density(GeoprospectAlgorithm):
    GROUP = "evidence"
    NAME = "density"
    DISPLAY = "2b · Feature density (line length / area per unit area)"
    COMMAND = "density"
    TAGS = ("density", "faults", "kernel")
    STAGES = ("density",)
    HELP = "Length of lines (or area of polygons) within a radius of each cell centre, per unit area: a true kernel density, not a buffered count."

    def arguments(self):
        return [
            Arg(QgsProcessingParameterFeatureSource("INPUT", "Features (lines or polygons)", LINE_POLY), layer_flag="--layer", help="Faults or alteration polygons."),
            Arg(_distance("RADIUS", "Search radius", 2000.0, "INPUT"), flag="--radius", help="Kernel radius in grid units (metres)."),
            Arg(QgsProcessingParameterEnum("MODE", "Layer", options=["density (length or area per unit area)", "distance with density (paper 003)"], defaultValue=0), flag="--mode", choices=["density", "distance-density"], help="density: feature length (lines) or area (polygons) within the radius per unit area; distance with density: max(0, 1 - d/R) x (1 + density / one-feature density), paper 003's buffer-distance layer."),
            Arg(QgsProcessingParameterString("BAND_NAME", "Band name", optional=True), flag="--name", help="Name of the output band."),
            *_grid_args("INPUT"),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Density"), flag="--out", style="evidence", help="Single-band GeoTIFF (m per m², or m² per m²)."),
        ]


class BuildStack(GeoprospectAlgorithm):
    GROUP = "evidence"
    NAME = "stack"
    DISPLAY = "2d · Build evidence stack"
    COMMAND = "stack"
    TAGS = ("stack", "evidence", "multiband")
    STAGES = ("stack",)
    HELP = "Stacks evidence rasters that share one grid into one multiband GeoTIFF with band names, nodata and statistics."

    def arguments(self):
        return [
            Arg(QgsProcessingParameterMultipleLayers("RASTERS", "Evidence rasters", QgsProcessing.TypeRaster), help="Evidence rasters (interpolated elements, distances, densities); all bands of each are kept."),
            Arg(QgsProcessingParameterRasterLayer("TEMPLATE", "Grid template", optional=True), flag="--template", help="Grid to warp every raster onto (default: the first raster's).", advanced=True),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Evidence stack"), flag="--out", style="stack", help="Multiband GeoTIFF."),
        ]


class PrepareGeochem(GeoprospectAlgorithm):
    GROUP = "geochemistry"
    NAME = "prepare_geochem"
    DISPLAY = "1a · Prepare geochemistry (censored values, outliers, transforms)"
    COMMAND = "prepare-geochem"
    TAGS = ("censored", "detection limit", "outliers", "log", "clr")
    STAGES = ("prepare-geochem",)
    HELP = (
        "Cleans a geochemical table before interpolation: values below detection ('<0.5', 'BDL', negative "
        "values) replaced by half the limit (or other rules), outliers flagged or winsorised (Tukey fences), "
        "log10/clr transform, optional z-scores. Writes the prepared points and a report."
    )

    def arguments(self):
        return [
            *_points_args(text_elements=True),
            Arg(QgsProcessingParameterEnum("CENSORED", "Values below detection", options=["half the limit", "a fraction of the limit", "Cohen's method", "missing"], defaultValue=0), flag="--censored", choices=["half", "fraction", "cohen", "missing"], help="How '<x' values are replaced."),
            Arg(QgsProcessingParameterEnum("OUTLIERS", "Outliers", options=["keep", "flag", "winsorise"], defaultValue=0), flag="--outliers", choices=["none", "flag", "winsorise"], help="Tukey fences on log10 values: count outliers only, or clip them."),
            Arg(QgsProcessingParameterEnum("TRANSFORM", "Transform", options=["none", "log10", "clr"], defaultValue=0), flag="--transform", choices=["none", "log10", "clr"], help="Transform after censoring and outliers."),
            Arg(QgsProcessingParameterBoolean("STANDARDISE", "Standardise (z-scores)", False), flag="--standardise", help="z-score every element after the transform.", advanced=True),
            Arg(QgsProcessingParameterString("FLAG_COLUMNS", "Censoring flag columns (ELEMENT=COLUMN, comma-separated)", optional=True), flag="--flag-columns", help="e.g. Au=Au_flag,As=As_q: a true flag marks the row's value as below detection.", advanced=True),
            Arg(QgsProcessingParameterVectorDestination("OUTPUT", "Prepared samples", QgsProcessing.TypeVectorPoint), flag="--out", help="GeoPackage of prepared points (keeps the CRS)."),
            Arg(QgsProcessingParameterFileDestination("REPORT", "Report", "Markdown (*.md);;JSON (*.json)", optional=True, createByDefault=False), flag="--report", help="What was replaced, clipped and transformed."),
        ]


class SelectElements(GeoprospectAlgorithm):
    GROUP = "geochemistry"
    NAME = "select_elements"
    DISPLAY = "1d · Select elements (SVM AUC + Z-AUC)"
    COMMAND = "select-elements"
    TAGS = ("elements", "feature selection", "auc")
    STAGES = ("select-elements",)
    HELP = (
        "Ranks the elements by how well they separate samples near known deposits from the rest: AUC of "
        "out-of-fold SVM scores, its Hanley-McNeil standard error and Z-AUC = (AUC - 0.5) / S_AUC; keeps the "
        "elements with Z-AUC above the critical value (papers 000-002). Writes a table (CSV + Markdown)."
    )

    def arguments(self):
        return [
            *_points_args(text_elements=True),
            Arg(QgsProcessingParameterFeatureSource("DEPOSITS", "Known deposits", ANY_GEOM), flag="--deposits", layer_flag="--deposits-layer", help="Points, lines or polygons of known deposits."),
            Arg(_distance("DISTANCE", "Positive within", 2000.0, "POINTS"), flag="--distance", help="Samples within this distance of a deposit are positives (map units)."),
            Arg(_num("Z_CRIT", "Critical Z-AUC", NUM_DBL, "selection.z_crit", minimum=0.0), flag="--z-crit", help="Keep elements with Z-AUC above this (2.58 = the 0.01 level, as in the papers)."),
            Arg(QgsProcessingParameterEnum("SCORE", "Score", options=["SVM (out-of-fold)", "raw concentration"], defaultValue=0), flag="--score", choices=["svm", "raw"], help="Which AUC decides.", advanced=True),
            Arg(QgsProcessingParameterNumber("CV", "Cross-validation folds", NUM_INT, 5, minValue=2), flag="--cv", help="Folds of the stratified cross-validation.", advanced=True),
            Arg(QgsProcessingParameterNumber("SEED", "Random seed", NUM_INT, 0, minValue=0), flag="--seed", help="Folds and subsampling.", advanced=True),
            Arg(QgsProcessingParameterFileDestination("OUTPUT", "Element table", "CSV (*.csv)"), flag="--out", help="CSV table (AUC, S_AUC, Z_AUC, selected); a Markdown copy is written beside it."),
        ]


class MakeWindows(GeoprospectAlgorithm):
    GROUP = "training"
    NAME = "tile"
    DISPLAY = "3a · Make windows (labels and spatial split)"
    COMMAND = "tile"
    TAGS = ("windows", "tiles", "labels", "split")
    STAGES = ("tile",)
    HELP = (
        "Cuts the stack into square windows, labels each positive when a known deposit lies in it, drops "
        "windows with too little valid data, and splits them into training and test blocks along rows or columns "
        "(spatial split: overlapping windows would leak across a random one)."
    )

    def arguments(self):
        return [
            Arg(QgsProcessingParameterRasterLayer("STACK", "Evidence stack"), help="Multiband stack from 'Build evidence stack'."),
            Arg(QgsProcessingParameterFeatureSource("DEPOSITS", "Known deposits", ANY_GEOM), flag="--deposits", layer_flag="--deposits-layer", help="Points or polygons of known deposits."),
            Arg(_num("SIZE", "Window size (cells)", NUM_INT, "windows.size", minimum=4), flag="--size", help="Side of a window in cells."),
            Arg(_num("STRIDE", "Stride (cells)", NUM_INT, "windows.stride", minimum=1), flag="--stride", help="Step between windows in cells."),
            Arg(_num("MIN_VALID", "Minimum valid fraction", NUM_DBL, "windows.min_valid", minimum=0.0, maximum=1.0), flag="--min-valid", help="Windows with less valid data are dropped (and counted).", advanced=True),
            Arg(_num("TEST_FRACTION", "Test fraction", NUM_DBL, "windows.test_fraction", minimum=0.01, maximum=0.99), flag="--test-fraction", help="Fraction of the area held out for testing."),
            _enum_arg("SPLIT_AXIS", "Split along", "windows.split_axis", "--split-axis", labels={"rows": "rows (north/south blocks)", "cols": "columns (east/west blocks)"}, help="Direction of the spatial train/test split."),
            _enum_arg("TEST_SIDE", "Test block at", "windows.test_side", "--test-side", labels={"end": "end (south / east)", "start": "start (north / west)"}, help="Which end of the area is held out.", advanced=True),
            Arg(QgsProcessingParameterVectorDestination("OUTPUT", "Windows", QgsProcessing.TypeVectorPolygon), flag="--out", style="windows", help="GeoPackage of window polygons with label and split."),
        ]


class TrainModel(_ModelAlgorithm):
    GROUP = "training"
    NAME = "train"
    DISPLAY = "3b · Train model"
    COMMAND = "train"
    TAGS = ("cnn", "deep learning", "torch", "train")
    STAGES = ("train",)
    HELP = "Trains a CNN on the training windows (PyTorch, in the geoprospect environment). The bar moves per epoch and batch."

    def arguments(self):
        return [
            Arg(QgsProcessingParameterRasterLayer("STACK", "Evidence stack"), help="The stack the windows were cut from."),
            Arg(QgsProcessingParameterFeatureSource("WINDOWS", "Windows", [QgsProcessing.TypeVectorPolygon]), help="Output of 'Make windows'."),
            _model_arg("--model"),
            Arg(_num("EPOCHS", "Epochs", NUM_INT, "train.epochs", minimum=1), flag="--epochs", help="Passes over the training windows."),
            Arg(_num("BATCH_SIZE", "Batch size", NUM_INT, "train.batch_size", minimum=1), flag="--batch-size", help="Windows per batch.", advanced=True),
            Arg(_num("LR", "Learning rate", NUM_DBL, "train.lr", minimum=1e-7), flag="--lr", help="Optimizer step size.", advanced=True),
            _enum_arg("OPTIMIZER", "Optimizer", "train.optimizer", "--optimizer", fallback=("adam", "sgd"), help="Adam or SGD with momentum.", advanced=True),
            Arg(_num("WEIGHT_DECAY", "Weight decay", NUM_DBL, "train.weight_decay", minimum=0.0), flag="--weight-decay", help="L2 penalty.", advanced=True),
            Arg(QgsProcessingParameterBoolean("BALANCED", "Class-balanced sampling", True), to_argv=lambda alg, p, c, f: ["--balanced" if alg.parameterAsBool(p, "BALANCED", c) else "--no-balanced"], help="Sample positive and negative training windows equally often.", advanced=True),
            Arg(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0), flag="--device", choices=DEVICES, help="auto uses CUDA when the environment has a GPU.", advanced=True),
            Arg(_num("SEED", "Random seed", NUM_INT, "train.seed", minimum=0), flag="--seed", help="Same seed, same model.", advanced=True),
            _preset_arg(),
            Arg(QgsProcessingParameterNumber("CROP", "Random crop (pixels)", NUM_INT, None, optional=True, minValue=1), flag="--crop", help="Random crops of this side while training (papers 001/002: 224 of 256), centre crops when scoring; empty: whole windows.", advanced=True),
            Arg(QgsProcessingParameterNumber("NOISE", "Gaussian noise variance", NUM_DBL, None, optional=True, minValue=0.0), flag="--noise", help="Noise added to training windows (papers 000/001: 0.01); empty: none.", advanced=True),
            Arg(QgsProcessingParameterBoolean("FLIPS", "Random flips and 90° rotations", False), flag="--flips", help="Augmentation of paper 002.", advanced=True),
            Arg(QgsProcessingParameterFolderDestination("OUTPUT", "Model folder"), flag="--out", help="Folder with the weights and their JSON sidecar."),
        ]


class Predict(GeoprospectAlgorithm):
    GROUP = "prediction"
    NAME = "predict"
    DISPLAY = "4a · Predict prospectivity"
    COMMAND = "predict"
    TAGS = ("predict", "prospectivity", "map")
    STAGES = ("predict",)
    HELP = "Slides the trained model over the whole stack and writes the prospectivity GeoTIFF (and window scores). The bar moves per batch of windows."

    def arguments(self):
        return [
            Arg(QgsProcessingParameterRasterLayer("STACK", "Evidence stack"), help="Stack with the same bands as in training."),
            Arg(QgsProcessingParameterFile("MODEL", "Model folder", behavior=QgsProcessingParameterFile.Folder), help="Output folder of 'Train model'."),
            Arg(QgsProcessingParameterFeatureSource("WINDOWS", "Windows (to join labels and splits)", [QgsProcessing.TypeVectorPolygon], optional=True), flag="--windows", help="Output of 'Make windows': its labels and train/test split are joined into the window scores (needed by 'Evaluate')."),
            Arg(QgsProcessingParameterNumber("MIN_VALID", "Minimum valid fraction", NUM_DBL, 0.5, minValue=0.0, maxValue=1.0), flag="--min-valid", help="Windows with less valid data are not scored.", advanced=True),
            Arg(_num("BATCH_SIZE", "Batch size", NUM_INT, "predict.batch_size", minimum=1), flag="--batch-size", help="Windows per batch.", advanced=True),
            Arg(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0), flag="--device", choices=DEVICES, help="auto uses CUDA when available.", advanced=True),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Prospectivity"), flag="--out", style="prospectivity", help="Prospectivity GeoTIFF (0–1)."),
            Arg(QgsProcessingParameterVectorDestination("SCORES", "Window scores", QgsProcessing.TypeVectorPolygon, optional=True, createByDefault=False), flag="--scores-out", style="windows", help="GeoPackage of windows with their scores (default: beside the prospectivity file)."),
        ]


class Evaluate(GeoprospectAlgorithm):
    GROUP = "prediction"
    NAME = "evaluate"
    DISPLAY = "4d · Evaluate (ROC/AUC, success-rate curve)"
    COMMAND = "evaluate"
    TAGS = ("evaluate", "auc", "roc", "success rate")
    STAGES = ("evaluate",)
    HELP = "Scores the prediction on held-out windows and deposits: accuracy, F1, ROC AUC, deposits captured in the top 5/10/20 % of the area, success-rate curve."

    def arguments(self):
        return [
            Arg(QgsProcessingParameterRasterLayer("PROSPECTIVITY", "Prospectivity"), help="Output of 'Predict prospectivity'."),
            Arg(QgsProcessingParameterFeatureSource("WINDOWS", "Windows", [QgsProcessing.TypeVectorPolygon]), flag="--windows", help="Output of 'Make windows' (gives the test split)."),
            Arg(QgsProcessingParameterFeatureSource("DEPOSITS", "Known deposits", ANY_GEOM), flag="--deposits", layer_flag="--deposits-layer", help="Points or polygons of known deposits."),
            Arg(QgsProcessingParameterFileDestination("OUTPUT", "Metrics", "JSON (*.json)"), flag="--out", help="JSON file of metrics; its path is printed in the log."),
        ]


class Ensemble(GeoprospectAlgorithm):
    GROUP = "prediction"
    NAME = "ensemble"
    DISPLAY = "4e · Ensemble (average, weighted average, majority, plurality and weighted votes; uncertainty)"
    COMMAND = "ensemble"
    TAGS = ("ensemble", "uncertainty", "voting")
    STAGES = ("ensemble",)
    HELP = (
        "Combines prospectivity maps of several models on one grid with five rules (as in paper 003): simple average, "
        "weighted average, majority vote, plurality vote and weighted vote (vote bands: 1 ore-bearing, 0 not, -1 refused), plus the "
        "members' spread (standard deviation) as uncertainty. One GeoTIFF, a band per rule (band 1 = simple average)."
    )

    def arguments(self):
        return [
            Arg(QgsProcessingParameterMultipleLayers("INPUTS", "Prospectivity maps", QgsProcessing.TypeRaster), help="Two or more prospectivity rasters on the same grid (band 1 = deposit probability)."),
            Arg(QgsProcessingParameterString("WEIGHTS", "Weights (comma-separated, one per map)", optional=True), flag="--weights", help="e.g. the members' validation AUCs; empty: equal weights."),
            Arg(QgsProcessingParameterBoolean("WEIGHTS_FROM_AUC", "Weights are ROC AUCs", False), flag="--weights-from-auc", help="Turn the weights (AUCs) into max(AUC - 0.5, 0), normalised.", advanced=True),
            Arg(QgsProcessingParameterNumber("THRESHOLD", "Vote threshold", NUM_DBL, 0.5, minValue=0.0, maxValue=1.0), flag="--threshold", help="Probability at or above which a member votes 'ore-bearing'.", advanced=True),
            Arg(QgsProcessingParameterFeatureSource("WINDOWS", "Windows (to count ore-bearing windows per rule)", [QgsProcessing.TypeVectorPolygon], optional=True), flag="--windows", help="Window index: adds the counts of ore-bearing windows per rule as JSON beside the output.", advanced=True),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Ensemble"), flag="--out", style="prospectivity", help="Multiband GeoTIFF: simple_average, weighted_average, majority_vote, plurality_vote, weighted_vote, spread_std."),
        ]


# ---- algorithms added for issue 16 (categorical layers, kriging cross-validation, spatial CV)

class Geology(GeoprospectAlgorithm):
    NAME = "geology"
    DISPLAY = "2c · Geology / categorical layers (one 0/1 band per class)"
    COMMAND = "geology"
    GROUP = "evidence"
    TAGS = ("geology", "lithology", "categorical", "one-hot")
    STAGES = ("geology",)
    HELP = "Burns geology (or any class) polygons onto the grid as one 0/1 band per class, named after the class (cells whose centre is inside, or every touched cell)."

    def arguments(self):
        return [
            Arg(QgsProcessingParameterFeatureSource("INPUT", "Geology polygons", [QgsProcessing.TypeVectorPolygon]), layer_flag="--layer", help="Polygons of rock units, alteration types…"),
            Arg(QgsProcessingParameterField("FIELD", "Class column", parentLayerParameterName="INPUT", type=ANY_FIELD), flag="--field", help="Column holding the class (rock unit, alteration type…)."),
            Arg(QgsProcessingParameterString("CLASSES", "Classes to keep (comma-separated, in band order)", optional=True), flag="--classes", help="Empty: every class present."),
            Arg(QgsProcessingParameterBoolean("ALL_TOUCHED", "Every touched cell", False), flag="--all-touched", help="Burn every cell a polygon touches (default: cells whose centre is inside).", advanced=True),
            Arg(QgsProcessingParameterEnum("UNMAPPED", "Cells outside every polygon", options=["nodata (unmapped)", "0 (none of the classes)"], defaultValue=0), flag="--unmapped", choices=["nodata", "zero"],
                help="nodata: cells no polygon covers are nodata in every class band (the map does not say what is there); 0: they read as 'none of the classes'. The share of such cells is warned in the log."),
            Arg(QgsProcessingParameterCrs("VECTOR_CRS", "CRS of the polygons (when the file has none)", optional=True), flag="--vector-crs", help="Only for files without a CRS.", advanced=True),
            *_grid_args("INPUT"),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Geology bands"), flag="--out", style="evidence", help="Multiband GeoTIFF, one 0/1 band per class."),
        ]


class KrigingCV(GeoprospectAlgorithm):
    NAME = "kriging_cv"
    DISPLAY = "1c · Interpolation cross-validation (IDW vs kriging)"
    COMMAND = "kriging-cv"
    GROUP = "geochemistry"
    TAGS = ("kriging", "idw", "cross-validation", "leave-one-out")
    STAGES = ("kriging-cv",)
    HELP = (
        "Leave-one-out errors of IDW, ordinary and universal kriging for each element on the samples themselves "
        "(RMSE, MAE, bias): which interpolator to trust before building the stack. Writes a CSV table and a Markdown copy."
    )

    def arguments(self):
        return [
            *_points_args(text_elements=True),
            Arg(QgsProcessingParameterCrs("WORK_CRS", "Projected CRS for distances", optional=True), flag="--work-crs", help="Empty: the samples' CRS (which must then be projected).", advanced=True),
            _enum_arg("VARIOGRAM", "Variogram model", "interpolation.variogram_model", "--variogram-model", fallback=VARIOGRAMS, help="Variogram model fitted per element."),
            Arg(QgsProcessingParameterNumber("MAX_POINTS", "Samples held out per element (0 = all)", NUM_INT, None, optional=True, minValue=0), flag="--max-points", help="Hold out at most this many random samples per element; empty: geoprospect's default (all)."),
            Arg(QgsProcessingParameterNumber("SEED", "Random seed", NUM_INT, None, optional=True, minValue=0), flag="--seed", help="For the held-out subset; empty: geoprospect's default.", advanced=True),
            Arg(QgsProcessingParameterFileDestination("OUTPUT", "Error table", "CSV (*.csv)"), flag="--out", help="CSV of errors per element and method; a Markdown copy is written beside it."),
        ]


class EvaluateCV(_ModelAlgorithm):
    NAME = "evaluate_cv"
    DISPLAY = "3c · Spatial cross-validation (models and baselines)"
    COMMAND = "evaluate-cv"
    GROUP = "training"
    TAGS = ("cross-validation", "spatial", "folds", "baseline", "random forest")
    STAGES = ("evaluate-cv",)
    HELP = (
        "Trains and scores the chosen model (a network or a scikit-learn baseline) on spatial folds: each block of the "
        "map is predicted by a model that never saw it (with a buffer of half a window), giving out-of-fold "
        "prospectivity, deposit capture in the top 5/10/20 % of the area and the success-rate curve."
    )

    def arguments(self):
        info = _info()
        return [
            Arg(QgsProcessingParameterRasterLayer("STACK", "Evidence stack"), help="The stack the windows were cut from."),
            Arg(QgsProcessingParameterFeatureSource("WINDOWS", "Windows", [QgsProcessing.TypeVectorPolygon]), flag="--windows", help="Output of 'Make windows' (labels; its train/test split is ignored)."),
            Arg(QgsProcessingParameterFeatureSource("DEPOSITS", "Known deposits", ANY_GEOM), flag="--deposits", layer_flag="--deposits-layer", help="Points or polygons of known deposits (capture figures)."),
            _model_arg("--model", info=info),
            Arg(QgsProcessingParameterNumber("FOLDS", "Folds", NUM_INT, None, optional=True, minValue=2), flag="--folds", help="Number of spatial folds; empty: geoprospect's default."),
            Arg(QgsProcessingParameterEnum("SPLIT", "Split", options=["spatial blocks", "random (optimistic: overlapping windows leak)"], defaultValue=0), flag="--split", choices=["spatial", "random"], help="Spatial blocks (default) or a random split, labelled so in the report."),
            Arg(QgsProcessingParameterNumber("BLOCK_SIZE", "Block side (pixels)", NUM_INT, None, optional=True, minValue=1), flag="--block-size", help="Empty: 4 windows or 1/8 of the shorter side.", advanced=True),
            Arg(QgsProcessingParameterNumber("BUFFER", "Buffer (pixels)", NUM_INT, None, optional=True, minValue=0), flag="--buffer", help="Pixels between training windows and the test block; empty: half a window.", advanced=True),
            Arg(_num("EPOCHS", "Epochs", NUM_INT, "train.epochs", minimum=1, info=info), flag="--epochs", help="Passes over the training windows of each fold (networks)."),
            Arg(_num("BATCH_SIZE", "Batch size", NUM_INT, "train.batch_size", minimum=1, info=info), flag="--batch-size", help="Windows per batch.", advanced=True),
            Arg(_num("LR", "Learning rate", NUM_DBL, "train.lr", minimum=1e-7, info=info), flag="--lr", help="Optimizer step size.", advanced=True),
            Arg(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0), flag="--device", choices=DEVICES, help="auto uses CUDA when available.", advanced=True),
            Arg(_num("SEED", "Random seed", NUM_INT, "train.seed", minimum=0, info=info), flag="--seed", help="Same seed, same folds and models.", advanced=True),
            Arg(QgsProcessingParameterFolderDestination("OUTPUT", "Output folder"), flag="--out", help="cv_metrics.json, cv_prospectivity.tif (out-of-fold) and report/."),
        ]

    def result_outputs(self):
        return [
            ResultOutput("metrics", "Cross-validation metrics", "file", None, "cv_metrics.json"),
            ResultOutput("map", "Out-of-fold prospectivity", "raster", "prospectivity", "cv_prospectivity.tif"),
            ResultOutput("report", "Report", "html", None, os.path.join("report", "index.html")),
        ]


# ---- whole pipeline ---------------------------------------------------------------------

RUN_OUTPUTS = [
    ResultOutput("prospectivity_fullres", "Prospectivity (full resolution)", "file", None, "prospectivity_fullres.tif"),
    ResultOutput("prospectivity", "Prospectivity and logit margin (one score per cell)", "file", None, "prospectivity.tif"),
    ResultOutput("classes", "Prospectivity classes", "file", None, "classes.tif"),
    ResultOutput("uncertainty", "Uncertainty", "file", None, "uncertainty.tif"),
    ResultOutput("attribution", "Attribution (per evidence band)", "file", None, "attribution.tif"),
    ResultOutput("targets", "Targets", "file", None, "targets.gpkg"),
    ResultOutput("scores", "Window scores", "file", None, "scores.gpkg"),
    ResultOutput("stack", "Evidence stack", "file", None, "stack.tif"),
    ResultOutput("windows", "Windows", "file", None, "windows.gpkg"),
    ResultOutput("report", "Report", "html", None, os.path.join("report", "index.html")),
    ResultOutput("map", "Map", "file", None, "map.png"),
    ResultOutput("metrics", "Metrics", "file", None, "metrics.json"),
    ResultOutput("manifest", "Run manifest", "file", None, "manifest.json"),
]


def _is_temporary(value, path: str) -> bool:
    from qgis.core import QgsProcessingUtils

    return value in (None, "", "TEMPORARY_OUTPUT") or path.startswith(QgsProcessingUtils.tempFolder())


def _project_home() -> str:
    from qgis.core import QgsProject

    home = QgsProject.instance().homePath()
    return home if home and os.path.isdir(home) else ""


def default_run_folder(anchor: str = "") -> str:
    """A new run folder beside the project (or beside ``anchor``, the input file), never a temporary one."""
    import time

    base = _project_home() or (os.path.dirname(anchor) if anchor and os.path.isabs(anchor) else "") or os.path.expanduser("~")
    return os.path.join(base, "geoprospect-runs", time.strftime("run-%Y%m%d-%H%M%S"))


class _RunBase(GeoprospectAlgorithm):
    GROUP = "pipeline"
    COMMAND = "run"
    LOADS_RUN = True
    # stage names of the CLI's progress lines, weighted by their usual share of the run time
    # "stack" is the block-wise evidence build (IDW/kriging, distances, densities in one pass)
    STAGES = (("select-elements", 3), ("idw", 10), ("kriging", 10), ("distance", 7), ("stack", 20), ("train", 40), ("predict", 10))
    # after its last progress line (predict, once per fold) a run still evaluates, ranks the
    # baselines and writes its report: on the sample data 14 of 39 s (a baseline model)
    PROGRESS_RESERVE = 20.0
    TAGS = ("pipeline", "run", "config")

    def __init__(self) -> None:
        super().__init__()
        self._folder = ""
        self._report = ""

    def result_outputs(self):
        return RUN_OUTPUTS

    def anchor_path(self, parameters, context) -> str:
        """The input file a default output folder is put beside."""
        return ""

    def run_folder(self, parameters, context) -> str:
        """The output folder: the one picked, or a new one beside the project / input (not a temporary folder)."""
        if not self._folder:
            path = self.parameterAsFileOutput(parameters, "OUTPUT", context)
            if _is_temporary(parameters.get("OUTPUT"), path or ""):
                path = default_run_folder(self.anchor_path(parameters, context))
            self._folder = path
        return self._folder

    def out_argv(self, parameters, context, feedback) -> list[str]:
        return ["--out", self.run_folder(parameters, context)]

    def output_arg(self, anchor: str = "") -> Arg:
        # the default is the folder the run will use (shown in the form), not QGIS's
        # "[Save to temporary folder]" placeholder
        return Arg(
            QgsProcessingParameterFolderDestination("OUTPUT", "Output folder", defaultValue=default_run_folder(anchor)),
            flag="--out",
            to_argv=lambda alg, p, c, f: alg.out_argv(p, c, f),
            help="Folder for all outputs (stack, windows, model, prospectivity, metrics, report). Default: a new folder "
            "geoprospect-runs/run-<date> beside the project (or beside the samples file when the project is not saved), "
            "shown in the field; a temporary folder is never used.",
        )

    def destination_paths(self, parameters, context) -> dict[str, str]:
        return {"OUTPUT": self.run_folder(parameters, context)}

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        warn = _info().version_warning() if not GeoprospectAlgorithm.LOADING else ""
        if warn:
            feedback.pushWarning(warn)
        results = super().processAlgorithm(parameters, context, feedback)
        self._report = results.get("REPORT") or ""
        if self._report:
            feedback.pushInfo(f"Report: {self._report} (opens in the browser when the run ends)")
        return results

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802 - QGIS's main thread
        if self._report and _interactive():
            from qgis.PyQt.QtCore import QUrl
            from qgis.PyQt.QtGui import QDesktopServices

            QDesktopServices.openUrl(QUrl.fromLocalFile(self._report))
        return {}


def _interactive() -> bool:
    """True in the QGIS desktop (not qgis_process, tests or offscreen)."""
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen" or os.environ.get("GEOPROSPECT_NO_BROWSER"):
        return False
    try:
        from qgis.utils import iface
    except ImportError:
        return False
    return iface is not None and hasattr(iface, "mainWindow") and iface.mainWindow() is not None


class RunPipeline(_RunBase):
    NAME = "run"
    DISPLAY = "Run whole pipeline (from a config file)"
    HELP = (
        "Runs every stage from a YAML configuration (the same file as `geoprospect run config.yaml`) into one "
        "output folder, then loads the run as one group: known deposits and targets on top, the full-resolution "
        "prospectivity with its classes and uncertainty, window scores, and (hidden) the evidence stack and window "
        "grids. The HTML report opens when the run ends. Leave the configuration empty to run the bundled sample data."
    )

    def anchor_path(self, parameters, context) -> str:
        return self.parameterAsFile(parameters, "CONFIG", context) if parameters.get("CONFIG") else ""

    def arguments(self):
        return [
            Arg(QgsProcessingParameterFile("CONFIG", "Configuration (YAML)", extension="yaml", optional=True), help="geoprospect run configuration; empty: the bundled sample data."),
            Arg(QgsProcessingParameterBoolean("OVERWRITE", "Overwrite an existing run in the folder", False), flag="--overwrite", help="Replace outputs of an earlier run in the same folder."),
            Arg(QgsProcessingParameterBoolean("RESUME", "Resume an interrupted run", False), flag="--resume", help="Continue from the last finished stage of a run in the same folder."),
            self.output_arg(),
        ]


# ---- run from layers: the form's layers are picked by geometry and name, never the active layer

SAMPLE_NAMES = ("sample", "geochem", "assay", "soil", "stream", "sediment", "rock")
DEPOSIT_NAMES = ("deposit", "occurrence", "mine", "prospect", "orebod", "mineralis", "mineraliz", "showing", "known")
FAULT_NAMES = ("fault", "lineament", "structur", "shear")
ALTERATION_NAMES = ("alteration", "altered", "gossan")


def pick_layer(geometries: Sequence[int], names: Sequence[str], exclude: Sequence[str] = (), avoid: Sequence[str] = ()) -> str | None:
    """Id of the project's vector layer of one of ``geometries`` whose name holds one of ``names``
    (and none of ``avoid``); None when there is none (the field then stays empty)."""
    from qgis.core import QgsProject, QgsVectorLayer

    for layer in QgsProject.instance().mapLayers().values():
        if not isinstance(layer, QgsVectorLayer) or layer.id() in exclude:
            continue
        geometry = layer.geometryType()
        if int(getattr(geometry, "value", geometry)) not in geometries:  # 0 point, 1 line, 2 polygon
            continue
        low = layer.name().lower()
        if any(n in low for n in names) and not any(n in low for n in avoid):
            return layer.id()
    return None


def layer_file(layer_id: str | None) -> str:
    """The file behind a project layer (a CSV's path for delimited text); '' when none."""
    from qgis.core import QgsProject

    layer = QgsProject.instance().mapLayer(layer_id) if layer_id else None
    info = delimited_text_info(layer)
    return info["path"] if info else file_path_of(layer)[0]


def _source_key(alg, parameters, name, context) -> str:
    layer = alg.parameterAsVectorLayer(parameters, name, context)
    if layer is not None:
        path, sub = file_path_of(layer)
        return f"{path}|{sub or ''}" if path else layer.source()
    return str(parameters.get(name))


def _training_sections(alg, parameters, context) -> tuple[dict, dict, dict]:
    """The run configuration's train, windows and evaluation sections from the form; epochs and
    batch size only for a network (a scikit-learn model has none)."""
    names = alg.parameterDefinition("MODEL").options()
    model = alg._model_choices[alg.parameterAsEnum(parameters, "MODEL", context)] if alg._model_choices else names[0]
    train: dict = {"model": model}

    def form_int(name: str) -> int | None:
        """The value in the form: the one given, else the default it shows (the CLI's)."""
        value = parameters.get(name)
        if value in (None, ""):
            value = alg.parameterDefinition(name).defaultValue()
            return None if value in (None, "") else int(value)
        return alg.parameterAsInt(parameters, name, context)

    network = _info().is_network(model)
    for key, pname in (("epochs", "EPOCHS"), ("batch_size", "BATCH_SIZE")):
        if network and form_int(pname) is not None:
            train[key] = form_int(pname)
    windows = {k: form_int(p) for k, p in (("size", "SIZE"), ("stride", "STRIDE")) if form_int(p) is not None}
    evaluation = {"folds": form_int("FOLDS")} if form_int("FOLDS") is not None else {}
    return train, windows, evaluation


def _evidence_sections(alg, parameters, context, feedback) -> dict:
    """``points``/``idw``, ``rasters`` and ``vectors`` of the run configuration: only the inputs picked."""
    cfg: dict = {}
    if alg.given(parameters, "POINTS"):
        cfg["points"] = points_section(alg, parameters, context, feedback)
        radius = parameters.get("RADIUS")
        cfg["idw"] = {"radius": alg.parameterAsDouble(parameters, "RADIUS", context)} if radius not in (None, "") else {}
    taken = {"dist_faults", "dist_alteration"}
    rasters = raster_entries(alg, parameters, context, taken)
    if rasters:
        cfg["rasters"] = rasters
    vectors = []
    for name in ("FAULTS", "ALTERATION"):
        v = vector_entry(alg, parameters, name, context, feedback)
        if v:
            vectors.append({"name": f"dist_{name.lower()}", **v})
    if vectors:
        cfg["vectors"] = vectors
    return cfg


def _config_from_layers(alg, parameters, context, feedback) -> list[str]:
    """Write a run configuration (JSON, which is valid YAML) from the layers picked in the dialog."""
    area = area_path(alg, parameters, context, feedback)
    out = alg.run_folder(parameters, context)
    train, windows, evaluation = _training_sections(alg, parameters, context)
    cfg = {
        "name": "geoprospect run from QGIS",
        **_evidence_sections(alg, parameters, context, feedback),
        "grid": grid_section(alg, parameters, context),
        "deposits": vector_entry(alg, parameters, "DEPOSITS", context, feedback),
        **({"area": {"path": area}} if area else {}),
        "windows": windows,
        "train": train,
        **({"evaluation": evaluation} if evaluation else {}),
        "output": out,
    }
    os.makedirs(out, exist_ok=True)
    # kept beside the outputs so the run can be repeated with `geoprospect run` (JSON is YAML)
    path = os.path.join(out, "config_from_qgis.yaml")
    with open(path + ".part", "w", encoding="utf-8") as f:
        f.write("# written by the geoprospect QGIS plugin (JSON is valid YAML)\n")
        json.dump(cfg, f, indent=2)
    os.replace(path + ".part", path)
    feedback.pushInfo(f"Configuration written to {path}")
    return [path]


def _run_inputs(points: str | None) -> list[Arg]:
    """The input layers of the run from layers: samples (optional), rasters, faults, alteration,
    deposits (required), study area; suggested by geometry and name, never the active layer."""
    deposits = pick_layer([0, 2], DEPOSIT_NAMES, exclude=[points] if points else [])
    args = _points_args(emit=False)
    args[0] = Arg(
        QgsProcessingParameterVectorLayer("POINTS", "Geochemical samples", [QgsProcessing.TypeVectorPoint], defaultValue=points, optional=True),
        to_argv=no_argv,
        help="Point layer of samples: a CSV loaded as delimited text or a GeoPackage/Shapefile of points, interpolated into one "
        "band per element. Optional: a run can use rasters, faults or alteration alone (at least one evidence input). "
        "Suggested: a point layer named like samples/geochemistry; clear the field to run without geochemistry.",
    )
    raster = QgsProcessing.TypeRaster
    return [
        *args,
        Arg(QgsProcessingParameterMultipleLayers("RASTERS", "Rasters (continuous: geophysics, DEM…)", raster, optional=True), to_argv=no_argv,
            help="Raster layers of measured values (magnetics, gravity, radiometrics, DEM), each band an evidence band, warped "
            "once onto the grid (bilinear, or average onto coarser cells). Files GDAL reads (GeoTIFF…). Empty: none."),
        Arg(QgsProcessingParameterMultipleLayers("CATEGORICAL_RASTERS", "Categorical rasters (class codes: lithology, stratigraphy…)", raster, optional=True),
            to_argv=no_argv,
            help="Raster layers whose values are class codes (rock units, map units): one 0/1 band per class, warped by nearest "
            "neighbour, never read as an ordered number (config kind: categorical). A raster goes in one list only. Empty: none."),
        Arg(QgsProcessingParameterFeatureSource("FAULTS", "Faults (lines)", [QgsProcessing.TypeVectorLine], defaultValue=pick_layer([1], FAULT_NAMES), optional=True), to_argv=no_argv, help="Distance to faults becomes an evidence layer. Empty: none."),
        Arg(QgsProcessingParameterFeatureSource("ALTERATION", "Alteration (polygons)", [QgsProcessing.TypeVectorPolygon], defaultValue=pick_layer([2], ALTERATION_NAMES), optional=True), to_argv=no_argv, help="Distance to alteration zones becomes an evidence layer. Empty: none."),
        Arg(QgsProcessingParameterFeatureSource("DEPOSITS", "Known deposits", [QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon], defaultValue=deposits), to_argv=no_argv, help="Known deposits (required; points or polygons), the labels of the cells. Must not be the samples layer."),
        Arg(_area_arg().param, to_argv=no_argv, help="Polygons of the study area (config key area.path): cells outside are nodata and cells are ranked inside it only. Empty: the whole grid."),
    ]


def _run_grid_args(info: CliInfo) -> list[Arg]:
    return [
        Arg(QgsProcessingParameterCrs("GRID_CRS", "Grid CRS", optional=True), to_argv=no_argv,
            help="Projected CRS of the grid (metres). Empty: the samples' CRS, else the study area's, else the first raster's, else the "
            "faults' (or alteration's). A CRS whose area of use does not contain the samples is refused."),
        Arg(QgsProcessingParameterExtent("EXTENT", "Grid extent", optional=True), to_argv=no_argv,
            help="Empty: the study area's extent, else the samples', else the union of the rasters, else of the faults and alteration."),
        Arg(_distance("RESOLUTION", "Cell size", 100.0, "POINTS"), to_argv=no_argv, help="Cell size in grid units (metres)."),
        Arg(_distance("RADIUS", "IDW search radius", info.default("idw.radius"), "POINTS", optional=True), to_argv=no_argv, help="Samples farther than this from a cell are not used; empty: unlimited.", advanced=True),
        Arg(QgsProcessingParameterBoolean("LOG10", "Interpolate log10 of the concentrations", bool(info.default("points.log10", True))), to_argv=no_argv, help="Usual for log-normal concentrations (samples only)."),
    ]


def _run_training_args(info: CliInfo, model: Arg) -> list[Arg]:
    return [
        Arg(_num("SIZE", "Window size (cells)", NUM_INT, "windows.size", minimum=1, info=info), to_argv=no_argv,
            help="Every cell is a sample: the side in cells of the patch a CNN sees, centred on each cell (empty: 1 for per-cell models, the model's own context for CNNs, 15 for dense_cnn).", advanced=True),
        Arg(_num("STRIDE", "Stride (cells)", NUM_INT, "windows.stride", minimum=1, info=info), to_argv=no_argv,
            help="Only for the papers' window recipe (config windows.unit: window); every cell is scored otherwise.", advanced=True),
        model,
        Arg(_num("EPOCHS", "Epochs", NUM_INT, "train.epochs", minimum=1, info=info), to_argv=no_argv, help="Passes over the training windows (default: the run configuration's)."),
        Arg(_num("BATCH_SIZE", "Batch size", NUM_INT, "train.batch_size", minimum=1, info=info), to_argv=no_argv, help="Windows per training batch (default: the run configuration's).", advanced=True),
        Arg(_num("FOLDS", "Cross-validation folds", NUM_INT, "evaluation.folds", minimum=2, info=info), to_argv=no_argv,
            help="Spatial folds of the out-of-fold evaluation (each deposit scored by a model that never saw its block); fewer folds for small areas.", advanced=True),
    ]


class RunPipelineFromLayers(_RunBase):
    CONFIG_FIELDS = {"evaluation.folds": "FOLDS", "windows.size": "SIZE", "windows.stride": "STRIDE", "train.epochs": "EPOCHS",
                     "train.batch_size": "BATCH_SIZE", "grid.resolution": "RESOLUTION", "grid.bounds": "EXTENT", "grid.crs": "GRID_CRS",
                     "idw.radius": "RADIUS", "train.model": "MODEL", "points.elements": "ELEMENTS"}
    NAME = "run_layers"
    DISPLAY = "Run whole pipeline (from layers)"
    HELP = (
        "Runs every stage from the layers picked here: geochemical samples, rasters (continuous such as geophysics, or "
        "categorical such as lithology codes), faults, alteration and known deposits. Only the deposits and one evidence input "
        "are required: a run from rasters alone, vectors alone or samples alone works. The dialog writes a run configuration "
        "(kept in the output folder) and runs `geoprospect run` on it, then loads the run as one group (deposits and targets on "
        "top, the full-resolution prospectivity, the stack and windows hidden). Layers are suggested by geometry and name "
        "(samples, deposits, faults, alteration), never simply the active layer."
    )

    def __init__(self) -> None:
        super().__init__()
        self._model_choices: list[str] = []

    def anchor_path(self, parameters, context) -> str:
        """The samples' file, else the first raster's, else the deposits' (a new run folder goes beside it)."""
        if self.given(parameters, "POINTS"):
            layer = self.parameterAsVectorLayer(parameters, "POINTS", context)
            info = delimited_text_info(layer)
            return info["path"] if info else file_path_of(layer)[0]
        for name in ("RASTERS", "CATEGORICAL_RASTERS"):
            layers = self.parameterAsLayerList(parameters, name, context) if self.given(parameters, name) else []
            if layers and file_path_of(layers[0])[0]:
                return file_path_of(layers[0])[0]
        return file_path_of(self.parameterAsVectorLayer(parameters, "DEPOSITS", context))[0] if self.given(parameters, "DEPOSITS") else ""

    def arguments(self):
        info = _info()
        model = _model_arg(None, info=info, to_argv=no_argv)
        self._model_choices = list(model.choices or [])
        points = pick_layer([0], SAMPLE_NAMES, avoid=DEPOSIT_NAMES)
        return [
            *_run_inputs(points),
            *_run_grid_args(info),
            *_run_training_args(info, model),
            Arg(QgsProcessingParameterBoolean("OVERWRITE", "Overwrite an existing run in the folder", False), flag="--overwrite", help="Replace outputs of an earlier run."),
            self.output_arg(layer_file(points)),
            # must come last: it reads the other parameters and writes the configuration
            Arg(QgsProcessingParameterString("_CONFIG", "(internal)", optional=True), to_argv=_config_from_layers),
        ]

    def check_missing(self, parameters, context) -> None:
        if not self.given(parameters, "DEPOSITS"):
            raise QgsProcessingException("Known deposits: pick a layer (none was suggested: no point or polygon layer has a name like deposits/occurrences/mines).")
        check_evidence(self, parameters)
        super().check_missing(parameters, context)

    def check(self, parameters, context) -> None:
        if self.given(parameters, "POINTS") and _source_key(self, parameters, "POINTS", context) == _source_key(self, parameters, "DEPOSITS", context):
            raise QgsProcessingException("Known deposits: this is the samples layer. Pick the layer of known deposits (points or polygons).")
        super().check(parameters, context)

    def initAlgorithm(self, config=None):  # noqa: N802
        super().initAlgorithm(config)
        p = self.parameterDefinition("_CONFIG")
        hidden = Qgis.ProcessingParameterFlag.Hidden if hasattr(Qgis, "ProcessingParameterFlag") else p.FlagHidden
        p.setFlags(p.flags() | hidden)


# ---- classic methods on a stack (issues 13 and 15): weights of evidence, fuzzy overlay ----------

def _repeated(name: str, flag: str):
    """A text parameter of entries separated by ';', ',' or new lines -> ``flag ENTRY`` per entry."""

    def fn(alg, parameters, context, feedback) -> list[str]:
        text = alg.parameterAsString(parameters, name, context) if parameters.get(name) not in (None, "") else ""
        entries = [e.strip() for e in text.replace("\n", ";").replace(",", ";").split(";") if e.strip()]
        return [v for e in entries for v in (flag, e)]

    return fn


class WeightsOfEvidence(GeoprospectAlgorithm):
    NAME = "weights_of_evidence"
    DISPLAY = "4b · Weights of evidence (classic, data-driven)"
    COMMAND = "weights-of-evidence"
    GROUP = "prediction"
    TAGS = ("weights of evidence", "woe", "bayes", "classic", "bonham-carter")
    STAGES = ("weights-of-evidence",)
    HELP = (
        "Weights of evidence (Bonham-Carter 1994) of the stack's bands against known deposits: each continuous band is "
        "binarised at the threshold of maximum studentized contrast (or the one given), categorical bands are weighed per "
        "class. Writes the posterior probability per unit cell and its variance, the weights table (W+, W-, contrast, "
        "studentized contrast per band) and, in the log, the Agterberg-Cheng conditional-independence test."
    )

    def arguments(self):
        return [
            Arg(QgsProcessingParameterRasterLayer("STACK", "Evidence stack"), help="Multiband stack from 'Build evidence stack' (band names are the evidence names)."),
            Arg(QgsProcessingParameterFeatureSource("DEPOSITS", "Known deposits", ANY_GEOM), flag="--deposits", layer_flag="--deposits-layer", help="Known (training) deposits, points or polygons; one deposit = one unit cell."),
            Arg(QgsProcessingParameterString("BANDS", "Bands to use (comma-separated)", optional=True), flag="--bands", help="Evidence bands by name, e.g. dist_faults,log10_As; empty: every band."),
            Arg(QgsProcessingParameterString("CATEGORICAL", "Categorical bands (comma-separated)", optional=True), flag="--categorical", help="Bands weighed per class (rock units…) instead of binarised."),
            Arg(QgsProcessingParameterString("THRESHOLDS", "Fixed thresholds (BAND=VALUE; …)", optional=True), flag="--threshold", to_argv=_repeated("THRESHOLDS", "--threshold"),
                help="e.g. dist_faults=1500; log10_As=1.2. Empty: the threshold of maximum studentized contrast.", advanced=True),
            Arg(QgsProcessingParameterString("DIRECTIONS", "Directions (BAND=ascending|descending; …)", optional=True), flag="--direction", to_argv=_repeated("DIRECTIONS", "--direction"),
                help="ascending: the pattern is value <= threshold (distances); descending: value >= threshold. Empty: the one of larger contrast.", advanced=True),
            Arg(QgsProcessingParameterNumber("MIN_STUDENTIZED", "Pool classes with studentized contrast below", NUM_DBL, None, optional=True, minValue=0.0), flag="--min-studentized",
                help="Categorical bands: classes whose studentized contrast is below this (e.g. 2) are pooled. Empty: no pooling.", advanced=True),
            Arg(QgsProcessingParameterNumber("UNIT_AREA", "Unit-cell area (square map units)", NUM_DBL, None, optional=True, minValue=0.0), flag="--unit-area",
                help="Area of the unit cell one deposit occupies, e.g. 1000000 for 1 km²; empty: one grid cell.", advanced=True),
            Arg(QgsProcessingParameterString("MASK_BAND", "Study-area band", optional=True), flag="--mask-band", help="Cells where this band is valid and non-zero form the study area; empty: where every used band is valid.", advanced=True),
            _area_arg(),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Posterior probability"), flag="--out", style="prospectivity", help="GeoTIFF: band 1 posterior probability (per unit cell), band 2 its variance."),
            Arg(QgsProcessingParameterFileDestination("TABLE", "Weights table", "CSV (*.csv)"), flag="--table", help="CSV of the weights per band (and class): W+, W-, contrast C, its studentized value, the threshold used."),
        ]


FUZZY_OPERATORS = ["and", "or", "product", "sum", "gamma"]


class FuzzyOverlay(GeoprospectAlgorithm):
    NAME = "fuzzy"
    DISPLAY = "4c · Fuzzy overlay (classic, knowledge-driven)"
    COMMAND = "fuzzy"
    GROUP = "prediction"
    TAGS = ("fuzzy", "membership", "gamma", "overlay", "classic", "knowledge-driven")
    STAGES = ("fuzzy",)
    HELP = (
        "Fuzzy overlay of bands of the stack: a membership per band (linear, large, small or gaussian, as ArcGIS's Fuzzy "
        "Membership), then one operator over them (and = min, or = max, product, sum, gamma). Writes the overlay and, "
        "optionally, each band's membership."
    )

    def arguments(self):
        return [
            Arg(QgsProcessingParameterRasterLayer("STACK", "Evidence stack"), help="Multiband stack from 'Build evidence stack'."),
            Arg(QgsProcessingParameterString("MEMBERSHIPS", "Bands and memberships (NAME:KIND[:P1[:P2]]; …)", multiLine=True), flag="--band", to_argv=_repeated("MEMBERSHIPS", "--band"),
                help="One entry per band, separated by ';' or new lines: linear:MIN:MAX, large:MIDPOINT:SPREAD, small:MIDPOINT:SPREAD or "
                     "gaussian:MIDPOINT:SPREAD, e.g. 'log10_As:large; dist_faults:linear:5000:0'. An omitted parameter comes from the data."),
            Arg(QgsProcessingParameterEnum("OPERATOR", "Operator", options=["and (minimum)", "or (maximum)", "product", "sum (1 - prod(1 - mu))", "gamma"], defaultValue=4),
                flag="--operator", choices=FUZZY_OPERATORS, help="How the memberships are combined; gamma = sum^gamma x product^(1 - gamma)."),
            Arg(QgsProcessingParameterNumber("GAMMA", "Gamma", NUM_DBL, 0.9, minValue=0.0, maxValue=1.0), flag="--gamma", help="The gamma operator's exponent (only for gamma)."),
            Arg(QgsProcessingParameterBoolean("WITH_MEMBERSHIPS", "Also write each band's membership", False), flag="--with-memberships", help="Adds bands mu_<band> after the overlay band."),
            _area_arg(),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Fuzzy overlay"), flag="--out", style="prospectivity", help="GeoTIFF: band fuzzy_<operator> (0–1), then the memberships when asked."),
        ]
