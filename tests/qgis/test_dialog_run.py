"""Every single-stage algorithm run the way the desktop runs it: its Processing dialog
(processing.gui.AlgorithmDialog, offscreen), outputs left at QGIS's default "[Save to temporary
file]" (TEMPORARY_OUTPUT), the algorithm run by the dialog (a QgsProcessingAlgRunnerTask) and its
results loaded by the dialog (handleAlgorithmResults). The real CLI runs on the small data of
test_qgis_process_all.

Checked per output: the path the dialog reports exists and is the file the CLI wrote; the layer
QGIS loaded is that file (no "layers were not correctly generated"); rasters are styled (one
band with a ramp, or the plugin's QML), vectors carry their style.
"""

from __future__ import annotations

import os
import time

import pytest
from test_qgis_process_all import EXTENT, RES, data  # noqa: F401 - the module's data fixture

pytestmark = pytest.mark.slow


def run_dialog(alg_id: str, params: dict, timeout: float = 600.0):
    """Open ``alg_id``'s dialog, set ``params`` (outputs left at their default), press Run; returns
    (ok, results, log text)."""
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from qgis.core import QgsApplication
    from qgis.PyQt import sip
    from qgis.PyQt.QtWidgets import QApplication

    alg = QgsApplication.processingRegistry().createAlgorithmById(alg_id)
    dlg = AlgorithmDialog(alg)
    dlg.setParameters(params)
    done: list = []
    dlg.algorithmFinished.connect(lambda ok, res: done.append((ok, res)))
    feedbacks: list = []
    make_feedback = dlg.createFeedback

    def recorded():
        feedbacks.append(make_feedback())
        return feedbacks[-1]

    dlg.createFeedback = recorded
    dlg.runAlgorithm()
    t0 = time.monotonic()
    while not done and time.monotonic() - t0 < timeout:
        QApplication.processEvents()
        time.sleep(0.02)
        text = feedbacks[0].textLog() if feedbacks else ""
        if not done and "Execution failed" in text:  # no algorithmFinished then
            done.append((False, {}))
        elif not done and "Execution completed" in text:  # the results were handled in the same call
            done.append((False, {"log": "the dialog did not finish: its results could not be loaded"}))
    for _ in range(20):
        QApplication.processEvents()
    text = feedbacks[0].textLog() if feedbacks else ""
    if not sip.isdeleted(dlg):  # QGIS closes (and deletes) it after a success
        dlg.close()
    assert done, f"{alg_id} did not finish through its dialog:\n{text[-3000:]}"
    return done[0][0], done[0][1], text


@pytest.fixture(scope="module")
def dialog_env(provider, geoprospect_python, qgis_app):
    """The real CLI, a clean project, QGIS's standalone mode (no main window)."""
    import processing.gui.ParametersPanel as panel_mod
    import processing.gui.Postprocessing as post_mod
    from conftest import SOURCE
    from processing.core.ProcessingConfig import ProcessingConfig
    from qgis.core import QgsProject

    with pytest.MonkeyPatch.context() as mp:
        ProcessingConfig.setSettingValue("GEOPROSPECT_EXECUTABLE", "")
        mp.setenv("GEOPROSPECT_EXECUTABLE", geoprospect_python)
        mp.setenv("GEOPROSPECT_PYTHONPATH", str(SOURCE))
        mp.setenv("GEOPROSPECT_NO_BROWSER", "1")
        mp.setattr(panel_mod, "iface", None)
        mp.setattr(post_mod, "iface", None)
        QgsProject.instance().clear()
        yield QgsProject.instance()


def loaded(project, path: str):
    """The project's layers whose file is ``path``."""
    from geoprospect_qgis.algorithms.base import file_path_of

    return [lyr for lyr in project.mapLayers().values() if os.path.realpath(file_path_of(lyr)[0] or lyr.source()) == os.path.realpath(path)]


