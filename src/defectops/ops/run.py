"""One back-fill run, on whichever engine the settings name: the entry point of ``run`` and
``demo`` for code (the CLI opens the engine itself and calls it the same way)."""

from __future__ import annotations

from defectops.core.config import Settings
from defectops.engines.choose import open_engine
from defectops.evaluation.records import OnChunk, OnData, RunResult


def run_pipeline(
    settings: Settings, *, on_chunk: OnChunk | None = None, on_data: OnData | None = None
) -> RunResult:
    """Train, score, gate and record one model per chunk; write the reports.

    Holds the artifact directory's lock for the whole run. A run killed at any point resumes
    after its last completed chunk when started again with the same config and data (same run
    key), and ends in the same registry state as an uninterrupted run.
    """
    with open_engine(settings) as engine:
        return engine.run_backfill(settings, on_chunk=on_chunk, on_data=on_data)
