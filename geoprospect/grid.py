"""The one grid of a run (DESIGN.md decision 1): CRS, affine transform and shape.

Cell values are computed at cell centres (decision 2): ``x = left + (col + 0.5) * xres``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from affine import Affine
from pyproj import CRS

from geoprospect.errors import CRSError, GridError, InputError

if TYPE_CHECKING:
    from rasterio.crs import CRS as RioCRS


def to_crs(value: object, *, what: str = "CRS") -> CRS:
    """Parse anything pyproj understands ("EPSG:32649", WKT, an int, a CRS) into a CRS."""
    if value is None:
        raise CRSError(f"no {what} was given")
    try:
        if isinstance(value, CRS):
            crs = value
        elif hasattr(value, "to_wkt"):
            crs = CRS.from_wkt(value.to_wkt())
        else:
            crs = CRS.from_user_input(value)
    except Exception as exc:  # pyproj raises CRSError of its own
        raise CRSError(
            f"cannot understand {what} {value!r} ({exc})",
            hint="give an EPSG code such as EPSG:32649, or a WKT string (a local frame: " + LOCAL_CRS_EXAMPLE + ")",
        ) from exc
    return _local_as_geotiff(crs) if crs.is_engineering else crs


#: a local (engineering) CRS, for a survey in mine or exploration-grid coordinates
LOCAL_CRS_EXAMPLE = 'LOCAL_CS["mine grid",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'


def _local_as_geotiff(crs: CRS) -> CRS:
    """An engineering (local) CRS reduced to what a GeoTIFF keeps of it (name, unit, axes; no datum),
    so that the stack written in it and read back is in the same CRS as the inputs. Two local
    CRSs have no transformation between them: every input of a local survey shares one."""
    ax = crs.axis_info
    if not ax:
        return crs
    unit = f'UNIT["{ax[0].unit_name}",{ax[0].unit_conversion_factor!r}]'
    axes = ",".join(f'AXIS["{a.name}",{a.direction.upper()}]' for a in ax)
    return CRS.from_wkt(f'LOCAL_CS["{crs.name}",{unit},{axes}]')


def rio_crs(crs: CRS) -> "RioCRS":
    """``crs`` for rasterio/GDAL (by EPSG code where it has one)."""
    from rasterio.crs import CRS as RioCRS

    epsg = crs.to_epsg()
    return RioCRS.from_epsg(epsg) if epsg else RioCRS.from_wkt(crs.to_wkt())


def snap_bounds(bounds: Sequence[float], resolution: float) -> tuple[float, float, float, float]:
    """``(xmin, ymin, xmax, ymax)`` snapped outwards to whole multiples of ``resolution``."""
    r = float(resolution)
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    return (math.floor(xmin / r) * r, math.floor(ymin / r) * r, math.ceil(xmax / r) * r, math.ceil(ymax / r) * r)


@dataclass(frozen=True)
class Extent:
    """The bounds of one input in its own CRS, for a grid that takes its extent from its inputs."""

    bounds: tuple[float, float, float, float]
    crs: CRS
    source: str = ""

    def in_crs(self, crs: object) -> tuple[float, float, float, float]:
        """The bounds in ``crs`` (the box around the densified edges when it differs)."""
        target = to_crs(crs)
        if self.crs.equals(target, ignore_axis_order=True):
            return self.bounds
        from pyproj import Transformer

        try:
            b = Transformer.from_crs(self.crs, target, always_xy=True).transform_bounds(*self.bounds, densify_pts=21)
        except Exception as exc:  # pyproj's own errors: no operation between the two CRSs
            raise CRSError(f"the extent of this input cannot be projected from {self.crs.name} to {target.name} ({exc})", path=self.source or None,
                           hint="check its CRS; inputs in a local (engineering) frame must all share the same one (top-level crs: in the run config)") from exc
        if not all(math.isfinite(v) for v in b):
            raise CRSError(f"the extent of this input cannot be projected from {self.crs.name} to {target.name}", path=self.source or None, hint="check its CRS")
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def union_bounds(extents: Sequence[Extent], crs: object) -> tuple[float, float, float, float]:
    """The box holding every extent, in ``crs``."""
    boxes = np.array([e.in_crs(crs) for e in extents], dtype=np.float64)
    return (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max()))


@dataclass(frozen=True)
class GridSpec:
    """A north-up raster grid.

    Attributes:
        crs: coordinate reference system of the grid (projected, map units).
        transform: affine transform from (col, row) pixel corners to map coordinates.
        width: number of columns.
        height: number of rows.
    """

    crs: CRS
    transform: Affine
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise GridError(f"grid shape must be positive, got {self.height} x {self.width}")
        t = self.transform
        if t.b != 0 or t.d != 0:
            raise GridError("rotated grids are not supported", hint="warp the template to a north-up grid")
        if t.a <= 0 or t.e >= 0:
            raise GridError(
                f"grid must be north-up with positive x resolution (got a={t.a}, e={t.e})"
            )

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_bounds(
        cls,
        bounds: Sequence[float],
        resolution: float | Sequence[float],
        crs: object,
    ) -> "GridSpec":
        """Grid covering ``bounds = (xmin, ymin, xmax, ymax)`` in map units of ``crs``.

        The origin is the upper-left corner (xmin, ymax); width and height are rounded up,
        so the grid covers the bounds entirely (the right/bottom edge may extend by < 1 cell).
        """
        xmin, ymin, xmax, ymax = (float(v) for v in bounds)
        if isinstance(resolution, (int, float)):
            xres = yres = float(resolution)
        else:
            xres, yres = (float(v) for v in resolution)
        if not (math.isfinite(xres) and math.isfinite(yres)) or xres <= 0 or yres <= 0:
            raise GridError(f"resolution must be positive, got {resolution}")
        if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
            raise GridError(f"bounds must be finite numbers, got {bounds}")
        if xmax <= xmin or ymax <= ymin:
            raise GridError(
                f"bounds must be (xmin, ymin, xmax, ymax) with xmin < xmax and ymin < ymax, got {tuple(bounds)}"
            )
        nx, ny = (xmax - xmin) / xres, (ymax - ymin) / yres
        if not (math.isfinite(nx) and math.isfinite(ny)) or nx * ny > 2e9:  # found by tests/test_fuzz.py
            raise GridError(f"grid of {ny:.3g} x {nx:.3g} cells is too large", hint="use a coarser resolution")
        # tolerance so that exact multiples do not grow by one cell through rounding noise
        width = max(1, math.ceil(nx - 1e-9))
        height = max(1, math.ceil(ny - 1e-9))
        if width * height > 2_000_000_000:
            raise GridError(f"grid of {height} x {width} cells is too large", hint="use a coarser resolution")
        return cls(to_crs(crs), Affine(xres, 0.0, xmin, 0.0, -yres, ymax), width, height)

    @classmethod
    def from_raster(cls, path: str | Path) -> "GridSpec":
        """The grid of an existing raster (its CRS, transform and shape)."""
        import rasterio

        try:
            with rasterio.open(path) as src:
                if src.crs is None:
                    raise CRSError("template raster has no CRS", path=path, hint="assign one with gdal_edit.py -a_srs")
                return cls(to_crs(src.crs.to_wkt()), src.transform, src.width, src.height)
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(f"cannot open template raster ({exc})", path=path) from exc

    # -- properties ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return (self.height, self.width)

    @property
    def res(self) -> tuple[float, float]:
        """(xres, yres), both positive, map units."""
        return (self.transform.a, -self.transform.e)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the outer cell edges."""
        t = self.transform
        return (t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f)

    def x_centers(self, col_off: int = 0, width: int | None = None) -> np.ndarray:
        """x of cell centres of columns ``col_off .. col_off+width`` (float64)."""
        width = self.width - col_off if width is None else width
        return self.transform.c + (np.arange(col_off, col_off + width, dtype=np.float64) + 0.5) * self.transform.a

    def y_centers(self, row_off: int = 0, height: int | None = None) -> np.ndarray:
        """y of cell centres of rows ``row_off .. row_off+height`` (float64, decreasing)."""
        height = self.height - row_off if height is None else height
        return self.transform.f + (np.arange(row_off, row_off + height, dtype=np.float64) + 0.5) * self.transform.e

    def cell_centers(self, row_off: int = 0, col_off: int = 0, height: int | None = None, width: int | None = None) -> np.ndarray:
        """Centres of a block of cells as an (h*w, 2) float64 array, row-major."""
        xs = self.x_centers(col_off, width)
        ys = self.y_centers(row_off, height)
        xx, yy = np.meshgrid(xs, ys)
        return np.column_stack([xx.ravel(), yy.ravel()])

    def rowcol(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer (row, col) of the cells containing map points (may be outside the grid)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        col = np.floor((x - self.transform.c) / self.transform.a).astype(np.int64)
        row = np.floor((y - self.transform.f) / self.transform.e).astype(np.int64)
        return row, col

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Boolean mask of map points that fall inside the grid."""
        row, col = self.rowcol(x, y)
        return (row >= 0) & (row < self.height) & (col >= 0) & (col < self.width)

    def window_transform(self, row_off: int, col_off: int) -> Affine:
        """Affine transform of a pixel window whose upper-left cell is (row_off, col_off)."""
        return self.transform @ Affine.translation(col_off, row_off)

    def coarsen(self, factor: int, offset: float = 0.0) -> "GridSpec":
        """A coarser grid of ``factor``-sized cells starting ``offset`` pixels into this grid."""
        t = self.transform @ Affine.translation(offset, offset) @ Affine.scale(factor)
        return GridSpec(self.crs, t, max(1, self.width // factor), max(1, self.height // factor))

    def profile(self, count: int, dtype: str = "float32", nodata: float | None = -9999.0) -> dict:
        """A rasterio profile for a tiled, compressed GeoTIFF on this grid."""
        rcrs = rio_crs(self.crs)
        prof = {
            "driver": "GTiff",
            "width": self.width,
            "height": self.height,
            "count": count,
            "dtype": dtype,
            "crs": rcrs,
            "transform": self.transform,
            "nodata": nodata,
            "compress": "deflate",
            "predictor": 3 if dtype.startswith("float") else 2,
            "BIGTIFF": "IF_SAFER",
        }
        if self.width >= 16 and self.height >= 16:
            bs = 256 if min(self.width, self.height) >= 256 else 16 * max(1, min(self.width, self.height) // 16)
            bs = max(16, min(bs, 256))
            prof.update(tiled=True, blockxsize=bs, blockysize=bs)
        return prof

    def to_dict(self) -> dict:
        """JSON-friendly description (CRS as WKT and EPSG where one exists)."""
        return {
            "crs": self.crs.to_wkt(),
            "epsg": self.crs.to_epsg(),
            "transform": list(self.transform)[:6],
            "width": self.width,
            "height": self.height,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "GridSpec":
        return cls(to_crs(d["crs"]), Affine(*d["transform"][:6]), int(d["width"]), int(d["height"]))

    def same_as(self, other: "GridSpec", tol: float = 1e-6) -> bool:
        """True when both grids have the same CRS, shape and transform (within ``tol`` map units)."""
        return (
            self.shape == other.shape
            and self.crs.equals(other.crs, ignore_axis_order=True)
            and np.allclose(list(self.transform)[:6], list(other.transform)[:6], atol=tol, rtol=0)
        )


# --- areas in km² (issue 24): the CRS's linear unit says how map units² become km² ---

AREA_KM2 = "km²"
AREA_MAP_UNITS = "map units²"
#: spellings of metres and feet that pyproj's unit table (EPSG names) does not hold
_UNIT_ALIASES = frozenset({"meter", "meters", "metres", "m", "feet", "ft", "us-ft", "foot_us", "us survey feet"})


def _linear_unit_names() -> frozenset[str]:
    """Lower-case names of the linear units pyproj knows (metre, foot, US survey foot, kilometre ...)."""
    from pyproj.database import get_units_map

    return frozenset(n.lower() for n in get_units_map(category="linear")) | _UNIT_ALIASES


def metres_per_unit(crs: CRS) -> float | None:
    """Metres in one map unit of a projected or local CRS, from pyproj's axis information
    (1 for metres, 0.3048 for the foot, 0.3048006 for the US survey foot); None for a geographic
    CRS (degrees) and for a unit pyproj cannot name (a local frame's ``UNIT["unknown",1]``)."""
    if crs.is_geographic or not crs.axis_info:
        return None
    ax = crs.axis_info[0]
    name = (ax.unit_name or "").strip().lower()
    known = ax.unit_auth_code == "EPSG" or name in _linear_unit_names()
    f = float(ax.unit_conversion_factor or 0.0)
    return f if known and math.isfinite(f) and f > 0 else None


def polygon_areas(geoms: Sequence[object] | np.ndarray, crs: CRS) -> tuple[np.ndarray, str]:
    """(N,) areas of shapely (multi)polygons in ``crs`` and their unit label: km² when the CRS's
    linear unit is known (metres, feet: converted), geodesic km² on the CRS's ellipsoid for a
    geographic CRS, else the planar area in "map units²" (a local frame of unknown unit)."""
    import shapely

    g = np.asarray(geoms, dtype=object).reshape(-1)
    f = metres_per_unit(crs)
    if f is not None:
        return np.asarray(shapely.area(g), dtype=np.float64) * f * f / 1e6, AREA_KM2
    if crs.is_geographic:
        geod = crs.get_geod()
        if geod is not None:
            return np.array([abs(geod.geometry_area_perimeter(x)[0]) / 1e6 for x in g], dtype=np.float64), AREA_KM2
    return np.asarray(shapely.area(g), dtype=np.float64), AREA_MAP_UNITS


def cell_areas(grid: GridSpec) -> tuple[np.ndarray, str]:
    """(rows,) area of one cell of each row of ``grid`` and its unit label (as :func:`polygon_areas`:
    km² for a known linear unit or a geographic grid, where cells shrink towards the poles; else
    map units²). Multiply by a count of cells per row for the area of a class or a target."""
    import shapely

    t = grid.transform
    f = metres_per_unit(grid.crs)
    if f is None and grid.crs.is_geographic:
        y = t.f + np.arange(grid.height + 1) * t.e
        return polygon_areas(shapely.box(t.c, y[1:], t.c + t.a, y[:-1]), grid.crs)
    planar = abs(t.a * t.e)
    return np.full(grid.height, planar * f * f / 1e6 if f is not None else planar), AREA_KM2 if f is not None else AREA_MAP_UNITS


def area_of_cells(grid: GridSpec, mask: np.ndarray) -> tuple[float, str]:
    """Total area of the True cells of ``mask`` ((rows, cols) on ``grid``) and its unit label."""
    per_row, unit = cell_areas(grid)
    return float(np.asarray(mask, dtype=bool).sum(axis=1) @ per_row), unit
