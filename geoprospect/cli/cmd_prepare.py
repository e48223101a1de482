"""`geoprospect prepare-geochem`: censored values, outliers, transforms, duplicates, factor scores."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from geoprospect.cli.app import run_command

log = logging.getLogger("geoprospect")


def csv_list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def parse_flags(value: str | None) -> dict[str, str]:
    """"Au=Au_flag,As=As_q" -> {"Au": "Au_flag", "As": "As_q"}."""
    out: dict[str, str] = {}
    for item in csv_list(value) or []:
        if "=" not in item:
            from geoprospect.errors import ConfigError

            raise ConfigError(f"--flag-columns: expected ELEMENT=FLAGCOLUMN, got {item!r}", hint="e.g. --flag-columns Au=Au_flag,As=As_q")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def point_options(f):
    """Options that locate the points (same names as `geoprospect interpolate`)."""
    f = click.option("--drop-missing-xy", is_flag=True, help="Skip (and report) rows without coordinates instead of failing.")(f)
    f = click.option("--layer", help="Layer of a multi-layer GeoPackage.")(f)
    f = click.option("--crs", help="CRS of the points when the file has none (always needed for CSV), e.g. EPSG:4326.")(f)
    f = click.option("--y-field", help="CSV column holding y / latitude.")(f)
    f = click.option("--x-field", help="CSV column holding x / longitude (guessed from common names when omitted).")(f)
    f = click.option("--elements", help="Comma-separated element columns, e.g. Au,Ag,As (default: every numeric or censored-looking column).")(f)
    return f


def prep_options(f):
    """Options of the geochemistry preparation (shared by prepare-geochem and select-elements)."""
    f = click.option("--duplicate-tol", type=float, default=0.0, show_default=True, help="Samples closer than this (map units of the points) share a location.")(f)
    f = click.option("--duplicates", type=click.Choice(["average", "reject", "first", "error"]), default="average", show_default=True, help="Samples sharing a location: average them, drop them all, keep the first, or stop.")(f)
    f = click.option("--transform", type=click.Choice(["none", "log10", "clr"]), default="none", show_default=True, help="Transform after censoring/outliers.")(f)
    f = click.option("--tukey-k", type=float, default=1.5, show_default=True, help="Tukey fence multiplier (1.5 outliers, 3 far out); fences on log10 values.")(f)
    f = click.option("--outliers", type=click.Choice(["none", "flag", "winsorise"]), default="none", show_default=True, help="Tukey fences: count outliers only, or clip them to the fences.")(f)
    f = click.option("--unknown-limit", type=click.Choice(["min_limit", "missing"]), default="min_limit", show_default=True, help="'BDL'/'n.d.' without a limit: use the element's smallest limit seen, or set missing.")(f)
    f = click.option("--negative-censored/--no-negative-censored", default=True, show_default=True, help="Read a negative value -x as 'below x'.")(f)
    f = click.option("--flag-columns", help="Censoring flag columns, e.g. Au=Au_flag,As=As_q (a true flag marks the row below detection).")(f)
    f = click.option("--fraction", type=float, default=0.5, show_default=True, help="Fraction of the detection limit for --censored fraction.")(f)
    f = click.option("--censored", type=click.Choice(["half", "fraction", "cohen", "missing"]), default="half", show_default=True,
                     help="Below-detection values: half the limit, a fraction of it, Cohen's MLE (paper 004), or missing.")(f)
    return f


def prep_kwargs(censored, fraction, flag_columns, negative_censored, unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol, drop_missing_xy) -> dict:
    """Map the CLI options onto read_geochem's keyword arguments."""
    return {
        "censored": censored, "fraction": fraction, "flag_columns": parse_flags(flag_columns),
        "negative_is_censored": negative_censored, "unknown_limit": unknown_limit,
        "outliers": None if outliers == "none" else outliers, "tukey_k": tukey_k,
        "transform": None if transform == "none" else transform,
        "duplicates": duplicates, "duplicate_tol": duplicate_tol, "drop_missing_xy": drop_missing_xy,
    }


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
                    unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol, standardise, factors, factor_method, anomaly):
    """Prepare geochemical POINTS: censored values ("<0.5", "BDL", negatives, flags), Tukey
    outliers, log10/clr, z-scores, duplicate locations; optionally factor / PCA scores with fuzzy
    memberships (logistic) and anomaly flags (paper 004). Writes the prepared points and a report
    of how many values were censored per element. Interpolate the output with `geoprospect interpolate`.
    """

    def body():
        import numpy as np

        from geoprospect.geochem.factors import anomalous_samples, factor_scores, fuzzy_scores
        from geoprospect.geochem.prepare import read_geochem, write_prepared

        kw = prep_kwargs(censored, fraction, flag_columns, negative_censored, unknown_limit, outliers, tukey_k, transform, duplicates, duplicate_tol, drop_missing_xy)
        table, rep = read_geochem(points, csv_list(elements), x_field=x_field, y_field=y_field, crs=crs, layer=layer, standardise=standardise, **kw)
        extra = {}
        if factors != "none":
            n = None if factors == "kaiser" else int(factors)
            fr = factor_scores(table.values, table.elements, method=factor_method, n_factors=n)
            thr = anomaly if anomaly in ("tukey", "sd") else float(anomaly)
            flags, thresholds = anomalous_samples(fr.scores, thr, k=2.0 if thr == "sd" else 1.5)
            mu = fuzzy_scores(fr.scores)
            for j, name in enumerate(fr.names):
                extra[name] = fr.scores[:, j]
                extra[f"{name}_fuzzy"] = mu[:, j]
                extra[f"{name}_anomaly"] = flags[:, j]
            rep.settings["factors"] = {
                "method": factor_method, "n": len(fr.names), "eigenvalues": [float(v) for v in fr.eigenvalues],
                "loadings": {e: [float(v) for v in fr.loadings[i]] for i, e in enumerate(fr.elements)},
                "anomaly_thresholds": [float(v) for v in thresholds],
                "n_anomalous": [int(v) for v in np.nansum(flags, axis=0)],
            }
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
