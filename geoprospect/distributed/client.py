"""Connecting to a dask.distributed scheduler."""

from __future__ import annotations

import logging

from geoprospect.errors import ConfigError

log = logging.getLogger(__name__)


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
