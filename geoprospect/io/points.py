"""Sample points (geochemistry): CSV with coordinate columns, or GeoPackage/Shapefile/GeoJSON.

The result is a :class:`PointTable`: float64 coordinates in one CRS and one float64 column per
element (NaN = not analysed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from geoprospect.errors import ColumnError, CRSError, InputError, ValueParseError
from geoprospect.grid import to_crs

log = logging.getLogger(__name__)

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


def _find_column(columns: Sequence[str], wanted: str | None, candidates: list[str], what: str, path: Path) -> str:
    lower = {c.lower().strip(): c for c in columns}
    if wanted:
        if wanted in columns:
            return wanted
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        raise ColumnError(
            f"{what} column {wanted!r} not found; columns are: {', '.join(map(str, columns))}",
            path=path,
            hint=f"pass the right name with --{what}-field",
        )
    for c in candidates:
        if c in lower:
            return lower[c]
    raise ColumnError(
        f"cannot tell which column holds {what}; columns are: {', '.join(map(str, columns))}",
        path=path,
        hint=f"pass it with --{what}-field",
    )


def parse_numeric(series: pd.Series, *, path: Path, column: str, row_numbers: np.ndarray) -> np.ndarray:
    """Parse a column to float64; empty cells become NaN; anything else non-numeric is an error."""
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    s = series.astype("string").str.strip()
    empty = s.isna() | (s == "")
    num = pd.to_numeric(s.where(~empty), errors="coerce")
    bad = num.isna() & ~empty
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        value = s.iloc[i]
        hint = "fix or blank the value"
        if str(value).lstrip().startswith("<") or str(value).upper() in {"BDL", "ND", "N.D.", "<DL"}:
            hint = "this looks like a censored (below detection) value: prepare the table with censored-value handling (geochemistry options) or replace it"
        elif "," in str(value):
            hint = "decimal commas are not read as numbers: convert them to points"
        raise ValueParseError(
            f"column {column!r} holds a non-numeric value {value!r} ({int(bad.sum())} such values in the column)",
            path=path,
            row=int(row_numbers[i]),
            hint=hint,
        )
    return num.to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass
class RawPoints:
    """Point coordinates plus the attribute table as read, before element values are parsed.

    Attributes:
        table: attribute columns (CSV: every cell a string, empty = "").
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
) -> RawPoints:
    """Read point coordinates and the raw attribute table (the first half of :func:`read_points`).

    ``drop_missing_xy`` skips (and lists) CSV rows without coordinates instead of raising.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("points file not found", path=path, hint="check the path (relative paths are resolved against the config's folder)")
    suffix = path.suffix.lower()
    dropped: list[int] = []
    if suffix in VECTOR_SUFFIXES:
        import geopandas as gpd

        try:
            gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
        except Exception as exc:
            raise InputError(f"cannot read vector file ({exc})", path=path) from exc
        if len(gdf) == 0:
            raise InputError("the layer holds no points", path=path)
        gdf = gdf[~gdf.geometry.isna() & ~gdf.geometry.is_empty]
        if not (gdf.geom_type == "Point").all():
            kinds = sorted(set(gdf.geom_type))
            raise InputError(f"expected point geometries, found {kinds}", path=path, hint="convert multipoints to points first")
        if gdf.crs is None:
            if crs is None:
                raise CRSError("the points have no CRS", path=path, hint="pass --crs EPSG:xxxx")
            pcrs = to_crs(crs)
        else:
            pcrs = to_crs(gdf.crs.to_wkt())
            if crs is not None and not pcrs.equals(to_crs(crs), ignore_axis_order=True):
                log.warning("%s: the file's own CRS (%s) is used; --crs %s ignored", path, pcrs.name, crs)
        xy = np.column_stack([gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()]).astype(np.float64)
        table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        rows = np.arange(1, len(gdf) + 1, dtype=np.int64)
        coord_cols: set[str] = set()
    else:
        try:
            table = pd.read_csv(path, sep=None, engine="python", encoding_errors="strict", dtype=str, keep_default_na=False)
        except UnicodeDecodeError:
            table = pd.read_csv(path, sep=None, engine="python", encoding="latin-1", dtype=str, keep_default_na=False)
        except Exception as exc:
            raise InputError(f"cannot read CSV ({exc})", path=path) from exc
        table.columns = [str(c).strip().lstrip("\ufeff") for c in table.columns]
        if len(table) == 0:
            raise InputError("the CSV holds no rows", path=path)
        xc = _find_column(list(table.columns), x_field, X_CANDIDATES, "x", path)
        yc = _find_column(list(table.columns), y_field, Y_CANDIDATES, "y", path)
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
                hint="fill or remove those rows",
            )
        if crs is None:
            raise CRSError(
                "a CSV carries no CRS and none was given",
                path=path,
                hint="pass --crs (e.g. --crs EPSG:4326 for lon/lat degrees, or the UTM zone's EPSG code)",
            )
        pcrs = to_crs(crs)
        xy = np.column_stack([x, y])
        coord_cols = {xc, yc}
        if pcrs.is_geographic and (np.abs(x).max() > 180 or np.abs(y).max() > 90):
            raise CRSError(
                f"coordinates up to x={np.abs(x).max():.0f}, y={np.abs(y).max():.0f} are not degrees but {pcrs.name} is geographic",
                path=path,
                hint="give the projected CRS the coordinates are in (e.g. --crs EPSG:32650)",
            )
    return RawPoints(table, xy, pcrs, rows, coord_cols, dropped)


def read_points(
    path: str | Path,
    elements: Sequence[str] | None = None,
    *,
    x_field: str | None = None,
    y_field: str | None = None,
    crs: object | None = None,
    layer: str | None = None,
) -> PointTable:
    """Read sample points and their element values.

    Args:
        path: CSV (coordinate columns + element columns) or a vector file of points.
        elements: element columns to keep; None keeps every numeric column but coordinates.
        x_field, y_field: CSV coordinate columns (guessed from common names when None).
        crs: CRS of the points; required for CSV, and for vector files without one.
        layer: layer name in a multi-layer GeoPackage.

    Returns:
        A :class:`PointTable` in the points' own CRS (reproject with ``.to_crs``).
    """
    path = Path(path)
    raw = read_raw_points(path, x_field=x_field, y_field=y_field, crs=crs, layer=layer)
    table, xy, pcrs, rows = raw.table, raw.xy, raw.crs, raw.rows
    elements = resolve_elements(table, elements, raw.coord_cols, path)
    values = np.column_stack([parse_numeric(table[e], path=path, column=e, row_numbers=rows) for e in elements])
    log.info("read %d points with %d elements from %s (%s)", len(xy), len(elements), path, pcrs.name)
    return PointTable(xy, values, list(elements), pcrs, str(path), rows)


def resolve_elements(table: pd.DataFrame, elements: Sequence[str] | None, coord_cols: set[str], path: Path) -> list[str]:
    """Check the requested element columns exist (None = every mostly-numeric non-coordinate column)."""
    if elements is None:
        elements = [c for c in table.columns if c not in coord_cols and _mostly_numeric(table[c])]
        if not elements:
            raise ColumnError("no numeric element columns found", path=path, hint="name them with --elements")
    missing_cols = [e for e in elements if e not in table.columns]
    if missing_cols:
        raise ColumnError(
            f"element column(s) {', '.join(map(repr, missing_cols))} not found; columns are: {', '.join(map(str, table.columns))}",
            path=path,
            hint="check --elements (names are case-sensitive)",
        )
    return list(elements)


def _mostly_numeric(s: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(s):
        return True
    v = pd.to_numeric(s.astype("string").str.strip().replace("", pd.NA), errors="coerce")
    filled = s.astype("string").str.strip().replace("", pd.NA).notna().sum()
    return filled > 0 and v.notna().sum() >= 0.5 * filled
