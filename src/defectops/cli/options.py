"""The options several verbs share, and how the options a verb received become its settings.

One alias per option keeps a flag's name and help text the same on every verb that takes it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from defectops.core.errors import UserError

if TYPE_CHECKING:
    from defectops.core.config import Settings

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file (flags and env win).")
]
DataOpt = Annotated[Path | None, typer.Option("--data", "-d", help="CSV or Parquet file.")]
TargetOpt = Annotated[str | None, typer.Option(help="Target column (default DefectStatus).")]
PositiveOpt = Annotated[
    str | None, typer.Option(help="Target value meaning defect (default: inferred).")
]
CategoricalOpt = Annotated[
    str | None, typer.Option(help="Categorical columns, comma-separated (default: inferred).")
]
DropOpt = Annotated[str | None, typer.Option(help="Columns to ignore, comma-separated.")]
OrderOpt = Annotated[str | None, typer.Option("--order-by", help="Column giving production order.")]
NaOpt = Annotated[
    str | None,
    typer.Option(
        "--na-values",
        help="Text meaning missing, comma-separated (default: NA, N/A, NaN, null, None, ?, - "
        "and the like; an empty cell always is).",
    ),
]
TimestampFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--timestamp-format",
        help="Format of the timestamp columns, e.g. '%d/%m/%Y %H:%M' (or ISO8601, epoch_s, "
        "epoch_ms; default: inferred from all values of each column).",
    ),
]
KeepIdsOpt = Annotated[
    bool | None,
    typer.Option(
        "--keep-identifiers/--drop-identifiers",
        help="Use columns unique per row or counting rows as features (default: left out).",
        show_default=False,
    ),
]
StrictOpt = Annotated[
    bool | None,
    typer.Option(
        "--strict/--no-strict",
        help="Refuse data with leak suspects (exit 2) instead of warning.",
        show_default=False,
    ),
]
FailOnOpt = Annotated[
    str | None,
    typer.Option("--fail-on", help="Exit 3 when the batch reaches this level: warn or drift."),
]
ArtifactsOpt = Annotated[
    Path | None, typer.Option(help="Directory for models, reports and the registry.")
]
TrackingOpt = Annotated[
    str | None, typer.Option(help="MLflow tracking URI (default: SQLite in the artifacts).")
]
EngineOpt = Annotated[
    str | None,
    typer.Option(help="local (default: pandas in this process) or dask (a Dask cluster)."),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        help="Dask scheduler address, e.g. tcp://host:8786 (with --engine dask; "
        "default: a local cluster of 2 worker processes for this command)."
    ),
]
ModelOpt = Annotated[str | None, typer.Option(help="gbm (default), seed-ensemble or logreg.")]
StrategyOpt = Annotated[
    str | None, typer.Option(help="expanding (default), sliding or warm-start.")
]
ReasonOpt = Annotated[str, typer.Option(help="Why: recorded in the history and in MLflow.")]

# options whose setting lives in a section of the settings: option -> (section, key)
NESTED = {
    "gate": ("gate", "rule"),
    "retrain": ("ingest", "retrain"),
    "label_key": ("ingest", "label_key"),
}


def settings_from(
    received: Mapping[str, Any], *, own: Collection[str] = (), **computed: Any
) -> Settings:
    """Settings for one invocation: config file < environment < the flags given.

    ``received`` is the verb's ``locals()`` taken before it binds any name of its own, so it holds
    exactly the options the verb was called with. ``--config`` names the file; an option whose
    setting sits in a section goes there (``--gate`` is ``gate.rule``); an option that is no
    setting (``--out``, ``--host``), or one the verb uses itself under a setting's name (``own``),
    stays out. ``computed`` adds settings the verb worked out, such as the demo's data files.
    """
    # imported on use: pydantic-settings would slow `defectops --help` down
    from defectops.core.config import Settings, load_settings

    flags: dict[str, Any] = {}
    for name, value in {**received, **computed}.items():
        if name in own:
            continue
        if name in NESTED:
            section, key = NESTED[name]
            flags.setdefault(section, {})[key] = value
        elif name in Settings.model_fields:
            flags[name] = value
    return load_settings(received.get("config"), flags)


def check_fail_on(fail_on: str | None) -> None:
    """Refuse a bad ``--fail-on`` before any work is done: a typo must not cost a whole batch."""
    if fail_on not in (None, "warn", "drift"):
        raise UserError(f"--fail-on must be warn or drift (got {fail_on!r})")
