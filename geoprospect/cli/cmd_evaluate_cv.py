"""`geoprospect evaluate-cv`: k-fold cross-validation of a model on a stack (spatial blocks by default)."""

from __future__ import annotations

from pathlib import Path

import click

from geoprospect.cli.app import run_command


@click.command(name="evaluate-cv")
@click.argument("stack_path", metavar="STACK", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--windows", "windows_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Window index from `geoprospect tile` (labels; its split is ignored).")
@click.option("--deposits", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Known deposits (capture figures).")
@click.option("--deposits-layer", help="Layer of a multi-layer deposits file.")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder: cv_metrics.json, cv_prospectivity.tif, report/.")
@click.option("--model", default="resnet18", show_default=True, help="Model, CNN or scikit-learn baseline such as random_forest or logistic_cell (see `geoprospect models`).")
@click.option("--folds", type=int, default=5, show_default=True)
@click.option("--split", "kind", type=click.Choice(["spatial", "random"]), default="spatial", show_default=True, help="Spatial blocks, or random (overlapping windows leak: optimistic, labelled so).")
@click.option("--block-size", type=int, help="Block side in pixels (default: 4 windows or 1/8 of the shorter side).")
@click.option("--buffer", type=int, help="Pixels between training windows and the test area (default: half a window).")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def evaluate_cv(stack_path, windows_path, deposits, deposits_layer, out, model, folds, kind, block_size, buffer, epochs, batch_size, lr, device, seed):
    """Train one model per fold and score every window out-of-fold; write metrics, map and report."""

    def body():
        from geoprospect.evaluation.crossval import cross_validate
        from geoprospect.io.atomic import write_json
        from geoprospect.io.rasters import read_stack
        from geoprospect.pipeline import stages
        from geoprospect.prediction.fullres import write_fullres
        from geoprospect.report import write_report
        from geoprospect.report.outputs import deposit_flat
        from geoprospect.training.config import train_config
        from geoprospect.windows.tiling import read_windows

        stack = read_stack(stack_path)
        win = read_windows(windows_path)
        dep = stages.load_deposits(deposits, stack.grid, layer=deposits_layer)
        cfg = train_config(model=model, epochs=epochs, batch_size=batch_size, lr=lr, device=device, seed=seed)
        res = cross_validate(stack, win, dep, model=model, train_cfg=cfg, k=folds, kind=kind, block_size=block_size, buffer=buffer, seed=seed)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "cv_metrics.json", res.metrics)
        write_fullres(res.fullres, out / "cv_prospectivity.tif", model_name=model, tags={"GEOPROSPECT_VALIDATION": res.split.label})
        y = win["label"].to_numpy()
        rep = write_report(out / "report", title=f"{model}: {folds}-fold cross-validation", split_label=res.split.label, grid=stack.grid, deposits_xy=dep, scores={f"{model} (out-of-fold)": res.fullres.margin}, deposit_cells=deposit_flat(stack.grid, dep), map_prob=res.fullres.prob, windows={"out-of-fold windows": (y, res.oof.prob)}, history=res.histories[0] if res.histories else None, settings={"model": model, "folds": folds, "split": kind, "block_size": block_size, "buffer": buffer, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed})
        return {"metrics": out / "cv_metrics.json", "map": out / "cv_prospectivity.tif", "report": rep}

    run_command(body)
