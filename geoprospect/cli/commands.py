"""The pipeline's subcommands: interpolate, distance, stack, tile, train, predict, evaluate, run, models."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from geoprospect.cli.app import run_command

log = logging.getLogger("geoprospect")


def _csv_list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _grid_options(f):
    f = click.option("--template", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Raster whose grid (CRS, transform, shape) to use instead of --bounds/--resolution.")(f)
    f = click.option("--resolution", type=float, help="Cell size in map units of the grid CRS.")(f)
    f = click.option("--bounds", type=float, nargs=4, metavar="XMIN YMIN XMAX YMAX", help="Grid extent in the grid CRS (default: the points' extent).")(f)
    f = click.option("--grid-crs", help="CRS of the output grid, e.g. EPSG:32649 (default: the points' CRS).")(f)
    return f


def _write_single(path: Path, arrays, grid, names, kind: str) -> None:
    import numpy as np

    from geoprospect.io.rasters import write_qml, write_raster

    write_raster(path, arrays, grid, names, tags={"GEOPROSPECT_KIND": kind})
    finite = np.asarray(arrays)[np.isfinite(arrays)]
    if finite.size:
        write_qml(path.with_suffix(".qml"), "evidence", float(finite.min()), float(finite.max()))


@click.command()
@click.argument("points", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output GeoTIFF, one band per element.")
@click.option("--elements", help="Comma-separated element columns, e.g. Au,Ag,As (default: every numeric column).")
@click.option("--x-field", help="CSV column holding x / longitude (guessed from common names when omitted).")
@click.option("--y-field", help="CSV column holding y / latitude.")
@click.option("--crs", help="CRS of the points when the file has none (always needed for CSV), e.g. EPSG:4326.")
@click.option("--layer", help="Layer of a multi-layer GeoPackage.")
@_grid_options
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
def interpolate(points, out, elements, x_field, y_field, crs, layer, grid_crs, bounds, resolution, template, power, neighbors, radius, min_points, smoothing, log10, method, variogram_model, variance):
    """Interpolate element values of POINTS onto a grid (values at cell centres).

    IDW (default) has the definition of `gdal_grid -a invdistnn`: the NEIGHBORS nearest
    samples within RADIUS, weights 1/d^POWER. --method kriging uses ordinary kriging
    (paper 004) instead.
    """

    def body():
        from geoprospect.io.points import read_points
        from geoprospect.pipeline import stages

        pts = read_points(points, _csv_list(elements), x_field=x_field, y_field=y_field, crs=crs, layer=layer)
        grid = stages.make_grid(pts, crs=grid_crs, resolution=resolution, bounds=bounds, template=template)
        if log10:
            pts = stages.log10_values(pts)
        names = [f"log10_{e}" if log10 else e for e in pts.elements]
        if method == "idw":
            arr = stages.interpolate(pts, grid, power=power, neighbors=None if neighbors == 0 else neighbors, radius=radius, min_points=min_points, smoothing=smoothing)
        else:
            import numpy as np

            from geoprospect.evidence.kriging import kriging
            from geoprospect.progress import Task

            p = pts.to_crs(grid.crs)
            kind = "universal" if method == "universal-kriging" else "ordinary"
            with Task("kriging", grid.width * grid.height, message=kind, unit="cell") as task:
                arr, var = kriging(p.xy, p.values, grid, method=kind, variogram_model=variogram_model, neighbors=(neighbors or None) if kind == "ordinary" else None, progress=task.update)
            if variance:
                arr = np.concatenate([arr, var])
                names = names + [f"{n}_variance" for n in names]
        _write_single(out, arr, grid, names, method)
        return {"raster": out}

    run_command(body)


@click.command()
@click.argument("vector", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output GeoTIFF.")
@click.option("--name", help="Band name (default: the file's name).")
@click.option("--layer", help="Layer of a multi-layer GeoPackage.")
@click.option("--vector-crs", help="CRS of the vector layer when the file has none.")
@_grid_options
def distance(vector, out, name, layer, vector_crs, grid_crs, bounds, resolution, template):
    """Distance (map units) from every cell centre to the nearest feature of VECTOR."""

    def body():
        from geoprospect.pipeline import stages

        if template is None and (bounds is None or resolution is None or grid_crs is None):
            from geoprospect.errors import GridError

            raise GridError("the grid is undefined", hint="pass --template RASTER, or --bounds, --resolution and --grid-crs")
        grid = stages.make_grid(None, crs=grid_crs, resolution=resolution, bounds=bounds, template=template)
        band = name or f"dist_{vector.stem}"
        arr = stages.distance_layer(vector, grid, layer=layer, crs=vector_crs, name=band)
        _write_single(out, arr[None], grid, [band], "distance")
        return {"raster": out}

    run_command(body)


@click.command()
@click.argument("rasters", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output multiband GeoTIFF.")
@click.option("--template", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Grid to warp every raster onto (default: the first raster's).")
def stack(rasters, out, template):
    """Combine RASTERS into one evidence stack (band names kept, statistics stored).

    Rasters on another grid are warped onto the first raster's grid (or --template), with a note.
    """

    def body():
        from geoprospect.evidence.stack import stack_rasters
        from geoprospect.grid import GridSpec

        st = stack_rasters(list(rasters), out, GridSpec.from_raster(template) if template else None)
        log.info("stack bands: %s", ", ".join(st.band_names))
        return {"stack": out}

    run_command(body)


@click.command()
@click.argument("stack_path", metavar="STACK", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--deposits", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Known deposits (points or polygons).")
@click.option("--deposits-layer", help="Layer of a multi-layer deposits file.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output window index (GeoPackage).")
@click.option("--size", type=int, default=32, show_default=True, help="Window size in pixels.")
@click.option("--stride", type=int, default=16, show_default=True, help="Window stride in pixels.")
@click.option("--min-valid", type=float, default=0.5, show_default=True, help="Drop windows with a smaller fraction of valid pixels.")
@click.option("--test-fraction", type=float, default=0.3, show_default=True, help="Fraction of the rows (or columns) held out as the test block.")
@click.option("--split-axis", type=click.Choice(["rows", "cols"]), default="rows", show_default=True, help="Split along rows (north/south) or columns (west/east).")
@click.option("--test-side", type=click.Choice(["start", "end"]), default="end", show_default=True, help="Test block at the start (north/west) or end (south/east).")
def tile(stack_path, deposits, deposits_layer, out, size, stride, min_valid, test_fraction, split_axis, test_side):
    """Tile STACK into windows, label them from deposits, and split them spatially.

    A window is positive when a deposit lies in it. The test block is contiguous; training
    windows keep half a window away from it (the windows between are 'buffer').
    """

    def body():
        from geoprospect.io.rasters import read_stack
        from geoprospect.pipeline import stages
        from geoprospect.windows.tiling import make_windows, write_windows

        st = read_stack(stack_path)
        dep = stages.load_deposits(deposits, st.grid, layer=deposits_layer)
        gdf, summary = make_windows(st.valid, st.grid, dep, size=size, stride=stride, min_valid=min_valid, test_fraction=test_fraction, split_axis=split_axis, test_side=test_side)
        write_windows(gdf, out)
        click.echo(f"{summary.kept} windows ({summary.dropped_invalid} dropped as < {min_valid:.0%} valid), {summary.positives} positive; split {summary.by_split}", err=True)
        return {"windows": out}

    run_command(body)


@click.command()
@click.argument("stack_path", metavar="STACK", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("windows_path", metavar="WINDOWS", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path), help="Model folder (model.pt + model.json).")
@click.option("--model", default="resnet18", show_default=True, help="Architecture (see `geoprospect models`).")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Learning rate.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default="adam", show_default=True)
@click.option("--weight-decay", type=float, default=1e-4, show_default=True)
@click.option("--balanced/--no-balanced", default=True, show_default=True, help="Class-balanced sampling of training windows.")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu or cuda.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--preset", type=click.Choice(["000", "001", "002", "003"]), help="A paper's recipe (model, optimiser, schedule, augmentation); explicit options override it.")
@click.option("--option", "model_options", multiple=True, metavar="KEY=VALUE", help="Model option (value read as JSON), e.g. rates=[1,6] or source=runs/resnet18. Repeatable.")
@click.option("--scheduler", type=click.Choice(["none", "step", "cosine"]), default="none", show_default=True, help="Learning-rate schedule per epoch.")
@click.option("--patience", type=int, default=0, show_default=True, help="Early stopping: epochs without validation improvement (0 = off).")
@click.option("--val-fraction", type=float, default=0.0, show_default=True, help="Training windows held out (random, stratified) as validation for early stopping.")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt (saved after every epoch).")
@click.option("--amp/--no-amp", default=None, help="Mixed precision on CUDA (default on there; ignored on CPU).")
@click.option("--noise", type=float, default=0.0, show_default=True, help="Gaussian noise variance added to training windows (papers 000/001: 0.01).")
@click.option("--flips/--no-flips", default=False, show_default=True, help="Random flips and 90-degree rotations (paper 002).")
@click.option("--crop", type=int, help="Random crop size per iteration (papers 001/002: 224 of 256); centre crop for validation and prediction.")
@click.option("--memory-mb", type=float, help="Memory budget for the stack; a larger one is memory-mapped under OUT/.scratch (default: a quarter of the available RAM).")
@click.pass_context
def train(ctx, stack_path, windows_path, out, model, epochs, batch_size, lr, optimizer, weight_decay, balanced, device, seed,
          preset, model_options, scheduler, patience, val_fraction, resume, amp, noise, flips, crop, memory_mb):
    """Train a CNN on the 'train' windows of WINDOWS over STACK."""

    def body():
        from geoprospect.models.checkpoint import ModelMeta, save_checkpoint
        from geoprospect.models.zoo import build_model
        from geoprospect.pipeline.run import _write_history
        from geoprospect.training.trainer import TrainConfig, train_model
        from geoprospect.windows.dataset import WindowDataset
        from geoprospect.windows.store import SCRATCH, open_windows_source
        from geoprospect.windows.tiling import read_windows

        win = read_windows(windows_path)
        size, stride = int(win["size"].iloc[0]), int(win["stride"].iloc[0])
        # the z-scored stack, in memory or memory-mapped under OUT/.scratch (removed at the end)
        source = open_windows_source(stack_path, memory_mb=memory_mb, scratch_dir=out / SCRATCH)
        st, norm, mean, std = source.stack, source.norm, source.mean, source.std
        tr = win[win["split"] == "train"]
        if len(tr) == 0:
            from geoprospect.errors import InputError

            raise InputError("the window index holds no 'train' windows", path=windows_path, hint="re-run `geoprospect tile` with a smaller --test-fraction")
        import json as _json

        from geoprospect.errors import ConfigError
        from geoprospect.training.trainer import seed_everything
        from geoprospect.windows.augment import WindowAugment

        given = {k for k in ctx.params if ctx.get_parameter_source(k) is not click.core.ParameterSource.DEFAULT}
        opts: dict = {}
        arch, aug = model, WindowAugment(noise_variance=noise, flips=flips, rotations=flips, crop=crop)
        cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, weight_decay=weight_decay, balanced=balanced,
                          device=device, seed=seed, scheduler=scheduler, patience=patience, val_fraction=val_fraction, amp=amp,
                          out_dir=str(out), resume=resume)
        if preset:
            from geoprospect.training.presets import get_preset

            p = get_preset(preset)
            keep = {k: getattr(cfg, k) for k in ("epochs", "batch_size", "lr", "optimizer", "weight_decay", "balanced", "scheduler") if k in given}
            cfg = TrainConfig.from_preset(preset, device=device, seed=seed, patience=patience, val_fraction=val_fraction, amp=amp, out_dir=str(out), resume=resume, **keep)
            arch = model if "model" in given else p.model
            opts = dict(p.model_options) if arch == p.model else {}
            aug = WindowAugment(noise_variance=noise if "noise" in given else p.noise_variance, flips=flips if "flips" in given else p.flips,
                                rotations=flips if "flips" in given else p.rotations, crop=crop if "crop" in given else p.crop)
        for item in model_options:
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"--option {item!r} is not KEY=VALUE")
            try:
                opts[key.strip()] = _json.loads(value)
            except _json.JSONDecodeError:
                opts[key.strip()] = value
        if aug.crop is not None and aug.crop > size:
            raise ConfigError(f"crop {aug.crop} is larger than the {size}-pixel windows", hint="re-tile with a larger --size or choose a smaller --crop")
        use_aug = aug.noise_variance > 0 or aug.flips or aug.rotations or aug.crop is not None
        ds = WindowDataset(norm, tr[["row_off", "col_off"]].to_numpy(), size, tr["label"].to_numpy(), transform=aug if use_aug else None)
        seed_everything(seed)  # the initial weights too: repeatable on the CPU
        net = build_model(arch, len(st.band_names), 2, aug.crop or size, **opts)
        hist = train_model(net, ds, cfg)
        del ds, norm
        source.close()
        # window_size stays the tiles' size (prediction uses the same window grid as the labels);
        # input_size records the crop the network was trained on (scored as a centre crop)
        meta = ModelMeta(arch, len(st.band_names), st.band_names, mean, std, size, stride, input_size=aug.crop, grid=st.grid.to_dict(), options=opts,
                         training={**cfg.__dict__, "preset": preset, "augment": aug.__dict__, "history": hist.rows, "seconds": hist.seconds,
                                   "device_used": hist.device, "best_epoch": hist.best_epoch, "stopped_early": hist.stopped_early})
        save_checkpoint(out, net, meta)
        _write_history(out / "history.csv", hist.rows)
        return {"model": out}

    run_command(body)


@click.command()
@click.argument("stack_path", metavar="STACK", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("model_dir", metavar="MODEL_DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Prospectivity GeoTIFF (window-stride grid).")
@click.option("--scores-out", type=click.Path(dir_okay=False, path_type=Path), help="Window scores as GeoPackage (default: beside --out).")
@click.option("--windows", "windows_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Window index to join labels/splits into the scores.")
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--min-valid", type=float, default=0.5, show_default=True)
@click.option("--block-size", type=int, default=1024, show_default=True, help="Stack block side in pixels read at a time (memory scales with its square).")
@click.option("--device", default="auto", show_default=True)
def predict(stack_path, model_dir, out, scores_out, windows_path, batch_size, min_valid, device, block_size):
    """Score every window of STACK with the model in MODEL_DIR."""

    def body():
        from geoprospect.blocks.predict import predict_blocks
        from geoprospect.grid import GridSpec
        from geoprospect.io.rasters import raster_band_names
        from geoprospect.models.checkpoint import load_checkpoint
        from geoprospect.prediction.predict import window_scores, write_prediction
        from geoprospect.windows.tiling import read_windows, write_windows

        grid = GridSpec.from_raster(stack_path)
        net, meta = load_checkpoint(model_dir, raster_band_names(stack_path))
        # block by block with a one-window halo: memory bounded by --block-size, not the map
        pred = predict_blocks(net, stack_path, meta.mean, meta.std, size=meta.window_size, stride=meta.stride, min_valid=min_valid,
                              batch_size=batch_size, device=device, block_size=block_size, crop=meta.input_size)
        write_prediction(pred, out, model_name=meta.architecture)
        sc = scores_out or out.with_name(out.stem + "_scores.gpkg")
        write_windows(window_scores(pred, grid, read_windows(windows_path) if windows_path else None), sc, layer="scores")
        return {"prospectivity": out, "scores": sc}

    run_command(body)


@click.command()
@click.argument("prospectivity", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--windows", "windows_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Window index (labels and splits).")
@click.option("--deposits", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Known deposits.")
@click.option("--deposits-layer", help="Layer of a multi-layer deposits file.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), help="metrics.json (default: print only).")
def evaluate(prospectivity, windows_path, deposits, deposits_layer, out):
    """Held-out window metrics (scikit-learn) and deposit capture in the top 5/10/20 % of area."""

    def body():
        import json

        from geoprospect.evaluation.evaluate import evaluate_prediction, read_prediction
        from geoprospect.io.atomic import write_json
        from geoprospect.pipeline import stages
        from geoprospect.windows.tiling import read_windows

        pred = read_prediction(prospectivity)
        win = read_windows(windows_path)
        from geoprospect.grid import GridSpec, to_crs

        dep = stages.load_deposits(deposits, GridSpec(to_crs(win.crs.to_wkt()), pred.grid.transform, pred.grid.width, pred.grid.height), layer=deposits_layer)
        m = evaluate_prediction(pred, win, dep)
        if out:
            write_json(out, m)
        else:
            click.echo(json.dumps(m, indent=2))
        return {"metrics": out} if out else {}

    run_command(body)


@click.command(name="run")
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: the config's `output`, ./geoprospect-out).")
@click.option("--overwrite", is_flag=True, help="Replace the outputs of an earlier run in the output folder.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last finished stage.")
@click.option("--dask-scheduler", metavar="ADDRESS", help="Send the stack and prediction stages to a dask cluster (tcp://host:8786, or local / local:N); overrides compute.dask_scheduler.")
def run(config, out, overwrite, resume, dask_scheduler):
    """Run the whole pipeline from CONFIG (YAML); without CONFIG, on the bundled sample data.

    Writes stack.tif, windows.gpkg, model/, prospectivity.tif, scores.gpkg, metrics.json,
    map.png and manifest.json into the output folder.
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
        t = d.get("deposits_test", {})
        click.echo(
            f"held-out windows: ROC AUC {_f(d.get('windows_test', {}).get('roc_auc'))}, F1 {_f(d.get('windows_test', {}).get('f1'))}; "
            f"held-out deposits in top 10% / 20% of the held-out area: {_p(t.get('capture_top_10pct'))} / {_p(t.get('capture_top_20pct'))} "
            f"(success-rate AUC {_f(t.get('success_rate_auc'))})",
            err=True,
        )
        return {"output": target, "prospectivity": Path(target) / "prospectivity.tif", "map": Path(target) / "map.png", "manifest": Path(target) / "manifest.json"}

    run_command(body)


