"""A declarative base for geoprospect algorithms: parameters in, ``geoprospect`` argv out.

An algorithm is a small class that lists :class:`Arg` objects (a QGIS parameter plus how it
becomes command-line arguments). The base class adds the parameters, checks them, builds the
argv, runs the CLI through :mod:`..runner`, and loads the outputs with their styles.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import parse_qs, unquote, urlparse

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingOutputFile,
    QgsProcessingOutputFolder,
    QgsProcessingOutputHtml,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterDistance,
    QgsProcessingParameterEnum,
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
    QgsProviderRegistry,
)
from qgis.PyQt.QtGui import QIcon

from .. import runner
from ..settings import executable_setting, pythonpath_setting
from ..styles import apply_style, qml_for

PLUGIN_DIR = Path(__file__).resolve().parent.parent

POSITIONAL = None  # Arg.flag for positional arguments
#: toolbox groups, one per stage of the pipeline
GROUPS = {
    "geochemistry": "1 · Geochemistry",
    "evidence": "2 · Evidence layers and stack",
    "training": "3 · Windows, training and cross-validation",
    "prediction": "4 · Prediction, evaluation and ensembles",
    "pipeline": "Whole pipeline",
}


#: options filled from the grid parameters (grid_to_argv), for naming fields in CLI messages
GRID_FLAGS = {"--template": "TEMPLATE", "--bounds": "EXTENT", "--resolution": "RESOLUTION", "--grid-crs": "GRID_CRS", "--area": "AREA"}
#: an option and the metavars after it ("--template RASTER", "--bounds XMIN YMIN XMAX YMAX")
FLAG_RE = re.compile(r"(--[a-z][a-z0-9-]*)(?:\s+[A-Z][A-Z_]+\b(?![a-z]))*")
DESTINATIONS = (QgsProcessingParameterRasterDestination, QgsProcessingParameterVectorDestination, QgsProcessingParameterFileDestination,
                QgsProcessingParameterFolderDestination)


OPTIONAL = Qgis.ProcessingParameterFlag.Optional if hasattr(Qgis, "ProcessingParameterFlag") else QgsProcessingParameterDefinition.FlagOptional


def _advanced(param: QgsProcessingParameterDefinition) -> None:
    flag = Qgis.ProcessingParameterFlag.Advanced if hasattr(Qgis, "ProcessingParameterFlag") else QgsProcessingParameterDefinition.FlagAdvanced
    param.setFlags(param.flags() | flag)


@dataclass
class Arg:
    """One QGIS parameter and how it maps to the CLI.

    flag: the option (``--power``); None for a positional argument (kept in declaration order).
    choices: the CLI values of an enum parameter, in the order of its options.
    layer_flag: for vector inputs, the option that names the layer inside a GeoPackage.
    style: for outputs, the QML style (``styles/<style>.qml``) used when the CLI wrote none.
    result: for outputs, the key of the CLI's result line that holds the path (when it is not
        the destination itself, e.g. files written inside an output folder).
    to_argv: a custom mapping ``(alg, parameters, context, feedback) -> list[str]``.
    """

    param: QgsProcessingParameterDefinition
    flag: str | None = None
    help: str = ""
    choices: Sequence[str] | None = None
    advanced: bool = False
    layer_flag: str | None = None
    style: str | None = None
    to_argv: Callable[..., list[str]] | None = None
    skip_if_false: bool = True

    @property
    def name(self) -> str:
        return self.param.name()


@dataclass
class ResultOutput:
    """An output reported on the CLI's result line (e.g. a file inside the output folder)."""

    key: str  # key in the result line's "outputs"
    description: str
    kind: str = "file"  # raster | vector | file | folder | html
    style: str | None = None
    filename: str | None = None  # looked for in the output folder when the result line lacks the key


class StylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Applies the output's style (CLI sidecar QML, plugin QML or a built one) after loading."""

    _keep: list["StylePostProcessor"] = []  # Python must keep them alive until QGIS calls them

    def __init__(self, path: str, kind: str | None) -> None:
        super().__init__()
        self.path, self.kind = path, kind
        self.qml = style_for(path, kind) or ""
        StylePostProcessor._keep.append(self)

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API)
        if layer is not None:
            # what was applied ('qml:<file>' or 'built:<kind>'), kept with the layer
            layer.setCustomProperty("geoprospect/style", apply_style(layer, self.kind, self.path))


