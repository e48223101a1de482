"""Sample points (geochemistry): CSV with coordinate columns, or GeoPackage/Shapefile/GeoJSON.

The result is a :class:`PointTable`: float64 coordinates in one CRS and one float64 column per
element (NaN = not analysed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from geoprospect.errors import ColumnError, CRSError, InputError, ValueParseError
from geoprospect.grid import to_crs
from geoprospect.io.names import did_you_mean

log = logging.getLogger(__name__)

#: how each reading option is spelled in hints: on the command line (the default context) ...
POINTS_CLI_KNOBS = {"crs": "--crs", "x_field": "--x-field", "y_field": "--y-field", "elements": "--elements", "drop_missing_xy": "--drop-missing-xy", "layer": "--layer"}
#: ... and in a run config
POINTS_RUN_KNOBS = {"crs": "points.crs (or the top-level crs:)", "x_field": "points.x_field", "y_field": "points.y_field", "elements": "points.elements",
                    "drop_missing_xy": "points.drop_missing_xy: true", "layer": "points.layer"}
LOCAL_CRS_NOTE = "a local mine grid: a LOCAL_CS WKT, see the README"


def _knobs(knobs: Mapping[str, str] | None) -> dict[str, str]:
    return {**POINTS_CLI_KNOBS, **(knobs or {})}


VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml"}
X_CANDIDATES = ["x", "easting", "east", "utm_e", "utme", "longitude", "lon", "long", "lng"]
Y_CANDIDATES = ["y", "northing", "north", "utm_n", "utmn", "latitude", "lat"]


@dataclass
class PointTable:
    """Points with element values.

    Attributes:
        xy: (N, 2) float64 map coordinates in ``crs``.
        values: (N, E) float64 element values (NaN = missing).
        elements: the E element names.
        crs: CRS of ``xy``.
        source: the file the points came from.
        rows: (N,) the 1-based data row (CSV) or feature index of each point in the source.
    """

    xy: np.ndarray
    values: np.ndarray
    elements: list[str]
    crs: CRS
    source: str = ""
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return self.xy.shape[0]

    def to_crs(self, crs: object) -> "PointTable":
        """Reproject the coordinates (pyproj, always_xy) into ``crs``; values unchanged."""
        target = to_crs(crs)
        if self.crs.equals(target, ignore_axis_order=True):
            return self
        tr = Transformer.from_crs(self.crs, target, always_xy=True)
        x, y = tr.transform(self.xy[:, 0], self.xy[:, 1])
        xy = np.column_stack([x, y]).astype(np.float64)
        bad = ~np.all(np.isfinite(xy), axis=1)
        if bad.any():
            r = int(self.rows[np.argmax(bad)]) if self.rows.size else None
            raise CRSError(
                f"{int(bad.sum())} points cannot be projected from {self.crs.name} to {target.name}",
                path=self.source or None,
                row=r,
                hint="check that the points' CRS is right (x/y swapped? degrees given as metres?)",
            )
        log.info("reprojected %d points from %s to %s", len(self), self.crs.name, target.name)
        return PointTable(xy, self.values, list(self.elements), target, self.source, self.rows)

    def select(self, elements: Sequence[str]) -> "PointTable":
        idx = [self.elements.index(e) for e in elements]
        return PointTable(self.xy, self.values[:, idx], list(elements), self.crs, self.source, self.rows)


def _find_column(columns: Sequence[str], wanted: str | None, candidates: list[str], what: str, path: Path, k: Mapping[str, str]) -> str:
    lower = {c.lower().strip(): c for c in columns}
    if wanted:
        if wanted in columns:
            return wanted
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        raise ColumnError(
            f"{what} column {wanted!r} not found{did_you_mean([wanted], columns)}; columns are: {', '.join(map(str, columns))}",
            path=path,
            hint=f"give the right name with {k[what + '_field']}",
        )
    for c in candidates:
        if c in lower:
            return lower[c]
    raise ColumnError(
        f"cannot tell which column holds {what}; columns are: {', '.join(map(str, columns))}",
        path=path,
        hint=f"name it with {k[what + '_field']}",
    )


CENSORED_WORDS = {"BDL", "ND", "N.D.", "N/D", "<DL", "<LOD", "LOD", "BLD", "NA<", "TR", "TRACE", "<D.L."}


def looks_censored(value: str) -> bool:
    """True for the common spellings of a below-detection value ("<0.5", "< 0.5", "BDL", "n.d.")."""
    v = str(value).strip()
    return v.startswith("<") or v.upper().replace(" ", "") in CENSORED_WORDS


def parse_numeric(series: pd.Series, *, path: Path, column: str, row_numbers: np.ndarray, decimal_comma: bool = False) -> np.ndarray:
    """Parse a column to float64; empty cells become NaN; anything else non-numeric is an error.

    ``decimal_comma`` reads "12,5" as 12.5 (tables read by :func:`read_raw_points` are already
    converted). Censored values ("<0.5", "BDL", ...) are errors with a hint: substituting them
    is the geochemistry module's job, not the reader's.
    """
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    s = series.astype("string").str.strip()
    if decimal_comma:
        s = s.str.replace(",", ".", regex=False)
    empty = s.isna() | (s == "")
    num = pd.to_numeric(s.where(~empty), errors="coerce")
    bad = num.isna() & ~empty
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        value = s.iloc[i]
        hint = "fix or blank the value"
        if looks_censored(value):
            hint = "this looks like a censored (below detection) value: prepare the table with censored-value handling (`geoprospect prepare-geochem`, geoprospect.geochem) or replace it"
        elif "," in str(value):
            hint = "decimal commas are only read in files separated by ';' or tabs: convert them to points, or save the file with ';' separators"
        raise ValueParseError(
            f"column {column!r} holds a non-numeric value {value!r} ({int(bad.sum())} such values in the column)",
            path=path,
            row=int(row_numbers[i]),
            hint=hint,
        )
    out = num.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(out).any():
        i = int(np.argmax(np.isinf(out)))
        raise ValueParseError(f"column {column!r} holds an infinite value {s.iloc[i]!r}", path=path, row=int(row_numbers[i]), hint="fix or blank the value")
    return out


@dataclass
class RawPoints:
    """Point coordinates plus the attribute table as read, before element values are parsed.

    Attributes:
        table: attribute columns (CSV: every cell a string, empty = ""; decimal commas of a
            ';'- or tab-separated file already turned into points).
        xy: (N, 2) float64 coordinates in ``crs``.
        crs: CRS of ``xy``.
        rows: (N,) 1-based data row (CSV line number) or feature index of each point.
        coord_cols: the CSV coordinate columns (empty for vector files).
        dropped_rows: source rows skipped because they had no coordinates (``drop_missing_xy``).
    """

    table: pd.DataFrame
    xy: np.ndarray
    crs: CRS
    rows: np.ndarray
    coord_cols: set[str]
    dropped_rows: list[int] = field(default_factory=list)


def read_raw_points(
    path: str | Path,
    *,
    x_field: str | None = None,
    y_field: str | None = None,
    crs: object | None = None,
    layer: str | None = None,
    drop_missing_xy: bool = False,
    knobs: Mapping[str, str] | None = None,
) -> RawPoints:
    """Read point coordinates and the raw attribute table (the first half of :func:`read_points`).

    Coordinates are checked against the CRS (degrees in a metric CRS, x/y swapped, out of
    range: :func:`check_coordinates`). ``drop_missing_xy`` skips (and lists) CSV rows without
    coordinates instead of raising. ``knobs``: how the options are spelled in the caller's
    context, for hints (POINTS_CLI_KNOBS by default; POINTS_RUN_KNOBS in a run).
    """
    k = _knobs(knobs)
    path = Path(path)
    if not path.exists():
        raise InputError("points file not found", path=path, hint="check the path (relative paths are resolved against the config's folder)")
    suffix = path.suffix.lower()
    dropped: list[int] = []
    if suffix in VECTOR_SUFFIXES:
        table, xy, pcrs, rows, coord_cols = _read_vector_points(path, layer, crs, k)
    else:
        table, xy, pcrs, rows, coord_cols, dropped = _read_csv_points(path, x_field, y_field, crs, drop_missing_xy, k)
    check_coordinates(xy, pcrs, path=path, rows=rows, knobs=k)
    return RawPoints(table, xy, pcrs, rows, coord_cols, dropped)


def _read_vector_points(
    path: Path, layer: str | None, crs: object | None, k: Mapping[str, str]
) -> tuple[pd.DataFrame, np.ndarray, CRS, np.ndarray, set[str]]:
    """Points of a vector file -> (attribute table, (N, 2) xy, CRS, 1-based feature numbers, no coordinate columns)."""
    import geopandas as gpd

    try:
        from geoprospect.io.vectors import check_layer

        check_layer(path, layer, "points", knob=k["layer"])
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot read vector file ({exc})", path=path) from exc
    if len(gdf) == 0:
        raise InputError("the layer holds no points", path=path)
    gdf = gdf[~gdf.geometry.isna() & ~gdf.geometry.is_empty]
    if len(gdf) == 0:
        raise InputError("every feature of the layer has an empty geometry", path=path)
    if gdf.geometry.has_z.any():
        import shapely

        gdf = gdf.set_geometry(shapely.force_2d(gdf.geometry.values))
    multi = (gdf.geom_type == "MultiPoint").to_numpy()
    if multi.any() and gdf.geometry[multi].apply(lambda g: len(g.geoms)).eq(1).all():  # single-part multipoints
        gdf = gdf.set_geometry(gdf.geometry.apply(lambda g: g.geoms[0] if g.geom_type == "MultiPoint" else g))
    if not (gdf.geom_type == "Point").all():
        kinds = sorted(set(gdf.geom_type))
        first = int(np.flatnonzero((gdf.geom_type != "Point").to_numpy())[0])
        raise InputError(f"expected point geometries, found {kinds}", path=path, feature=int(gdf.index[first]) + 1, hint="convert multipoints (explode) or polygons (centroids) to points first")
    if gdf.crs is None:
        if crs is None:
            raise CRSError("the points have no CRS", path=path, hint=f"give it with {k['crs']}, e.g. EPSG:32649 ({LOCAL_CRS_NOTE})")
        pcrs = to_crs(crs)
    else:
        pcrs = to_crs(gdf.crs.to_wkt())
        if crs is not None and not pcrs.equals(to_crs(crs), ignore_axis_order=True):
            b = gdf.total_bounds
            if pcrs.is_geographic and (max(abs(b[0]), abs(b[2])) > 180 or max(abs(b[1]), abs(b[3])) > 90):
                # a GeoJSON without a "crs" member is taken as WGS 84 (RFC 7946) even when it is not
                log.warning("%s: coordinates beyond +-180 / +-90 cannot be in %s: using %s = %s", path, pcrs.name, k["crs"], crs)
                pcrs = to_crs(crs)
            else:
                log.warning("%s: the file's own CRS (%s) is used; %s = %s ignored", path, pcrs.name, k["crs"], crs)
    xy = np.column_stack([gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()]).astype(np.float64)
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    rows = gdf.index.to_numpy(dtype=np.int64) + 1  # feature numbers (1-based) in the file
    return table, xy, pcrs, rows, set()


def _read_csv_points(
    path: Path, x_field: str | None, y_field: str | None, crs: object | None, drop_missing_xy: bool, k: Mapping[str, str]
) -> tuple[pd.DataFrame, np.ndarray, CRS, np.ndarray, set[str], list[int]]:
    """Points of a CSV -> (table, (N, 2) xy, CRS, 1-based line numbers, coordinate columns, skipped lines)."""
    dropped: list[int] = []
    table, sep = _read_csv(path)
    table.columns = [str(c).strip().lstrip("\ufeff").strip() for c in table.columns]
    if len(table) == 0:
        raise InputError("the CSV holds no rows", path=path)
    if len(table.columns) < 3:
        raise InputError(
            f"the CSV has only {len(table.columns)} column(s) ({', '.join(map(repr, table.columns))})",
            path=path,
            hint="it needs x, y and at least one element column; check the separator (',' ';' or tab)",
        )
    if sep in (";", "\t"):
        _convert_decimal_commas(table, path)
    xc = _find_column(list(table.columns), x_field, X_CANDIDATES, "x", path, k)
    yc = _find_column(list(table.columns), y_field, Y_CANDIDATES, "y", path, k)
    rows = np.arange(2, len(table) + 2, dtype=np.int64)  # line numbers: header is line 1
    x = parse_numeric(table[xc], path=path, column=xc, row_numbers=rows)
    y = parse_numeric(table[yc], path=path, column=yc, row_numbers=rows)
    missing = ~(np.isfinite(x) & np.isfinite(y))
    if missing.any() and drop_missing_xy:
        dropped = [int(r) for r in rows[missing]]
        log.warning("%s: %d rows without coordinates skipped (lines %s)", path, len(dropped), dropped[:10])
        keep = ~missing
        table, rows, x, y = table[keep].reset_index(drop=True), rows[keep], x[keep], y[keep]
        if len(table) == 0:
            raise InputError("no row of the CSV has coordinates", path=path)
    elif missing.any():
        raise InputError(
            f"{int(missing.sum())} rows have no coordinates (first: line {int(rows[np.argmax(missing)])})",
            path=path,
            row=int(rows[np.argmax(missing)]),
            hint=f"fill or remove those rows, or skip them: {k['drop_missing_xy']}",
        )
    if crs is None:
        raise CRSError(
            "a CSV carries no CRS and none was given",
            path=path,
            hint=f"give it with {k['crs']} (e.g. EPSG:4326 for lon/lat degrees, the UTM zone's EPSG code, or {LOCAL_CRS_NOTE})",
        )
    pcrs = to_crs(crs)
    xy = np.column_stack([x, y])
    return table, xy, pcrs, rows, {xc, yc}, dropped


def read_points(
    path: str | Path,
    elements: Sequence[str] | None = None,
    *,
    x_field: str | None = None,
    y_field: str | None = None,
    crs: object | None = None,
    layer: str | None = None,
    knobs: Mapping[str, str] | None = None,
) -> PointTable:
    """Read sample points and their element values.

    Args:
        path: CSV (coordinate columns + element columns) or a vector file of points.
        elements: element columns to keep; None keeps every numeric column but coordinates.
        x_field, y_field: CSV coordinate columns (guessed from common names when None).
        crs: CRS of the points; required for CSV, and for vector files without one.
        layer: layer name in a multi-layer GeoPackage.
        knobs: how these options are spelled in the caller's context, for hints (default: the CLI's).

    Returns:
        A :class:`PointTable` in the points' own CRS (reproject with ``.to_crs``).

    Censored values ("<0.5", "BDL") are errors here: read such tables with
    :func:`geoprospect.geochem.prepare.read_geochem` (`geoprospect prepare-geochem`).
    """
    path = Path(path)
    raw = read_raw_points(path, x_field=x_field, y_field=y_field, crs=crs, layer=layer, knobs=knobs)
    table, xy, pcrs, rows = raw.table, raw.xy, raw.crs, raw.rows
    elements = resolve_elements(table, elements, raw.coord_cols, path, knobs=knobs)
    values = np.column_stack([parse_numeric(table[e], path=path, column=e, row_numbers=rows) for e in elements])
    _check_values(values, list(elements), path, _knobs(knobs))
    _warn_duplicates(xy, rows, path)
    log.info("read %d points with %d elements from %s (%s)", len(xy), len(elements), path, pcrs.name)
    return PointTable(xy, values, list(elements), pcrs, str(path), rows)


def resolve_elements(table: pd.DataFrame, elements: Sequence[str] | None, coord_cols: set[str], path: Path, *, knobs: Mapping[str, str] | None = None) -> list[str]:
    """Check the requested element columns exist (None = every mostly-numeric non-coordinate column)."""
    k = _knobs(knobs)
    if elements is None:
        elements = [c for c in table.columns if c not in coord_cols and _mostly_numeric(table[c])]
        if not elements:
            raise ColumnError("no numeric element columns found", path=path, hint=f"name them with {k['elements']}")
    elements = [e if e in table.columns else str(e).strip() for e in elements]  # headers are stripped too
    missing_cols = [e for e in elements if e not in table.columns]
    if missing_cols:
        raise ColumnError(
            f"element column(s) {', '.join(map(repr, missing_cols))} not found{did_you_mean(missing_cols, table.columns)}; columns are: {', '.join(map(str, table.columns))}",
            path=path,
            hint=f"check {k['elements']}; names are case-sensitive",
        )
    return list(elements)


_DECIMAL_COMMA_CELL = r"^\s*(?:<\s*=?\s*)?[+-]?\d+,\d+(?:[eE][+-]?\d+)?\s*$"


def _convert_decimal_commas(table: pd.DataFrame, path: Path) -> None:
    """In a ';'- or tab-separated table, turn columns written with decimal commas ("12,5",
    "<0,5") into decimal points, in place. A column is converted only when it holds commas,
    no points, and every other cell is empty or already a number (or a censored word)."""
    for c in table.columns:
        s = table[c]
        if pd.api.types.is_numeric_dtype(s):
            continue
        t = s.astype("string").fillna("").str.strip()
        filled = t[t != ""]
        if filled.empty or not filled.str.contains(",", regex=False).any() or filled.str.contains(".", regex=False).any():
            continue
        ok = filled.str.match(_DECIMAL_COMMA_CELL).fillna(False) | pd.to_numeric(filled, errors="coerce").notna() | filled.map(looks_censored).astype(bool)
        if ok.all():
            table[c] = t.str.replace(",", ".", regex=False)
            log.info("%s: column %r read with decimal commas", path, c)


def _read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    """Read a delimited text file as strings: encoding (UTF-8 with or without BOM, else
    latin-1) and separator (',' ';' tab '|') detected from the file itself."""
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError("the CSV file is empty", path=path)
    if raw[:4] in (b"PK\x03\x04",) or raw[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise InputError("this is a spreadsheet, not a CSV", path=path, hint="save it as CSV (UTF-8) first")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if encoding != "utf-8-sig":
        log.info("%s: not UTF-8, read as %s", path, encoding)
    header = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {c: header.count(c) for c in (",", ";", "\t", "|")}
    sep = max(counts, key=lambda c: counts[c])
    if counts[sep] == 0:
        raise InputError("cannot find the column separator in the header line", path=path, hint="separate columns with ',', ';' or tabs")
    import csv
    import io

    try:
        lines = csv.reader(io.StringIO(text.replace("\x00", "")), delimiter=sep)
        names = next(lines)
        clean = [n.strip().lstrip("\ufeff").strip() for n in names]
        dup = sorted({n for n in clean if clean.count(n) > 1})
        if dup:
            raise ColumnError(f"duplicate column names {dup}", path=path, hint="give every column a distinct name")
        for fields in lines:
            if fields and len(fields) != len(names) and any(f.strip() for f in fields):
                hint = f"every row must have {len(names)} fields, as the header"
                if sep == "," and len(fields) > len(names):
                    hint += "; decimal commas in a comma-separated file split values in two: use ';' as separator, or decimal points"
                raise InputError(f"malformed CSV: {len(fields)} fields where the header has {len(names)}", path=path, row=lines.line_num, hint=hint)
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", path=path, hint="check the quotes (\") in the file") from exc
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=True, index_col=False)
    except Exception as exc:
        raise InputError(f"cannot read CSV ({exc})", path=path) from exc
    return table, sep


def check_coordinates(xy: np.ndarray, crs: CRS, *, path: Path | str = "", rows: np.ndarray | None = None, knobs: Mapping[str, str] | None = None) -> None:
    """Refuse coordinates that cannot be in ``crs``: outside +-180/+-90 for degrees; degrees,
    or x/y swapped, for a projected CRS (judged against the CRS's area of use)."""
    k = _knobs(knobs)
    x, y = xy[:, 0], xy[:, 1]
    rows = rows if rows is not None and rows.size == len(xy) else np.arange(1, len(xy) + 1)
    if crs.is_geographic:
        bad = (np.abs(x) > 180) | (np.abs(y) > 90)
        if bad.any():
            i = int(np.argmax(bad))
            if ((np.abs(y) <= 180) & (np.abs(x) <= 90)).all():
                raise CRSError(f"latitudes beyond +-90 (e.g. {y[i]!r}) but every x is within +-90: longitude and latitude look swapped", path=path, row=int(rows[i]), hint=f"swap {k['x_field']} and {k['y_field']}")
            raise CRSError(
                f"{int(bad.sum())} coordinates outside +-180 / +-90 (e.g. x={x[i]:.6g}, y={y[i]:.6g}): these are not degrees but {crs.name} is geographic",
                path=path,
                row=int(rows[i]),
                hint=f"give the projected CRS the coordinates are in with {k['crs']} (e.g. EPSG:32650)",
            )
        return
    aou = crs.area_of_use
    if aou is None:
        return
    try:
        tr = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)
        bx0, by0, bx1, by1 = tr.transform_bounds(*aou.bounds, densify_pts=21)
    except Exception:  # pragma: no cover - exotic CRSs
        return
    if not all(np.isfinite([bx0, by0, bx1, by1])):
        return
    w, h = bx1 - bx0, by1 - by0

    def inside(a: np.ndarray, b: np.ndarray, margin: float) -> np.ndarray:
        return (a >= bx0 - margin * w) & (a <= bx1 + margin * w) & (b >= by0 - margin * h) & (b <= by1 + margin * h)

    near = inside(x, y, 0.1)
    if near.all():
        return
    i = int(np.argmax(~near))
    far = ~inside(x, y, 0.5)
    if inside(y, x, 0.1).all() and far.any():
        raise CRSError(
            f"the x and y columns look swapped: x={x[i]:.6g}, y={y[i]:.6g} is outside {crs.name}'s area, swapped it is inside",
            path=path,
            row=int(rows[i]),
            hint=f"swap {k['x_field']} and {k['y_field']} (x is the easting / longitude)",
        )
    if ((np.abs(x) <= 180) & (np.abs(y) <= 90)).all():
        raise CRSError(
            f"the coordinates look like degrees (e.g. x={x[i]:.6g}, y={y[i]:.6g}) but {crs.name} is in {crs.axis_info[0].unit_name}s",
            path=path,
            row=int(rows[i]),
            hint=f"give the geographic CRS of the coordinates with {k['crs']} (e.g. EPSG:4326); they are reprojected to the grid",
        )
    if far.mean() > 0.5:
        j = int(np.argmax(far))
        raise CRSError(
            f"{int(far.sum())} of {len(far)} points lie far outside {crs.name}'s area of use (e.g. x={x[j]:.6g}, y={y[j]:.6g})",
            path=path,
            row=int(rows[j]),
            hint=f"check {k['crs']} (the right UTM zone or datum?) and the coordinate columns",
        )
    log.warning("%s: %d points lie outside %s's area of use (first: row %d)", path, int((~near).sum()), crs.name, int(rows[i]))


