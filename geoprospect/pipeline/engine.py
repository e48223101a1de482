"""Run the scalable stages locally (block by block) or on a dask cluster, as configured."""

from __future__ import annotations

import logging
import weakref
from pathlib import Path
from typing import Sequence

from geoprospect.grid import GridSpec
from geoprospect.prediction.predict import Prediction, predict
from geoprospect.stack.area import StudyArea
from geoprospect.stack.build import StackFile, build_stack
from geoprospect.stack.executors import DaskExecutor, LocalExecutor, connect
from geoprospect.stack.layers import StackLayer

log = logging.getLogger(__name__)


class Engine:
    """Dispatches stack building and prediction.

    Args:
        dask_scheduler: None (this machine, block by block, as before), a scheduler address
            (``tcp://host:8786``) or ``local`` / ``local:N`` (a LocalCluster on this machine).
        block_size: block (and dask chunk) side in pixels.
        prefetch: batches read ahead by the background reader (local prediction).
        client: an existing ``distributed.Client`` to use instead of ``dask_scheduler``.
    """

    def __init__(self, dask_scheduler: str | None = None, block_size: int = 1024, prefetch: int = 2, client=None) -> None:
        self.address = dask_scheduler
        self.block_size = int(block_size)
        self.prefetch = int(prefetch)
        self._client = client
        self._own: list = []
        self._fin = weakref.finalize(self, Engine._close_all, self._own)

    @property
    def distributed(self) -> bool:
        return self._client is not None or bool(self.address)

    @property
    def client(self):
        if self._client is None and self.address:
            self._client, cluster = connect(self.address)
            self._own.append(self._client)
            if cluster is not None:
                self._own.append(cluster)
        return self._client

    def describe(self) -> dict:
        return {"engine": "dask" if self.distributed else "blocks", "scheduler": self.address or (getattr(self._client, "scheduler", None) and self._client.scheduler.address), "block_size": self.block_size}

    def build_stack(self, layers: Sequence[StackLayer], grid: GridSpec, out: str | Path, area: StudyArea | None = None) -> StackFile:
        """The evidence stack, its blocks computed here or on the cluster (nodata outside ``area``)."""
        executor = DaskExecutor(self.client) if self.distributed else LocalExecutor()
        return build_stack(layers, grid, out, executor=executor, block_size=self.block_size, area=area)

    def predict(self, model, stack_path: str | Path, mean, std, *, size: int, stride: int, min_valid: float = 0.5, batch_size: int = 256, device: str = "auto", crop: int | None = None,
                centred: bool = False) -> Prediction:
        """Score the stack GeoTIFF's windows (``centred``: one centred on every cell) block by block here, or one task per window block on dask."""
        return predict(model, stack_path, mean, std, size=size, stride=stride, min_valid=min_valid, batch_size=batch_size, device=device,
                       crop=crop, block_size=self.block_size, prefetch=self.prefetch, client=self.client if self.distributed else None, centred=centred)

    @staticmethod
    def _close_all(objs: list) -> None:
        for o in objs:
            try:
                o.close()
            except Exception:  # pragma: no cover - best effort at shutdown
                pass
        objs.clear()

    def close(self) -> None:
        """Close a client/cluster this engine started (an injected client is left open)."""
        self._fin()