def style_for(path: str, style: str | None) -> str | None:
    """The CLI's sidecar style (``out.qml`` beside ``out.tif``) or the plugin's own."""
    return qml_for(path, style)


def as_fields(alg, parameters, name, context) -> list[str]:
    """Field names of a field parameter (parameterAsStrings on QGIS >= 3.40, else parameterAsFields)."""
    if hasattr(alg, "parameterAsStrings"):
        return list(alg.parameterAsStrings(parameters, name, context))
    return list(alg.parameterAsFields(parameters, name, context))


def file_path_of(layer) -> tuple[str, str | None]:
    """(file path, layer name) of a file-based QGIS layer; ('', None) otherwise."""
    if layer is None:
        return "", None
    prov = layer.providerType() if hasattr(layer, "providerType") else ""
    if prov in {"ogr", "gdal"}:
        parts = QgsProviderRegistry.instance().decodeUri(prov, layer.source())
        return parts.get("path", "") or "", parts.get("layerName") or None
    if prov == "delimitedtext":
        url = urlparse(layer.source())
        return unquote(url.path), None
    return "", None


def delimited_text_info(layer) -> dict[str, str] | None:
    """For a delimited-text (CSV) layer: path, xField, yField, crs (authid)."""
    if layer is None or layer.providerType() != "delimitedtext":
        return None
    url = urlparse(layer.source())
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    info = {"path": unquote(url.path), "xField": q.get("xField", ""), "yField": q.get("yField", "")}
    info["crs"] = layer.crs().authid() if layer.crs().isValid() else q.get("crs", "")
    return info


def is_empty(value) -> bool:
    """An unset parameter value (None, '' or an empty list of layers)."""
    return value is None or (isinstance(value, (str, list, tuple)) and len(value) == 0)


class GeoprospectAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set NAME, DISPLAY, COMMAND, HELP and implement ``arguments()``."""

    NAME = ""
    DISPLAY = ""
    COMMAND = ""  # the CLI subcommand
    HELP = ""
    TAGS: Sequence[str] = ()
    #: progress stages the CLI reports, in order (each gets a slice of the bar)
    STAGES: Sequence[str] = ()
    #: True when the CLI command does not exist yet (the algorithm then fails with a clear message)
    PLANNED = False
    #: toolbox group (a pipeline stage), see GROUPS
    GROUP = ""
    #: True for `geoprospect run`: the output folder is loaded as one organised group
    LOADS_RUN = False
    #: set by the provider while QGIS loads it: the environment is then asked in the background
    LOADING = False
    #: percent of the bar left for the work after the CLI's last progress line (100 % = finished)
    PROGRESS_RESERVE = 1.0
    #: run-configuration keys (in CLI messages) that a field of the form sets: key -> parameter
    CONFIG_FIELDS: dict[str, str] = {}

    def __init__(self) -> None:
        super().__init__()
        self._args: list[Arg] = []
        self._destinations: dict[str, str] | None = None

    # ---- declaration -------------------------------------------------------------------
    def arguments(self) -> list[Arg]:  # pragma: no cover - abstract
        raise NotImplementedError

    def result_outputs(self) -> list[ResultOutput]:
        """Extra outputs taken from the CLI's result line."""
        return []

    # ---- QgsProcessingAlgorithm --------------------------------------------------------
    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:  # noqa: N802
        return self.DISPLAY

    def group(self) -> str:
        return GROUPS.get(self.GROUP, "")

    def groupId(self) -> str:  # noqa: N802
        return self.GROUP

    def tags(self) -> list[str]:
        return ["geoprospect", "prospectivity", "mineral", *self.TAGS]

    def icon(self) -> QIcon:
        return QIcon(str(PLUGIN_DIR / "icon.svg"))

    def createInstance(self):  # noqa: N802
        return type(self)()

    def shortHelpString(self) -> str:  # noqa: N802
        lines = [self.HELP.strip(), ""]
        if self.PLANNED:
            lines += [f"<b>Note:</b> the <code>geoprospect {self.COMMAND}</code> command is planned; with a geoprospect that lacks it this algorithm stops with a clear error.", ""]
        lines.append(f"Runs <code>geoprospect {self.COMMAND}</code> in the environment set in Plugins ▸ geoprospect ▸ Environment….")
        lines.append("<ul>")
        for a in self.arguments():
            if a.help:
                lines.append(f"<li><b>{a.param.description()}</b>: {a.help}</li>")
        lines.append("</ul>")
        return "\n".join(lines)

    def initAlgorithm(self, config=None):  # noqa: N802
        self._args = self.arguments()
        for a in self._args:
            if a.help:
                a.param.setHelp(a.help)
            if a.advanced:
                _advanced(a.param)
            self.addParameter(a.param)
        for r in self.result_outputs():
            cls = {"folder": QgsProcessingOutputFolder, "file": QgsProcessingOutputFile, "html": QgsProcessingOutputHtml}.get(r.kind, QgsProcessingOutputFile)
            self.addOutput(cls(r.key.upper(), r.description))
        self.addOutput(QgsProcessingOutputString("COMMAND", "geoprospect command line"))

    # ---- checks ------------------------------------------------------------------------
    def checkParameterValues(self, parameters, context):  # noqa: N802
        try:
            self.check_missing(parameters, context)
        except QgsProcessingException as exc:
            return False, str(exc)
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, msg
        try:
            self.check(parameters, context)
            self.cli_prefix()
        except (QgsProcessingException, runner.GeoprospectRunError) as exc:
            return False, str(exc)
        return True, ""

    def check_missing(self, parameters, context) -> None:
        """A required input left empty, named by its field in the dialog."""
        for p in self.parameterDefinitions():
            if p.flags() & OPTIONAL or p.isDestination() or parameters.get(p.name()) not in (None, ""):
                continue
            if p.defaultValue() in (None, ""):
                raise QgsProcessingException(f"{p.description()}: this input is required; pick a value.")

    def with_defaults(self, parameters) -> dict:
        """The values to run with: a parameter left out (processing.run, qgis_process) is the default
        the form shows; an optional field given empty (cleared in the dialog: None) stays empty (QGIS's
        parameterAs* would read its default: the layer suggested in the form, a number the help calls
        'empty: ...')."""
        out = {}
        for p in self.parameterDefinitions():
            name = p.name()
            if p.isDestination():
                continue
            if name in parameters and is_empty(parameters[name]) and p.flags() & OPTIONAL:
                out[name] = None  # cleared: kept, so that given() reads it as empty
            elif p.defaultValue() is not None:
                out[name] = p.defaultValue()
        out.update({k: v for k, v in parameters.items() if v is not None})
        return out

    def given(self, parameters, name: str) -> bool:
        """True when the field ``name`` has a value: the one passed or, left out, its default; a
        field passed empty has none."""
        if name in parameters:
            return not is_empty(parameters[name])
        p = self.parameterDefinition(name)
        return p is not None and not is_empty(p.defaultValue())

    def check(self, parameters, context) -> None:
        """Readable errors for bad values (missing fields, geographic grid CRS...)."""
        for a in self._args or self.arguments():
            p = a.param
            if isinstance(p, QgsProcessingParameterField) and parameters.get(p.name()) not in (None, "", []):
                parent = p.parentLayerParameterName()
                layer = self.parameterAsVectorLayer(parameters, parent, context) if parent else None
                if layer is None:
                    src = self.parameterAsSource(parameters, parent, context) if parent else None
                    fields = src.fields() if src is not None else None
                else:
                    fields = layer.fields()
                if fields is not None:
                    names = [f.name() for f in fields]
                    for f in as_fields(self, parameters, p.name(), context):
                        if f not in names:
                            raise QgsProcessingException(
                                f"{p.description()}: the field {f!r} is not in the input layer; its fields are: {', '.join(names)}"
                            )
            if isinstance(p, QgsProcessingParameterCrs) and parameters.get(p.name()) not in (None, ""):
                crs = self.parameterAsCrs(parameters, p.name(), context)
                if not crs.isValid():
                    raise QgsProcessingException(f"{p.description()}: {parameters.get(p.name())!r} is not a valid CRS")
                if crs.isGeographic() and getattr(self, "NEEDS_PROJECTED", True):
                    raise QgsProcessingException(
                        f"{p.description()}: {crs.authid() or crs.description()} is geographic (degrees). The grid needs a "
                        "projected CRS in metres (e.g. the UTM zone of the study area, such as EPSG:32649) so that "
                        "resolution, distances and search radii are in metres."
                    )
                if p.name() == "GRID_CRS":
                    self.check_grid_crs(crs, parameters, context)

    def check_grid_crs(self, crs, parameters, context) -> None:
        """The grid CRS must cover the input data (samples or features)."""
        for name in ("POINTS", "INPUT"):
            if parameters.get(name) and self.parameterDefinition(name) is not None:
                src = self.parameterAsSource(parameters, name, context)
                if src is None:
                    continue
                data_crs = layer_crs(self, parameters, name, context)
                what = "the samples" if name == "POINTS" else "the input features"
                check_area_of_use(crs, src.sourceExtent(), data_crs, what, context)
                return

    # ---- running -----------------------------------------------------------------------
    def cli_prefix(self) -> list[str]:
        return runner.resolve_command(executable_setting())

    def build_argv(self, parameters, context, feedback) -> list[str]:
        positional: list[str] = []
        options: list[str] = []
        skipped = self.skipped(parameters, context, feedback)
        for a in self._args or self.arguments():
            if a.name in skipped:
                continue
            if a.to_argv is not None:
                vals = a.to_argv(self, parameters, context, feedback)
            else:
                vals = self.default_argv(a, parameters, context, feedback)
            if not vals:
                continue
            (positional if a.flag is None else options).extend(vals)
        return [self.COMMAND, *positional, *options]

    def skipped(self, parameters, context, feedback=None) -> set[str]:
        """Parameters that do not apply to these values (e.g. epochs for a scikit-learn model)."""
        return set()

    def default_argv(self, a: Arg, parameters, context, feedback) -> list[str]:
        p, name = a.param, a.name
        value = parameters.get(name)
        if isinstance(p, DESTINATIONS):
            # asked once per run (destination_paths): each parameterAsOutputLayer call on a
            # temporary output makes a new name and queues it for loading
            path = self.destinations(parameters, context).get(name, "")
            if not path:  # an optional output the user skipped: not asked of the CLI
                return []
            vals = [path]
        elif value is None or value == "":
            return []
        elif isinstance(p, QgsProcessingParameterBoolean):
            on = self.parameterAsBool(parameters, name, context)
            return [a.flag] if on and a.flag else []
        elif isinstance(p, QgsProcessingParameterEnum):
            idx = self.parameterAsEnum(parameters, name, context)
            vals = [str(a.choices[idx] if a.choices else p.options()[idx])]
        elif isinstance(p, QgsProcessingParameterNumber):
            if not isinstance(p, QgsProcessingParameterDistance) and p.dataType() == QgsProcessingParameterNumber.Integer:
                vals = [str(self.parameterAsInt(parameters, name, context))]
            else:
                vals = [repr(self.parameterAsDouble(parameters, name, context))]
        elif isinstance(p, QgsProcessingParameterField):
            fields = as_fields(self, parameters, name, context)
            if not fields:
                return []
            vals = [",".join(fields)]
        elif isinstance(p, QgsProcessingParameterCrs):
            crs = self.parameterAsCrs(parameters, name, context)
            if not crs.isValid():
                return []
            vals = [crs.authid() or crs.toWkt()]
        elif isinstance(p, QgsProcessingParameterRasterLayer):
            layer = self.parameterAsRasterLayer(parameters, name, context)
            path, _ = file_path_of(layer)
            if not path:
                raise QgsProcessingException(f"{p.description()}: the raster must be a file GDAL can read (got {value!r})")
            vals = [path]
        elif isinstance(p, QgsProcessingParameterMultipleLayers):
            vals = []
            for layer in self.parameterAsLayerList(parameters, name, context):
                path, _ = file_path_of(layer)
                if not path:
                    raise QgsProcessingException(f"{p.description()}: layer {layer.name()!r} is not a file-based raster")
                vals.append(path)
        elif isinstance(p, (QgsProcessingParameterFeatureSource, QgsProcessingParameterVectorLayer)):
            path, layer_name = self.parameterAsCompatibleSourceLayerPathAndLayerName(
                parameters, name, context, ["gpkg", "shp", "geojson", "fgb"], "gpkg", feedback
            )
            vals = [path]
            if layer_name and a.layer_flag:
                return ([path] if a.flag is None else [a.flag, path]) + [a.layer_flag, layer_name]
        elif isinstance(p, QgsProcessingParameterFile):
            vals = [self.parameterAsFile(parameters, name, context)]
        elif isinstance(p, QgsProcessingParameterString):
            vals = [self.parameterAsString(parameters, name, context)]
        else:
            vals = [str(value)]
        return vals if a.flag is None else [a.flag, *vals]

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        self._args = self._args or self.arguments()
        try:
            prefix = self.cli_prefix()
        except runner.GeoprospectRunError as exc:
            raise QgsProcessingException(str(exc)) from exc
        parameters = self.with_defaults(parameters)
        self._destinations = None
        destinations = self.destinations(parameters, context)
        args = self.build_argv(parameters, context, feedback)
        existed = {p for p in destinations.values() if os.path.exists(p)}

        def cleanup() -> None:
            # The CLI writes atomically, so a stopped run leaves nothing; a file that a killed
            # (not terminated) process left behind under a destination name is removed here.
            for p in destinations.values():
                if p not in existed and os.path.isfile(p):
                    try:
                        os.remove(p)
                    except OSError:
                        pass

        try:
            result = runner.run_cli(
                prefix,
                args,
                feedback,
                stages=self.STAGES,
                env=runner.child_environment(pythonpath_setting()),
                cleanup=cleanup,
                reserve=self.PROGRESS_RESERVE,
            )
        except runner.CancelledError as exc:
            raise QgsProcessingException(str(exc)) from exc
        except runner.GeoprospectRunError as exc:
            raise QgsProcessingException(self.name_fields(str(exc))) from exc
        feedback.pushInfo(f"geoprospect {self.COMMAND} finished in {result.seconds:.1f} s")
        results: dict[str, Any] = {"COMMAND": " ".join(prefix + ["--progress", "json"] + args)}
        for a in self._args:
            if a.name in destinations:
                path = destinations[a.name]
                results[a.name] = path
                self.style_output(path, a.style, context, self.output_name(a, parameters, context))
        folder = result.outputs.get("output") or results.get("OUTPUT")
        for r in self.result_outputs():
            path = result.outputs.get(r.key)
            if not path and r.filename and folder and os.path.isdir(str(folder)):
                cand = os.path.join(str(folder), r.filename)
                path = cand if os.path.exists(cand) else None
            results[r.key.upper()] = path
            if path and os.path.exists(path) and r.kind in {"raster", "vector"} and not self.LOADS_RUN:
                self.load_output(path, r.description, r.style, context, r.kind)
            elif path and os.path.exists(path) and (r.kind in {"file", "html"} or self.LOADS_RUN):
                feedback.pushInfo(f"{r.description}: {path}")
        known = {r.key for r in self.result_outputs()}
        for key, path in result.outputs.items():
            if key not in known:
                feedback.pushInfo(f"{key}: {path}")
        if self.LOADS_RUN and folder and os.path.isdir(str(folder)):
            self.load_run(str(folder), results, context, feedback)
        return results

    def flag_fields(self) -> dict[str, str]:
        """The dialog field behind each CLI option (``--bounds`` -> 'Grid extent')."""
        out: dict[str, str] = {}
        for a in self._args or self.arguments():
            for flag in (a.flag, a.layer_flag):
                if flag:
                    out.setdefault(flag, a.param.description())
        for flag, name in {**GRID_FLAGS, **self.CONFIG_FIELDS}.items():
            p = self.parameterDefinition(name)
            if p is not None:
                out.setdefault(flag, p.description())
        return out

    def name_fields(self, message: str) -> str:
        """A CLI message with its options (and their metavars) replaced by the dialog's fields."""
        fields = self.flag_fields()

        def sub(m) -> str:
            name = fields.get(m.group(1))
            return f"'{name}'" if name else m.group(0)

        for key, name in self.CONFIG_FIELDS.items():  # run configuration keys the form writes
            p = self.parameterDefinition(name)
            if p is not None:
                message = message.replace(key, f"'{p.description()}'")
        return FLAG_RE.sub(sub, message).replace("''", "'")

    def load_run(self, folder: str, results: dict, context: QgsProcessingContext, feedback) -> None:
        """Queue a whole run's outputs as one layer-tree group (results.queue_run_layers)."""
        from ..results import queue_run_layers, same_file_layers

        group = f"geoprospect run: {os.path.basename(os.path.normpath(folder))}"
        loaded = queue_run_layers(folder, context, group)
        feedback.pushInfo(f"Loading {len(loaded)} layers into the group '{group}': {', '.join(loaded)}")
        if "deposits" in loaded:
            mine = [lyr.name() for lyr in same_file_layers(context.project(), loaded["deposits"])]
            note = f" Your layer {', '.join(repr(n) for n in mine)} of the same file is left as it was." if mine else ""
            feedback.pushInfo(f"Known deposits: a layer of {loaded['deposits']} is drawn at the top of the group, above the prospectivity.{note}")

    def destinations(self, parameters, context) -> dict[str, str]:
        """The output paths of this run, resolved once (a temporary output gets one name)."""
        if getattr(self, "_destinations", None) is None:
            self._destinations = self.destination_paths(parameters, context)
        return self._destinations

    def destination_paths(self, parameters, context) -> dict[str, str]:
        out = {}
        for a in self._args:
            p = a.param
            if isinstance(p, (QgsProcessingParameterRasterDestination, QgsProcessingParameterVectorDestination)):
                out[a.name] = self.parameterAsOutputLayer(parameters, a.name, context)
            elif isinstance(p, (QgsProcessingParameterFileDestination, QgsProcessingParameterFolderDestination)):
                out[a.name] = self.parameterAsFileOutput(parameters, a.name, context)
        return {k: v for k, v in out.items() if v}

    def style_output(self, path: str, style: str | None, context: QgsProcessingContext, name: str = "") -> None:
        """Attach the QML style to an output QGIS will load (when the user asked for it)."""
        if not context.willLoadLayerOnCompletion(path):
            return
        details = context.layerToLoadOnCompletionDetails(path)
        if style:
            details.setPostProcessor(StylePostProcessor(path, style))
        if name:
            details.name = name

    def output_name(self, arg: Arg, parameters, context) -> str:
        """The layer name of an output loaded into the project ('' = its field's name)."""
        return ""

    def load_output(self, path: str, name: str, style: str | None, context: QgsProcessingContext, kind: str = "") -> None:
        """Add a file reported by the CLI to the project when the run ends, with its style."""
        from qgis.core import QgsProcessingUtils

        details = QgsProcessingContext.LayerDetails(name, context.project(), name)
        if kind:  # without the hint QGIS first tries a .tif as a vector ("Cannot open … ()")
            details.layerTypeHint = QgsProcessingUtils.LayerHint.Raster if kind == "raster" else QgsProcessingUtils.LayerHint.Vector
        details.setPostProcessor(StylePostProcessor(path, style))
        context.addLayerToLoadOnCompletion(path, details)


