"""Build the zip that QGIS's "Plugins ▸ Install from ZIP" accepts.

    python qgis_plugin/build_zip.py            # -> dist/geoprospect_qgis.zip
    python qgis_plugin/build_zip.py --out X.zip
    python qgis_plugin/build_zip.py --wheel dist/geoprospect-0.1.0-py3-none-any.whl
    python qgis_plugin/build_zip.py --publish  # for plugins.qgis.org: placeholders refused

The zip holds one top-level folder, ``geoprospect_qgis/``, with metadata.txt, the icon, the
provider, the algorithms, the styles (no caches) and ``wheels/geoprospect-<version>-*.whl``:
the geoprospect of the same version, built here with ``python -m pip wheel --no-deps .``,
which the plugin's environment panel installs into a private environment. metadata.txt is
checked against the QGIS plugin repository's rules first. The repository, tracker, homepage
and e-mail are still placeholders (github.com/geoprospect/geoprospect, example.org): a plain
build says so in a warning and goes on (CI and local installs need no real URLs); ``--publish``
refuses to build until they are set.
"""

from __future__ import annotations

import argparse
import configparser
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PLUGIN = HERE / "geoprospect_qgis"
SKIP_DIRS = {"__pycache__", ".pytest_cache", "wheels"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".zip", ".whl"}


def plugin_files(root: Path = PLUGIN) -> list[Path]:
    """Files shipped in the zip, sorted (so the zip is reproducible)."""
    files = []
    for p in sorted(root.rglob("*")):
        if p.is_dir() or any(part in SKIP_DIRS for part in p.relative_to(root).parts) or p.suffix in SKIP_SUFFIXES:
            continue
        files.append(p)
    return files


#: keys plugins.qgis.org refuses a zip without (its validator, QGIS-Django plugins/validator.py)
REQUIRED = ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email", "repository", "tracker")
URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")


def check_metadata(root: Path = PLUGIN) -> dict[str, str]:
    """metadata.txt as the QGIS plugin repository validates it: the required keys, a numeric
    version, URLs for repository/tracker/homepage, an e-mail, the icon and LICENSE present, no
    slash in the author, an identifier as folder name. (The repository also opens each URL:
    see check_publishable for the placeholders.)"""
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str  # keep qgisMinimumVersion's case
    cp.read(root / "metadata.txt", encoding="utf-8")
    meta = dict(cp["general"])
    for key in REQUIRED:
        if not meta.get(key, "").strip():
            raise SystemExit(f"metadata.txt lacks '{key}' (required by the QGIS plugin repository)")
    if not re.fullmatch(r"\d+(\.\d+){0,3}", meta["version"]) or not re.fullmatch(r"\d+\.\d+(\.\d+)?", meta["qgisMinimumVersion"]):
        raise SystemExit("metadata.txt: version and qgisMinimumVersion must be numbers such as 0.1.0 and 3.22")
    for key in ("repository", "tracker", "homepage"):
        if meta.get(key) and not URL.match(meta[key]):
            raise SystemExit(f"metadata.txt: {key} must be an http(s) URL, not {meta[key]!r}")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", meta["email"]):
        raise SystemExit(f"metadata.txt: email {meta['email']!r} is not an e-mail address")
    if meta.get("hasProcessingProvider", "").lower() != "yes":
        raise SystemExit("metadata.txt must say hasProcessingProvider=yes")
    if not (root / meta.get("icon", "icon.svg")).exists():
        raise SystemExit("the icon named in metadata.txt is missing")
    if not (root / "__init__.py").read_text(encoding="utf-8").count("def classFactory"):
        raise SystemExit("__init__.py has no classFactory")
    if "/" in meta["author"]:
        raise SystemExit("metadata.txt: author cannot contain slashes")
    if not root.name.isidentifier():
        raise SystemExit(f"the plugin folder {root.name!r} must be a Python identifier (plugins.qgis.org refuses new plugins otherwise)")
    if not (root / "LICENSE").is_file():  # required by plugins.qgis.org since June 2024
        raise SystemExit(f"{root / 'LICENSE'} is missing (plugins.qgis.org refuses a plugin without a LICENSE file)")
    return meta


#: plugins.qgis.org's upload limit (bytes)
MAX_ZIP_BYTES = 25_000_000


