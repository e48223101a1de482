"""The real-desktop screenshot script (scripts/qgis_screenshots.sh + the startup file it gives to
`qgis --code`) is not run by the tests (it needs QGIS Desktop and Xvfb, ~3 minutes): checked here
for syntax, and the screenshots docs/qgis.md shows exist, are the ones the script writes, and
stay small."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHELL = ROOT / "scripts" / "qgis_screenshots.sh"
STARTUP = ROOT / "scripts" / "qgis_screenshots.py"


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_shell_script_parses():
    r = subprocess.run(["bash", "-n", str(SHELL)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "qgis_screenshots.py" in SHELL.read_text(encoding="utf-8")


def test_startup_script_compiles():
    compile(STARTUP.read_text(encoding="utf-8"), str(STARTUP), "exec")


def test_docs_show_the_desktop_screenshots_the_script_writes():
    docs = (ROOT / "docs" / "qgis.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"\(img/(qgis_desktop_\w+\.png)\)", docs))
    written = set(re.findall(r'shoot\("(qgis_desktop_\w+\.png)"\)|shot="(qgis_desktop_\w+\.png)"', STARTUP.read_text(encoding="utf-8")))
    written = {a or b for a, b in written}
    assert {"qgis_desktop_toolbox.png", "qgis_desktop_interpolate.png", "qgis_desktop_run.png"} <= shown
    assert shown <= written, shown - written
    for name in shown:
        png = ROOT / "docs" / "img" / name
        assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert png.stat().st_size < 300_000, (name, png.stat().st_size)
    assert "scripts/qgis_screenshots.sh" in docs
