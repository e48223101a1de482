"""`geoprospect ensemble`: combine prospectivity rasters of several models (paper 003's rules)."""

from __future__ import annotations

from pathlib import Path

import click

from geoprospect.cli.app import run_command


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
        import numpy as np
        import rasterio

        from geoprospect.ensemble import combine, ore_statistics, spread, weights_from_scores
        from geoprospect.errors import GridError, InputError
        from geoprospect.grid import GridSpec
        from geoprospect.io.atomic import write_json
        from geoprospect.io.rasters import write_raster

        if len(rasters) < 2:
            raise InputError("an ensemble needs at least two rasters")
        grid = GridSpec.from_raster(rasters[0])
        probs = []
        for p in rasters:
            g = GridSpec.from_raster(p)
            if not g.same_as(grid):
                raise GridError("the rasters are not on one grid", path=p, hint="predict every model on the same stack")
            with rasterio.open(p) as src:
                probs.append(src.read(1, masked=True).astype("float64").filled(np.nan))
        P = np.stack(probs)
        if weights:
            w = [float(v) for v in weights.split(",")]
            if len(w) != len(rasters):
                raise InputError(f"{len(w)} weights for {len(rasters)} rasters")
            w = weights_from_scores(w) if weights_from_auc else np.asarray(w) / np.sum(w)
        else:
            w = np.full(len(rasters), 1.0 / len(rasters))
        rules = ["simple_average", "weighted_average", "majority_vote", "plurality_vote", "weighted_vote"]
        bands = {r: combine(P, r, weights=w, threshold=threshold) for r in rules}
        bands["spread_std"] = spread(P)
        data = np.stack([np.where(np.isfinite(P).any(0), bands[k], np.nan).astype(np.float32) for k in bands])
        write_raster(out, data, grid, list(bands), tags={"GEOPROSPECT_KIND": "ensemble", "GEOPROSPECT_MEMBERS": ",".join(p.name for p in rasters), "GEOPROSPECT_WEIGHTS": ",".join(f"{v:.4g}" for v in w)})
        res = {"raster": out}
        if windows_path:
            from geoprospect.windows.tiling import read_windows

            win = read_windows(windows_path)
            r, c = win["row"].to_numpy(), win["col"].to_numpy()
            if r.max() >= grid.height or c.max() >= grid.width:
                raise GridError("the window index does not match the rasters' window grid", path=windows_path)
            stats = ore_statistics({p.stem: P[i][r, c] for i, p in enumerate(rasters)}, {k: bands[k][r, c] for k in rules}, win["label"].to_numpy())
            write_json(out.with_suffix(".table2.json"), stats)
            res["table2"] = out.with_suffix(".table2.json")
        return res

    run_command(body)
