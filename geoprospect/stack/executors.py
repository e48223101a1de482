"""Where the blocks of a stack are computed: this process, or a dask.distributed cluster.

An executor maps a block function over blocks and yields ``(block, result)`` pairs, in any
order; :func:`geoprospect.stack.build.build_stack` writes each result as it arrives. The
results are the same whichever executor runs them (same function, same blocks).
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Callable, Iterator, Protocol, Sequence

import numpy as np

from geoprospect.errors import ConfigError
from geoprospect.stack.blocks import Block

log = logging.getLogger(__name__)

BlockFunc = Callable[..., np.ndarray]


class Executor(Protocol):
    """Runs ``func(*shared, block)`` for every block."""

    def map_blocks(self, func: BlockFunc, blocks: Sequence[Block], *shared: Any) -> Iterator[tuple[Block, np.ndarray]]: ...

    def describe(self) -> str: ...


class LocalExecutor:
    """Blocks computed one after the other in this process (memory bounded by one block)."""

    def map_blocks(self, func: BlockFunc, blocks: Sequence[Block], *shared: Any) -> Iterator[tuple[Block, np.ndarray]]:
        for block in blocks:
            yield block, func(*shared, block)

    def describe(self) -> str:
        return "block by block"


class DaskExecutor:
    """Blocks computed on the workers of a ``distributed.Client`` (see :func:`connect`).

    The shared arguments (the layers, with their samples and features) are scattered to every
    worker once. At most ``in_flight`` blocks (default: two per worker) are pending at a time,
    so the results waiting to be written stay bounded; each result comes back to this process,
    which writes it (workers need no shared disk for the stack).
    """

    def __init__(self, client, in_flight: int | None = None) -> None:
        self.client = client
        self.in_flight = in_flight

    def _limit(self) -> int:
        if self.in_flight:
            return max(1, int(self.in_flight))
        return max(2, 2 * len(self.client.scheduler_info().get("workers", {})))

    def map_blocks(self, func: BlockFunc, blocks: Sequence[Block], *shared: Any) -> Iterator[tuple[Block, np.ndarray]]:
        from distributed import as_completed

        refs = [self.client.scatter([obj], broadcast=True, hash=False)[0] for obj in shared]  # one future each
        todo = iter(blocks)
        pending: dict[str, Block] = {}
        done = as_completed()

        def submit(block: Block) -> None:
            fut = self.client.submit(func, *refs, block, pure=False)
            pending[fut.key] = block
            done.add(fut)

        for block in itertools.islice(todo, self._limit()):
            submit(block)
        try:
            for fut in done:
                block = pending.pop(fut.key)
                data = fut.result()  # a worker's exception is raised here
                fut.release()
                nxt = next(todo, None)
                if nxt is not None:
                    submit(nxt)
                yield block, data
        finally:
            done.clear()
            for r in refs:
                r.release()

    def describe(self) -> str:
        return f"on dask ({self.client.scheduler.address})"


def connect(address: str, *, timeout: float = 30.0):
    """A ``distributed.Client`` for ``address``.

    ``address`` is a scheduler address (``tcp://host:8786``, ``tls://...``), or ``local`` /
    ``local:N`` to start a LocalCluster of N (default 2) single-threaded worker processes on
    this machine. Returns (client, cluster_or_None): close both when done.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise ConfigError("dask.distributed is not installed", hint="pip install 'dask[distributed]'") from exc
    address = str(address).strip()
    if address == "local" or address.startswith("local:"):
        n = 2
        if ":" in address:
            try:
                n = int(address.split(":", 1)[1])
            except ValueError:
                raise ConfigError(f"invalid local cluster size in {address!r}", hint="use local or local:N, e.g. local:4") from None
            if n < 1:
                raise ConfigError(f"a local cluster needs at least one worker, got {address!r}")
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        log.info("started a local dask cluster with %d workers: %s", n, cluster.scheduler_address)
        return Client(cluster), cluster
    if "://" not in address and ":" not in address:
        raise ConfigError(f"not a dask scheduler address: {address!r}", hint="e.g. tcp://scheduler-host:8786, or local / local:N")
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the dask scheduler at {address} ({exc})", hint="is the scheduler running and reachable from here?") from exc
    log.info("connected to dask scheduler %s (%d workers)", address, len(client.scheduler_info().get("workers", {})))
    return client, None
