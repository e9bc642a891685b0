"""The verbs that read what the last run wrote: ``evaluate`` for CI, ``report`` for people."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from defectops.cli import output
from defectops.cli.options import ArtifactsOpt, ConfigOpt, settings_from


def evaluate(artifacts: ArtifactsOpt = None, config: ConfigOpt = None) -> None:
    """CI gate on the last run's newest model: exit 0 promoted or champion kept, 3 rejected."""
    settings = settings_from(locals())
    # imported on use: pandas and scikit-learn would slow `defectops --help` down
    from defectops.ops.evaluate import evaluate_latest

    outcome = evaluate_latest(settings.artifacts, settings.reports_dir)
    typer.echo(outcome.line())
    raise typer.Exit(outcome.exit_code)


def report(
    artifacts: ArtifactsOpt = None,
    readme: Annotated[
        Path | None, typer.Option(help="README whose marked results section is updated.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Write reports/MODEL_CARD.md and update the README's results section."""
    settings = settings_from(locals())
    # imported on use: pandas and scikit-learn would slow `defectops --help` down
    from defectops.registry.local import read_json
    from defectops.reporting.model_card import write_model_card
    from defectops.reporting.readme_results import update_readme
    from defectops.reporting.reports import LEARNING_CURVE, TRAINING_REPORT

    card = write_model_card(settings.reports_dir)
    output.console.print(f"model card: {card}")
    if readme is not None:
        run_report = read_json(settings.reports_dir / TRAINING_REPORT)
        changed = update_readme(readme, run_report, settings.reports_dir / LEARNING_CURVE)
        output.console.print(f"{readme}: {'updated' if changed else 'already up to date'}")
