"""`geoprospect select-elements`: AUC, Hanley-McNeil S_AUC and Z_AUC per element (papers 000-002)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from geoprospect.cli.app import run_command
from geoprospect.cli.cmd_prepare import csv_list, point_options, prep_kwargs, prep_options

log = logging.getLogger("geoprospect")


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
                        score, z_crit, cv, seed, svm_output, max_samples):
    """Rank the elements of POINTS by how well they separate samples near known deposits from
    the rest: AUC (SVM score and raw concentration), S_AUC (Hanley-McNeil), Z_AUC = (AUC-0.5)/S_AUC;
    keep those with Z_AUC > --z-crit. Writes a table like the papers' Table 2 (CSV + Markdown).
    """

    def body():
        from geoprospect import progress
        from geoprospect.geochem.selection import run_selection

        kw = prep_kwargs(censored, fraction, flag_columns, negative_censored, unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol, drop_missing_xy)
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
