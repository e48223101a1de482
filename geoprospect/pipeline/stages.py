"""Pipeline stages as plain functions (used by `geoprospect run` and by the subcommands)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from geoprospect.errors import GridError, ValueParseError
from geoprospect.evidence.idw import check_samples_inside, idw
from geoprospect.grid import Extent, GridSpec, snap_bounds, to_crs, union_bounds
from geoprospect.io.points import POINTS_RUN_KNOBS, PointTable, sparse_points_warning
from geoprospect.io.vectors import deposit_points, entry_knobs, read_vectors, select_features
from geoprospect.progress import Task
from geoprospect.stack.area import StudyArea, read_area

if TYPE_CHECKING:
    from geoprospect.pipeline.config import RunConfig

log = logging.getLogger(__name__)


#: how the grid's settings are spelled, for hints: on the command line (default) or in a run config
GRID_CLI_KNOBS = {"crs": "--grid-crs", "bounds": "--bounds", "resolution": "--resolution (or --template)"}
GRID_RUN_KNOBS = {"crs": "grid.crs (or the top-level crs:)", "bounds": "grid.bounds (or area:)", "resolution": "grid.resolution (or grid.template)"}


def make_grid(
    points: PointTable | None,
    *,
    crs: object | None = None,
    resolution: float | None = None,
    bounds: Sequence[float] | None = None,
    template: str | Path | None = None,
    area: StudyArea | None = None,
    extents: Sequence[Extent] = (),
    knobs: Mapping[str, str] | None = None,
) -> GridSpec:
    """The run's grid: from a template raster, or bounds + resolution (bounds default to the
    study area's extent when ``area`` is given, else the points' extent, else the union of
    ``extents`` (the other inputs), snapped outwards to whole cells). The CRS defaults to the
    points' CRS, then the area's, then the first extent's. ``knobs``: how the settings are
    spelled in the caller's context, for hints (default: the command line's options)."""
    k = {**GRID_CLI_KNOBS, **(knobs or {})}
    if template is not None:
        return GridSpec.from_raster(template)
    if resolution is None:
        raise GridError("a resolution (or a template raster) is needed to define the grid", hint=f"set {k['resolution']}")
    gcrs = to_crs(crs) if crs is not None else (points.crs if points is not None else (area.crs if area is not None else (extents[0].crs if extents else None)))
    if gcrs is None:
        raise GridError("the grid needs a CRS", hint=f"set {k['crs']}")
    if gcrs.is_geographic:
        log.warning("the grid CRS %s is geographic: distances and cells are in degrees; a projected CRS is recommended", gcrs.name)
    if bounds is None and area is not None:
        bounds = area.snapped_bounds(resolution, gcrs)
    elif bounds is None and points is not None:
        xy = points.to_crs(gcrs).xy
        bounds = snap_bounds((xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()), resolution)
    elif bounds is None and extents:
        bounds = snap_bounds(union_bounds(extents, gcrs), resolution)
        log.info("grid extent: the union of %s", ", ".join(Path(e.source).name for e in extents))
    if bounds is None:
        raise GridError("bounds are needed when there are no points to take the extent from", hint=f"set {k['bounds']}")
    return GridSpec.from_bounds(bounds, resolution, gcrs)


def run_grid(cfg: RunConfig, points: PointTable | None, area: StudyArea | None) -> GridSpec:
    """The grid of `geoprospect run` (:func:`make_grid` with the config's grid section). Without
    points or area its extent is the union of the rasters' (else the vectors') extents, and its
    CRS the first raster's (else the first vector layer's) unless grid.crs is set."""
    g = cfg.grid
    extents: list[Extent] = []
    if g.template is None and points is None and area is None and (g.bounds is None or g.crs is None):
        from geoprospect.io.vectors import layer_extent
        from geoprospect.stack.rasters import raster_extent

        extents = [raster_extent(r.path, r.crs) for r in cfg.rasters] or [layer_extent(v.path, v.layer, v.crs, knobs=entry_knobs(f"vectors entry {v.name!r}")) for v in cfg.vectors]
    return make_grid(points, crs=g.crs, resolution=g.resolution, bounds=g.bounds, template=g.template, area=area, extents=extents, knobs=GRID_RUN_KNOBS)


def load_area(ac) -> StudyArea | None:
    """The run config's study area (``ac`` is its ``area`` section, or None)."""
    return None if ac is None else read_area(ac.path, layer=ac.layer, crs=ac.crs, knobs={**entry_knobs("area"), "path": "area.path"})


RUN_LOG10_HINT = ("zeros or negatives often mean 'below detection': mark them with points.flag_columns (and points.detection_limits), "
                  "read negatives as censored (points.negative_censored: true, points.censored: half), or set points.log10: false")
CLI_LOG10_HINT = ("zeros or negatives often mean 'below detection': mark them with --flag-columns (and --detection-limits), "
                  "read them as censored (--censored half), or drop --log10")


def log10_values(points: PointTable, *, hint: str = RUN_LOG10_HINT) -> PointTable:
    """log10 of element values; zero or negative values are refused, the error naming the file's
    row and ``hint`` (the knob that fixes it in the caller's context: run config or CLI)."""
    bad = np.isfinite(points.values) & (points.values <= 0)
    if bad.any():
        i, e = np.argwhere(bad)[0]
        raise ValueParseError(
            f"element {points.elements[e]!r} has {int(bad[:, e].sum())} zero or negative values (this row: {float(points.values[i, e]):g}); log10 is undefined",
            path=points.source or None,
            row=int(points.rows[i]) if points.rows.size else None,
            hint=hint,
        )
    with np.errstate(invalid="ignore"):
        vals = np.log10(points.values)
    return PointTable(points.xy, vals, points.elements, points.crs, points.source, points.rows)


