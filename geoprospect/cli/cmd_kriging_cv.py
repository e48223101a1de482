"""`geoprospect kriging-cv`: leave-one-out errors of IDW vs ordinary/universal kriging per element."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from geoprospect.cli.app import run_command
from geoprospect.cli.cmd_prepare import csv_list, point_options, prep_kwargs, prep_options

log = logging.getLogger("geoprospect")


@click.command("kriging-cv")
@click.argument("points", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Error table (.csv); a Markdown copy is written beside it (.md).")
@click.option("--work-crs", help="Projected CRS for distances (default: the points' CRS, which must then be projected).")
@point_options
@prep_options
@click.option("--variogram-model", type=click.Choice(["spherical", "exponential", "gaussian", "linear", "power"]), default="spherical", show_default=True, help="Variogram model (fitted per element by pykrige).")
@click.option("--nlags", type=int, default=6, show_default=True, help="Lags of the experimental variogram.")
@click.option("--drift", type=click.Choice(["linear", "quadratic"]), default="linear", show_default=True, help="Universal kriging drift.")
@click.option("--power", type=float, default=2.0, show_default=True, help="IDW exponent.")
@click.option("--idw-neighbors", type=int, default=12, show_default=True, help="IDW nearest samples (0 = all).")
@click.option("--max-points", type=int, default=0, show_default=True, help="Hold out at most this many random samples per element (0 = all).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed for --max-points.")
def kriging_cv(points, out, work_crs, elements, x_field, y_field, crs, layer, drop_missing_xy, censored, fraction, flag_columns, negative_censored,
               unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol, variogram_model, nlags, drift, power, idw_neighbors, max_points, seed):
    """Leave-one-out cross-validation at the samples of POINTS: each sample is predicted from
    all others by IDW (geoprospect's own, same semantics as `interpolate`), ordinary and
    universal kriging (variogram fitted once per element; Dubrule's exact LOO). Reports RMSE,
    MAE and mean error per element and method (paper 004 compares kriging errors).
    """

    def body():
        import pandas as pd

        from geoprospect.errors import CRSError
        from geoprospect.evidence.kriging import fit_variogram, loo_cv
        from geoprospect.geochem.prepare import read_geochem
        from geoprospect.io.atomic import write_text

        kw = prep_kwargs(censored, fraction, flag_columns, negative_censored, unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol, drop_missing_xy)
        table, _ = read_geochem(points, csv_list(elements), x_field=x_field, y_field=y_field, crs=crs, layer=layer, **kw)
        if work_crs:
            table = table.to_crs(work_crs)
        if table.crs.is_geographic:
            raise CRSError(f"distances cannot be measured in {table.crs.name} (degrees)", path=points, hint="pass --work-crs with a projected CRS, e.g. EPSG:32650")
        frames = []
        for j, e in enumerate(table.elements):
            v = fit_variogram(table.xy, table.values[:, j], variogram_model, nlags=nlags)
            s, _ = loo_cv(table.xy, table.values[:, j], variogram=v, nlags=nlags, drift=drift, max_points=max_points or None, seed=seed,
                          idw_kwargs={"power": power, "neighbors": idw_neighbors or None})
            s.insert(0, "element", e)
            frames.append(s)
            best = s.loc[s["rmse"].idxmin(), "method"]
            log.info("%s: RMSE %s (best: %s)", e, ", ".join(f"{m}={r:.4g}" for m, r in zip(s["method"], s["rmse"])), best)
        res = pd.concat(frames, ignore_index=True)
        write_text(out, res.to_csv(index=False, float_format="%.6g"))
        md = out.with_suffix(".md")
        lines = ["# Leave-one-out cross-validation: IDW vs kriging", "", "| element | method | n | RMSE | MAE | mean error | settings |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r.element} | {r.method} | {r.n} | {r.rmse:.4g} | {r.mae:.4g} | {r.me:.3g} | {r.settings} |" for r in res.itertuples()]
        write_text(md, "\n".join(lines) + "\n")
        return {"table": out, "markdown": md}

    run_command(body)
