"""One algorithm per pipeline stage. Each is a declaration: parameters and their CLI mapping.

Every algorithm maps onto a `geoprospect` CLI command of the same release; against an older
geoprospect that lacks a command, the runner stops with a readable error naming it.
"""

from __future__ import annotations

import json
import os

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
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

from .base import as_fields, Arg, GeoprospectAlgorithm, ResultOutput, file_path_of, delimited_text_info, grid_to_argv, no_argv, points_to_argv

NUM_INT = QgsProcessingParameterNumber.Integer
NUM_DBL = QgsProcessingParameterNumber.Double
POINT_TYPES = [QgsProcessing.TypeVectorPoint]
LINE_POLY = [QgsProcessing.TypeVectorLine, QgsProcessing.TypeVectorPolygon]
ANY_GEOM = [QgsProcessing.TypeVectorAnyGeometry]
NUMERIC_FIELD = QgsProcessingParameterField.Numeric
ANY_FIELD = QgsProcessingParameterField.Any

#: models of geoprospect.models.registry (first entry is the default)
MODELS = ["resnet18", "lenet", "vgg8", "alexnet", "mfaf", "skt", "vit"]
DEVICES = ["auto", "cpu", "cuda"]
OPTIMIZERS = ["adam", "sgd"]
SPLIT_AXES = ["rows", "cols"]


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
            QgsProcessingParameterVectorLayer("POINTS", "Geochemical samples", [QgsProcessing.TypeVectorPoint]),
            to_argv=points_to_argv("POINTS", "X_FIELD", "Y_FIELD", "POINTS_CRS") if emit else no_argv,
            help="Point layer of samples: a CSV loaded as delimited text (x/y columns) or a GeoPackage/Shapefile of points.",
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
                to_argv=None if emit else no_argv,
                help="Element columns to use (e.g. Au, As, Cu). Empty: every numeric column except the coordinates"
                + (" (and every column with censored values such as '<0.5')." if text_elements else "."),
            )
        )
    return args


def _grid_args(resolution_default: float = 100.0) -> list[Arg]:
    return [
        Arg(
            QgsProcessingParameterRasterLayer("TEMPLATE", "Grid template raster", optional=True),
            to_argv=grid_to_argv("TEMPLATE", "EXTENT", "RESOLUTION", "GRID_CRS"),
            help="A raster whose grid (CRS, cell size, extent) the output copies. When set, extent, cell size and grid CRS are ignored.",
        ),
        Arg(
            QgsProcessingParameterCrs("GRID_CRS", "Grid CRS", defaultValue="EPSG:32649", optional=True),
            to_argv=no_argv,
            help="Projected CRS of the output grid (metres). Empty: the CRS of the input.",
        ),
        Arg(
            QgsProcessingParameterExtent("EXTENT", "Grid extent", optional=True),
            to_argv=no_argv,
            help="Extent of the output grid (reprojected to the grid CRS). Empty: the extent of the input features.",
        ),
        Arg(
            _distance("RESOLUTION", "Cell size", resolution_default, "GRID_CRS", optional=True, minimum=0.0),
            to_argv=no_argv,
            help="Cell size in grid units (metres for a UTM grid).",
        ),
    ]


METHODS = ["idw", "kriging", "universal-kriging"]
VARIOGRAMS = ["spherical", "exponential", "gaussian", "linear", "power"]


class Interpolate(GeoprospectAlgorithm):
    NAME = "interpolate"
    DISPLAY = "1 · Interpolate geochemistry (IDW / kriging)"
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
            Arg(QgsProcessingParameterEnum("VARIOGRAM", "Kriging variogram model", options=VARIOGRAMS, defaultValue=0), flag="--variogram-model", choices=VARIOGRAMS, help="Variogram model fitted to each element (kriging only).", advanced=True),
            Arg(QgsProcessingParameterNumber("POWER", "IDW power", NUM_DBL, 2.0, minValue=0.1), flag="--power", help="Weight = 1 / distance^power."),
            Arg(QgsProcessingParameterNumber("NEIGHBORS", "Nearest samples (k)", NUM_INT, 12, minValue=0), flag="--neighbors", help="Number of nearest samples used per cell (0 = all samples, the papers' exact formula)."),
            Arg(_distance("RADIUS", "Search radius", 3000.0, "GRID_CRS", optional=True), flag="--radius", help="Only samples within this distance (map units) count; cells with none are nodata. Empty: unlimited."),
            Arg(QgsProcessingParameterNumber("MIN_POINTS", "Minimum samples per cell", NUM_INT, 1, minValue=1), flag="--min-points", help="Cells with fewer samples in reach are nodata.", advanced=True),
            Arg(_distance("SMOOTHING", "Smoothing distance", 0.0, "GRID_CRS"), flag="--smoothing", help="Smoothing distance in map units, as gdal_grid's (0 = exact).", advanced=True),
            Arg(QgsProcessingParameterBoolean("LOG10", "Interpolate log10 of the concentrations", True), flag="--log10", help="Concentrations are log-normal: interpolating their log10 is usual (bands are then named log10_<element>)."),
            *_grid_args(),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Interpolated elements"), flag="--out", style="evidence", help="Multiband GeoTIFF, one band per element."),
        ]


