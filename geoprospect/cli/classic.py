"""The classic knowledge- and data-driven methods: weights-of-evidence and fuzzy overlay of a stack."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import click

from geoprospect.cli.app import run_command
from geoprospect.cli.options import area_options, path_arg, read_area_option

log = logging.getLogger("geoprospect")


def _names(values: tuple[str, ...]) -> list[str]:
    """Repeated and/or comma-separated names, in order, without duplicates."""
    out: list[str] = []
    for v in values:
        out += [s.strip() for s in v.split(",") if s.strip() and s.strip() not in out]
    return out


def _check_bands(names: list[str], available: list[str], flag: str, stack: Path) -> None:
    from geoprospect.errors import ColumnError

    unknown = [n for n in names if n not in available]
    if unknown:
        raise ColumnError(f"no band named {', '.join(map(repr, unknown))} (given to {flag}); the stack's bands are: {', '.join(available)}",
                          path=stack, hint=f"fix {flag} (band names are case-sensitive)")


def _band_values(pairs: tuple[str, ...], flag: str, bands: list[str], stack: Path, *, numeric: bool = True) -> dict:
    """BAND=VALUE options -> {band: value}."""
    from geoprospect.errors import ParameterError

    out = {}
    for p in pairs:
        band, sep, value = p.rpartition("=")
        if not sep or not band:
            raise ParameterError(f"{flag} {p!r} is not BAND=VALUE", hint=f"write e.g. {flag} {bands[0]}=1500")
        try:
            out[band] = float(value) if numeric else value
        except ValueError:
            raise ParameterError(f"{flag} {p!r}: {value!r} is not a number", hint=f"write e.g. {flag} {band}=1500") from None
    _check_bands(list(out), bands, flag, stack)
    return out


def _deposit_cells(path: Path, layer: str | None, grid, area=None):
    """(n, 2) int (row, col) of the deposits inside the grid (and the study area, when given);
    refuses a file with none there."""
    import numpy as np

    from geoprospect.errors import DepositError
    from geoprospect.pipeline import stages
    from geoprospect.stack.area import deposits_in_area

    xy = deposits_in_area(stages.load_deposits(path, grid, layer=layer), area, grid.crs)
    inside = grid.contains(xy[:, 0], xy[:, 1])
    if not inside.any():
        b = grid.bounds
        raise DepositError(f"none of the {len(xy)} deposits lies inside the stack's grid {tuple(round(v, 3) for v in b)}",
                           path=path, hint="check --deposits (its CRS, or whether it belongs to this stack)")
    if not inside.all():
        log.warning("%d of %d deposits lie outside the grid and are ignored", int((~inside).sum()), len(xy))
    r, c = grid.rowcol(xy[inside, 0], xy[inside, 1])
    return np.column_stack([r, c])


@click.command("weights-of-evidence")
@click.argument("stack", type=path_arg())
@click.option("--deposits", required=True, type=path_arg(), help="Known (training) deposits, points or polygons; one deposit = one unit cell.")
@click.option("--deposits-layer", help="Layer of a multi-layer deposits file.")
@click.option("--out", "-o", required=True, type=path_arg(exists=False), help="Output GeoTIFF: bands 'posterior' and 'posterior_variance'.")
@click.option("--bands", multiple=True, help="Evidence bands to use (comma-separated or repeated; default: every band).")
@click.option("--threshold", multiple=True, metavar="BAND=VALUE", help="Fixed threshold of a continuous band (default: the one of maximum studentized contrast).")
@click.option("--direction", multiple=True, metavar="BAND=DIR", help="ascending (pattern = value <= threshold, e.g. distances) or descending (value >= threshold); default: the one of larger contrast.")
@click.option("--categorical", multiple=True, help="Bands weighed per class (rock units...), comma-separated or repeated.")
@click.option("--min-studentized", type=float, help="Categorical bands: pool classes whose studentized contrast is below this (e.g. 2).")
@click.option("--unit-area", type=float, help="Unit-cell area in square map units (default: one grid cell).")
@click.option("--mask-band", help="Study area: cells where this band is valid and non-zero (default: where every used band is valid).")
@click.option("--table", type=path_arg(exists=False), help="Also write the weights table as CSV here.")
@area_options
def weights_of_evidence(stack, deposits, deposits_layer, out, bands, threshold, direction, categorical, min_studentized, unit_area, mask_band, table, area, area_layer):
    """Weights of evidence (Bonham-Carter 1994) of the bands of STACK against known deposits.

    Each continuous band is binarised (threshold of maximum studentized contrast unless
    --threshold), --categorical bands are weighed per class. Writes the posterior
    probability (per unit cell) and its variance, prints the weights table and the
    Agterberg-Cheng conditional-independence test (expected vs observed deposits).
    """

    def body():
        import numpy as np

        from geoprospect.errors import ParameterError
        from geoprospect.evidence.weights_of_evidence import WeightsOfEvidence
        from geoprospect.io.atomic import write_text
        from geoprospect.io.rasters import (
            dumps_tags,
            read_stack,
            write_qml,
            write_raster,
        )

        st = read_stack(stack)
        used = _names(bands) or list(st.band_names)
        _check_bands(used, st.band_names, "--bands", stack)
        cats = _names(categorical)
        _check_bands(cats, used, "--categorical", stack)
        dirs = _band_values(direction, "--direction", used, stack, numeric=False)
        bad = {b: d for b, d in dirs.items() if d not in ("ascending", "descending")}
        if bad:
            raise ParameterError(f"--direction {bad}: the direction is 'ascending' or 'descending'")
        layers = {b: st.data[st.band_names.index(b)] for b in used}
        valid = np.all([np.isfinite(v) for v in layers.values()], axis=0)
        if mask_band:
            _check_bands([mask_band], st.band_names, "--mask-band", stack)
            m = st.data[st.band_names.index(mask_band)]
            valid = np.isfinite(m) & (np.nan_to_num(m) != 0)
        study = read_area_option(area, area_layer)
        if study is not None:
            valid &= study.mask(st.grid)
        cells_per_unit = 1.0 if unit_area is None else unit_area / (st.grid.res[0] * st.grid.res[1])
        model = WeightsOfEvidence(directions=dirs, thresholds=_band_values(threshold, "--threshold", used, stack), categorical=cats,
                                  cells_per_unit=cells_per_unit, min_studentized=min_studentized)
        model.fit(layers, _deposit_cells(deposits, deposits_layer, st.grid, study), valid)
        posterior, variance = model.predict()
        ci = model.conditional_independence()
        weights = model.table()
        write_raster(out, np.stack([posterior, variance]), st.grid, ["posterior", "posterior_variance"],
                     tags={"GEOPROSPECT_KIND": "weights_of_evidence", "WOE_CONDITIONAL_INDEPENDENCE": dumps_tags(dataclasses.asdict(ci)),
                           "WOE_PRIOR_LOGIT": repr(model.prior_logit_), "WOE_UNIT_CELLS_PER_GRID_CELL": repr(1.0 / cells_per_unit)})
        if np.isfinite(posterior).any():
            write_qml(out.with_suffix(".qml"), "prospectivity", float(np.nanmin(posterior)), float(np.nanmax(posterior)))
        click.echo(weights.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        click.echo(ci.summary())
        outputs = {"raster": out}
        if table:
            write_text(table, weights.to_csv(index=False))
            outputs["table"] = table
        return outputs

    run_command(body)


def _parse_band_spec(spec: str) -> tuple[str, str, float | None, float | None]:
    """'NAME:KIND[:P1[:P2]]' (empty P = from the data) -> (name, kind, p1, p2)."""
    from geoprospect.errors import ParameterError
    from geoprospect.evidence.fuzzy import MEMBERSHIPS

    parts = spec.split(":")
    at = [i for i in range(1, len(parts)) if parts[i] in MEMBERSHIPS and len(parts) - i - 1 <= 2]
    if not at:
        raise ParameterError(f"--band {spec!r} is not NAME:KIND[:P1[:P2]] with KIND one of {', '.join(MEMBERSHIPS)}",
                          hint="e.g. --band Au:large:0.05:5, --band dist_faults:linear:5000:0 or --band As:small")
    i = at[-1]
    params: list[float | None] = []
    for p in parts[i + 1:]:
        try:
            params.append(float(p) if p.strip() else None)
        except ValueError:
            raise ParameterError(f"--band {spec!r}: parameter {p!r} is not a number", hint="leave it empty to take it from the data") from None
    params += [None] * (2 - len(params))
    return ":".join(parts[:i]), parts[i], params[0], params[1]


@click.command("fuzzy")
@click.argument("stack", type=path_arg())
@click.option("--band", "specs", multiple=True, required=True, metavar="NAME:KIND[:P1[:P2]]",
              help="A band and its membership: linear:MIN:MAX, large:MIDPOINT:SPREAD, small:MIDPOINT:SPREAD or gaussian:MIDPOINT:SPREAD "
                   "(ArcGIS Fuzzy Membership definitions); an omitted parameter comes from the data (min/max, median; spread 5, gaussian 1/(2 variance)). Repeat per band.")
@click.option("--operator", type=click.Choice(["and", "or", "product", "sum", "gamma"]), default="gamma", show_default=True,
              help="and = min, or = max, product, sum = 1 - prod(1 - mu), gamma = sum^gamma * product^(1 - gamma).")
@click.option("--gamma", type=float, default=0.9, show_default=True, help="The gamma operator's exponent, in [0, 1].")
@click.option("--out", "-o", required=True, type=path_arg(exists=False), help="Output GeoTIFF (band 'fuzzy_<operator>').")
@click.option("--with-memberships", is_flag=True, help="Also write each band's membership (bands 'mu_<band>').")
@area_options
def fuzzy(stack, specs, operator, gamma, out, with_memberships, area, area_layer):
    """Fuzzy overlay of bands of STACK: a membership per band, then one operator over them."""

    def body():
        import numpy as np

        from geoprospect.evidence.fuzzy import membership, overlay
        from geoprospect.io.rasters import (
            dumps_tags,
            read_stack,
            write_qml,
            write_raster,
        )

        st = read_stack(stack)
        study = read_area_option(area, area_layer)
        if study is not None:  # memberships from data inside the study area; nodata outside
            study.nodata_outside(st.data, st.grid)
        parsed = [_parse_band_spec(s) for s in specs]
        _check_bands([p[0] for p in parsed], st.band_names, "--band", stack)
        mus = [membership(st.data[st.band_names.index(name)], kind, p1, p2) for name, kind, p1, p2 in parsed]
        result = overlay(mus, operator, gamma)
        names = [f"fuzzy_{operator}"] + ([f"mu_{p[0]}" for p in parsed] if with_memberships else [])
        data = np.stack([result, *mus]) if with_memberships else result[None]
        spec = {"operator": operator, "gamma": gamma if operator == "gamma" else None,
                "bands": [{"band": n, "membership": k, "p1": a, "p2": b} for n, k, a, b in parsed]}
        write_raster(out, data, st.grid, names, tags={"GEOPROSPECT_KIND": "fuzzy", "FUZZY_OVERLAY": dumps_tags(spec)})
        if np.isfinite(result).any():
            write_qml(out.with_suffix(".qml"), "prospectivity", float(np.nanmin(result)), float(np.nanmax(result)))
        log.info("fuzzy overlay: %s", json.dumps(spec))
        return {"raster": out}

    run_command(body)


COMMANDS = [weights_of_evidence, fuzzy]
