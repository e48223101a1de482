"""benchmarks/gpu_check.sh --smoke runs (tiny sizes, CPU) and reports every model, so the GPU check cannot rot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_check_smoke(tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(SCRIPT), "--smoke", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads((tmp_path / "gpu_check_smoke.json").read_text())
    assert doc["smoke"] is True
    assert set(doc["models"]) == {"blend_cell", "dense_cnn", "resnet18"}
    for name, row in doc["models"].items():
        assert row["train_samples_per_s"] > 0, name
        assert row["cells_per_s"] > 0, name
        assert row["cells_scored"] == doc["sizes"]["large_side" if name == "dense_cnn" else "small_side"] ** 2, name
    assert doc["models"]["blend_cell"]["score_device"] == "cpu"
    assert doc["models"]["dense_cnn"]["patch"] == 15
