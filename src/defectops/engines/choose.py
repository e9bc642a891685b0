"""Open the engine the settings name: the one place that knows which engines exist."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from defectops.core.config import Settings
from defectops.engines.base import Engine
from defectops.engines.local import LocalEngine
from defectops.engines.select import check_engine, engine_client


@contextmanager
def open_engine(settings: Settings) -> Iterator[Engine]:
    """The local engine, or a Dask engine on a client connected for the block and closed after.

    Fails with a :class:`~defectops.core.errors.UserError` (exit 2) before anything is written
    when the engine cannot be opened (see :func:`~defectops.engines.select.engine_client`).
    """
    check_engine(settings)
    if settings.engine == "local":
        yield LocalEngine()
        return
    # imported here so that the local engine's verbs never load Dask or the Dask engine
    from defectops.engines.dask.engine import DaskEngine

    with engine_client(settings) as client:
        assert client is not None
        yield DaskEngine(client)


def check_prediction_output(settings: Settings, out: Path) -> None:
    """Refuse an output the engine cannot write before the engine opens (a Dask engine's
    cluster takes seconds to start): the Dask engine writes a directory of Parquet parts."""
    if settings.engine == "dask":
        # imported here so that the local engine's verbs never load the Dask engine
        from defectops.engines.dask.predict import check_prediction_dir

        check_prediction_dir(out)