class DistanceToFeatures(GeoprospectAlgorithm):
    NAME = "distance"
    DISPLAY = "2 · Distance to features (faults, contacts, alteration)"
    COMMAND = "distance"
    TAGS = ("distance", "proximity", "faults")
    STAGES = ("distance",)
    HELP = "Exact Euclidean distance (map units) from every cell centre to the nearest line or polygon (0 inside polygons)."

    def arguments(self):
        return [
            Arg(QgsProcessingParameterFeatureSource("INPUT", "Features (lines or polygons)", LINE_POLY), layer_flag="--layer", help="Faults, geological contacts, alteration zones…"),
            Arg(QgsProcessingParameterString("BAND_NAME", "Band name", optional=True), flag="--name", help="Name of the output band (default: the file's name)."),
            Arg(QgsProcessingParameterCrs("VECTOR_CRS", "CRS of the features (when the file has none)", optional=True), flag="--vector-crs", help="Only for files without a CRS.", advanced=True),
            *_grid_args(),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Distance"), flag="--out", style="evidence", help="Single-band GeoTIFF of distances in metres."),
        ]


class Density(GeoprospectAlgorithm):
    NAME = "density"
    DISPLAY = "2b · Feature density (line length / area per unit area)"
    COMMAND = "density"
    TAGS = ("density", "faults", "kernel")
    STAGES = ("density",)
    HELP = "Length of lines (or area of polygons) within a radius of each cell centre, per unit area: a true kernel density, not a buffered count."

    def arguments(self):
        return [
            Arg(QgsProcessingParameterFeatureSource("INPUT", "Features (lines or polygons)", LINE_POLY), layer_flag="--layer", help="Faults or alteration polygons."),
            Arg(_distance("RADIUS", "Search radius", 2000.0, "GRID_CRS"), flag="--radius", help="Kernel radius in grid units (metres)."),
            Arg(QgsProcessingParameterEnum("MODE", "Layer", options=["density (length or area per unit area)", "distance with density (paper 003)"], defaultValue=0), flag="--mode", choices=["density", "distance-density"], help="density: feature length (lines) or area (polygons) within the radius per unit area; distance with density: max(0, 1 - d/R) x (1 + density / one-feature density), paper 003's buffer-distance layer."),
            Arg(QgsProcessingParameterString("BAND_NAME", "Band name", optional=True), flag="--name", help="Name of the output band."),
            *_grid_args(),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Density"), flag="--out", style="evidence", help="Single-band GeoTIFF (m per m², or m² per m²)."),
        ]


class BuildStack(GeoprospectAlgorithm):
    NAME = "stack"
    DISPLAY = "3 · Build evidence stack"
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
    NAME = "prepare_geochem"
    DISPLAY = "0 · Prepare geochemistry (censored values, outliers, transforms)"
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
            Arg(QgsProcessingParameterVectorDestination("OUTPUT", "Prepared samples", QgsProcessing.TypeVectorPoint), flag="--out", help="GeoPackage of prepared points (keeps the CRS)."),
            Arg(QgsProcessingParameterFileDestination("REPORT", "Report", "Markdown (*.md);;JSON (*.json)", optional=True, createByDefault=False), flag="--report", help="What was replaced, clipped and transformed."),
        ]