def check_raster(project, path: str, style: str, log: str):
    from qgis.core import QgsRasterLayer, QgsSingleBandPseudoColorRenderer

    assert os.path.isfile(path), f"reported output {path} does not exist:\n{log[-2000:]}"
    assert "not correctly generated" not in log, log[-2000:]
    layers = loaded(project, path)
    assert len(layers) == 1, (path, [lyr.source() for lyr in project.mapLayers().values()])
    layer = layers[0]
    assert isinstance(layer, QgsRasterLayer) and layer.isValid()
    assert isinstance(layer.renderer(), QgsSingleBandPseudoColorRenderer), type(layer.renderer())  # one band with a ramp, never RGB
    used = layer.customProperty("geoprospect/style", "")
    assert used and used.startswith(style), used  # the CLI's sidecar QML, the plugin's, or one built for the data
    if used.startswith("qml:"):
        assert os.path.isfile(used[4:])
    return layer


def check_vector(project, path: str, log: str):
    from qgis.core import QgsVectorLayer

    assert os.path.isfile(path), f"reported output {path} does not exist:\n{log[-2000:]}"
    assert "not correctly generated" not in log, log[-2000:]
    layers = loaded(project, path)
    assert len(layers) == 1 and isinstance(layers[0], QgsVectorLayer) and layers[0].isValid() and layers[0].featureCount() > 0
    return layers[0]


class Chain:
    """Each algorithm once, through its dialog; later ones take earlier outputs."""

    def __init__(self, project, inputs):
        self.project, self.data, self.done = project, inputs, {}

    def __getitem__(self, alg: str):
        if alg not in self.done:
            ok, res, log = run_dialog(f"geoprospect:{alg}", getattr(self, "_" + alg)())
            assert ok, f"{alg} failed through its dialog:\n{log[-3000:]}"
            self.done[alg] = (res, log)
        return self.done[alg]

    def _interpolate(self):
        return {"POINTS": str(self.data["samples"]), "ELEMENTS": ["Au", "As"], "EXTENT": EXTENT, "RESOLUTION": RES}

    def _distance(self):
        return {"INPUT": str(self.data["faults"]), "TEMPLATE": self["interpolate"][0]["OUTPUT"]}

    def _density(self):
        return {"INPUT": str(self.data["faults"]), "RADIUS": 1000.0, "TEMPLATE": self["interpolate"][0]["OUTPUT"]}

    def _geology(self):
        return {"INPUT": str(self.data["geology"]), "FIELD": "unit", "TEMPLATE": self["interpolate"][0]["OUTPUT"]}

    def _stack(self):
        return {"RASTERS": [self["interpolate"][0]["OUTPUT"], self["distance"][0]["OUTPUT"], self["density"][0]["OUTPUT"]]}

    def _prepare_geochem(self):
        return {"POINTS": str(self.data["samples"]), "ELEMENTS": ["Au", "As"]}

    def _tile(self):
        return {"STACK": self["stack"][0]["OUTPUT"], "DEPOSITS": str(self.data["deposits"]), "SIZE": 8, "STRIDE": 4}

    def _weights_of_evidence(self):
        return {"STACK": self["stack"][0]["OUTPUT"], "DEPOSITS": str(self.data["deposits"])}

    def _fuzzy(self):
        return {"STACK": self["stack"][0]["OUTPUT"], "MEMBERSHIPS": "log10_Au:linear:0:2"}


@pytest.fixture(scope="module")
def chain(dialog_env, data):  # noqa: F811
    return Chain(dialog_env, data)


@pytest.mark.parametrize("alg, style", [("interpolate", ""), ("distance", ""), ("density", ""), ("geology", ""), ("stack", "built:stack"),
                                        ("fuzzy", "qml:"), ("weights_of_evidence", "qml:")])
def test_raster_output_at_its_default_temporary_file(chain, alg, style):
    from qgis.core import QgsProcessingUtils

    res, log = chain[alg]
    path = res["OUTPUT"]
    assert path.startswith(QgsProcessingUtils.tempFolder())  # the dialog's default: a temporary file
    layer = check_raster(chain.project, path, style, log)
    if alg == "interpolate":  # named after what it holds, not "Interpolated elements"
        assert layer.name() == "IDW log10 Au, As", layer.name()


