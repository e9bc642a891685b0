"""Where a verb runs: in this process (``local``) or on a Dask cluster (``dask``).

Every verb that reads data opens the engine the same way, so adopting the cluster takes two lines::

    with engine_client(settings) as client:
        if client is None: ...  # pandas in this process, as always
        else: ...               # the same functions, partition by partition, on the cluster

With ``engine: dask`` and no ``scheduler`` a :class:`~distributed.LocalCluster` of
``LOCAL_WORKERS`` worker processes is started for the verb and closed after it, which is how a
laptop tries the cluster path; with a scheduler address (``tcp://host:8786``) the verb runs on
that cluster, which it neither starts nor stops. An address that does not answer within
``CONNECT_TIMEOUT`` ends the verb with one line naming it (exit 2), before anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from defectops.core.errors import UserError

if TYPE_CHECKING:
    from distributed import Client

    from defectops.core.config import Settings

#: worker processes of the LocalCluster started when no scheduler address is given
LOCAL_WORKERS = 2
#: where a LocalCluster listens unless configured
LOCAL_HOST = "127.0.0.1"
#: seconds to wait for a scheduler; a live one answers in milliseconds
CONNECT_TIMEOUT = "5s"
#: dask settings for every verb: strings stay the dtype pandas itself gives them, so a partition
#: is typed exactly like the same rows read by the local engine (dask would otherwise convert
#: text to its own string dtype with another missing-value marker)
DASK_CONFIG = {"dataframe.convert-string": False}


@contextmanager
def engine_client(settings: Settings) -> Iterator[Client | None]:
    """``None`` for the local engine, else a connected Dask client, closed on exit.

    Fails with a :class:`UserError` (exit 2) when ``scheduler`` is set for the local engine
    (almost always a forgotten ``--engine dask``), when dask is not installed, or when the
    scheduler cannot be reached.
    """
    check_engine(settings)
    if settings.engine == "local":
        yield None
        return
    with dask_client(settings.scheduler, host=settings.local_cluster_host) as client:
        yield client


def check_engine(settings: Settings) -> None:
    """A scheduler address with the local engine is almost always a forgotten ``--engine dask``."""
    if settings.engine == "local" and settings.scheduler:
        raise UserError(
            f"--scheduler {settings.scheduler} is set but the engine is local; "
            "add --engine dask (or drop --scheduler)"
        )


@contextmanager
def dask_client(
    scheduler: str | None = None,
    *,
    workers: int = LOCAL_WORKERS,
    host: str = LOCAL_HOST,
) -> Iterator[Client]:
    """A client of the cluster at ``scheduler``, or of a LocalCluster started for the block.

    The LocalCluster's scheduler, workers and the scheduler's HTTP server (dashboard, metrics)
    listen on ``host`` only (127.0.0.1 unless configured: ``local_cluster_host``), never on every
    interface: a laptop's cluster is not for the plant network.

    The LocalCluster uses worker *processes* with one thread each: pandas work then runs in
    parallel (no shared GIL), and every function and model sent to a worker is pickled, exactly as
    on a real cluster, so what works here works there.
    """
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise UserError(
            "the dask engine needs dask and distributed; install them with "
            "pip install 'defectops[dask]'"
        ) from None

    with dask.config.set(DASK_CONFIG):
        if scheduler:
            client = _connect(Client, scheduler)
            try:
                yield client
            finally:
                client.close()
            return
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host=host,
            dashboard_address=None,
            # the scheduler's HTTP server (health, metrics) on a free port, not 8787, which
            # another cluster on the machine may hold
            scheduler_kwargs={"dashboard_address": f"{host}:0"},
            silence_logs=logging.ERROR,
        )
        try:
            client = Client(cluster)
            client.run(_quiet_worker_logs)
            try:
                yield client
            finally:
                client.close()
        finally:
            cluster.close()


def _connect(client_type: type[Client], address: str) -> Client:
    try:
        return client_type(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"Dask scheduler {address}: cannot connect ({detail}); start one with "
            "`dask scheduler` and `dask worker ADDRESS`, or fix --scheduler"
        ) from None


def _quiet_worker_logs() -> None:
    """Worker processes of our LocalCluster write to this terminal: only errors, please.

    (xgboost warns there about a worker without rows, which is normal for small chunks.)
    """
    logging.getLogger("xgboost").setLevel(logging.ERROR)