# ---- helpers for declaring parameters ------------------------------------------------------

def points_to_argv(input_name: str, x_name: str, y_name: str, crs_name: str | None = None):
    """Map a point-layer input to ``POINTS [--x-field F --y-field F --crs CRS] [--layer L]``.

    A CSV loaded as a delimited-text layer is passed as the CSV itself (with its x/y columns and
    CRS); any other layer is passed as its file, or exported to a temporary GeoPackage first.
    """

    def fn(alg: GeoprospectAlgorithm, parameters, context, feedback) -> list[str]:
        layer = alg.parameterAsVectorLayer(parameters, input_name, context)
        xs = as_fields(alg, parameters, x_name, context) if parameters.get(x_name) else []
        ys = as_fields(alg, parameters, y_name, context) if parameters.get(y_name) else []
        info = delimited_text_info(layer)
        crs = None
        if crs_name and parameters.get(crs_name):
            c = alg.parameterAsCrs(parameters, crs_name, context)
            crs = c.authid() if c.isValid() else None
        if info is not None:
            argv = [info["path"]]
            xf = xs[0] if xs else info["xField"]
            yf = ys[0] if ys else info["yField"]
            if xf:
                argv += ["--x-field", xf]
            if yf:
                argv += ["--y-field", yf]
            crs = crs or info["crs"]
            if crs:
                argv += ["--crs", crs]
            return argv
        path, layer_name = alg.parameterAsCompatibleSourceLayerPathAndLayerName(
            parameters, input_name, context, ["gpkg", "shp", "geojson", "fgb", "csv"], "gpkg", feedback
        )
        argv = [path]
        if path.lower().endswith(".csv"):
            if xs:
                argv += ["--x-field", xs[0]]
            if ys:
                argv += ["--y-field", ys[0]]
            if not crs and layer is not None and layer.crs().isValid():
                crs = layer.crs().authid()
        if crs:
            argv += ["--crs", crs]
        if layer_name:
            argv += ["--layer", layer_name]
        return argv

    return fn


