"""Peak RSS of the dask workers in each step of ``validate --engine dask``: where a worker's
memory goes when it grows with the data.

    .venv/bin/python bench/validate_phases.py /tmp/defectops-scale/rows-20000000/train

Runs :func:`~defectops.engines.dask.validate.validate_distributed` on a LocalCluster of 2 worker
processes (as ``--engine dask`` starts one) and samples every worker's RSS every 0.1 s, labelled
by the step running then: ``validate`` (schema, then one read-validate-stage task per partition),
``in_order`` (the order check, and a sort if needed), ``count_globally`` (distinct values and
duplicate rows over every row); ``after-<step>`` is the time between steps. Prints each label's
largest worker peak. Make the data with ``bench/scale.py`` (``--verbs validate`` is enough).
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from defectops.core.config import load_settings
from defectops.engines.dask import validate as distributed
from defectops.engines.select import dask_client

GIB = 2**30


class PhaseSampler:
    """The largest RSS of some processes per label, the label being the step running now."""

    def __init__(self, pids: list[int], every: float = 0.1) -> None:
        self.pids, self.every = pids, every
        self.label = "validate"
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PhaseSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:
                try:
                    rss = psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    continue
                self.peaks[self.label] = max(self.peaks.get(self.label, 0), rss)
            time.sleep(self.every)

    def step(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn``, its samples labelled ``name`` while it runs and ``after-name`` after it."""

        @functools.wraps(fn)
        def labelled(*args: Any, **kwargs: Any) -> Any:
            self.label, began = name, time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                print(f"{name}: {time.perf_counter() - began:.1f} s", flush=True)
                self.label = f"after-{name}"

        return labelled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path, help="a Parquet directory, Parquet file or CSV file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as artifacts, dask_client(None) as client:
        settings = load_settings(flags={"artifacts": artifacts, "engine": "dask"}, environ={})
        pids = list(client.run(os.getpid).values())
        with PhaseSampler(pids) as sampler:
            for name in ("in_order", "count_globally"):
                setattr(distributed, name, sampler.step(name, getattr(distributed, name)))
            began = time.perf_counter()
            with distributed.Staging.of(settings) as staging:
                result = distributed.validate_distributed(
                    args.data, settings, client, staging=staging
                )
            print(f"validate_distributed: {time.perf_counter() - began:.1f} s, "
                  f"{len(result.frame):,} rows kept")  # fmt: skip
        for label, peak in sampler.peaks.items():
            print(f"{label:24s} largest worker {peak / GIB:.2f} GiB")


if __name__ == "__main__":
    main()