def check_points_on_grid(points: PointTable, grid: GridSpec) -> PointTable:
    """``points`` in the grid's CRS, after logging how many lie inside the grid (InputError when
    none does: a CRS or column mistake) and warning when they are sparse for its cells."""
    pts = points.to_crs(grid.crs)
    inside = grid.contains(pts.xy[:, 0], pts.xy[:, 1])
    log.info("IDW of %d elements from %d points (%d inside the grid) onto %d x %d cells", len(pts.elements), len(pts), int(inside.sum()), grid.height, grid.width)
    check_samples_inside(pts.xy, grid, inside, path=points.source or None)
    if (sparse := sparse_points_warning(int(inside.sum()), grid.height * grid.width)) is not None:
        log.warning("%s: %s", points.source or "points", sparse)
    return pts


def log_empty_share(names: Sequence[str], valid: Sequence[int], cells: int) -> None:
    """Log the share of cells without a value (no sample within the search radius) per band."""
    for name, n in zip(names, valid, strict=True):
        if n < cells:
            log.info("%s: %.1f%% of cells have no sample within the search radius (NaN)", name, 100 * (1 - n / cells))


def interpolate(points: PointTable, grid: GridSpec, *, power: float = 2.0, neighbors: int | None = 12, radius: float | None = None, min_points: int = 1, smoothing: float = 0.0) -> np.ndarray:
    """IDW of every element of ``points`` (reprojected to the grid's CRS) -> (E, rows, cols)."""
    pts = check_points_on_grid(points, grid)
    with Task("idw", grid.height, message=",".join(pts.elements)[:40], unit="row") as task:
        out = idw(pts.xy, pts.values, grid, power=power, neighbors=neighbors, radius=radius, min_points=min_points, smoothing=smoothing, progress=task.update)
    log_empty_share(pts.elements, [int(np.isfinite(b).sum()) for b in out], grid.height * grid.width)
    return out


def load_deposits(path: str | Path, grid: GridSpec, *, layer: str | None = None, crs: str | None = None, where: Mapping[str, object] | None = None) -> np.ndarray:
    """(N, 2) deposit coordinates in the grid's CRS (duplicates kept: each is a known deposit);
    ``where``: keep only the features whose fields match (deposits.where of a run config)."""
    gdf = read_vectors(path, layer=layer, crs=crs, target_crs=grid.crs, what="deposits", knobs=entry_knobs("deposits"))
    if where:
        gdf = select_features(gdf, where, path=path, key="deposits.where")
    return deposit_points(gdf)


def read_run_points(pc, out: Path | None = None) -> PointTable | None:
    """The run's sample points, with censored values, duplicates and outliers handled as
    configured (``pc`` is the run config's ``points`` section; None when it has none); the
    preparation report is written to ``out/geochem_report.md`` when ``out`` is given."""
    from geoprospect.io.points import read_points

    if pc is None:
        return None
    if pc.censored == "error":
        return read_points(pc.path, pc.elements, x_field=pc.x_field, y_field=pc.y_field, crs=pc.crs, layer=pc.layer, knobs=POINTS_RUN_KNOBS)
    from geoprospect.geochem.prepare import RUN_KNOBS, read_geochem

    table, report = read_geochem(
        pc.path, pc.elements, x_field=pc.x_field, y_field=pc.y_field, crs=pc.crs, layer=pc.layer,
        drop_missing_xy=pc.drop_missing_xy, duplicates=pc.duplicates, duplicate_tol=pc.duplicate_tol,
        censored=pc.censored, fraction=pc.censored_fraction, flag_columns=pc.flag_columns,
        detection_limits=pc.detection_limits, negative_is_censored=pc.negative_censored,
        unknown_limit=pc.unknown_limit, outliers=None if pc.outliers == "none" else pc.outliers,
        tukey_k=pc.tukey_k, knobs=RUN_KNOBS,
    )
    if out is not None:
        report.write(Path(out) / "geochem_report.md")
    return table


def select_run_elements(points: PointTable, deposits_xy: np.ndarray, grid: GridSpec, sc, out: Path | None = None) -> PointTable:
    """Keep the elements whose Z_AUC passes (papers 000-002). Positives are samples within
    ``sc.distance`` of the given deposits, which must be the *training-area* deposits only,
    so that the held-out block does not inform the choice. Writes element_selection.csv/.md."""
    from geoprospect.geochem.selection import label_near_deposits, select_elements

    pts = points.to_crs(grid.crs)
    labels = label_near_deposits(pts.xy, deposits_xy, sc.distance)
    if labels.all() or not labels.any():
        log.warning("element selection skipped: %d of %d samples lie within %g of a training deposit", int(labels.sum()), labels.size, sc.distance)
        return points
    res = select_elements(pts.values, pts.elements, labels, score=sc.score, z_crit=sc.z_crit)
    res.settings.update({"distance": sc.distance, "deposits": "training-area deposits only"})
    chosen = res.selected
    if len(chosen) < sc.min_elements:
        zcol = "z_auc_svm" if sc.score == "svm" and "z_auc_svm" in res.table else "z_auc_raw"
        chosen = [str(e) for e in res.table.sort_values(zcol, ascending=False)["element"].head(sc.min_elements)]
        log.warning("only %d element(s) pass Z_AUC > %g: keeping the %d best-ranked", len(res.selected), sc.z_crit, len(chosen))
    if out is not None:
        res.write(Path(out) / "element_selection.csv", Path(out) / "element_selection.md")
    log.info("element selection: kept %d of %d elements (%s)", len(chosen), len(points.elements), ", ".join(chosen))
    return points.select([e for e in points.elements if e in chosen])
