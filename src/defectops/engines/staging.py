"""Staging directories: where the Dask engine's validated rows wait between steps, as Parquet.

Its own module (no Dask import) so the verbs and the monitoring code that open or clean a
staging directory do not depend on the engine.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import tempfile
import weakref
from pathlib import Path

from defectops.core.config import Settings
from defectops.core.errors import UserError


class Staging:
    """A directory of staged partitions: the validated rows of one data set, as Parquet files.

    Rows wait here between steps instead of in the workers' memory, so a worker holds only the
    partitions its current tasks read and the chunk it trains on: its memory follows the chunk
    size and the partition size, not the data. The directory lives under ``root`` (which every
    worker and this process must reach: the same storage ``--data`` is on, on a cluster of many
    machines) and is removed when no frame uses it any more, or when this process exits. A
    directory left by a killed process is removed by the next one that stages on the same host.
    """

    def __init__(self, root: Path) -> None:
        root = Path(root).resolve()
        try:
            root.mkdir(parents=True, exist_ok=True)
            _remove_abandoned(root)
            self.path = Path(
                tempfile.mkdtemp(prefix=f"{socket.gethostname()}-{os.getpid()}-", dir=root)
            )
        except OSError as exc:
            raise UserError(
                f"staging directory {root}: cannot write there ({exc.strerror or exc}); "
                "set staging: in the config (or DEFECTOPS_STAGING) to a writable directory"
            ) from None
        self._remove = weakref.finalize(self, shutil.rmtree, str(self.path), True)
        self._sets = itertools.count()

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @classmethod
    def of(cls, settings: Settings) -> Staging:
        return cls(settings.layout.staging_dir)

    def new_set(self, kind: str) -> str:
        """A name for one more set of staged partitions (validated rows, a sorted copy, ...)."""
        return f"{kind}-{next(self._sets)}"

    def file(self, name: str, index: int) -> str:
        """Where partition ``index`` of the set ``name`` is staged."""
        return str(self.path / name / f"part-{index:05d}.parquet")

    def close(self) -> None:
        """Remove the files now (frames still using them can no longer be read)."""
        self._remove()


def _remove_abandoned(root: Path) -> None:
    """Staging directories of this host whose process is gone (killed before it cleaned up)."""
    host = socket.gethostname()
    for path in root.iterdir():
        owner, _, rest = path.name.rpartition("-")
        owner_host, _, pid = owner.rpartition("-")
        if owner_host == host and pid.isdigit() and rest and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
