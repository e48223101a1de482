"""Class names of a raster of class codes (lithology, stratigraphy): its attribute table.

Where a categorical raster's codes get their names, first found wins:

1. the band's GDAL raster attribute table (RAT): through GDAL's Python bindings
   (``Band.GetDefaultRAT()``) when they are installed, else from the ``<file>.aux.xml`` beside
   the raster, where GDAL keeps a GeoTIFF's RAT (``GDALRasterAttributeTable``). The code column
   is the one of usage ``MinMax`` (else ``Min``, else a column named ``value``, else the row
   number from ``Row0Min`` / ``BinSize``); the name column the one of usage ``Name``, else the
   first text column;
2. an ESRI value attribute table ``<file>.vat.dbf`` (read by OGR, through pyogrio): the
   ``Value`` column and the first text column;
3. nothing: the caller names each class by its code.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

log = logging.getLogger(__name__)

#: GDAL's field usages (GDALRATFieldUsage) and types (GDALRATFieldType) as stored in .aux.xml
GFU_NAME, GFU_MIN, GFU_MINMAX = 2, 3, 5
GFT_STRING = 2


def raster_class_names(path: str | Path, band: int = 1) -> tuple[dict[int, str], str]:
    """``{code: name}`` of band ``band`` of a raster, and where the names came from (a short
    phrase for the log; empty when there is no table: ``({}, "")``)."""
    path = Path(path)
    for read in (_gdal_rat, _aux_xml_rat, _vat_dbf):
        try:
            names, source = read(path, band)
        except Exception as exc:  # a damaged or unexpected table: the codes still name the classes
            log.warning("%s: class names not read from its attribute table (%s); the codes name the classes", path, exc)
            return {}, ""
        if names:
            return names, source
    return {}, ""


def _table(codes: list[float], names: list[object]) -> dict[int, str]:
    """``{code: name}``, skipping rows without a name or with a code that is not a whole number."""
    out: dict[int, str] = {}
    for c, n in zip(codes, names):
        text = "" if n is None else str(n).strip()
        if text and text.lower() != "nan" and float(c) == int(float(c)):
            out[int(float(c))] = text
    return out


def _gdal_rat(path: Path, band: int) -> tuple[dict[int, str], str]:
    """The RAT through GDAL's own bindings (any format GDAL keeps a RAT in), when installed."""
    try:
        from osgeo import gdal  # type: ignore[import-not-found]
    except ImportError:
        return {}, ""
    ds = gdal.OpenEx(str(path), gdal.OF_RASTER | gdal.OF_READONLY)
    rat = ds.GetRasterBand(band).GetDefaultRAT() if ds is not None else None
    if rat is None or rat.GetRowCount() == 0:
        return {}, ""
    cols = [(rat.GetNameOfCol(i), rat.GetTypeOfCol(i), rat.GetUsageOfCol(i)) for i in range(rat.GetColumnCount())]
    code_col, name_col = _columns(cols)
    if name_col is None:
        return {}, ""
    rows = range(rat.GetRowCount())
    if code_col is None:  # an athematic table: row i holds code Row0Min + i * BinSize
        linear, start, step = rat.GetLinearBinning()
        codes = [start + i * step for i in rows] if linear else list(map(float, rows))
    else:
        codes = [rat.GetValueAsDouble(r, code_col) for r in rows]
    return _table(codes, [rat.GetValueAsString(r, name_col) for r in rows]), f"its attribute table, column {cols[name_col][0]}"


def _columns(cols: list[tuple[str, int, int]]) -> tuple[int | None, int | None]:
    """(code column, name column) of a RAT's (name, type, usage) columns (module docstring)."""
    usage = {u: i for i, (_, _, u) in reversed(list(enumerate(cols)))}
    code = usage.get(GFU_MINMAX, usage.get(GFU_MIN))
    if code is None:
        code = next((i for i, (n, _, _) in enumerate(cols) if n.lower() == "value"), None)
    name = usage.get(GFU_NAME)
    if name is None:
        name = next((i for i, (_, t, _) in enumerate(cols) if t == GFT_STRING), None)
    return code, name


def _aux_xml_rat(path: Path, band: int) -> tuple[dict[int, str], str]:
    """The RAT GDAL keeps in ``<file>.aux.xml`` (GeoTIFF and other formats without their own)."""
    aux = Path(f"{path}.aux.xml")
    if not aux.exists():
        return {}, ""
    root = ET.parse(aux).getroot()
    node = next((b for b in root.iter("PAMRasterBand") if b.get("band", "1") == str(band)), None)
    rat = node.find("GDALRasterAttributeTable") if node is not None else None
    if rat is None:
        return {}, ""
    cols = [(f.findtext("Name", ""), int(f.findtext("Type", "0")), int(f.findtext("Usage", "0"))) for f in rat.findall("FieldDefn")]
    code_col, name_col = _columns(cols)
    if name_col is None:
        return {}, ""
    rows = [[f.text for f in r.findall("F")] for r in rat.findall("Row")]
    if code_col is None:  # an athematic table: row i holds code Row0Min + i * BinSize
        start, step = float(rat.get("Row0Min", "0")), float(rat.get("BinSize", "1"))
        codes = [start + i * step for i in range(len(rows))]
    else:
        codes = [float(r[code_col]) for r in rows]
    return _table(codes, [r[name_col] for r in rows]), f"its attribute table in {aux.name}, column {cols[name_col][0]}"


def _vat_dbf(path: Path, band: int) -> tuple[dict[int, str], str]:
    """An ESRI value attribute table ``<file>.vat.dbf`` (band 1 only: ESRI's VAT is single-band)."""
    vat = Path(f"{path}.vat.dbf")
    if not vat.exists() or band != 1:
        return {}, ""
    import pyogrio
    from pandas.api.types import is_string_dtype

    df = pyogrio.read_dataframe(vat, read_geometry=False)
    value = next((c for c in df.columns if str(c).lower() == "value"), None)
    text = next((c for c in df.columns if c != value and is_string_dtype(df[c])), None)
    if value is None or text is None:
        return {}, ""
    return _table(df[value].tolist(), df[text].tolist()), f"its value attribute table {vat.name}, column {text}"
