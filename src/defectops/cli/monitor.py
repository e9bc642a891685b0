"""The verb that checks a batch for drift against the champion: ``monitor``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from defectops.cli import output
from defectops.cli.options import (
    ArtifactsOpt,
    ConfigOpt,
    EngineOpt,
    FailOnOpt,
    SchedulerOpt,
    check_fail_on,
    settings_from,
)


def monitor(
    data: Annotated[Path, typer.Option("--data", "-d", help="Batch to check (CSV or Parquet).")],
    artifacts: ArtifactsOpt = None,
    name: Annotated[
        str | None, typer.Option(help="Batch name for the report (default: file stem).")
    ] = None,
    fail_on: FailOnOpt = None,
    engine: EngineOpt = None,
    scheduler: SchedulerOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Compare a batch with the champion's training profile: PSI, KS, unseen values, scores."""
    check_fail_on(fail_on)
    settings = settings_from(locals(), own=("data",))
    # imported on use: pandas and scikit-learn would slow `defectops --help` down
    from defectops.engines.choose import open_engine
    from defectops.monitoring.batch import DRIFT_EXIT_CODE, reached

    with open_engine(settings) as chosen:
        report, paths = chosen.monitor(settings, data, name=name)
    output.print_drift(report)
    output.console.print(f"report: {paths['report']}\nplot:   {paths['plot']}")
    if reached(report["status"], fail_on):
        raise typer.Exit(DRIFT_EXIT_CODE)