class SelectElements(GeoprospectAlgorithm):
    NAME = "select_elements"
    DISPLAY = "4 · Select elements (SVM AUC + Z-AUC)"
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
            Arg(QgsProcessingParameterNumber("Z_CRIT", "Critical Z-AUC", NUM_DBL, 2.58, minValue=0.0), flag="--z-crit", help="Keep elements with Z-AUC above this (2.58 = the 0.01 level, as in the papers)."),
            Arg(QgsProcessingParameterEnum("SCORE", "Score", options=["SVM (out-of-fold)", "raw concentration"], defaultValue=0), flag="--score", choices=["svm", "raw"], help="Which AUC decides.", advanced=True),
            Arg(QgsProcessingParameterNumber("CV", "Cross-validation folds", NUM_INT, 5, minValue=2), flag="--cv", help="Folds of the stratified cross-validation.", advanced=True),
            Arg(QgsProcessingParameterNumber("SEED", "Random seed", NUM_INT, 0, minValue=0), flag="--seed", help="Folds and subsampling.", advanced=True),
            Arg(QgsProcessingParameterFileDestination("OUTPUT", "Element table", "CSV (*.csv)"), flag="--out", help="CSV table (AUC, S_AUC, Z_AUC, selected); a Markdown copy is written beside it."),
        ]


class MakeWindows(GeoprospectAlgorithm):
    NAME = "tile"
    DISPLAY = "5 · Make windows (labels and spatial split)"
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
            Arg(QgsProcessingParameterNumber("SIZE", "Window size (cells)", NUM_INT, 32, minValue=4), flag="--size", help="Side of a window in cells."),
            Arg(QgsProcessingParameterNumber("STRIDE", "Stride (cells)", NUM_INT, 16, minValue=1), flag="--stride", help="Step between windows in cells."),
            Arg(QgsProcessingParameterNumber("MIN_VALID", "Minimum valid fraction", NUM_DBL, 0.5, minValue=0.0, maxValue=1.0), flag="--min-valid", help="Windows with less valid data are dropped (and counted).", advanced=True),
            Arg(QgsProcessingParameterNumber("TEST_FRACTION", "Test fraction", NUM_DBL, 0.3, minValue=0.01, maxValue=0.99), flag="--test-fraction", help="Fraction of the area held out for testing."),
            Arg(QgsProcessingParameterEnum("SPLIT_AXIS", "Split along", options=["rows (north/south blocks)", "columns (east/west blocks)"], defaultValue=0), flag="--split-axis", choices=SPLIT_AXES, help="Direction of the spatial train/test split."),
            Arg(QgsProcessingParameterEnum("TEST_SIDE", "Test block at", options=["end (south / east)", "start (north / west)"], defaultValue=0), flag="--test-side", choices=["end", "start"], help="Which end of the area is held out.", advanced=True),
            Arg(QgsProcessingParameterVectorDestination("OUTPUT", "Windows", QgsProcessing.TypeVectorPolygon), flag="--out", style="windows", help="GeoPackage of window polygons with label and split."),
        ]


class TrainModel(GeoprospectAlgorithm):
    NAME = "train"
    DISPLAY = "6 · Train model"
    COMMAND = "train"
    TAGS = ("cnn", "deep learning", "torch", "train")
    STAGES = ("train",)
    HELP = "Trains a CNN on the training windows (PyTorch, in the geoprospect environment). The bar moves per epoch and batch."

    def arguments(self):
        return [
            Arg(QgsProcessingParameterRasterLayer("STACK", "Evidence stack"), help="The stack the windows were cut from."),
            Arg(QgsProcessingParameterFeatureSource("WINDOWS", "Windows", [QgsProcessing.TypeVectorPolygon]), help="Output of 'Make windows'."),
            Arg(QgsProcessingParameterEnum("MODEL", "Model", options=MODELS, defaultValue=0), flag="--model", choices=MODELS, help="Network architecture (torchvision ResNet-18 adapted to the stack's bands, or the papers' nets)."),
            Arg(QgsProcessingParameterNumber("EPOCHS", "Epochs", NUM_INT, 8, minValue=1), flag="--epochs", help="Passes over the training windows."),
            Arg(QgsProcessingParameterNumber("BATCH_SIZE", "Batch size", NUM_INT, 32, minValue=1), flag="--batch-size", help="Windows per batch.", advanced=True),
            Arg(QgsProcessingParameterNumber("LR", "Learning rate", NUM_DBL, 0.001, minValue=1e-7), flag="--lr", help="Optimizer step size.", advanced=True),
            Arg(QgsProcessingParameterEnum("OPTIMIZER", "Optimizer", options=OPTIMIZERS, defaultValue=0), flag="--optimizer", choices=OPTIMIZERS, help="Adam or SGD with momentum.", advanced=True),
            Arg(QgsProcessingParameterNumber("WEIGHT_DECAY", "Weight decay", NUM_DBL, 1e-4, minValue=0.0), flag="--weight-decay", help="L2 penalty.", advanced=True),
            Arg(QgsProcessingParameterBoolean("BALANCED", "Class-balanced sampling", True), to_argv=lambda alg, p, c, f: ["--balanced" if alg.parameterAsBool(p, "BALANCED", c) else "--no-balanced"], help="Sample positive and negative training windows equally often.", advanced=True),
            Arg(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0), flag="--device", choices=DEVICES, help="auto uses CUDA when the environment has a GPU.", advanced=True),
            Arg(QgsProcessingParameterNumber("SEED", "Random seed", NUM_INT, 0, minValue=0), flag="--seed", help="Same seed, same model.", advanced=True),
            Arg(QgsProcessingParameterFolderDestination("OUTPUT", "Model folder"), flag="--out", help="Folder with the weights and their JSON sidecar."),
        ]


