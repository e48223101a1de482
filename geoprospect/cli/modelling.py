"""Modelling: tile, train, predict, evaluate, evaluate-cv, models."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from geoprospect.cli.app import run_command
from geoprospect.cli.options import area_options, read_area_option

log = logging.getLogger("geoprospect")


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


#: options of `train` that are TrainConfig settings (CLI name -> setting); given ones override a --preset
_TRAIN_SETTINGS = {"model": "model", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "optimizer": "optimizer", "weight_decay": "weight_decay",
                   "balanced": "balanced", "device": "device", "seed": "seed", "scheduler": "scheduler", "patience": "patience",
                   "val_fraction": "val_fraction", "amp": "amp", "noise": "noise_variance", "flips": "flips", "rotations": "rotations", "crop": "crop"}


@click.command()
@click.argument("stack_path", metavar="STACK", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("windows_path", metavar="WINDOWS", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path), help="Model folder (model.pt + model.json).")
@click.option("--model", default="resnet18", show_default=True, help="Model, CNN or scikit-learn baseline such as random_forest or logistic_cell (see `geoprospect models`).")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Learning rate.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam", "adamw"]), default="adam", show_default=True)
@click.option("--weight-decay", type=float, default=1e-4, show_default=True)
@click.option("--balanced/--no-balanced", default=True, show_default=True, help="Class-balanced sampling of training windows.")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu or cuda.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--preset", type=click.Choice(["000", "001", "002", "003"]), help="A paper's recipe (model, optimiser, schedule, augmentation); explicit options override it.")
@click.option("--option", "model_options", multiple=True, metavar="KEY=VALUE", help="Model option (value read as JSON), e.g. rates=[1,6] or source=runs/resnet18. Repeatable.")
@click.option("--scheduler", type=click.Choice(["none", "step", "cosine"]), default="none", show_default=True, help="Learning-rate schedule per epoch.")
@click.option("--patience", type=int, default=0, show_default=True, help="Early stopping: epochs without validation improvement (0 = off).")
@click.option("--val-fraction", type=float, default=0.15, show_default=True, help="With --patience: training windows held out (random, stratified) to decide when to stop.")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt (saved after every epoch).")
@click.option("--amp/--no-amp", default=None, help="Mixed precision on CUDA (default on there; ignored on CPU).")
@click.option("--noise", type=float, default=0.0, show_default=True, help="Gaussian noise variance added to training windows (papers 000/001: 0.01).")
@click.option("--flips/--no-flips", default=False, show_default=True, help="Random horizontal/vertical flips (paper 002).")
@click.option("--rotations/--no-rotations", default=False, show_default=True, help="Random 90-degree rotations (paper 002).")
@click.option("--crop", type=int, help="Random crop size per iteration (papers 001/002: 224 of 256); centre crop for validation and prediction.")
@click.option("--memory-mb", type=float, help="Memory budget for the stack; a larger one is memory-mapped under OUT/.scratch (default: a quarter of the available RAM).")
@click.pass_context
def train(ctx, stack_path, windows_path, out, preset, model_options, resume, memory_mb, **settings):
    """Train a model (CNN or scikit-learn baseline) on the 'train' windows of WINDOWS over STACK."""

    def body():
        from geoprospect.report.figures import loss_figure
        from geoprospect.training.config import train_config
        from geoprospect.training.train_windows import train_on_index

        given = {_TRAIN_SETTINGS[k]: v for k, v in settings.items() if ctx.get_parameter_source(k) is not click.core.ParameterSource.DEFAULT}
        cfg = train_config(preset, model_options, **({_TRAIN_SETTINGS[k]: v for k, v in settings.items()} if not preset else given))
        hist = train_on_index(stack_path, windows_path, out, cfg, resume=resume, memory_mb=memory_mb)
        if hist.rows:
            loss_figure(hist.rows, out / "curves.png")
        return {"model": out}

    run_command(body)


@click.command()
@click.argument("stack_path", metavar="STACK", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("model_dir", metavar="MODEL_DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Prospectivity GeoTIFF: on the stack's own grid for a model trained on cells (`run`'s default), on the window-stride grid for one trained on windows.")
@click.option("--scores-out", type=click.Path(dir_okay=False, path_type=Path), help="Window scores as GeoPackage (default: beside --out; models trained on windows only).")
@click.option("--windows", "windows_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Window index to join labels/splits into the scores.")
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--min-valid", type=float, default=0.5, show_default=True)
@click.option("--block-size", type=int, default=1024, show_default=True, help="Stack block side in pixels read at a time (memory scales with its square).")
@click.option("--device", default="auto", show_default=True)
def predict(stack_path, model_dir, out, scores_out, windows_path, batch_size, min_valid, device, block_size):
    """Score every cell (or window) of STACK with the model in MODEL_DIR."""

    def body():
        from geoprospect.grid import GridSpec
        from geoprospect.io.rasters import raster_band_names
        from geoprospect.models.checkpoint import load_checkpoint
        from geoprospect.prediction.predict import predict, window_scores, write_prediction
        from geoprospect.windows.tiling import read_windows, write_windows

        grid = GridSpec.from_raster(stack_path)
        net, meta = load_checkpoint(model_dir, raster_band_names(stack_path))
        # block by block with a one-window halo: memory bounded by --block-size, not the map
        cells = meta.training.get("sample_unit") == "cell"
        pred = predict(net, stack_path, meta.mean, meta.std, size=meta.window_size, stride=1 if cells else meta.stride, min_valid=min_valid,
                       batch_size=batch_size, device=device, block_size=block_size, crop=meta.input_size, centred=cells)
        write_prediction(pred, out, model_name=meta.architecture)
        if cells:  # one score per cell: the GeoTIFF holds them all
            return {"prospectivity": out}
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
@area_options
def evaluate(prospectivity, windows_path, deposits, deposits_layer, out, area, area_layer):
    """Held-out window metrics (scikit-learn) and deposit capture in the top 5/10/20 % of area."""

    def body():
        from geoprospect.evaluation.evaluate import evaluate_prediction, read_prediction
        from geoprospect.io.atomic import write_json
        from geoprospect.pipeline import stages
        from geoprospect.windows.tiling import read_windows

        pred = read_prediction(prospectivity)
        win = read_windows(windows_path)
        from geoprospect.grid import GridSpec, to_crs
        from geoprospect.stack.area import deposits_in_area

        dgrid = GridSpec(to_crs(win.crs.to_wkt()), pred.grid.transform, pred.grid.width, pred.grid.height)
        study = read_area_option(area, area_layer)
        dep = deposits_in_area(stages.load_deposits(deposits, dgrid, layer=deposits_layer), study, dgrid.crs)
        if study is not None:  # rank the scored cells whose centre is inside the study area only
            outside = ~study.mask(pred.grid)  # one mask for both bands
            pred.prob[outside] = pred.margin[outside] = float("nan")
        m = evaluate_prediction(pred, win, dep)
        if out:
            write_json(out, m)
        else:
            click.echo(json.dumps(m, indent=2))
        return {"metrics": out} if out else {}

    run_command(body)


@click.command(name="evaluate-cv")
@click.argument("stack_path", metavar="STACK", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--windows", "windows_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Window index from `geoprospect tile` (labels; its split is ignored).")
@click.option("--deposits", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Known deposits (capture figures).")
@click.option("--deposits-layer", help="Layer of a multi-layer deposits file.")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder: cv_metrics.json, cv_prospectivity.tif, report/.")
@click.option("--model", default="resnet18", show_default=True, help="Model, CNN or scikit-learn baseline such as random_forest or logistic_cell (see `geoprospect models`).")
@click.option("--folds", type=int, default=5, show_default=True)
@click.option("--split", "kind", type=click.Choice(["spatial", "random"]), default="spatial", show_default=True, help="Spatial blocks, or random (overlapping windows leak: optimistic, labelled so).")
@click.option("--block-size", type=int, help="Block side in pixels (default: 4 windows or 1/8 of the shorter side, smaller on small stacks so that there are at least 2 x FOLDS blocks).")
@click.option("--buffer", type=int, help="Pixels between training windows and the test area (default: half a window).")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@area_options
def evaluate_cv(stack_path, windows_path, deposits, deposits_layer, out, model, folds, kind, block_size, buffer, epochs, batch_size, lr, device, seed, area, area_layer):
    """Train one model per fold and score every window out-of-fold; write metrics, map and report."""

    def body():
        from geoprospect.evaluation.crossval import cross_validate
        from geoprospect.evaluation.metrics import deposit_flat
        from geoprospect.io.atomic import write_json
        from geoprospect.io.rasters import read_stack
        from geoprospect.pipeline import stages
        from geoprospect.prediction.fullres import write_fullres
        from geoprospect.report import write_report
        from geoprospect.stack.area import deposits_in_area
        from geoprospect.training.config import train_config
        from geoprospect.windows.tiling import read_windows

        stack = read_stack(stack_path)
        win = read_windows(windows_path)
        study = read_area_option(area, area_layer)
        dep = deposits_in_area(stages.load_deposits(deposits, stack.grid, layer=deposits_layer), study, stack.grid.crs)
        if study is not None:  # cells outside the study area are nodata: never ranked
            study.nodata_outside(stack.data, stack.grid)
        cfg = train_config(model=model, epochs=epochs, batch_size=batch_size, lr=lr, device=device, seed=seed)
        res = cross_validate(stack, win, dep, model=model, train_cfg=cfg, k=folds, kind=kind, block_size=block_size, buffer=buffer, seed=seed)
        cv = res.split.describe()
        click.echo(f"{res.split.label}, per fold: test windows {cv['windows_per_fold']['test']}, positive windows {cv['positives_per_fold']}, deposits {cv['deposits_per_fold']}", err=True)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "cv_metrics.json", res.metrics)
        write_fullres(res.fullres, out / "cv_prospectivity.tif", model_name=model, tags={"GEOPROSPECT_VALIDATION": res.split.label})
        y = win["label"].to_numpy()
        rep = write_report(out / "report", title=f"{model}: {folds}-fold cross-validation", split_label=res.split.label, grid=stack.grid, deposits_xy=dep, scores={f"{model} (out-of-fold)": res.fullres.margin}, deposit_cells=deposit_flat(stack.grid, dep), map_prob=res.fullres.prob, windows={"out-of-fold windows": (y, res.oof.prob)}, history=res.histories[0] if res.histories else None, settings={"model": model, "folds": folds, "split": kind, "block_size": block_size, "buffer": buffer, "positive_windows_per_fold": cv["positives_per_fold"], "deposits_per_fold": cv["deposits_per_fold"], "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed})
        return {"metrics": out / "cv_metrics.json", "map": out / "cv_prospectivity.tif", "report": rep}

    run_command(body)


@click.command(name="models")
@click.option("--bands", type=int, default=8, show_default=True, help="Bands for the parameter count.")
@click.option("--window", type=int, default=32, show_default=True, help="Window size for the parameter count.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (name, parameters, description, kind) for scripts and the QGIS provider.")
def models_cmd(bands, window, as_json):
    """List the available models with their parameter counts."""

    def body():
        from geoprospect.models.registry import model_table

        rows = model_table(in_channels=bands, window_size=window)
        if as_json:
            click.echo(json.dumps(rows, indent=1))
            return {}
        for row in rows:
            n = row["parameters"]
            count = f"{n:>12,d}" if n is not None else f"{'-':>12s}"  # None: the window is too small for it
            click.echo(f"{row['name']:20s} {count} parameters  sees {row['sees']}: {row['description']}")
        return {}

    run_command(body)


COMMANDS = [tile, train, predict, evaluate, evaluate_cv, models_cmd]
