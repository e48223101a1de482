"""Average overviews computed from the blocks while they are written, not read back at the end.

Why by hand: GDAL's builder (``build_overviews(factors, Resampling.average)``) re-reads and
decompresses the whole full-resolution file once it is written (about 1.1 s of a 5 s
``geoprospect interpolate`` of 3,072 x 3,072 x 8 cells), although the writer held every block
in memory a moment before. GDAL's average overviews cascade: level 2 is the nodata-aware mean of
the 2 x 2 full-resolution cells, level 4 the mean of the 2 x 2 cells of level 2 (as float32),
and so on. :func:`halve` repeats that arithmetic (float64 sum in row-major order, divided by the
count of valid cells, rounded to float32), so the levels computed here are bit for bit those of
GDAL (tests/test_overviews.py compares them with GDAL's own).

That holds while a level's cells are whole 2 x 2 windows of the level below, i.e. while both
grid sides are divisible by the factor (:func:`exact_levels`). Below the first level with an odd
side GDAL weights partial cells; those (small) levels are left to GDAL, built from the last
exact level in a scratch GeoTIFF. A grid with an odd side, or a block not aligned to the
factors, keeps GDAL's builder on the whole file (:class:`OverviewSpool` ``usable`` is False).

Used by :class:`geoprospect.io.rasters.RasterWriter` for every GeoTIFF but the COG (whose
driver copies GDAL's levels). The computed levels go to a scratch
file beside the output (plain appends, so they take no memory), indexed in memory, and are
written into the (uncompressed) overview levels of the closed GeoTIFF
(``rasterio.open(path, "r+", overview_level=i)``) when it is complete.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import Affine
from rasterio.windows import Window

#: Rows written, and reduced to overview levels, at a time (the writer's strips; one GeoTIFF
#: tile row, a multiple of every overview factor 2 ... 32).
STRIP_ROWS = 256


def exact_levels(width: int, height: int, factors: Sequence[int]) -> int:
    """How many leading overview ``factors`` (2, 4, 8, ...) divide both grid sides: the levels
    whose cells are whole 2 x 2 windows of the level below (GDAL then averages without weights)."""
    n = 0
    for f in factors:
        if width % f or height % f:
            break
        n += 1
    return n


def _twos(n: int) -> int:
    """Exponent of the largest power of 2 dividing ``n`` (large for 0)."""
    return 64 if n == 0 else (n & -n).bit_length() - 1


def halve(arr: np.ndarray, nodata: float) -> np.ndarray:
    """Nodata-aware mean of the 2 x 2 cells of (bands, h, w) float32 ``arr`` (h, w even; nodata
    cells hold ``nodata``): (bands, h/2, w/2) float32, ``nodata`` where no cell is valid.

    GDAL's average arithmetic: the valid values summed in float64 in row-major order, divided by
    their count, rounded to float32.
    """
    ok = arr != nodata
    z = np.where(ok, arr, np.float32(0))
    s = np.add(z[:, 0::2, 0::2], z[:, 0::2, 1::2], dtype=np.float64)
    s += z[:, 1::2, 0::2]
    s += z[:, 1::2, 1::2]
    n = np.add(ok[:, 0::2, 0::2], ok[:, 0::2, 1::2], dtype=np.uint8)
    n += ok[:, 1::2, 0::2]
    n += ok[:, 1::2, 1::2]
    empty = n == 0
    n[empty] = 1
    s /= n
    out = s.astype(np.float32)
    out[empty] = nodata
    return out


class OverviewSpool:
    """Overview levels of the blocks written so far, in a scratch file at ``path``.

    ``add`` reduces each block (strips of :data:`STRIP_ROWS` rows) to the exact levels;
    ``write_into`` fills the overview levels of the finished GeoTIFF. ``close`` removes the
    scratch (the caller registers it for every exit: success, error, interrupt).
    """

    def __init__(self, path: Path, width: int, height: int, bands: int, factors: Sequence[int], nodata: float) -> None:
        self.path, self.width, self.height, self.bands = Path(path), int(width), int(height), int(bands)
        self.factors, self.nodata = list(factors), float(nodata)
        self.levels = exact_levels(self.width, self.height, self.factors)  # lowered by unaligned blocks
        self._index: list[tuple[int, int, int, int, int, int]] = []  # level, row, col, h, w, byte offset
        self._fh: BinaryIO | None = None
        self._size = 0

    @property
    def usable(self) -> bool:
        """True while at least the first level comes from the blocks (else GDAL builds them all)."""
        return self.levels > 0

    def add(self, strip: np.ndarray, row_off: int, col_off: int) -> None:
        """Reduce one strip of a block ((bands, h, w) float32, nodata already ``nodata``) at
        pixel (row_off, col_off) of the grid, and append its levels to the scratch."""
        _, h, w = strip.shape
        self.levels = min(self.levels, _twos(row_off), _twos(col_off), _twos(h), _twos(w))
        if not self.usable:
            self.close()
            return
        if self._fh is None:
            self._fh = open(self.path, "wb+")
        lv = strip
        for i in range(self.levels):
            lv = halve(lv, self.nodata)
            self._append(i, row_off >> (i + 1), col_off >> (i + 1), lv)

    def _append(self, level: int, row: int, col: int, arr: np.ndarray) -> None:
        assert self._fh is not None
        self._fh.seek(self._size)
        self._fh.write(memoryview(np.ascontiguousarray(arr)).cast("B"))
        self._index.append((level, row, col, arr.shape[1], arr.shape[2], self._size))
        self._size += arr.nbytes

    def _chunks(self, level: int):
        """(window, data) of one level, in row-major order (each output tile completed in turn)."""
        assert self._fh is not None
        for _lv, row, col, h, w, off in sorted(e for e in self._index if e[0] == level):
            self._fh.seek(off)
            data = np.fromfile(self._fh, dtype=np.float32, count=self.bands * h * w).reshape(self.bands, h, w)
            yield Window(col, row, w, h), data

    def write_into(self, path: Path) -> None:
        """Write every overview level into the closed GeoTIFF ``path`` (whose overview IFDs
        exist): the exact levels from the scratch, the others built by GDAL from the last one."""
        for i in range(min(self.levels, len(self.factors))):
            with rasterio.open(path, "r+", overview_level=i) as dst:
                for win, data in self._chunks(i):
                    dst.write(data, window=win)
                _tag_average(dst)
        if self.levels < len(self.factors):
            self._gdal_tail(path)

    def _gdal_tail(self, path: Path) -> None:
        """Levels below the last exact one (a side turned odd): GDAL's average builder on a
        scratch GeoTIFF of that level (1/4**levels of the map), copied into ``path``."""
        k = self.levels
        w, h = math.ceil(self.width / 2**k), math.ceil(self.height / 2**k)
        tail = self.path.with_name(self.path.name + ".tail.tif")
        prof = {"driver": "GTiff", "width": w, "height": h, "count": self.bands, "dtype": "float32", "nodata": self.nodata,
                "tiled": True, "blockxsize": 256, "blockysize": 256, "crs": "EPSG:4326", "transform": Affine.scale(1e-3, -1e-3)}
        try:
            with rasterio.open(tail, "w", **prof) as t:
                for win, data in self._chunks(k - 1):
                    t.write(data, window=win)
                t.build_overviews([f >> k for f in self.factors[k:]], Resampling.average)
            for j in range(len(self.factors) - k):
                with rasterio.open(tail, overview_level=j) as src, rasterio.open(path, "r+", overview_level=k + j) as dst:
                    for r0 in range(0, src.height, STRIP_ROWS):
                        win = Window(0, r0, src.width, min(STRIP_ROWS, src.height - r0))
                        dst.write(src.read(window=win), window=win)
                    _tag_average(dst)
        finally:
            for p in (tail, Path(str(tail) + ".aux.xml"), Path(str(tail) + ".ovr")):
                p.unlink(missing_ok=True)

    def close(self) -> None:
        """Close and remove the scratch file (and a tail GeoTIFF left by an interrupt)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._index.clear()
        for p in (self.path, self.path.with_name(self.path.name + ".tail.tif")):
            p.unlink(missing_ok=True)


def _tag_average(dst) -> None:
    """The overview's RESAMPLING band metadata, as GDAL's average builder sets it."""
    for b in range(1, dst.count + 1):
        dst.update_tags(b, RESAMPLING="AVERAGE")