def _f(v):
    return "n/a" if v is None else f"{v:.3f}"


def _p(v):
    return "n/a" if v is None else f"{100 * v:.0f}%"


@click.command(name="models")
@click.option("--bands", type=int, default=8, show_default=True, help="Bands for the parameter count.")
@click.option("--window", type=int, default=32, show_default=True, help="Window size for the parameter count.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {name, parameters, description, kind} (read by the QGIS plugin).")
def models_cmd(bands, window, as_json):
    """List the available models with their parameter counts."""

    def body():
        import json

        from geoprospect.models.zoo import model_table

        rows = model_table(in_channels=bands, window_size=window)
        if as_json:
            click.echo(json.dumps([{**row, "kind": row.get("kind", "network")} for row in rows]))
            return {}
        for row in rows:
            n = row["parameters"]
            count = f"{n:>12,d}" if n is not None else f"{'-':>12s}"  # None: the window is too small for it
            click.echo(f"{row['name']:16s} {count} parameters  {row['description']}")
        return {}

    run_command(body)


@click.command(name="config-schema")
def config_schema_cmd():
    """Print the JSON schema of the run configuration (defaults and choices; read by the QGIS plugin)."""

    def body():
        import json

        from geoprospect.pipeline.config import RunConfig

        click.echo(json.dumps(RunConfig.model_json_schema(), default=str))
        return {}

    run_command(body)


COMMANDS = [interpolate, distance, stack, tile, train, predict, evaluate, run, models_cmd, config_schema_cmd]
