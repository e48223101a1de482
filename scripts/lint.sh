#!/usr/bin/env bash
# The habits that keep the layout (issue 12): ruff (pyflakes, isort, bugbear), mypy on the public
# API (pydantic plugin), the import-linter layers and no-cycle contracts (.importlinter) and the
# ~80-line function limit. Run by scripts/test.sh (and so by .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m ruff check geoprospect tests benchmarks qgis_plugin scripts
python3 -m mypy
PYTHONPATH=qgis_plugin${PYTHONPATH:+:$PYTHONPATH} lint-imports  # geoprospect_qgis lives in qgis_plugin/
python3 scripts/function_lengths.py geoprospect --max 80
