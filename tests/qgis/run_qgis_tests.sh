#!/usr/bin/env bash
# Run the QGIS tests with QGIS's own Python (see tests/qgis/conftest.py).
#   bash tests/qgis/run_qgis_tests.sh [pytest args...]
# Needs .ci/install_qgis.sh once. The real-CLI tests use the first python3 on PATH that imports
# geoprospect from this checkout (or $GEOPROSPECT_TEST_PYTHON); they skip without one.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${QGIS_TEST_VENV:-/opt/qgis-test-venv}
PROFILE=$(mktemp -d /tmp/qgis-test-profile.XXXXXX)   # keep the user's QGIS settings untouched
trap 'rm -rf "$PROFILE"' EXIT
unset PYTHONPATH PYTHONHOME
export QT_QPA_PLATFORM=offscreen QGIS_CUSTOM_CONFIG_PATH="$PROFILE" XDG_RUNTIME_DIR="$PROFILE"
exec "$VENV/bin/python" -m pytest -c tests/qgis/pytest.ini tests/qgis "$@"