def layer_crs(alg, parameters, name: str | None, context):
    """CRS of the input layer ``name`` (a CSV's declared CRS included); invalid when unknown."""
    if not name or not parameters.get(name):
        return QgsCoordinateReferenceSystem()
    if name == "POINTS" and parameters.get("POINTS_CRS"):
        c = alg.parameterAsCrs(parameters, "POINTS_CRS", context)
        if c.isValid():
            return c
    src = alg.parameterAsSource(parameters, name, context)
    return src.sourceCrs() if src is not None else QgsCoordinateReferenceSystem()


def grid_to_argv(template: str, extent: str, resolution: str, grid_crs: str, input_name: str | None = None):
    """``--template RASTER`` when a template is given, else ``--bounds … --resolution R --grid-crs CRS``.

    With an empty grid CRS the grid takes the input layer's CRS (the CLI's default), and the
    extent is given in that CRS."""

    def fn(alg: GeoprospectAlgorithm, parameters, context, feedback) -> list[str]:
        if parameters.get(template):
            layer = alg.parameterAsRasterLayer(parameters, template, context)
            path, _ = file_path_of(layer)
            if not path:
                raise QgsProcessingException("Grid template: the raster must be a file GDAL can read")
            return ["--template", path]
        crs = alg.parameterAsCrs(parameters, grid_crs, context) if parameters.get(grid_crs) else QgsCoordinateReferenceSystem()
        target = crs if crs.isValid() else layer_crs(alg, parameters, input_name, context)
        argv: list[str] = []
        r = alg.parameterAsExtent(parameters, extent, context, target) if parameters.get(extent) else None
        if (r is None or r.isEmpty()) and input_name != "POINTS" and not parameters.get("AREA"):
            # the help's promise: an empty extent is the input's (the CLI needs bounds for vectors)
            r = input_extent(alg, parameters, input_name, context, target)
        if r is not None and not r.isEmpty():
            argv += ["--bounds", *(repr(v) for v in (r.xMinimum(), r.yMinimum(), r.xMaximum(), r.yMaximum()))]
        cell = parameters.get(resolution)
        if cell in (None, ""):  # processing.run without it: the default the form shows
            cell = alg.parameterDefinition(resolution).defaultValue()
        if cell not in (None, "", 0):
            argv += ["--resolution", repr(alg.parameterAsDouble({resolution: cell}, resolution, context))]
        if crs.isValid():
            argv += ["--grid-crs", crs.authid() or crs.toWkt()]
        return argv

    return fn


