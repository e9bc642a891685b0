"""The verbs users type: ``defectops simulate | validate | demo | ...``.

Each verb is a typed function. A user mistake ends with one line on stderr and exit code 2, an
internal fault with exit code 1 (``DEFECTOPS_DEBUG=1`` shows the traceback), so schedulers and CI
can tell "fix your input" from "file a bug".
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from defectops.core.config import Settings, load_settings
from defectops.core.errors import UserError

app = typer.Typer(
    name="defectops",
    help="Keep a manufacturing defect classifier trained, honestly evaluated, promoted and served.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# a pipe or a CI log has no width; 100 columns keep the tables on one line each
console = Console(highlight=False, width=None if sys.stdout.isatty() else 100)


def _show_version(value: bool) -> None:
    if value:
        from defectops import __version__

        typer.echo(f"defectops {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Keep a manufacturing defect classifier trained, honestly evaluated, promoted and served."""


F = TypeVar("F", bound=Callable[..., Any])


def command(name: str | None = None) -> Callable[[F], F]:
    """Register a verb whose errors end with the documented exit codes, never a traceback."""

    def register(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except UserError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(exc.exit_code) from None
            except (typer.Exit, typer.Abort):
                raise
            except KeyboardInterrupt:
                typer.echo("interrupted", err=True)
                raise typer.Exit(130) from None
            except Exception as exc:
                if os.environ.get("DEFECTOPS_DEBUG"):
                    traceback.print_exc()
                typer.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
                raise typer.Exit(1) from None

        app.command(name)(wrapper)
        return fn

    return register


# -- shared options -------------------------------------------------------------------------------

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


def settings_from(config: Path | None, **flags: Any) -> Settings:
    """Settings for one invocation: config file < environment < the flags given."""
    return load_settings(config, flags)


# -- verbs ----------------------------------------------------------------------------------------


@command()
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
    from defectops.data.simulate import SimulationSpec, write_simulation

    spec = _spec(SimulationSpec, rows, defect_rate, seed, drift_at, missing_rate)
    data_path, truth_path = write_simulation(spec, out)
    console.print(f"wrote {rows:,} rows to {data_path} (true probabilities: {truth_path})")


@command()
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
    from defectops.data.io import read_raw
    from defectops.data.validation import require_valid_rows, write_outputs
    from defectops.data.validation import validate as run_validation
    from defectops.engines.select import engine_client

    settings = settings_from(
        config,
        data=data,
        target=target,
        positive_label=positive_label,
        categorical=categorical,
        drop=drop,
        order_by=order_by,
        na_values=na_values,
        timestamp_format=timestamp_format,
        keep_identifiers=keep_identifiers,
        strict=strict,
        artifacts=artifacts,
        engine=engine,
        scheduler=scheduler,
    )
    path = _require_data(settings)
    with engine_client(settings) as client:
        if client is None:
            result: Any = run_validation(read_raw(path), settings, source=str(path))
        else:
            from defectops.engines.dask.frame import Staging, validate_distributed

            with Staging.of(settings) as staging:  # the rows are not needed after the report
                result = validate_distributed(
                    path, settings, client, source=str(path), staging=staging
                )
        report = result.report
        require_valid_rows(str(path), report["rows_read"], report["rows_kept"],
                           report["quarantined_by_reason"])  # fmt: skip
        written = write_outputs(result, settings)
    print_validation(result.report)
    console.print(f"report: {written['report']}")
    if "quarantine" in written:
        console.print(f"quarantine: {written['quarantine']}")


ChunkOpt = Annotated[int | None, typer.Option(min=1, help="Rows per chunk (default 1000).")]
ModelOpt = Annotated[str | None, typer.Option(help="gbm (default), seed-ensemble or logreg.")]
StrategyOpt = Annotated[
    str | None, typer.Option(help="expanding (default), sliding or warm-start.")
]
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


@command()
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
    settings = settings_from(
        config,
        data=data,
        target=target,
        positive_label=positive_label,
        categorical=categorical,
        drop=drop,
        order_by=order_by,
        na_values=na_values,
        timestamp_format=timestamp_format,
        keep_identifiers=keep_identifiers,
        strict=strict,
        chunk_size=chunk_size,
        model=model,
        strategy=strategy,
        window=window,
        holdout=holdout,
        holdout_fraction=holdout_fraction,
        holdout_data=holdout_data,
        gate={"rule": gate},
        tune=tune,
        seed=seed,
        artifacts=artifacts,
        tracking_uri=tracking_uri,
        engine=engine,
        scheduler=scheduler,
    )
    run_and_show(settings)


def run_and_show(settings: Settings) -> None:
    """Run the pipeline with a progress bar per chunk, then print the table of models."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from defectops.training.run import run_pipeline

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

        def advance(model: dict[str, Any], total: int) -> None:
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
            print_data_warnings(data.validation.report)
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
    print_models(result.models)
    champion = result.champion
    if champion is None:
        console.print("[red]no model passed acceptance; nothing promoted[/]")
    else:
        m = champion["metrics"]
        console.print(
            f"champion: chunk {champion['chunk_id']}  PR-AUC {m['pr_auc']:.3f}  "
            f"ROC-AUC {m['roc_auc']:.3f}  F1 {m['f1']:.3f}  MCC {m['mcc']:.3f}  "
            f"(hold-out defect rate {m['defect_rate']:.1%})"
        )
        console.print(
            f"registered model {settings.registered_model} version {champion.get('version')} "
            f"has the alias champion (MLflow: {settings.resolved_tracking_uri})"
        )
    for name, path in result.paths.items():
        console.print(f"{name.replace('_', ' ')}: {path}")


def print_models(models: list[dict[str, Any]]) -> None:
    """One row per chunk model; the full one-line reasons are in the training report."""
    table = Table(title="models (hold-out metrics)", title_justify="left")
    for column in ("chunk", "rows", "PR-AUC", "F1", "MCC", "vs champion", "status"):
        # `production` stays whole in 80 columns (the interval is written without a space)
        table.add_column(
            column,
            justify="left" if column == "status" else "right",
            no_wrap=True,
            min_width=len("production") if column == "status" else None,
        )
    for m in models:
        metrics = m["metrics"]
        comparison = m["decision"].get("comparison")
        versus = (
            f"{comparison['delta']:+.3f} [{comparison['low']:+.3f},{comparison['high']:+.3f}]"
            if comparison
            else ("first" if m["status"] == "production" else "-")
        )
        colour = "green" if m["status"] == "production" else "dim"
        table.add_row(
            str(m["chunk_id"]),
            f"{m['rows_trained']:,}",
            f"{metrics['pr_auc']:.3f}",
            f"{metrics['f1']:.3f}",
            f"{metrics['mcc']:.3f}",
            versus,
            f"[{colour}]{m['status']}[/]",
        )
    console.print(table)


@command()
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
    from defectops.engines.select import engine_client
    from defectops.ops.predict import PREDICTION, PROBABILITY, predict_file

    settings = settings_from(config, engine=engine, scheduler=scheduler)
    if settings.engine == "dask":
        from defectops.engines.dask.frame import check_prediction_dir

        check_prediction_dir(out)  # before a cluster is started
    with engine_client(settings) as client:
        if client is None:
            result = predict_file(artifacts, data, out)
            flagged = int(result[PREDICTION].sum())
            scored = int(result[PROBABILITY].notna().sum())
            console.print(f"scored {scored:,} rows, {flagged:,} flagged as defects: {out}")
            _print_unscored(len(result), scored, out)
            return
        from defectops.engines.dask.frame import predict_distributed

        summary = predict_distributed(artifacts, data, out, client)
        console.print(
            f"scored {summary.scored:,} rows, {summary.flagged:,} flagged as defects: "
            f"{out} ({summary.files} Parquet files)"
        )
        _print_unscored(summary.rows, summary.scored, out)


def _print_unscored(rows: int, scored: int, out: Path) -> None:
    from defectops.ops.predict import quarantine_path

    if scored < rows:
        console.print(
            f"[yellow]{rows - scored:,} of {rows:,} rows not scored[/]: the data contract "
            f"refused them; they are in {quarantine_path(out)} with their reason"
        )


@command()
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
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Exit 3 when the batch reaches this drift level."),
    ] = None,
    engine: EngineOpt = None,
    scheduler: SchedulerOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Validate and store one production batch, check it for drift, retrain when due."""
    from defectops.engines.select import engine_client
    from defectops.monitoring.batch import DRIFT_EXIT_CODE, reached
    from defectops.ops.ingest import ingest_batch

    _check_fail_on(fail_on)
    settings = settings_from(
        config,
        artifacts=artifacts,
        tracking_uri=tracking_uri,
        ingest={"retrain": retrain},
        engine=engine,
        scheduler=scheduler,
    )
    with engine_client(settings) as client:
        result = ingest_batch(settings, data, batch_id=batch_id, client=client)
    batch = result.batch
    if result.duplicate:
        console.print(f"batch {batch.batch_id!r} was already ingested (same rows): nothing to do")
        return
    console.print(
        f"batch {batch.batch_id}: {batch.rows:,} rows stored ({batch.labelled_rows:,} labelled), "
        f"{batch.rows_quarantined:,} quarantined"
    )
    if result.drift is not None:
        print_drift(result.drift)
    print_training(result.training)
    if result.drift is not None and reached(result.drift["status"], fail_on):
        raise typer.Exit(DRIFT_EXIT_CODE)


@command()
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
    from defectops.ops.ingest import attach_labels

    settings = settings_from(
        config, artifacts=artifacts, tracking_uri=tracking_uri, ingest={"label_key": label_key}
    )
    result = attach_labels(settings, batch, labels)
    training = result.training
    console.print(
        f"batch {batch}: {training['labels_matched']:,} labels attached, "
        f"{training['labels_unmatched']:,} matched no row; "
        f"{result.batch.labelled_rows:,} of {result.batch.rows:,} rows labelled"
    )
    print_training(training)


def print_training(training: dict[str, Any]) -> None:
    if not training.get("trained"):
        console.print(f"no retrain: {training.get('reason')}")
        return
    metrics = training["metrics"]
    console.print(
        f"retrained ({training['reason']}): version {training['version']} on "
        f"{training['rows_trained']:,} rows, PR-AUC {metrics['pr_auc']:.3f} on the "
        f"{training['holdout_rows']:,} newest labelled rows: {training['status']} "
        f"({_escape(training['decision'])})"
    )


def _check_fail_on(fail_on: str | None) -> None:
    if fail_on not in (None, "warn", "drift"):
        raise UserError(f"--fail-on must be warn or drift (got {fail_on!r})")


@command()
def monitor(
    data: Annotated[Path, typer.Option("--data", "-d", help="Batch to check (CSV or Parquet).")],
    artifacts: ArtifactsOpt = None,
    name: Annotated[
        str | None, typer.Option(help="Batch name for the report (default: file stem).")
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Exit 3 when the batch reaches this level: warn or drift."),
    ] = None,
    engine: EngineOpt = None,
    scheduler: SchedulerOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Compare a batch with the champion's training profile: PSI, KS, unseen values, scores."""
    from defectops.engines.select import engine_client
    from defectops.monitoring.batch import DRIFT_EXIT_CODE, reached
    from defectops.training.run import monitor_batch

    _check_fail_on(fail_on)
    settings = settings_from(config, artifacts=artifacts, engine=engine, scheduler=scheduler)
    with engine_client(settings) as client:
        report, paths = monitor_batch(settings, data, name=name, client=client)
    print_drift(report)
    console.print(f"report: {paths['report']}\nplot:   {paths['plot']}")
    if reached(report["status"], fail_on):
        raise typer.Exit(DRIFT_EXIT_CODE)


def _not_judged(feature: dict[str, Any]) -> bool:
    return bool(feature.get("rotating_identifier") or feature.get("constant_in_training"))


def _allowance_cell(feature: dict[str, Any]) -> str:
    if feature.get("rotating_identifier"):
        return "rotating id"
    if feature.get("constant_in_training"):
        return "constant in training"
    return f"{feature['allowance']:.3f}"


def print_drift(report: dict[str, Any]) -> None:
    colour = {"ok": "green", "warn": "yellow", "drift": "red"}
    console.print(
        f"batch {report['batch']}: [{colour[report['status']]}]{report['status'].upper()}[/] "
        f"against champion {report['champion_version']} ({report['rows']:,} rows, "
        f"{report['flagged_rate']:.1%} flagged)"
    )
    # the margin is how much more PSI the column may show before it is DRIFT (negative: it is)
    table = Table("feature", "kind", "PSI", "allowance", "margin", "KS", "unseen", "status")
    for f in report["features"][:10]:
        table.add_row(
            _escape(f["feature"]),
            f["kind"],
            "-" if f["psi"] is None else f"{f['psi']:.3f}",
            _allowance_cell(f),
            "-" if f.get("margin") is None or _not_judged(f) else f"{f['margin']:+.3f}",
            "-" if f.get("ks") is None else f"{f['ks']:.3f}",
            "-" if f["kind"] == "numeric" else f"{f['unseen_rate']:.1%}",
            f"[{colour[f['status']]}]{f['status']}[/]",
        )
    console.print(table)
    score = report["scores"]
    console.print(
        f"scores: PSI {score['psi']:.3f}, allowance {score['allowance']:.3f} ({score['status']})"
    )
    perf = report.get("performance")
    if perf and perf.get("interval"):
        iv, name = perf["interval"], perf["primary_metric"]
        holdout = perf["holdout"].get(name)
        console.print(
            f"{name} on {perf['labelled_rows']:,} labelled rows: {iv['value']:.3f} "
            f"[{iv['low']:.3f}, {iv['high']:.3f}] vs hold-out "
            + ("-" if holdout is None else f"{holdout:.3f}")
        )


@command()
def serve(
    artifacts: ArtifactsOpt = None,
    tracking_uri: TrackingOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
    poll_interval: Annotated[
        float, typer.Option(min=0.0, help="Seconds between checks for a new champion (0: off).")
    ] = 2.0,
    monitor_interval: Annotated[
        float,
        typer.Option(min=0.0, help="Seconds between drift summaries of the recent rows (0: off)."),
    ] = 5.0,
    request_log: Annotated[
        Path | None,
        typer.Option(help="Directory for a Parquet log of every scored row (default: no log)."),
    ] = None,
    wait_for_model: Annotated[
        bool,
        typer.Option(
            help="Start even when the artifacts directory does not exist yet, and serve its "
            "first champion when one appears (/ready is 503 until then)."
        ),
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Serve the champion over HTTP: /predict, /predict/batch, /monitoring, /metrics, /docs.

    Limits (environment): DEFECTOPS_SERVE_HEADER_TIMEOUT (s, default 10),
    DEFECTOPS_SERVE_KEEP_ALIVE (s, 5), DEFECTOPS_SERVE_BODY_TIMEOUT (s, 30),
    DEFECTOPS_SERVE_MAX_BODY_BYTES, DEFECTOPS_SERVE_MAX_BATCH,
    DEFECTOPS_SERVE_MAX_CATEGORY_LENGTH (characters, 256).
    """
    import uvicorn

    from defectops.serving.app import ServeSettings
    from defectops.serving.server import uvicorn_options

    settings = settings_from(config, artifacts=artifacts, tracking_uri=tracking_uri)
    limits = ServeSettings()
    if settings.tracking_uri:  # a tracking server: its champion is what to serve
        from defectops.serving.startup import fetch_champion

        typer.echo(fetch_champion(settings))
    elif not settings.artifacts.is_dir() and not wait_for_model:
        raise UserError(
            f"--artifacts {settings.artifacts}: no such directory; check the path, or pass "
            "--wait-for-model to start and serve the first champion written there"
        )
    for name, value in (("ARTIFACTS", artifacts), ("TRACKING_URI", tracking_uri)):
        if value is not None:
            os.environ[f"DEFECTOPS_{name}"] = str(value)
    os.environ["DEFECTOPS_SERVE_POLL_INTERVAL"] = str(poll_interval)
    os.environ["DEFECTOPS_SERVE_MONITOR_INTERVAL"] = str(monitor_interval)
    if request_log is not None:
        os.environ["DEFECTOPS_SERVE_REQUEST_LOG"] = str(request_log.resolve())
    if config is not None:
        os.environ["DEFECTOPS_SERVE_CONFIG"] = str(config)
    uvicorn.run(
        "defectops.serving.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        **uvicorn_options(header_timeout=limits.header_timeout, keep_alive=limits.keep_alive),
    )


@command()
def evaluate(artifacts: ArtifactsOpt = None, config: ConfigOpt = None) -> None:
    """CI gate on the last run's newest model: exit 0 promoted or champion kept, 3 rejected."""
    from defectops.ops.evaluate import evaluate_latest

    settings = settings_from(config, artifacts=artifacts)
    outcome = evaluate_latest(settings.artifacts, settings.reports_dir)
    typer.echo(outcome.line())
    raise typer.Exit(outcome.exit_code)


@command()
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
    from defectops.data.simulate import write_demo_data

    train_path, holdout_path = write_demo_data(data_dir)
    console.print(f"demo data: {train_path} (training stream), {holdout_path} (hold-out batch)")
    settings = settings_from(
        config,
        data=train_path,
        holdout_data=holdout_path,
        artifacts=artifacts,
        model=model,
        strategy=strategy,
        tracking_uri=tracking_uri,
    )
    run_and_show(settings)


ReasonOpt = Annotated[str, typer.Option(help="Why: recorded in the history and in MLflow.")]


def registry_from(artifacts: Path | None, tracking_uri: str | None, config: Path | None) -> Any:
    from defectops.registry.local import ModelRegistry

    settings = settings_from(config, artifacts=artifacts, tracking_uri=tracking_uri)
    return ModelRegistry(settings)


@command()
def models(
    artifacts: ArtifactsOpt = None, tracking_uri: TrackingOpt = None, config: ConfigOpt = None
) -> None:
    """List every registered model version: chunk, gate status, PR-AUC, F1, created, aliases."""
    from datetime import UTC, datetime

    registry = registry_from(artifacts, tracking_uri, config)
    versions = registry.tracker.versions()
    if not versions:
        console.print("no registered models yet; run `defectops run` first")
        return
    table = Table(title=f"registered model {registry.tracker.model_name}", title_justify="left")
    # 80 columns hold every cell whole: a short header for the version, minutes for the time
    for column in ("ver", "chunk", "status", "PR-AUC", "F1", "created (UTC)", "aliases"):
        table.add_column(column, no_wrap=True)
    for v in versions:
        created = datetime.fromtimestamp(v.created / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            v.version,
            str(v.chunk_id or "-"),
            v.status or "-",
            _fixed(v.tags.get("pr_auc")),
            _fixed(v.tags.get("f1")),
            created,
            ", ".join(sorted(v.aliases)),
        )
    console.print(table)


@command()
def promote(
    version: Annotated[str, typer.Argument(help="Registered model version to make champion.")],
    reason: ReasonOpt,
    artifacts: ArtifactsOpt = None,
    tracking_uri: TrackingOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Make a version champion by hand (verified, recorded in the history)."""
    meta = registry_from(artifacts, tracking_uri, config).promote(version, reason)
    console.print(f"champion is now version {meta['version']} (chunk {meta['chunk_id']})")


@command()
def rollback(
    reason: ReasonOpt,
    artifacts: ArtifactsOpt = None,
    tracking_uri: TrackingOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Go back to the previous champion."""
    meta = registry_from(artifacts, tracking_uri, config).rollback(reason)
    console.print(
        f"rolled back: champion is now version {meta['version']} (chunk {meta['chunk_id']})"
    )


@command()
def history(artifacts: ArtifactsOpt = None, config: ConfigOpt = None) -> None:
    """Every alias change: when, from, to, by whom, why."""
    from defectops.registry.history import read_history

    settings = settings_from(config, artifacts=artifacts)
    entries = read_history(settings.artifacts)
    if not entries:
        console.print("no alias changes recorded yet")
        return
    table = Table(title="alias history", title_justify="left")
    for column in ("#", "when (UTC)", "alias", "from", "to", "action", "by", "why"):
        table.add_column(column, overflow="fold", no_wrap=column != "why")
    for e in entries:
        table.add_row(
            str(e["seq"]),
            e["at"][:16].replace("T", " "),
            e["alias"],
            _version(e.get("from_version"), e.get("from_chunk")),
            _version(e.get("to_version"), e.get("to_chunk")),
            e.get("action", ""),
            e.get("by", ""),
            _escape(e.get("reason", "")),
        )
    console.print(table)


@command()
def report(
    artifacts: ArtifactsOpt = None,
    readme: Annotated[
        Path | None, typer.Option(help="README whose marked results section is updated.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Write reports/MODEL_CARD.md and update the README's results section."""
    from defectops.registry.local import read_json
    from defectops.reporting.model_card import write_model_card
    from defectops.reporting.readme_results import update_readme
    from defectops.reporting.reports import LEARNING_CURVE, TRAINING_REPORT

    settings = settings_from(config, artifacts=artifacts)
    card = write_model_card(settings.reports_dir)
    console.print(f"model card: {card}")
    if readme is not None:
        run_report = read_json(settings.reports_dir / TRAINING_REPORT)
        changed = update_readme(readme, run_report, settings.reports_dir / LEARNING_CURVE)
        console.print(f"{readme}: {'updated' if changed else 'already up to date'}")


def _fixed(value: str | None) -> str:
    return f"{float(value):.3f}" if value else "-"


def _version(version: str | None, chunk: int | None) -> str:
    if not version:
        return "-"
    return f"v{version}" + (f" (#{chunk})" if chunk else "")


def print_data_warnings(report: dict[str, Any]) -> None:
    """The data contract's notes and its warnings that change what a model learns from."""
    for note in report["schema"].get("notes", []):
        console.print(f"note: {note}", markup=False, style="dim")
    for check in report["checks"]:
        if check["name"] in ("identifiers", "leakage") and check["status"] != "pass":
            console.print(f"warning: {check['name']}: {check['detail']}", markup=False)


def print_validation(report: dict[str, Any]) -> None:
    """The validation report as a short table a person reads at a glance."""
    for note in report["schema"].get("notes", []):
        console.print(f"[dim]note:[/] {note}", markup=True)
    table = Table(title=f"validation: {report['status']}", title_justify="left")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    colours = {"pass": "green", "warn": "yellow", "fail": "red"}
    for check in report["checks"]:
        status = check["status"]
        table.add_row(check["name"], f"[{colours[status]}]{status}[/]", _escape(check["detail"]))
    console.print(table)
    how = report.get("read_as") or {}
    if how.get("format") == "csv" and (
        how.get("delimiter") != ","
        or how.get("decimal") != "."
        or how.get("compression")
        or how.get("encoding") != "utf-8"
    ):
        console.print(
            f"read as: delimiter {how['delimiter']!r}, decimal {how['decimal']!r}, "
            f"{how['encoding']}" + (f", {how['compression']}" if how.get("compression") else ""),
            markup=False,
        )
    markers = report.get("missing_markers") or {}
    if markers:
        shown = [
            f"{col}: " + ", ".join(f"{m or '(empty)'!s} x{n:,}" for m, n in counts.items())
            for col, counts in list(markers.items())[:6]
        ]
        more = f"; ... ({len(markers) - 6} more columns)" if len(markers) > 6 else ""
        console.print("missing markers: " + "; ".join(shown) + more, markup=False)
    console.print(
        f"rows read {report['rows_read']:,}, kept {report['rows_kept']:,}, "
        f"quarantined {report['rows_quarantined']:,}"
    )


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _require_data(settings: Settings) -> Path:
    if settings.data is None:
        raise UserError("no data file given; pass --data FILE (or set data: in the config)")
    return settings.data


def _spec(cls: Any, rows: int, defect_rate: float, seed: int, drift: int | None, missing: float):
    try:
        return cls(
            rows=rows, defect_rate=defect_rate, seed=seed, drift_at=drift, missing_rate=missing
        )
    except ValueError as exc:
        raise UserError(f"simulate: {exc}") from None


def main() -> None:
    """Console-script entry point."""
    app(prog_name="defectops")


if __name__ == "__main__":
    main()
