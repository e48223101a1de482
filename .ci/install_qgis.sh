#!/usr/bin/env bash
# Install QGIS 3.40 LTR (Debian bookworm-backports) and a test venv for QGIS's own Python.
# Idempotent; run as root on Debian bookworm. Called by .ci/run.
#
# QGIS's Python is /usr/bin/python3 with Debian's numpy 1.24: it must never see numpy 2 or the
# pip site-packages of the geoprospect environment. The test venv below sees the system
# packages (qgis, numpy 1.24, osgeo) and adds only pytest + pytest-qgis (no numpy).
set -euo pipefail

VENV=${QGIS_TEST_VENV:-/opt/qgis-test-venv}
SOURCES=/etc/apt/sources.list.d/backports.sources
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" != 0 ]; then
  echo "install_qgis.sh: run as root" >&2
  exit 1
fi

if ! grep -qs "bookworm-backports" /etc/apt/sources.list.d/* /etc/apt/sources.list 2>/dev/null; then
  cat > "$SOURCES" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

need_qgis=0
command -v qgis_process >/dev/null 2>&1 || need_qgis=1
/usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 || need_qgis=1
dpkg -s qgis-providers >/dev/null 2>&1 || need_qgis=1
command -v gdalinfo >/dev/null 2>&1 || need_qgis=1
if [ "$need_qgis" = 1 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends -t bookworm-backports \
    qgis python3-qgis qgis-providers gdal-bin python3-venv python3-pip
else
  # python3-venv is needed for the test venv (small; usually present)
  /usr/bin/python3 -c "import ensurepip" >/dev/null 2>&1 || { apt-get update -q; apt-get install -y -q --no-install-recommends python3-venv; }
fi

# pytest + pytest-qgis for QGIS's Python, pinned; --no-deps for the plugin so numpy is never touched
if ! "$VENV/bin/python" -c "import pytest, pytest_qgis, qgis.core" >/dev/null 2>&1; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    "pytest==8.3.5" "pluggy==1.7.0" "iniconfig==2.3.1" "packaging>=23"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps "pytest-qgis==5.0.2"
fi

# Guard: QGIS's Python keeps Debian's numpy 1.x
"$VENV/bin/python" - <<'PY'
import numpy, qgis.core
assert numpy.__version__.startswith("1."), f"QGIS's Python sees numpy {numpy.__version__} ({numpy.__file__})"
print(f"QGIS {qgis.core.Qgis.QGIS_VERSION}, numpy {numpy.__version__} at {numpy.__file__}")
PY
QT_QPA_PLATFORM=offscreen qgis_process --version 2>/dev/null | head -1
