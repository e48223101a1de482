#!/usr/bin/env bash
# System packages the tests need: GDAL command-line tools (gdal_grid, gdal_proximity.py: the
# independent references) and QGIS 3.40 LTR (the Processing provider's tests). Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v gdal_grid >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends gdal-bin python3-gdal >/dev/null
fi
if [ -f "$here/../.ci/install_qgis.sh" ] && [ "${GEOPROSPECT_SKIP_QGIS:-0}" != "1" ]; then
  bash "$here/../.ci/install_qgis.sh"
fi