def _check_values(values: np.ndarray, elements: list[str], path: Path, k: Mapping[str, str]) -> None:
    for e, name in enumerate(elements):
        v = values[:, e]
        finite = v[np.isfinite(v)]
        if finite.size == 0:
            raise ColumnError(f"element column {name!r} holds no values (every cell is empty)", path=path, hint=f"drop it from {k['elements']}")
        if finite.size and np.all(finite == finite[0]):
            log.warning("%s: element %r is constant (%g in all %d analysed samples): it carries no information", path, name, finite[0], finite.size)


def _warn_duplicates(xy: np.ndarray, rows: np.ndarray, path: Path) -> None:
    _, first, counts = np.unique(xy, axis=0, return_index=True, return_counts=True)
    if (counts > 1).any():
        n = int((counts[counts > 1] - 1).sum())
        r = int(rows[first[np.argmax(counts > 1)]])
        log.warning("%s: %d samples share a location with another one (first at row %d); IDW uses each of them", path, n, r)


def sparse_points_warning(n_points: int, grid_cells: int, *, min_points: int = 10, cells_per_point: int = 10_000) -> str | None:
    """A warning when a handful of points is interpolated onto a large grid (None when fine)."""
    if n_points < min_points or grid_cells / max(n_points, 1) > cells_per_point:
        return f"only {n_points} sample points for {grid_cells} cells ({grid_cells / max(n_points, 1):.0f} cells per point): most of the surface is extrapolated; use a coarser grid or more samples"
    return None


def _mostly_numeric(s: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(s):
        return True
    v = pd.to_numeric(s.astype("string").str.strip().replace("", pd.NA), errors="coerce")
    filled = s.astype("string").str.strip().replace("", pd.NA).notna().sum()
    return filled > 0 and v.notna().sum() >= 0.5 * filled
