"""The verb that scores a file with the champion: ``predict``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from defectops.cli import output
from defectops.cli.options import ConfigOpt, EngineOpt, SchedulerOpt, settings_from


def predict(
    data: Annotated[Path, typer.Option("--data", "-d", help="CSV or Parquet file to score.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output .csv or .parquet file (with --engine dask: a directory of Parquet files).",
        ),
    ],
    artifacts: Annotated[Path, typer.Option(help="Project directory with a champion.")] = Path(
        "artifacts"
    ),
    engine: EngineOpt = None,
    scheduler: SchedulerOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Score a file with the champion; rows keep their order, two columns are appended."""
    settings = settings_from(locals(), own=("data", "artifacts"))
    # imported on use: pandas and scikit-learn would slow `defectops --help` down
    from defectops.engines.choose import check_prediction_output, open_engine

    check_prediction_output(settings, out)
    with open_engine(settings) as chosen:
        summary = chosen.predict(artifacts, data, out)
    files = f" ({summary.files} Parquet files)" if summary.files is not None else ""
    output.console.print(
        f"scored {summary.scored:,} rows, {summary.flagged:,} flagged as defects: {out}{files}"
    )
    _print_unscored(summary.rows, summary.scored, out)


def _print_unscored(rows: int, scored: int, out: Path) -> None:
    # imported on use: pandas and scikit-learn would slow `defectops --help` down
    from defectops.scoring.predict import quarantine_path

    if scored < rows:
        output.console.print(
            f"[yellow]{rows - scored:,} of {rows:,} rows not scored[/]: the data contract "
            f"refused them; they are in {quarantine_path(out)} with their reason"
        )
