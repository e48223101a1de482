#!/usr/bin/env bash
# Screenshots of geoprospect in the real QGIS Desktop (not offscreen renders), for docs/qgis.md:
#   docs/img/qgis_desktop_toolbox.png      the Processing toolbox searched for "geoprospect"
#   docs/img/qgis_desktop_interpolate.png  Interpolate run from its dialog, temporary output, styled
#   docs/img/qgis_desktop_run_dialog.png   the dialog of Run whole pipeline (from layers), as it opens
#   docs/img/qgis_desktop_run.png          Run whole pipeline (from layers): the run's group
#
#   bash scripts/qgis_screenshots.sh
#
# QGIS Desktop runs under Xvfb (1280 x 800) in a fresh temporary profile; the plugin is installed
# there from the zip built by qgis_plugin/build_zip.py, through the Plugin Manager's "Install from
# ZIP" code; scripts/qgis_screenshots.py (given to `qgis --code`) loads sample_data/, runs the
# algorithms from their dialogs and grabs the screen. Needs QGIS (.ci/install_qgis.sh) and a
# Python with geoprospect's dependencies: $GEOPROSPECT_EXECUTABLE, else the first python3 on PATH
# that imports geoprospect from this checkout (run with PYTHONPATH=<checkout>). Xvfb, xauth and
# pngquant are installed with apt-get when missing (as root). Not part of any test run: about
# 3-5 minutes. Options (environment): QGIS_BIN (qgis), SHOTS_OUT (docs/img), KEEP_WORK=1 (keep the
# profile, logs and run folder), SHOTS_QUICK=1 (the toolbox screenshot only).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OUT=${SHOTS_OUT:-$REPO/docs/img}
QGIS_BIN=${QGIS_BIN:-qgis}

apt_install() {  # apt_install COMMAND PACKAGE: the package when the command is missing
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" != 0 ]; then echo "missing $1: apt-get install $2 (as root)" >&2; return 1; fi
    [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
apt_install Xvfb xvfb
apt_install xvfb-run xvfb
apt_install xauth xauth
apt_install pngquant pngquant || echo "pngquant missing: the PNGs are written unoptimised" >&2
command -v "$QGIS_BIN" >/dev/null || { echo "no QGIS ($QGIS_BIN): bash .ci/install_qgis.sh" >&2; exit 1; }

geoprospect_python() {  # the interpreter of a geoprospect environment (not QGIS's /usr/bin/python3)
    local c
    for c in ${GEOPROSPECT_EXECUTABLE:-} $(type -ap python3 || true); do
        case "$(readlink -f "$c")" in /usr/bin/python*) continue ;; esac
        if PYTHONPATH=$REPO "$c" -c "import geoprospect.cli" >/dev/null 2>&1; then
            PYTHONPATH=$REPO "$c" -c "import sys; print(sys.executable)"
            return 0
        fi
    done
    echo "no Python with geoprospect found: set GEOPROSPECT_EXECUTABLE" >&2
    return 1
}
PY=$(geoprospect_python)
echo "geoprospect: $PY (PYTHONPATH=$REPO)"

WORK=$(mktemp -d /tmp/geoprospect-shots.XXXXXX)
[ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$WORK"' EXIT
"$PY" qgis_plugin/build_zip.py --out "$WORK/geoprospect_qgis.zip"
mkdir -p "$WORK/profiles" "$WORK/run" "$OUT"

export GEOPROSPECT_EXECUTABLE=$PY GEOPROSPECT_PYTHONPATH=$REPO GEOPROSPECT_NO_BROWSER=1
export GEOPROSPECT_SHOTS_ZIP=$WORK/geoprospect_qgis.zip GEOPROSPECT_SHOTS_DATA=$REPO/sample_data GEOPROSPECT_SHOTS_OUT=$WORK/png
export GEOPROSPECT_SHOTS_RUN=$WORK/run/run GEOPROSPECT_SHOTS_LOG=$WORK/shots.log GEOPROSPECT_SHOTS_DONE=$WORK/done
export GEOPROSPECT_SHOTS_QUICK=${SHOTS_QUICK:-}
export QT_QPA_PLATFORM=xcb XDG_RUNTIME_DIR=$WORK LANG=C.UTF-8 LC_ALL=C.UTF-8
unset PYTHONPATH PYTHONHOME QGIS_CUSTOM_CONFIG_PATH

status=0
timeout 1800 xvfb-run -a -s "-screen 0 1280x800x24 -dpi 96 -nolisten tcp" \
    "$QGIS_BIN" --profiles-path "$WORK/profiles" --profile screenshots --nologo --noversioncheck \
    --code "$REPO/scripts/qgis_screenshots.py" >"$WORK/qgis.out" 2>&1 || status=$?
if [ ! -f "$WORK/done" ]; then
    echo "QGIS did not finish the screenshots (exit $status); its log:" >&2
    cat "$WORK/shots.log" >&2 || true
    tail -40 "$WORK/qgis.out" >&2 || true
    exit 1
fi
cat "$WORK/shots.log"
for png in "$WORK"/png/*.png; do
    if command -v pngquant >/dev/null; then
        pngquant --force --skip-if-larger --quality 60-90 --output "$OUT/$(basename "$png")" "$png" || cp "$png" "$OUT/"
    else
        cp "$png" "$OUT/"
    fi
    echo "$OUT/$(basename "$png"): $(stat -c %s "$OUT/$(basename "$png")") bytes"
done
