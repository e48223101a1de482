"""`geoprospect run`: the whole pipeline from one YAML configuration; `geoprospect config-schema`: that configuration's JSON schema."""

from __future__ import annotations

import json
from pathlib import Path

import click

from geoprospect.cli.app import run_command


@click.command(name="run")
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: the config's `output`, ./geoprospect-out).")
@click.option("--overwrite", is_flag=True, help="Replace the outputs of an earlier run in the output folder.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last finished stage.")
@click.option("--dask-scheduler", metavar="ADDRESS", help="Send the stack and prediction stages to a dask cluster (tcp://host:8786, or local / local:N); overrides compute.dask_scheduler.")
def run(config, out, overwrite, resume, dask_scheduler):
    """Run the whole pipeline from CONFIG (YAML); without CONFIG, on the bundled sample data.

    Every cell with data is a sample (windows.unit: cell); writes stack.tif, model/,
    prospectivity.tif (one score per grid cell, on stack.tif's grid), metrics.json (out of
    fold, beside the baselines), map.png, the report and manifest.json into the output folder.
    """

    def body():
        from geoprospect.pipeline.config import load_config
        from geoprospect.pipeline.run import run_pipeline
        from geoprospect.sample import sample_config_path

        cfg_path = config or sample_config_path()
        cfg = load_config(cfg_path)
        if dask_scheduler:
            cfg.compute.dask_scheduler = dask_scheduler
        target = out or (cfg.output if cfg.output.is_absolute() else Path.cwd() / cfg.output)
        m = run_pipeline(cfg, target, overwrite=overwrite, resume=resume)
        d = m["metrics"]
        ev = d.get("evaluation", {})
        if d.get("skill"):
            click.echo(d["skill"]["sentence"], err=True)  # the first thing said about skill: plain words, out of fold
        n_layouts = len(ev.get("layouts") or [])
        spread = f"; mean ± std over {n_layouts} block layouts" if n_layouts > 1 else ""
        click.echo(f"out of fold ({ev.get('label', '')}{spread}); cells with data ranked, every deposit scored by a model that never saw its block:", err=True)
        click.echo(_table(d.get("out_of_fold", {})), err=True)
        ins = (d.get("in_sample") or {}).get("deposits") or {}
        click.echo(f"training (in-sample, optimistic, not a skill measure): top 10% captures {_p(ins.get('capture_top_10pct'))}, success-rate AUC {_f(ins.get('success_rate_auc'))}", err=True)
        if d.get("targets", {}).get("note"):  # the bounded classes and targets (evaluation/area_bounds.py), areas in km²
            click.echo(f"classes: {d['classes']['source']}\ntargets.gpkg: {d['targets']['note']}", err=True)
        return {"output": target, "prospectivity": Path(target) / "prospectivity.tif", "map": Path(target) / "map.png", "manifest": Path(target) / "manifest.json"}

    run_command(body)


def _table(table: dict) -> str:
    from geoprospect.evaluation.oof import TABLE_HEAD, table_rows

    rows = [list(TABLE_HEAD), *table_rows(table)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(TABLE_HEAD))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _f(v):
    return "n/a" if v is None else f"{v:.3f}"


def _p(v):
    return "n/a" if v is None else f"{100 * v:.0f}%"


@click.command(name="config-schema")
def config_schema():
    """Print the JSON schema of the run configuration (the YAML read by `geoprospect run`).

    Keys, types, defaults and descriptions, for editors and the QGIS provider's form.
    """

    def body():
        from geoprospect.pipeline.config import RunConfig

        click.echo(json.dumps(RunConfig.model_json_schema(), indent=1))
        return {}

    run_command(body)


@click.command(name="init")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=Path("config.yaml"), show_default=True, help="The configuration file to write.")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
def init(files, out, overwrite):
    """Write a commented starter configuration for `geoprospect run`: every key, its default and
    what it does (from `geoprospect config-schema`), pre-filled from FILES when given (CSV points,
    rasters, vector layers; a file named like deposits becomes deposits:, polygons named like an
    area become area:).
    """

    def body():
        from geoprospect.errors import OutputError
        from geoprospect.io.atomic import atomic_path
        from geoprospect.pipeline.starter import starter_config

        if out.exists() and not overwrite:
            raise OutputError("the file exists", path=out, hint="pass --overwrite to replace it, or choose another --out")
        text = starter_config(files, out=out.resolve())
        with atomic_path(out) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}: fill in the required keys (???), then `geoprospect run {out}`", err=True)
        return {"config": out}

    run_command(body)


COMMANDS = [run, config_schema, init]
