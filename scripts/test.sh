#!/usr/bin/env bash
# The project's test command (README): installs what the tests need, then runs them.
#   bash scripts/test.sh            # default suite (fast) + the QGIS provider tests in a real QGIS
#   bash scripts/test.sh -m slow    # extra arguments go to the main pytest run
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e ".[dev]"
bash scripts/install_system_deps.sh
status=0
# ruff, mypy (public API), import-linter layers + no cycles, function lengths (issue 12)
bash scripts/lint.sh || status=$?
# the installable QGIS plugin zip, with the geoprospect wheel of the same version inside
python3 qgis_plugin/build_zip.py --out dist/geoprospect_qgis.zip || status=$?
python3 -m pytest -q "$@" || status=$?
if [ -x /opt/qgis-test-venv/bin/python ] && [ -d tests/qgis ] && [ "${GEOPROSPECT_SKIP_QGIS:-0}" != "1" ]; then
  bash tests/qgis/run_qgis_tests.sh -q || status=$?
fi
exit $status