def input_extent(alg, parameters, name: str | None, context, target):
    """Extent of the input features in ``target`` (the grid CRS); None when unknown. A flat
    extent (one straight fault) is widened to a square around it."""
    from qgis.core import QgsCoordinateTransform, QgsRectangle

    src = alg.parameterAsSource(parameters, name, context) if name and parameters.get(name) else None
    if src is None:
        return None
    r = src.sourceExtent()
    if r.isNull():
        return None
    if target.isValid() and src.sourceCrs().isValid() and target != src.sourceCrs():
        r = QgsCoordinateTransform(src.sourceCrs(), target, context.transformContext()).transformBoundingBox(r)
    if r.width() == 0 or r.height() == 0:
        half = max(r.width(), r.height(), 1.0) / 2
        c = r.center()
        r = QgsRectangle(c.x() - half, c.y() - half, c.x() + half, c.y() + half)
    return r


def check_area_of_use(crs, data_extent, data_crs, what: str, context=None) -> None:
    """Refuse a grid CRS whose area of use does not contain the data (a UTM zone far away
    gives a distorted grid without any other warning)."""
    from qgis.core import QgsCoordinateTransform, QgsProject

    area = crs.bounds()  # WGS 84 degrees; empty when PROJ does not know it
    if area.isEmpty() or data_extent is None or data_extent.isEmpty() or not data_crs.isValid():
        return
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    project = context.project() if context is not None and context.project() is not None else QgsProject.instance()
    try:
        ext = QgsCoordinateTransform(data_crs, wgs84, project).transformBoundingBox(data_extent)
    except Exception:  # noqa: BLE001 - a transform PROJ cannot do: nothing to compare
        return
    centre = ext.center()
    tol = 0.5  # degrees: data a little over a zone edge is usual
    if not (area.xMinimum() - tol <= centre.x() <= area.xMaximum() + tol and area.yMinimum() - tol <= centre.y() <= area.yMaximum() + tol):
        raise QgsProcessingException(
            f"Grid CRS: {crs.authid() or crs.description()} ({crs.description()}) is meant for longitudes "
            f"{area.xMinimum():.1f}° to {area.xMaximum():.1f}° and latitudes {area.yMinimum():.1f}° to {area.yMaximum():.1f}°, "
            f"but {what} lie around {centre.x():.2f}°, {centre.y():.2f}°: the grid would be distorted. "
            f"Leave 'Grid CRS' empty to use the CRS of {what} ({data_crs.authid()}), or pick a projected CRS covering them."
        )


