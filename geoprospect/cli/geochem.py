"""Geochemistry: prepare-geochem, select-elements, kriging-cv."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from geoprospect.cli.app import run_command
from geoprospect.cli.options import csv_list, point_options, prep_kwargs, prep_options

log = logging.getLogger("geoprospect")


@click.command("prepare-geochem")
@click.argument("points", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Prepared points: .gpkg (keeps the CRS) or .csv (x, y columns in the points' CRS).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Report file (.md or .json; default: OUT with .prep.md and .prep.json).")
@point_options
@prep_options
@click.option("--standardise", is_flag=True, help="z-score every element after the transform (papers 001-002).")
@click.option("--factors", default="none", show_default=True, help="Add factor scores: 'none', 'kaiser' (eigenvalues > 1, paper 004) or a number of factors.")
@click.option("--factor-method", type=click.Choice(["fa", "pca"]), default="fa", show_default=True, help="Factor analysis (varimax) or PCA.")
@click.option("--anomaly", default="tukey", show_default=True, help="Anomalous samples per factor: 'tukey' (Q3 + 1.5 IQR), 'sd' (mean + 2 sd) or a score threshold.")
def prepare_geochem(points, out, report, elements, x_field, y_field, crs, layer, drop_missing_xy, censored, fraction, flag_columns, negative_censored,
                    unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol, detection_limits, standardise, factors, factor_method, anomaly):
    """Prepare geochemical POINTS: censored values ("<0.5", "BDL", negatives, flags), Tukey
    outliers, log10/clr, z-scores, duplicate locations; optionally factor / PCA scores with fuzzy
    memberships (logistic) and anomaly flags (paper 004). Writes the prepared points and a report
    of how many values were censored per element. Interpolate the output with `geoprospect interpolate`.
    """

    def body():
        from geoprospect.geochem.factors import factor_columns
        from geoprospect.geochem.prepare import read_geochem, write_prepared

        kw = prep_kwargs(censored, fraction, flag_columns, negative_censored, unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol, drop_missing_xy, detection_limits)
        table, rep = read_geochem(points, csv_list(elements), x_field=x_field, y_field=y_field, crs=crs, layer=layer, standardise=standardise, **kw)
        extra = {}
        if factors != "none":
            extra, rep.settings["factors"] = factor_columns(table.values, table.elements, factors, method=factor_method, anomaly=anomaly)
        write_prepared(out, table, extra, x_name=x_field or "x", y_name=y_field or "y")
        outputs = {"points": out}
        if report is not None:
            rep.write(report)
            outputs["report"] = report
        else:
            md, js = out.with_suffix(".prep.md"), out.with_suffix(".prep.json")
            rep.write(md)
            rep.write(js)
            outputs.update(report=md, report_json=js)
        for e, r in rep.elements.items():
            log.info("%s: %d censored of %d analysed", e, r.n_censored, r.n - r.n_missing)
        return outputs

    run_command(body)


@click.command("select-elements")
@click.argument("points", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--deposits", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Known deposits (points, lines or polygons).")
@click.option("--deposits-layer", help="Layer of a multi-layer deposits file.")
@click.option("--deposits-crs", help="CRS of the deposits when the file has none.")
@click.option("--distance", required=True, type=float, help="Samples within this distance (map units of the working CRS) of a deposit are positives.")
@click.option("--work-crs", help="Projected CRS in which distances are measured (default: the deposits' CRS).")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Selection table (.csv); a Markdown copy is written beside it (.md).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Also write the preparation report (.md or .json).")
@point_options
@prep_options
@click.option("--score", type=click.Choice(["svm", "raw"]), default="svm", show_default=True, help="Which AUC decides: SVM out-of-fold scores (papers) or the raw concentration.")
@click.option("--z-crit", type=float, default=2.58, show_default=True, help="Keep elements with Z_AUC above this (2.58 = 0.01 level, as the papers).")
@click.option("--cv", type=int, default=5, show_default=True, help="Folds of the stratified cross-validation giving the SVM scores.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (folds, subsampling).")
@click.option("--svm-output", type=click.Choice(["decision", "label"]), default="decision", show_default=True,
              help="AUC from SVM decision values, or from hard labels (= balanced accuracy, the papers' kind).")
@click.option("--max-samples", type=int, default=4000, show_default=True, help="Train each SVM fold on at most this many samples (stratified subsample).")
def select_elements_cmd(points, deposits, deposits_layer, deposits_crs, distance, work_crs, out, report, elements, x_field, y_field, crs, layer, drop_missing_xy,
                        censored, fraction, flag_columns, negative_censored, unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol,
                        detection_limits, score, z_crit, cv, seed, svm_output, max_samples):
    """Rank the elements of POINTS by how well they separate samples near known deposits from
    the rest: AUC (SVM score and raw concentration), S_AUC (Hanley-McNeil), Z_AUC = (AUC-0.5)/S_AUC;
    keep those with Z_AUC > --z-crit. Writes a table like the papers' Table 2 (CSV + Markdown).
    """

    def body():
        from geoprospect import progress
        from geoprospect.geochem.selection import run_selection

        kw = prep_kwargs(censored, fraction, flag_columns, negative_censored, unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol, drop_missing_xy, detection_limits)
        names = csv_list(elements)
        md = out.with_suffix(".md")
        with progress.Task("select-elements", len(names) if names else 0, unit="element") as task:
            res = run_selection(
                points, names, deposits, distance, x_field=x_field, y_field=y_field, crs=crs, layer=layer,
                deposits_layer=deposits_layer, deposits_crs=deposits_crs, work_crs=work_crs, out_csv=out, out_md=md,
                prep_report=report, score=score, z_crit=z_crit, cv=cv, seed=seed, svm_output=svm_output, max_samples=max_samples,
                progress=lambda e: task.update(1, message=e), **kw,
            )
        log.info("selected %d of %d elements: %s", len(res.selected), len(res.table), ", ".join(res.selected) or "none")
        outputs = {"table": out, "markdown": md}
        if report is not None:
            outputs["report"] = report
        return outputs

    run_command(body)


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
               unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol, detection_limits, variogram_model, nlags, drift, power, idw_neighbors, max_points, seed):
    """Leave-one-out cross-validation at the samples of POINTS: each sample is predicted from
    all others by IDW (geoprospect's own, same semantics as `interpolate`), ordinary and
    universal kriging (variogram fitted once per element; Dubrule's exact LOO). Reports RMSE,
    MAE and mean error per element and method (paper 004 compares kriging errors).
    """

    def body():
        from geoprospect.errors import CRSError
        from geoprospect.evidence.kriging import loo_cv_elements, loo_markdown
        from geoprospect.geochem.prepare import read_geochem
        from geoprospect.io.atomic import write_text

        kw = prep_kwargs(censored, fraction, flag_columns, negative_censored, unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol, drop_missing_xy, detection_limits)
        table, _ = read_geochem(points, csv_list(elements), x_field=x_field, y_field=y_field, crs=crs, layer=layer, **kw)
        if work_crs:
            table = table.to_crs(work_crs)
        if table.crs.is_geographic:
            raise CRSError(f"distances cannot be measured in {table.crs.name} (degrees)", path=points, hint="pass --work-crs with a projected CRS, e.g. EPSG:32650")
        res = loo_cv_elements(table.xy, table.values, table.elements, variogram_model=variogram_model, nlags=nlags, drift=drift, power=power,
                              idw_neighbors=idw_neighbors, max_points=max_points or None, seed=seed)
        write_text(out, res.to_csv(index=False, float_format="%.6g"))
        md = write_text(out.with_suffix(".md"), loo_markdown(res))
        return {"table": out, "markdown": md}

    run_command(body)


COMMANDS = [prepare_geochem, select_elements_cmd, kriging_cv]
