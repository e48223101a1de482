"""Run whole pipeline (from layers) in a project that already holds the geologist's own samples,
deposits and faults (as a user has them before running), loaded as the desktop loads results
(processing.runAndLoadResults: the same handleAlgorithmResults as the dialog).

After the run: known deposits are drawn above the prospectivity raster (checked in the layer
order QGIS draws), and the user's own layers keep their names, styles and places; the progress
bar reaches 100 % only when geoprospect has finished.
"""

from __future__ import annotations

import os
import time

import pytest
from conftest import csv_layer

pytestmark = pytest.mark.slow
BOUNDS = (500000.0, 2800000.0, 540000.0, 2840000.0)


@pytest.fixture(scope="module")
def user_run(provider, geoprospect_python, tmp_path_factory):
    from conftest import SOURCE, sample_data

    data = sample_data()
    if data is None:
        pytest.skip("no sample data")
    import processing
    from processing.core.ProcessingConfig import ProcessingConfig
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject, QgsVectorLayer

    project = QgsProject.instance()
    project.clear()
    samples = csv_layer(data / "samples.csv")
    samples.setName("soil samples")
    deposits = QgsVectorLayer(str(data / "deposits.gpkg"), "my deposits", "ogr")
    faults = QgsVectorLayer(str(data / "fault_lines.gpkg"), "faults", "ogr")
    for layer in (samples, faults, deposits):  # deposits end on top, as a geologist keeps them
        assert layer.isValid()
        project.addMapLayer(layer)
    before = {lyr.id(): (lyr.name(), lyr.renderer().dump()) for lyr in (samples, deposits, faults)}
    with pytest.MonkeyPatch.context() as mp:
        ProcessingConfig.setSettingValue("GEOPROSPECT_EXECUTABLE", "")
        mp.setenv("GEOPROSPECT_EXECUTABLE", geoprospect_python)
        mp.setenv("GEOPROSPECT_PYTHONPATH", str(SOURCE))
        out = tmp_path_factory.mktemp("user_run") / "run"
        fb = QgsProcessingFeedback()
        t0 = time.monotonic()
        bar: list[tuple[float, float]] = []
        fb.progressChanged.connect(lambda p: bar.append((time.monotonic() - t0, p)))
        ctx = QgsProcessingContext()
        ctx.setProject(project)
        processing.runAndLoadResults("geoprospect:run_layers", {
            "POINTS": samples.id(), "ELEMENTS": ["Au_ppb", "As_ppm", "Cu_ppm", "Pb_ppm", "Zn_ppm"], "FAULTS": faults.id(), "DEPOSITS": deposits.id(),
            "ALTERATION": str(data / "alteration.gpkg"), "EXTENT": f"{BOUNDS[0]},{BOUNDS[2]},{BOUNDS[1]},{BOUNDS[3]} [EPSG:32649]",
            "RESOLUTION": 250, "RADIUS": 3000, "OUTPUT": str(out)}, feedback=fb, context=ctx)
    return project, before, deposits, fb.textLog(), bar


def _file(layer) -> str:
    from qgis.core import QgsProviderRegistry

    return os.path.realpath(QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source()).get("path") or layer.source())


def test_deposits_are_drawn_above_the_prospectivity(user_run):
    project, before, mine, log, bar = user_run
    order = project.layerTreeRoot().layerOrder()  # QGIS draws the first on top
    names = [lyr.name() for lyr in order]
    prospectivity = next(i for i, lyr in enumerate(order) if lyr.name() == "Prospectivity")
    shown_deposits = [i for i, lyr in enumerate(order) if lyr.type() == lyr.VectorLayer and _file(lyr) == _file(mine)]
    assert shown_deposits and min(shown_deposits) < prospectivity, names
    group = next(g for g in project.layerTreeRoot().findGroups() if g.name().startswith("geoprospect run:"))
    top = group.children()[0]
    assert top.name() == "Known deposits" and top.layer().id() != mine.id() and top.isVisible()


def test_user_layers_keep_their_names_styles_and_places(user_run):
    project, before, mine, log, bar = user_run
    root = project.layerTreeRoot()
    for layer_id, (name, renderer) in before.items():
        layer = project.mapLayer(layer_id)
        assert layer is not None and layer.name() == name
        assert layer.renderer().dump() == renderer, name
        assert root.findLayer(layer_id).parent() == root, name  # not moved into the run's group
    assert "Your layer 'my deposits' of the same file is left as it was" in log, log[-3000:]


def test_progress_reaches_100_when_the_run_is_done(user_run):
    """The bar stays within its stages' share (80 %) until geoprospect has finished: a run's
    evaluation and report come after its last progress line (it used to show 100 % ~13 s early)."""
    *_, bar = user_run
    first_full = next(i for i, (_, p) in enumerate(bar) if p >= 100)
    before = [p for _, p in bar[:first_full]]
    assert before and max(before) <= 80.0 + 1e-6, before[-5:]
    assert before == sorted(before)  # only forward
    last_t = bar[first_full - 1][0]
    print(f"bar at {before[-1]:.0f} % from {last_t:.1f} s, 100 % at {bar[first_full][0]:.1f} s (run done)")
