"""Train on files: a stack GeoTIFF and a window index (``geoprospect train``) -> a model folder."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from geoprospect.errors import InputError
from geoprospect.models.checkpoint import save_checkpoint
from geoprospect.training.config import TrainConfig
from geoprospect.training.fit import check_crop, fit, model_meta
from geoprospect.training.history import History, write_history
from geoprospect.windows.dataset import WindowDataset
from geoprospect.windows.store import SCRATCH, open_windows_source
from geoprospect.windows.tiling import read_windows


def split_dataset(norm, windows: gpd.GeoDataFrame, split: str = "train") -> WindowDataset:
    """The labelled windows of ``windows`` in ``split`` over the z-scored (C, H, W) stack ``norm``."""
    sel = windows["split"] == split
    size = int(windows["size"].iloc[0])
    return WindowDataset(norm, windows.loc[sel, ["row_off", "col_off"]].to_numpy(), size, windows.loc[sel, "label"].to_numpy())


def train_on_index(stack_path: str | Path, windows_path: str | Path, out: str | Path, cfg: TrainConfig, *,
                   resume: bool = False, memory_mb: float | None = None) -> History:
    """Train ``cfg.model`` on the 'train' windows of the index ``windows_path`` over the stack.

    Writes ``out/model.pt`` + ``model.json`` (the checkpoint), ``history.csv``, and while
    training ``last.pt`` and ``curves.csv`` (``resume`` continues from ``last.pt``). The stack is
    z-scored with its own statistics, in memory or memory-mapped under ``out/.scratch`` when it
    exceeds ``memory_mb`` (removed at the end).
    """
    out = Path(out)
    win = read_windows(windows_path)
    size, stride = int(win["size"].iloc[0]), int(win["stride"].iloc[0])
    if not (win["split"] == "train").any():
        raise InputError("the window index holds no 'train' windows", path=windows_path, hint="re-run `geoprospect tile` with a smaller --test-fraction")
    check_crop(cfg, size)
    source = open_windows_source(stack_path, memory_mb=memory_mb, scratch_dir=out / SCRATCH)
    try:
        st = source.stack
        ds = split_dataset(source.norm, win, "train")
        model, hist = fit(cfg.model, ds, cfg, out_dir=out, resume=resume)
        del ds
    finally:
        source.close()
    meta = model_meta(cfg.model, cfg, hist, band_names=st.band_names, mean=source.mean, std=source.std, window_size=size, stride=stride, grid=st.grid.to_dict())
    save_checkpoint(out, model, meta)
    write_history(out / "history.csv", hist.rows)
    return hist
