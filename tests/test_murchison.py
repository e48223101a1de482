"""Real data (Murchison): the benchmark's evidence and a logistic baseline under spatial CV.

Slow (builds a 330 x 403 km stack and cross-validates): run with ``pytest -m slow``.
"""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "datasets" / "murchison"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (DATA / "gold_deposits.gpkg").exists(), reason="Murchison data not available")]


def _bench():
    spec = importlib.util.spec_from_file_location("murchison_bench", ROOT / "benchmarks" / "murchison.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_murchison_logistic_beats_random_and_baseline_is_strong(tmp_path):
    out = _bench().main(["--models", "logistic", "--no-random-split", "--folds", "3", "--block-km", "60", "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "res")])
    res = out["results"]
    base = res["distance to greenstone"]["deposits"]
    lr = res["logistic"]["deposits"]
    assert base["n_deposits"] == lr["n_deposits"] >= 250
    assert base["success_rate_auc"] > 0.85  # geology dominates (DESIGN.md)
    assert lr["success_rate_auc"] > 0.8 and lr["capture_top_20pct"] > 0.6
    assert res["logistic"]["windows"]["roc_auc"] > 0.8
    assert out["meta"]["cv"]["label"] == "spatial blocks"
    md = (tmp_path / "res" / "murchison.md").read_text()
    assert "doi:10.25919/9dsm-wr21" in md and "spatstat.data" in md