class Predict(GeoprospectAlgorithm):
    NAME = "predict"
    DISPLAY = "7 · Predict prospectivity"
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
            Arg(QgsProcessingParameterNumber("BATCH_SIZE", "Batch size", NUM_INT, 256, minValue=1), flag="--batch-size", help="Windows per batch.", advanced=True),
            Arg(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0), flag="--device", choices=DEVICES, help="auto uses CUDA when available.", advanced=True),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Prospectivity"), flag="--out", style="prospectivity", help="Prospectivity GeoTIFF (0–1)."),
            Arg(QgsProcessingParameterVectorDestination("SCORES", "Window scores", QgsProcessing.TypeVectorPolygon, optional=True, createByDefault=False), flag="--scores-out", style="windows", help="GeoPackage of windows with their scores (default: beside the prospectivity file)."),
        ]


class Evaluate(GeoprospectAlgorithm):
    NAME = "evaluate"
    DISPLAY = "8 · Evaluate (ROC/AUC, success-rate curve)"
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
    NAME = "ensemble"
    DISPLAY = "9 · Ensemble (paper 003's rules and uncertainty)"
    COMMAND = "ensemble"
    TAGS = ("ensemble", "uncertainty", "voting")
    STAGES = ("ensemble",)
    HELP = (
        "Combines prospectivity maps of several models on one grid with paper 003's five rules: simple and weighted "
        "average, majority, plurality and weighted voting (vote bands: 1 ore-bearing, 0 not, -1 refused), plus the "
        "members' spread (standard deviation) as uncertainty. One GeoTIFF, a band per rule (band 1 = simple average)."
    )

    def arguments(self):
        return [
            Arg(QgsProcessingParameterMultipleLayers("INPUTS", "Prospectivity maps", QgsProcessing.TypeRaster), help="Two or more prospectivity rasters on the same grid (band 1 = deposit probability)."),
            Arg(QgsProcessingParameterString("WEIGHTS", "Weights (comma-separated, one per map)", optional=True), flag="--weights", help="e.g. the members' validation AUCs; empty: equal weights."),
            Arg(QgsProcessingParameterBoolean("WEIGHTS_FROM_AUC", "Weights are ROC AUCs", False), flag="--weights-from-auc", help="Turn the weights (AUCs) into max(AUC - 0.5, 0), normalised.", advanced=True),
            Arg(QgsProcessingParameterNumber("THRESHOLD", "Vote threshold", NUM_DBL, 0.5, minValue=0.0, maxValue=1.0), flag="--threshold", help="Probability at or above which a member votes 'ore-bearing'.", advanced=True),
            Arg(QgsProcessingParameterFeatureSource("WINDOWS", "Windows (for paper 003's Table 2)", [QgsProcessing.TypeVectorPolygon], optional=True), flag="--windows", help="Window index: adds the counts of ore-bearing windows per rule as JSON beside the output.", advanced=True),
            Arg(QgsProcessingParameterRasterDestination("OUTPUT", "Ensemble"), flag="--out", style="prospectivity", help="Multiband GeoTIFF: simple_average, weighted_average, majority_vote, plurality_vote, weighted_vote, spread_std."),
        ]


# ---- whole pipeline ---------------------------------------------------------------------

