"""`geoprospect ensemble`: combine prospectivity rasters of several models (paper 003's rules)."""

from __future__ import annotations

from pathlib import Path

import click

from geoprospect.cli.app import run_command
from geoprospect.cli.options import csv_floats


@click.command(name="ensemble")
@click.argument("rasters", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output GeoTIFF: every rule as a band, plus the spread.")
@click.option("--weights", help="Comma-separated weights, one per raster (e.g. validation AUCs); default: equal.")
@click.option("--weights-from-auc", is_flag=True, help="Turn --weights (ROC AUCs) into weights max(AUC - 0.5, 0), normalised.")
@click.option("--threshold", type=float, default=0.5, show_default=True, help="Probability at or above which a member votes 'ore-bearing'.")
@click.option("--windows", "windows_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Window index: adds paper 003's Table 2 (counts of ore-bearing windows) as JSON beside --out.")
def ensemble(rasters, out, weights, weights_from_auc, threshold, windows_path):
    """Simple/weighted average, majority/plurality/weighted voting and the members' spread.

    RASTERS are prospectivity GeoTIFFs on one grid (band 1 = deposit probability). Vote bands
    hold 1 (ore-bearing), 0 (not) or -1 (refused: no majority).
    """

    def body():
        from geoprospect.ensemble import build_ensemble
        from geoprospect.windows.tiling import read_windows

        windows = read_windows(windows_path) if windows_path else None
        return build_ensemble(list(rasters), out, weights=csv_floats(weights, "--weights"), weights_from_auc=weights_from_auc,
                              threshold=threshold, windows=windows, windows_path=windows_path)

    run_command(body)


COMMANDS = [ensemble]
