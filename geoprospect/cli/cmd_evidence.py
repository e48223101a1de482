"""Evidence subcommands beyond interpolation and distance: density, distance-with-density, geology bands."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from geoprospect.cli.app import run_command
from geoprospect.cli.commands import _csv_list, _grid_options, _write_single

log = logging.getLogger("geoprospect")


def _grid_for_vectors(grid_crs, bounds, resolution, template):
    from geoprospect.errors import GridError
    from geoprospect.pipeline import stages

    if template is None and (bounds is None or resolution is None or grid_crs is None):
        raise GridError("the grid is undefined", hint="pass --template RASTER, or --bounds, --resolution and --grid-crs")
    return stages.make_grid(None, crs=grid_crs, resolution=resolution, bounds=bounds, template=template)


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
@_grid_options
def density(vector, out, radius, mode, name, layer, vector_crs, grid_crs, bounds, resolution, template):
    """Feature density of VECTOR within --radius of every cell centre (a true kernel, not a buffered count)."""

    def body():
        from geoprospect.evidence.density import distance_with_density, feature_density
        from geoprospect.io.vectors import read_vectors
        from geoprospect.progress import Task

        grid = _grid_for_vectors(grid_crs, bounds, resolution, template)
        gdf = read_vectors(vector, layer=layer, crs=vector_crs, target_crs=grid.crs, what="features")
        band = name or f"{'density' if mode == 'density' else 'distdens'}_{vector.stem}"
        fn = feature_density if mode == "density" else distance_with_density
        with Task(mode, grid.height, message=band, unit="row") as task:
            arr = fn(gdf.geometry.values, grid, radius, progress=task.update)
        _write_single(out, arr[None], grid, [band], mode)
        return {"raster": out}

    run_command(body)


@click.command()
@click.argument("polygons", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output GeoTIFF, one 0/1 band per class.")
@click.option("--field", required=True, help="Column holding the class (rock unit, alteration type...).")
@click.option("--classes", help="Comma-separated classes to keep, in band order (default: every class present).")
@click.option("--all-touched", is_flag=True, help="Burn every cell a polygon touches (default: cells whose centre is inside).")
@click.option("--layer", help="Layer of a multi-layer GeoPackage.")
@click.option("--vector-crs", help="CRS of the polygons when the file has none.")
@_grid_options
def geology(polygons, out, field, classes, all_touched, layer, vector_crs, grid_crs, bounds, resolution, template):
    """Geology (or any class) polygons to one-hot bands named after the classes."""

    def body():
        from geoprospect.evidence.categorical import categorical_bands
        from geoprospect.io.vectors import read_vectors

        grid = _grid_for_vectors(grid_crs, bounds, resolution, template)
        gdf = read_vectors(polygons, layer=layer, crs=vector_crs, target_crs=grid.crs, what="geology")
        arr, names = categorical_bands(gdf, grid, field, classes=_csv_list(classes), all_touched=all_touched)
        _write_single(out, arr, grid, names, "categorical")
        return {"raster": out}

    run_command(body)


COMMANDS = [density, geology]