RUN_OUTPUTS = [
    ResultOutput("stack", "Evidence stack", "raster", "stack", "stack.tif"),
    ResultOutput("windows", "Windows", "vector", "windows", "windows.gpkg"),
    ResultOutput("scores", "Window scores", "vector", "windows", "scores.gpkg"),
    ResultOutput("targets", "Targets", "vector", "targets", "targets.gpkg"),
    ResultOutput("uncertainty", "Uncertainty", "raster", "uncertainty", "uncertainty.tif"),
    ResultOutput("prospectivity", "Prospectivity", "raster", "prospectivity", "prospectivity.tif"),
    ResultOutput("report", "Report", "file", None, "report.html"),
    ResultOutput("map", "Map", "file", None, "map.png"),
    ResultOutput("metrics", "Metrics", "file", None, "metrics.json"),
    ResultOutput("manifest", "Run manifest", "file", None, "manifest.json"),
]


class _RunBase(GeoprospectAlgorithm):
    COMMAND = "run"
    # stage names of the CLI's progress lines, weighted by their usual share of the run time
    # "stack" is the block-wise evidence build (IDW/kriging, distances, densities in one pass)
    STAGES = (("select-elements", 3), ("idw", 10), ("kriging", 10), ("distance", 7), ("stack", 20), ("train", 40), ("predict", 10))
    TAGS = ("pipeline", "run", "config")

    def result_outputs(self):
        return RUN_OUTPUTS


class RunPipeline(_RunBase):
    NAME = "run"
    DISPLAY = "Run whole pipeline (from a config file)"
    HELP = (
        "Runs every stage from a YAML configuration (the same file as `geoprospect run config.yaml`) into one "
        "output folder, then loads the stack, prospectivity, uncertainty, targets and windows with their styles. "
        "Leave the configuration empty to run the bundled sample data."
    )

    def arguments(self):
        return [
            Arg(QgsProcessingParameterFile("CONFIG", "Configuration (YAML)", extension="yaml", optional=True), help="geoprospect run configuration; empty: the bundled sample data."),
            Arg(QgsProcessingParameterBoolean("OVERWRITE", "Overwrite an existing run in the folder", False), flag="--overwrite", help="Replace outputs of an earlier run in the same folder."),
            Arg(QgsProcessingParameterBoolean("RESUME", "Resume an interrupted run", False), flag="--resume", help="Continue from the last finished stage of a run in the same folder."),
            Arg(QgsProcessingParameterFolderDestination("OUTPUT", "Output folder"), flag="--out", help="Folder for all outputs (stack, windows, model, prospectivity, metrics, report)."),
        ]


