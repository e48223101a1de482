"""Build the zip that QGIS's "Plugins ▸ Install from ZIP" accepts.

    python qgis_plugin/build_zip.py            # -> dist/geoprospect_qgis.zip
    python qgis_plugin/build_zip.py --out X.zip

The zip holds one top-level folder, ``geoprospect_qgis/``, with metadata.txt, the icon, the
provider, the algorithms and the styles (no caches). Uses only the standard library.
"""

from __future__ import annotations

import argparse
import configparser
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN = HERE / "geoprospect_qgis"
SKIP_DIRS = {"__pycache__", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".zip"}


def plugin_files(root: Path = PLUGIN) -> list[Path]:
    """Files shipped in the zip, sorted (so the zip is reproducible)."""
    files = []
    for p in sorted(root.rglob("*")):
        if p.is_dir() or any(part in SKIP_DIRS for part in p.relative_to(root).parts) or p.suffix in SKIP_SUFFIXES:
            continue
        files.append(p)
    return files


def check_metadata(root: Path = PLUGIN) -> dict[str, str]:
    cp = configparser.ConfigParser()
    cp.read(root / "metadata.txt", encoding="utf-8")
    meta = dict(cp["general"])
    for key in ("name", "qgisminimumversion", "description", "about", "version", "author", "email", "repository", "hasprocessingprovider"):
        if not meta.get(key):
            raise SystemExit(f"metadata.txt lacks '{key}'")
    if meta["hasprocessingprovider"].lower() != "yes":
        raise SystemExit("metadata.txt must say hasProcessingProvider=yes")
    if not (root / meta.get("icon", "icon.svg")).exists():
        raise SystemExit("the icon named in metadata.txt is missing")
    return meta


def build(out: Path) -> Path:
    meta = check_metadata()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in plugin_files():
            info = zipfile.ZipInfo(str(Path(PLUGIN.name) / f.relative_to(PLUGIN)), date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, f.read_bytes())
    tmp.replace(out)  # atomic: no half-written zip
    print(f"{out} (geoprospect_qgis {meta['version']}, {len(plugin_files())} files)")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE.parent / "dist" / "geoprospect_qgis.zip")
    args = ap.parse_args(argv)
    build(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
