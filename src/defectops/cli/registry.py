"""The verbs on the model registry: ``models``, ``promote``, ``rollback`` and ``history``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from defectops.cli import output
from defectops.cli.options import (
    ArtifactsOpt,
    ConfigOpt,
    ReasonOpt,
    TrackingOpt,
    settings_from,
)
from defectops.registry.history import read_history, roles
from defectops.registry.versions import embedded_versions


def registry_from(received: Mapping[str, Any]) -> Any:
    """The registry the options name, opened only when a verb needs it."""
    # imported on use: pandas and scikit-learn would slow `defectops --help` down
    from defectops.registry.local import ModelRegistry

    return ModelRegistry(settings_from(received))


def models(
    artifacts: ArtifactsOpt = None, tracking_uri: TrackingOpt = None, config: ConfigOpt = None
) -> None:
    """List every registered model version: chunk, gate verdict, PR-AUC, F1, created, aliases,
    and what became of the versions that were champion."""
    settings = settings_from(locals())
    if not settings.tracking_uri:  # the embedded store: read without importing MLflow
        versions = embedded_versions(settings.layout.mlflow_db, settings.registered_model)
    else:
        versions = registry_from(locals()).tracker.versions()
    if not versions:
        output.console.print("no registered models yet; run `defectops run` first")
        return
    champion = next((v.version for v in versions if "champion" in v.aliases), None)
    role_of = roles(read_history(settings.artifacts), champion)
    output.print_versions(settings.registered_model, versions, role_of)


def promote(
    version: Annotated[str, typer.Argument(help="Registered model version to make champion.")],
    reason: ReasonOpt,
    artifacts: ArtifactsOpt = None,
    tracking_uri: TrackingOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Make a version champion by hand (verified, recorded in the history)."""
    meta = registry_from(locals()).promote(version, reason)
    output.console.print(f"champion is now version {meta['version']} (chunk {meta['chunk_id']})")


def rollback(
    reason: ReasonOpt,
    artifacts: ArtifactsOpt = None,
    tracking_uri: TrackingOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Go back to the previous champion."""
    meta = registry_from(locals()).rollback(reason)
    output.console.print(
        f"rolled back: champion is now version {meta['version']} (chunk {meta['chunk_id']})"
    )


def history(artifacts: ArtifactsOpt = None, config: ConfigOpt = None) -> None:
    """Every alias change: when, from, to, by whom, why."""
    settings = settings_from(locals())
    entries = read_history(settings.artifacts)
    if not entries:
        output.console.print("no alias changes recorded yet")
        return
    output.print_history(entries)