def _config_from_layers(alg, parameters, context, feedback) -> list[str]:
    """Write a run configuration (JSON, which is valid YAML) from the layers picked in the dialog."""
    points = alg.parameterAsVectorLayer(parameters, "POINTS", context)
    argv = points_to_argv("POINTS", "X_FIELD", "Y_FIELD", "POINTS_CRS")(alg, parameters, context, feedback)
    pts: dict = {"path": argv[0]}
    opts = dict(zip(argv[1::2], argv[2::2]))
    for flag, key in (("--x-field", "x_field"), ("--y-field", "y_field"), ("--crs", "crs"), ("--layer", "layer")):
        if flag in opts:
            pts[key] = opts[flag]
    elements = as_fields(alg, parameters, "ELEMENTS", context)
    if elements:
        pts["elements"] = elements
    grid: dict = {"resolution": alg.parameterAsDouble(parameters, "RESOLUTION", context)}
    gcrs = alg.parameterAsCrs(parameters, "GRID_CRS", context) if parameters.get("GRID_CRS") else None
    if gcrs is not None and gcrs.isValid():
        grid["crs"] = gcrs.authid() or gcrs.toWkt()
    if parameters.get("EXTENT"):
        r = alg.parameterAsExtent(parameters, "EXTENT", context, gcrs or QgsCoordinateReferenceSystem())
        if not r.isEmpty():
            grid["bounds"] = [r.xMinimum(), r.yMinimum(), r.xMaximum(), r.yMaximum()]

    def vector(name: str) -> dict | None:
        if not parameters.get(name):
            return None
        path, layer = alg.parameterAsCompatibleSourceLayerPathAndLayerName(parameters, name, context, ["gpkg", "shp", "geojson", "fgb"], "gpkg", feedback)
        d = {"path": path}
        if layer:
            d["layer"] = layer
        return d

    vectors = []
    for name in ("FAULTS", "ALTERATION"):
        v = vector(name)
        if v:
            v["name"] = f"dist_{name.lower()}"
            vectors.append(v)
    deposits = vector("DEPOSITS")
    out = alg.parameterAsFileOutput(parameters, "OUTPUT", context)
    pts["log10"] = alg.parameterAsBool(parameters, "LOG10", context)
    if parameters.get("RADIUS"):
        idw = {"radius": alg.parameterAsDouble(parameters, "RADIUS", context)}
    else:
        idw = {}
    models = MODELS
    cfg = {
        "name": "geoprospect run from QGIS",
        "points": pts,
        "grid": grid,
        "idw": idw,
        "vectors": vectors,
        "deposits": deposits,
        "windows": {"size": alg.parameterAsInt(parameters, "SIZE", context), "stride": alg.parameterAsInt(parameters, "STRIDE", context)},
        "train": {"model": models[alg.parameterAsEnum(parameters, "MODEL", context)], "epochs": alg.parameterAsInt(parameters, "EPOCHS", context)},
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


class RunPipelineFromLayers(_RunBase):
    NAME = "run_layers"
    DISPLAY = "Run whole pipeline (from layers)"
    HELP = (
        "Runs every stage from the layers picked here: samples, faults, alteration and deposits. The dialog "
        "writes a run configuration (kept in the log) and runs `geoprospect run` on it."
    )

    def arguments(self):
        return [
            *_points_args(emit=False),
            Arg(QgsProcessingParameterFeatureSource("FAULTS", "Faults (lines)", [QgsProcessing.TypeVectorLine], optional=True), to_argv=no_argv, help="Distance to faults becomes an evidence layer."),
            Arg(QgsProcessingParameterFeatureSource("ALTERATION", "Alteration (polygons)", [QgsProcessing.TypeVectorPolygon], optional=True), to_argv=no_argv, help="Distance to alteration zones becomes an evidence layer."),
            Arg(QgsProcessingParameterFeatureSource("DEPOSITS", "Known deposits", ANY_GEOM), to_argv=no_argv, help="Labels for the windows."),
            Arg(QgsProcessingParameterCrs("GRID_CRS", "Grid CRS", defaultValue="EPSG:32649", optional=True), to_argv=no_argv, help="Projected CRS of the grid (metres). Empty: the samples' CRS."),
            Arg(QgsProcessingParameterExtent("EXTENT", "Grid extent", optional=True), to_argv=no_argv, help="Empty: the samples' extent."),
            Arg(_distance("RESOLUTION", "Cell size", 100.0, "GRID_CRS"), to_argv=no_argv, help="Cell size in grid units (metres)."),
            Arg(_distance("RADIUS", "IDW search radius", 3000.0, "GRID_CRS", optional=True), to_argv=no_argv, help="Samples farther than this from a cell are not used; empty: unlimited.", advanced=True),
            Arg(QgsProcessingParameterBoolean("LOG10", "Interpolate log10 of the concentrations", True), to_argv=no_argv, help="Usual for log-normal concentrations."),
            Arg(QgsProcessingParameterNumber("SIZE", "Window size (cells)", NUM_INT, 32, minValue=4), to_argv=no_argv, help="Side of a window in cells.", advanced=True),
            Arg(QgsProcessingParameterNumber("STRIDE", "Stride (cells)", NUM_INT, 16, minValue=1), to_argv=no_argv, help="Step between windows.", advanced=True),
            Arg(QgsProcessingParameterEnum("MODEL", "Model", options=MODELS, defaultValue=0), to_argv=no_argv, help="Network architecture."),
            Arg(QgsProcessingParameterNumber("EPOCHS", "Epochs", NUM_INT, 8, minValue=1), to_argv=no_argv, help="Passes over the training windows."),
            Arg(QgsProcessingParameterBoolean("OVERWRITE", "Overwrite an existing run in the folder", False), flag="--overwrite", help="Replace outputs of an earlier run."),
            Arg(QgsProcessingParameterFolderDestination("OUTPUT", "Output folder"), flag="--out", help="Folder for all outputs."),
            # must come last: it reads the other parameters and writes the configuration
            Arg(QgsProcessingParameterString("_CONFIG", "(internal)", optional=True), to_argv=_config_from_layers),
        ]

    def initAlgorithm(self, config=None):  # noqa: N802
        super().initAlgorithm(config)
        p = self.parameterDefinition("_CONFIG")
        hidden = Qgis.ProcessingParameterFlag.Hidden if hasattr(Qgis, "ProcessingParameterFlag") else p.FlagHidden
        p.setFlags(p.flags() | hidden)
