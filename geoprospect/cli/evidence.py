"""Evidence layers, one command each: interpolate, distance, density, geology; and stack."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from geoprospect.cli.app import run_command
from geoprospect.cli.options import (
    area_options,
    csv_list,
    grid_for_vectors,
    grid_options,
    point_options,
    prep_kwargs,
    prep_options,
    raster_output_options,
    read_area_option,
)
from geoprospect.evidence.class_choice import DEFAULT_MIN_SHARE

log = logging.getLogger("geoprospect")


@click.command()
@click.argument("points", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output GeoTIFF, one band per element.")
@point_options
@prep_options(censored_default="error")
@grid_options
@click.option("--power", type=float, default=2.0, show_default=True, help="IDW distance exponent.")
@click.option("--neighbors", type=int, default=12, show_default=True, help="Use at most this many nearest samples (0 = all samples, the papers' exact formula).")
@click.option("--radius", type=float, help="Search radius in map units; cells with fewer than --min-points samples within it are nodata. Default: unlimited.")
@click.option("--min-points", type=int, default=1, show_default=True, help="Minimum samples within the radius.")
@click.option("--smoothing", type=float, default=0.0, show_default=True, help="Smoothing distance (map units), as gdal_grid's.")
@click.option("--log10/--no-log10", default=False, show_default=True, help="Interpolate log10 of the values.")
@click.option("--method", type=click.Choice(["idw", "kriging", "universal-kriging"]), default="idw", show_default=True,
              help="idw; kriging = ordinary kriging (pykrige, variogram fitted per element, --neighbors nearest samples); universal-kriging (linear drift, all samples).")
@click.option("--variogram-model", type=click.Choice(["spherical", "exponential", "gaussian", "linear", "power"]), default="spherical", show_default=True, help="Kriging variogram model.")
@click.option("--variance", is_flag=True, help="Kriging: also write the kriging variance of each element.")
@raster_output_options
def interpolate(points, out, elements, x_field, y_field, crs, layer, drop_missing_xy, censored, fraction, flag_columns, negative_censored, unknown_limit,
                outliers, tukey_k, transform, duplicates, duplicate_tol, detection_limits, grid_crs, bounds, resolution, template, area, area_layer, power, neighbors, radius,
                min_points, smoothing, log10, method, variogram_model, variance, cog, compress, block_size):
    """Interpolate element values of POINTS onto a grid (values at cell centres).

    IDW (default) has the definition of `gdal_grid -a invdistnn`: the NEIGHBORS nearest
    samples within RADIUS, weights 1/d^POWER. --method kriging uses ordinary kriging
    (paper 004) instead. Geochemistry as exported (censored "<0.5", flag columns, detection
    limits, outliers, duplicates) is prepared as by `prepare-geochem` when --censored is given.
    IDW and kriging are computed and written block by block (--block-size): memory does not grow
    with the map.
    """

    def body():
        from geoprospect.pipeline import stages
        from geoprospect.stack.layers import idw_layer, kriging_layer
        from geoprospect.stack.single import write_layer

        pts = _read_interpolation_points(points, elements, x_field, y_field, crs, layer, drop_missing_xy,
                                         prep_kwargs(censored, fraction, flag_columns, negative_censored, unknown_limit, outliers, tukey_k,
                                                     transform, duplicates, duplicate_tol, drop_missing_xy, detection_limits), log10)
        study = read_area_option(area, area_layer)
        grid = stages.make_grid(pts, crs=grid_crs, resolution=resolution, bounds=bounds, template=template, area=study)
        if log10:
            pts = stages.log10_values(pts, hint=stages.CLI_LOG10_HINT)
        names = [f"log10_{e}" if log10 else e for e in pts.elements]
        if method == "idw":
            p = stages.check_points_on_grid(pts, grid)
            lay = idw_layer(p.xy, p.values, names, power=power, neighbors=None if neighbors == 0 else neighbors, radius=radius, min_points=min_points, smoothing=smoothing)
        else:  # variograms fitted once on all samples; each block kriged and written in turn
            p = pts.to_crs(grid.crs)
            kind = "universal" if method == "universal-kriging" else "ordinary"
            lay = kriging_layer(p.xy, p.values, names, method=kind, variogram_model=variogram_model,
                                neighbors=(neighbors or None) if kind == "ordinary" else None, variance=variance)
        sf = write_layer(lay, grid, out, method, area=study, block_size=block_size, compress=compress, cog=cog)
        if method == "idw":
            stages.log_empty_share(names, [int(s["valid"]) for s in sf.stats], grid.height * grid.width)
        return {"raster": out}

    run_command(body)


def _read_interpolation_points(points, elements, x_field, y_field, crs, layer, drop_missing_xy, kw: dict, log10: bool):
    """The points of `interpolate`: plain numbers (--censored error, the default) or prepared
    as by prepare-geochem (any other --censored)."""
    from geoprospect.errors import ParameterError

    if kw["censored"] == "error":
        from geoprospect.io.points import read_points

        if kw["flag_columns"] or kw["detection_limits"]:
            raise ParameterError("--flag-columns and --detection-limits need censored values to be prepared", hint="add --censored half (or fraction, cohen, missing)")
        return read_points(points, csv_list(elements), x_field=x_field, y_field=y_field, crs=crs, layer=layer)
    if log10 and kw["transform"] is not None:
        raise ParameterError(f"--log10 and --transform {kw['transform']} both transform the values", hint="keep one of them")
    from geoprospect.geochem.prepare import read_geochem

    table, _ = read_geochem(points, csv_list(elements), x_field=x_field, y_field=y_field, crs=crs, layer=layer, **kw)
    return table


@click.command()
@click.argument("vector", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output GeoTIFF.")
@click.option("--name", help="Band name (default: the file's name).")
@click.option("--layer", help="Layer of a multi-layer GeoPackage.")
@click.option("--vector-crs", help="CRS of the vector layer when the file has none.")
@grid_options
@raster_output_options
def distance(vector, out, name, layer, vector_crs, grid_crs, bounds, resolution, template, area, area_layer, cog, compress, block_size):
    """Distance (map units) from every cell centre to the nearest feature of VECTOR (computed and
    written block by block)."""

    def body():
        from geoprospect.io.vectors import read_vectors
        from geoprospect.stack.layers import distance_layer
        from geoprospect.stack.single import write_layer

        study = read_area_option(area, area_layer)
        grid = grid_for_vectors(grid_crs, bounds, resolution, template, vector, layer, vector_crs, area=study)
        band = name or f"dist_{vector.stem}"
        gdf = read_vectors(vector, layer=layer, crs=vector_crs, target_crs=grid.crs, what=band)
        write_layer(distance_layer(gdf.geometry.values, band), grid, out, "distance", area=study, block_size=block_size, compress=compress, cog=cog)
        return {"raster": out}

    run_command(body)


@click.command()
@click.argument("vector", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output GeoTIFF.")
@click.option("--radius", type=float, required=True, help="Kernel radius in map units.")
@click.option("--mode", type=click.Choice(["density", "distance-density"]), default="density", show_default=True,
              help="density: feature length (lines) or area (polygons) within the radius per unit area; "
                   "distance-density: paper 003's buffer-distance layer, max(0, 1 - d/R) x (1 + density / one-feature density).")
@click.option("--name", help="Band name (default: density_<file> or distdens_<file>).")
@click.option("--layer", help="Layer of a multi-layer GeoPackage.")
@click.option("--vector-crs", help="CRS of the vector layer when the file has none.")
@grid_options
@raster_output_options
def density(vector, out, radius, mode, name, layer, vector_crs, grid_crs, bounds, resolution, template, area, area_layer, cog, compress, block_size):
    """Feature density of VECTOR within --radius of every cell centre (a true kernel, not a buffered count)."""

    def body():
        from geoprospect.io.vectors import read_vectors
        from geoprospect.stack.layers import density_layer, distance_density_layer
        from geoprospect.stack.single import write_layer

        study = read_area_option(area, area_layer)
        grid = grid_for_vectors(grid_crs, bounds, resolution, template, vector, layer, vector_crs, area=study)
        gdf = read_vectors(vector, layer=layer, crs=vector_crs, target_crs=grid.crs, what="features")
        band = name or f"{'density' if mode == 'density' else 'distdens'}_{vector.stem}"
        make = density_layer if mode == "density" else distance_density_layer
        write_layer(make(gdf.geometry.values, band, radius), grid, out, mode, area=study, block_size=block_size, compress=compress, cog=cog)
        return {"raster": out}

    run_command(body)


@click.command()
@click.argument("polygons", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output GeoTIFF, one 0/1 band per class.")
@click.option("--field", required=True, help="Column holding the class (rock unit, alteration type...).")
@click.option("--classes", help="Comma-separated classes to keep, in band order (default: every class present).")
@click.option("--all-touched", is_flag=True, help="Burn every cell a polygon touches (default: cells whose centre is inside).")
@click.option("--unmapped", type=click.Choice(["nodata", "zero"]), default="nodata", show_default=True,
              help="Cells outside every polygon: nodata in every class band, or 0 (read as 'none of the classes'). The share is warned.")
@click.option("--layer", help="Layer of a multi-layer GeoPackage.")
@click.option("--vector-crs", help="CRS of the polygons when the file has none.")
@grid_options
@raster_output_options
def geology(polygons, out, field, classes, all_touched, unmapped, layer, vector_crs, grid_crs, bounds, resolution, template, area, area_layer, cog, compress, block_size):
    """Geology (or any class) polygons to one-hot bands named after the classes."""

    def body():
        from geoprospect.io.vectors import read_vectors
        from geoprospect.stack.layers import categorical_layer
        from geoprospect.stack.single import write_layer

        study = read_area_option(area, area_layer)
        grid = grid_for_vectors(grid_crs, bounds, resolution, template, polygons, layer, vector_crs, area=study)
        gdf = read_vectors(polygons, layer=layer, crs=vector_crs, target_crs=grid.crs, what="geology")
        lay = categorical_layer(gdf, grid, field, classes=csv_list(classes), all_touched=all_touched, outside=0.0 if unmapped == "zero" else float("nan"))
        write_layer(lay, grid, out, "categorical", area=study, block_size=block_size, compress=compress, cog=cog)
        return {"raster": out}

    run_command(body)


@click.command()
@click.argument("rasters", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output multiband GeoTIFF.")
@click.option("--template", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Grid to warp every raster onto (default: the first raster's).")
@click.option("--categorical", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A raster of class codes (lithology, stratigraphy; one of RASTERS or another): one 0/1 band per class, named <file>_<class> "
                   "(class names from its attribute table, .aux.xml or .vat.dbf, else the codes), warped by nearest (mode, the majority class, "
                   "onto a coarser grid). Repeat for several.")
@click.option("--min-share", type=click.FloatRange(0, 1, max_open=True), default=DEFAULT_MIN_SHARE, show_default=True,
              help="--categorical rasters: classes covering less than this share of the valid cells (inside --area) are merged into one <file>_other band (0 = keep every class).")
@area_options
def stack(rasters, out, template, categorical, min_share, area, area_layer):
    """Combine RASTERS into one evidence stack (band names kept, statistics stored).

    Rasters on another grid are warped onto the first raster's grid (or --template), with a note.
    A --categorical raster gives one-hot class bands, recorded in the stack as one layer.
    """

    def body():
        from geoprospect.grid import GridSpec
        from geoprospect.stack.rasters import stack_rasters

        st = stack_rasters(list(rasters), out, GridSpec.from_raster(template) if template else None, area=read_area_option(area, area_layer),
                           categorical=list(categorical), min_share=min_share)
        log.info("stack bands: %s", ", ".join(st.band_names))
        return {"stack": out}

    run_command(body)


COMMANDS = [interpolate, distance, density, geology, stack]
