"""The verbs that train: ``run`` and ``demo`` on a stream, ``ingest`` and ``label`` per batch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from defectops.cli import output
from defectops.cli.options import (
    ArtifactsOpt,
    CategoricalOpt,
    ConfigOpt,
    DataOpt,
    DropOpt,
    EngineOpt,
    FailOnOpt,
    KeepIdsOpt,
    ModelOpt,
    NaOpt,
    OrderOpt,
    PositiveOpt,
    SchedulerOpt,
    StrategyOpt,
    StrictOpt,
    TargetOpt,
    TimestampFormatOpt,
    TrackingOpt,
    check_fail_on,
    settings_from,
)

if TYPE_CHECKING:
    from defectops.core.config import Settings
    from defectops.evaluation.records import ModelRecord

ChunkOpt = Annotated[int | None, typer.Option(min=1, help="Rows per chunk (default 1000).")]
HoldoutOpt = Annotated[
    str | None, typer.Option(help="tail (default: last rows in order) or stratified.")
]
HoldoutFracOpt = Annotated[
    float | None, typer.Option(help="Share of rows kept aside for evaluation (default 0.2).")
]
HoldoutDataOpt = Annotated[
    Path | None, typer.Option(help="Separate evaluation file instead of a split.")
]
GateOpt = Annotated[
    str | None,
    typer.Option(
        "--gate", help="newer-unless-worse (default), non-inferiority, superiority or classic."
    ),
]


def run(
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
    chunk_size: ChunkOpt = None,
    model: ModelOpt = None,
    strategy: StrategyOpt = None,
    window: Annotated[int | None, typer.Option(min=1, help="Chunks kept by sliding.")] = None,
    holdout: HoldoutOpt = None,
    holdout_fraction: HoldoutFracOpt = None,
    holdout_data: HoldoutDataOpt = None,
    gate: GateOpt = None,
    tune: Annotated[
        float | None,
        typer.Option(
            min=0,
            metavar="SECONDS",
            help="gbm: per fit, score other tree settings by cross-fitting for up to SECONDS "
            "(default 0: off).",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 42).")] = None,
    artifacts: ArtifactsOpt = None,
    tracking_uri: TrackingOpt = None,
    engine: EngineOpt = None,
    scheduler: SchedulerOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Train a model per chunk, score each on the same hold-out, promote real improvements."""
    run_and_show(settings_from(locals()))


def demo(
    artifacts: ArtifactsOpt = None,
    data_dir: Annotated[Path, typer.Option(help="Where the demo data is written.")] = Path(
        "data/demo"
    ),
    model: ModelOpt = None,
    strategy: StrategyOpt = None,
    tracking_uri: TrackingOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Simulate 23,490 rows of line data plus the 5,000 that follow, and run the pipeline."""
    received = dict(locals())  # the options alone, before the names below are bound
    # imported on use: pandas would slow `defectops --help` down
    from defectops.data.simulate import write_demo_data

    train_path, holdout_path = write_demo_data(data_dir)
    output.console.print(
        f"demo data: {train_path} (training stream), {holdout_path} (hold-out batch)"
    )
    run_and_show(settings_from(received, data=train_path, holdout_data=holdout_path))


def run_and_show(settings: Settings) -> None:
    """Run the pipeline with a progress bar per chunk, then print the table of models."""
    # imported on use: pandas and scikit-learn would slow `defectops --help` down
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from defectops.ops.run import run_pipeline

    console = output.console
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # a log or a pipe gets the table, not a blank line
    ) as progress:
        task = progress.add_task(f"training {settings.model} ({settings.strategy})", total=None)

        kept: list[int] = []

        def advance(model: ModelRecord, total: int) -> None:
            progress.update(task, total=total, advance=1)
            if model.get("resumed"):
                kept.append(model["chunk_id"])
            elif not console.is_terminal:  # a log has no progress bar: a line per chunk instead
                metrics = model["metrics"]
                console.print(
                    f"chunk {model['chunk_id']}/{total}: {model['rows_trained']:,} rows, "
                    f"PR-AUC {metrics['pr_auc']:.3f}, {model['status']}",
                    markup=False,
                )

        def show_data(data: Any) -> None:
            output.print_data_warnings(data.validation.report)
            console.print(f"hold-out: {data.holdout_source}", markup=False)

        result = run_pipeline(settings, on_chunk=advance, on_data=show_data)
    if kept:
        trained = len(result.models) - len(kept)
        console.print(
            f"chunks {kept[0]}-{kept[-1]} were trained by an earlier run of the same data and "
            f"settings in {settings.artifacts} and were kept; "
            + (f"{trained} trained now" if trained else "nothing was retrained"),
            markup=False,
        )
    output.print_models(result.models)
    output.print_champion(
        result.champion, settings.registered_model, settings.resolved_tracking_uri
    )
    for name, path in result.paths.items():
        console.print(f"{name.replace('_', ' ')}: {path}")


def ingest(
    data: Annotated[Path, typer.Option("--data", "-d", help="The new batch (CSV or Parquet).")],
    batch_id: Annotated[
        str | None, typer.Option("--batch-id", help="Name of the batch (default: file stem).")
    ] = None,
    artifacts: ArtifactsOpt = None,
    tracking_uri: TrackingOpt = None,
    retrain: Annotated[
        str | None, typer.Option(help="Retrain policy: every-batch, every-n or on-drift.")
    ] = None,
    fail_on: FailOnOpt = None,
    engine: EngineOpt = None,
    scheduler: SchedulerOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Validate and store one production batch, check it for drift, retrain when due."""
    check_fail_on(fail_on)
    settings = settings_from(locals(), own=("data",))
    # imported on use: pandas and scikit-learn would slow `defectops --help` down
    from defectops.engines.choose import open_engine
    from defectops.monitoring.batch import DRIFT_EXIT_CODE, reached
    from defectops.ops.ingest import ingest_batch

    with open_engine(settings) as chosen:
        result = ingest_batch(settings, data, batch_id=batch_id, engine=chosen)
    batch = result.batch
    if result.duplicate:
        output.console.print(
            f"batch {batch.batch_id!r} was already ingested (same rows): nothing to do"
        )
        return
    output.console.print(
        f"batch {batch.batch_id}: {batch.rows:,} rows stored ({batch.labelled_rows:,} labelled), "
        f"{batch.rows_quarantined:,} quarantined"
    )
    if result.drift is not None:
        output.print_drift(result.drift)
    output.print_training(result.training)
    if result.drift is not None and reached(result.drift["status"], fail_on):
        raise typer.Exit(DRIFT_EXIT_CODE)


def label(
    batch: Annotated[str, typer.Option("--batch", help="Id of a stored batch.")],
    labels: Annotated[
        Path, typer.Option("--labels", help="File with the label key and the target column.")
    ],
    artifacts: ArtifactsOpt = None,
    tracking_uri: TrackingOpt = None,
    label_key: Annotated[
        str | None, typer.Option("--label-key", help="Column joining labels to rows.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Attach labels that arrived late to a stored batch; retrain when the policy says."""
    settings = settings_from(locals())
    # imported on use: pandas and scikit-learn would slow `defectops --help` down
    from defectops.ops.labels import attach_labels

    result = attach_labels(settings, batch, labels)
    training = result.training
    output.console.print(
        f"batch {batch}: {training['labels_matched']:,} labels attached, "
        f"{training['labels_unmatched']:,} matched no row; "
        f"{result.batch.labelled_rows:,} of {result.batch.rows:,} rows labelled"
    )
    output.print_training(training)
