"""The verbs that make and check data: ``simulate`` and ``validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from defectops.cli import output
from defectops.cli.options import (
    ArtifactsOpt,
    CategoricalOpt,
    ConfigOpt,
    DataOpt,
    DropOpt,
    EngineOpt,
    KeepIdsOpt,
    NaOpt,
    OrderOpt,
    PositiveOpt,
    SchedulerOpt,
    StrictOpt,
    TargetOpt,
    TimestampFormatOpt,
    settings_from,
)
from defectops.core.errors import UserError


def simulate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .csv or .parquet file.")] = Path(
        "data/line.csv"
    ),
    rows: Annotated[int, typer.Option(min=1, help="Rows to simulate.")] = 23_490,
    defect_rate: Annotated[
        float, typer.Option(min=0.001, max=0.999, help="Mean defect probability.")
    ] = 0.20,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 42,
    drift_at: Annotated[
        int | None, typer.Option(min=0, help="Row where drift starts (bad batch, sensor shift).")
    ] = None,
    missing_rate: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="Share of numeric cells left empty.")
    ] = 0.0,
) -> None:
    """Write simulated production-line records, and their true defect probabilities beside them."""
    # imported on use: pandas would slow `defectops --help` down
    from defectops.data.simulate import SimulationSpec, write_simulation

    spec = _spec(SimulationSpec, rows, defect_rate, seed, drift_at, missing_rate)
    data_path, truth_path = write_simulation(spec, out)
    output.console.print(f"wrote {rows:,} rows to {data_path} (true probabilities: {truth_path})")


def validate(
    data: DataOpt = None,
    target: TargetOpt = None,
    positive_label: PositiveOpt = None,
    categorical: CategoricalOpt = None,
    drop: DropOpt = None,
    order_by: OrderOpt = None,
    na_values: NaOpt = None,
    timestamp_format: TimestampFormatOpt = None,
    keep_identifiers: KeepIdsOpt = None,
    strict: StrictOpt = None,
    artifacts: ArtifactsOpt = None,
    engine: EngineOpt = None,
    scheduler: SchedulerOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Check a data file against the contract; quarantine bad rows; write the validation report."""
    settings = settings_from(locals())
    # imported on use: pandas would slow `defectops --help` down
    from defectops.data.validation import require_valid_rows, write_outputs
    from defectops.engines.choose import open_engine

    path = _require_data(settings.data)
    with open_engine(settings) as chosen:
        result = chosen.validate(settings, path)
        report = result.report
        require_valid_rows(str(path), report["rows_read"], report["rows_kept"],
                           report["quarantined_by_reason"])  # fmt: skip
        written = write_outputs(result, settings)
    output.print_validation(result.report)
    output.console.print(f"report: {written['report']}")
    if "quarantine" in written:
        output.console.print(f"quarantine: {written['quarantine']}")


def _require_data(data: Path | None) -> Path:
    if data is None:
        raise UserError("no data file given; pass --data FILE (or set data: in the config)")
    return data


def _spec(
    cls: Any, rows: int, defect_rate: float, seed: int, drift: int | None, missing: float
) -> Any:
    try:
        return cls(
            rows=rows, defect_rate=defect_rate, seed=seed, drift_at=drift, missing_rate=missing
        )
    except ValueError as exc:
        raise UserError(f"simulate: {exc}") from None