def check_zip(path: Path) -> None:
    """The built zip as plugins.qgis.org opens it: one top folder, LICENSE, no caches, size limit."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        bad = zf.testzip()
    tops = {n.split("/")[0] for n in names}
    forbidden = [n for n in names if n.endswith((".pyc", ".pyo")) or {"__pycache__", "__MACOSX", ".git"} & set(n.split("/"))]
    problems = [
        f"{len(tops)} top-level folders ({', '.join(sorted(tops))})" if len(tops) != 1 else "",
        f"{PLUGIN.name}/LICENSE missing" if f"{PLUGIN.name}/LICENSE" not in names else "",
        f"forbidden entries: {', '.join(forbidden[:5])}" if forbidden else "",
        f"CRC error in {bad}" if bad else "",
        f"{path.stat().st_size / 1e6:.1f} MB, over plugins.qgis.org's 25 MB" if path.stat().st_size > MAX_ZIP_BYTES else "",
    ]
    problems = [p for p in problems if p]
    if problems:
        raise SystemExit(f"{path}: " + "; ".join(problems))


#: values that only hold a place: the project has no public repository or contact yet
PLACEHOLDERS = ("github.com/geoprospect/geoprospect", "@example.org", "@example.com")


def placeholder_keys(meta: dict[str, str]) -> list[str]:
    """metadata.txt keys (repository, tracker, homepage, email) that still hold a placeholder."""
    return [k for k in ("repository", "tracker", "homepage", "email") if any(p in meta.get(k, "") for p in PLACEHOLDERS)]


def check_publishable(meta: dict[str, str], publish: bool) -> list[str]:
    """Warn (or with ``publish``, refuse) when metadata.txt still holds placeholders."""
    keys = placeholder_keys(meta)
    if not keys:
        return []
    msg = (f"metadata.txt: {', '.join(f'{k}={meta[k]}' for k in keys)} {'is a placeholder' if len(keys) == 1 else 'are placeholders'}; "
           "set the real repository, tracker, homepage and e-mail in qgis_plugin/geoprospect_qgis/metadata.txt before publishing on plugins.qgis.org")
    if publish:
        raise SystemExit(msg + " (--publish refuses to build with them)")
    print(f"WARNING: {msg} (this zip installs fine from a file; build with --publish to make this an error)", file=sys.stderr)
    return keys


def project_version(repo: Path = REPO) -> str:
    """geoprospect's version in pyproject.toml."""
    m = re.search(r'^version\s*=\s*"([^"]+)"', (repo / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    if not m:
        raise SystemExit("pyproject.toml has no version")
    return m.group(1)


def build_wheel(dest: Path, repo: Path = REPO) -> Path:
    """``python -m pip wheel --no-deps`` of the checkout (no build isolation first: offline)."""
    base = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", str(repo), "-w", str(dest)]
    for argv in ([*base, "--no-build-isolation"], base):
        r = subprocess.run(argv, capture_output=True, text=True, cwd=str(repo))
        wheels = sorted(dest.glob("geoprospect-*.whl"))
        if r.returncode == 0 and wheels:
            return wheels[-1]
    raise SystemExit(f"building the geoprospect wheel failed:\n{r.stderr[-2000:]}")


def build(out: Path, wheel: Path | None = None, publish: bool = False) -> Path:
    """Write the plugin zip with the geoprospect wheel of the same version inside
    (``publish``: refuse metadata placeholders, see check_publishable)."""
    meta = check_metadata()
    check_publishable(meta, publish)
    version = project_version()
    if meta["version"] != version:
        raise SystemExit(f"metadata.txt says version {meta['version']} but pyproject.toml {version}: make them equal")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmpdir:
        wheel = wheel or build_wheel(Path(tmpdir))
        if not wheel.name.startswith(f"geoprospect-{version}-"):
            raise SystemExit(f"{wheel.name} is not geoprospect {version}")
        tmp = out.with_name(out.name + ".part")
        files = [(f, Path(PLUGIN.name) / f.relative_to(PLUGIN)) for f in plugin_files()]
        files.append((wheel, Path(PLUGIN.name) / "wheels" / wheel.name))
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for src, name in files:
                info = zipfile.ZipInfo(name.as_posix(), date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, src.read_bytes())
        check_zip(tmp)
        tmp.replace(out)  # atomic: no half-written zip
    print(f"{out} (geoprospect_qgis {meta['version']}, {len(files)} files, with {wheel.name})")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "dist" / "geoprospect_qgis.zip")
    ap.add_argument("--wheel", type=Path, default=None, help="a geoprospect wheel already built (default: build one)")
    ap.add_argument("--publish", action="store_true", help="for plugins.qgis.org: fail while metadata.txt holds placeholder URLs or e-mail")
    args = ap.parse_args(argv)
    build(args.out, args.wheel, args.publish)
    return 0


if __name__ == "__main__":
    sys.exit(main())