#: field names that hold coordinates or identifiers, never element concentrations
COORDINATE_NAMES = {
    "x", "y", "z", "xcoord", "ycoord", "x_coord", "y_coord", "easting", "northing", "east", "north", "e", "n",
    "lon", "lat", "long", "lng", "longitude", "latitude", "utm_x", "utm_y", "utmx", "utmy", "utm_e", "utm_n",
    "point_x", "point_y", "elev", "elevation", "depth", "fid", "id", "objectid", "gid", "ogc_fid", "sample_id",
}


def is_coordinate_like(name: str) -> bool:
    """True for a column that holds coordinates or identifiers (x, y, easting, lat, fid...)."""
    n = name.strip().lower()
    return n in COORDINATE_NAMES or n.startswith(("x_", "y_")) and n[2:] in {"coord", "utm", "wgs84", "m"}


def default_elements(layer, exclude: Sequence[str] = ()) -> list[str]:
    """Numeric columns of ``layer`` that can be elements: coordinates and identifiers left out."""
    if layer is None:
        return []
    skip = {e.lower() for e in exclude if e}
    return [f.name() for f in layer.fields() if f.isNumeric() and f.name().lower() not in skip and not is_coordinate_like(f.name())]


def elements_to_argv(input_name: str, elements_name: str, x_name: str, y_name: str):
    """``--elements A,B``: the picked columns, or every numeric column that is not a coordinate."""

    def fn(alg: GeoprospectAlgorithm, parameters, context, feedback) -> list[str]:
        picked = as_fields(alg, parameters, elements_name, context) if parameters.get(elements_name) else []
        if not picked:
            layer = alg.parameterAsVectorLayer(parameters, input_name, context)
            info = delimited_text_info(layer) or {}
            xs = as_fields(alg, parameters, x_name, context) if parameters.get(x_name) else []
            ys = as_fields(alg, parameters, y_name, context) if parameters.get(y_name) else []
            picked = default_elements(layer, [*xs, *ys, info.get("xField", ""), info.get("yField", "")])
            if picked and feedback is not None:
                feedback.pushInfo(f"Elements (every numeric column except coordinates and identifiers): {', '.join(picked)}")
        return ["--elements", ",".join(picked)] if picked else []

    return fn


def no_argv(*_args, **_kw) -> list[str]:
    """For parameters consumed by another Arg's mapping (x/y fields, grid extent...)."""
    return []