def test_vector_outputs_at_their_default_temporary_file(chain):
    for alg in ("prepare_geochem", "tile"):
        res, log = chain[alg]
        layer = check_vector(chain.project, res["OUTPUT"], log)
        if alg == "tile":
            assert layer.renderer().type() != "singleSymbol" or layer.customProperty("geoprospect/style"), layer.renderer().type()


def test_file_outputs_at_their_default_temporary_file(chain):
    res, log = chain["weights_of_evidence"]
    assert os.path.isfile(res["TABLE"]) and res["TABLE"].endswith(".csv"), res


def _required(alg) -> list[str]:
    """The inputs the form cannot run without: not optional, no default, not an output."""
    from geoprospect_qgis.algorithms.base import OPTIONAL

    return [p.name() for p in alg.parameterDefinitions()
            if not p.flags() & OPTIONAL and not p.isDestination() and p.defaultValue() in (None, "") and not p.name().startswith("_")]


SINGLE = ["interpolate", "distance", "density", "geology", "stack", "prepare_geochem", "select_elements", "kriging_cv", "tile", "train",
          "predict", "weights_of_evidence", "fuzzy", "evaluate", "evaluate_cv", "ensemble"]


def test_defaults_plus_required_inputs_run_or_name_a_field(chain):
    """Each algorithm with only its required inputs (everything else as the form shows it): it
    succeeds, or its error names a field of the dialog (never a CLI option)."""
    import re

    import processing
    from geoprospect_qgis.algorithms.base import OPTIONAL
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback

    d, stack = chain.data, chain["stack"][0]["OUTPUT"]
    windows = chain["tile"][0]["OUTPUT"]
    given = {"POINTS": str(d["samples"]), "INPUT": str(d["faults"]), "FIELD": "unit", "RASTERS": [chain["interpolate"][0]["OUTPUT"]], "STACK": stack,
             "DEPOSITS": str(d["deposits"]), "WINDOWS": windows, "MEMBERSHIPS": "log10_Au:large", "PROSPECTIVITY": chain["fuzzy"][0]["OUTPUT"],
             "INPUTS": [chain["fuzzy"][0]["OUTPUT"], chain["weights_of_evidence"][0]["OUTPUT"]]}
    outcome = {}
    for name in SINGLE:
        alg = QgsApplication.processingRegistry().createAlgorithmById(f"geoprospect:{name}")
        if name == "predict":
            given["MODEL"] = outcome["train"]  # the model folder trained just before
        if name == "evaluate":
            given["PROSPECTIVITY"] = outcome["predict"]  # evaluate reads predict's window tags
        params = {k: given[k] for k in _required(alg)}
        for p in alg.destinationParameterDefinitions():  # what the dialog passes for an output left as it is
            if not (p.flags() & OPTIONAL and not p.createByDefault()) and p.defaultValue() in (None, ""):
                params[p.name()] = "TEMPORARY_OUTPUT"
        if name == "geology":
            params["INPUT"] = str(d["geology"])
        assert set(_required(alg)) <= set(params), (name, _required(alg))
        ctx = QgsProcessingContext()
        ctx.setProject(chain.project)
        try:
            res = processing.run(f"geoprospect:{name}", params, feedback=QgsProcessingFeedback(), context=ctx)
            outcome[name] = res.get("OUTPUT")
        except QgsProcessingException as exc:
            msg = str(exc)
            fields = [p.description() for p in alg.parameterDefinitions()]
            assert any(f"'{f}'" in msg or f"{f}:" in msg for f in fields), f"{name}: the error names no field of the dialog: {msg}"
            assert not re.search(r"(?<![\w-])--[a-z]", msg), f"{name}: the error names a CLI option: {msg}"
            outcome[name] = f"refused: {msg[:200]}"
    print("\n".join(f"{k}: {v}" for k, v in outcome.items()))
