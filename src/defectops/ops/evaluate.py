"""The evaluate stage of a CI pipeline: may the model the latest run trained go to production?

A pipeline's train stage runs ``defectops run``; its evaluate stage runs ``defectops evaluate``,
which reads what that run left in the artifact directory and turns the gate's decision on the
*latest* challenger (the model of the last chunk, trained on the newest data) into an exit code
a CI system understands:

* ``0`` (PASS, promoted): the latest challenger passed acceptance and became the champion;
* ``0`` (PASS, kept): it passed acceptance but did not beat the champion, which stays; nothing is
  wrong with the data or the training, so the pipeline goes on (and deploys the same champion);
* ``3`` (FAIL): it failed acceptance (accuracy below ``gate.min_accuracy`` or MCC not above the
  majority baseline): a model that must not serve was trained on the newest data, so the pipeline
  stops and someone looks at the data;
* ``2``: no finished run to judge (no report, a run that did not finish, a stale report).

Exit code 3 is distinct from 1 (internal fault) and 2 (user mistake), so a pipeline can tell
"the model is not good enough" from "the tool or its input is broken".

The decision is read from the run's training report (``reports/incremental_training_report.json``)
and checked against the chunk model's own ``metadata.json`` (same file checksum), so a report
left behind by an older run is refused rather than trusted; the champion is read from
``production/metadata.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from defectops.core.errors import UserError
from defectops.core.layout import METADATA, Layout
from defectops.reporting.reports import TRAINING_REPORT

#: exit code of ``defectops evaluate`` when the latest challenger fails acceptance
ACCEPTANCE_FAILED = 3

Verdict = Literal["promoted", "kept", "rejected"]


@dataclass(frozen=True)
class GateOutcome:
    """What the evaluate stage decided, and the one line it prints."""

    verdict: Verdict
    exit_code: int
    chunk_id: int
    version: str | None
    reason: str
    champion_version: str | None
    champion_chunk: int | None

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    def line(self) -> str:
        """One line for a CI log: PASS/FAIL, what happened to which model, and why."""
        model = _describe(self.version, self.chunk_id)
        champion = (
            _describe(self.champion_version, self.champion_chunk)
            if self.champion_version is not None or self.champion_chunk is not None
            else None
        )
        if self.verdict == "promoted":
            return f"PASS: promoted: {model} is the champion; {self.reason}"
        if self.verdict == "kept":
            return (
                f"PASS: not promoted: {model} passed acceptance but did not beat the champion, "
                f"{champion}, which stays; {self.reason}"
            )
        kept = f"the champion stays {champion}" if champion else "there is no champion"
        return f"FAIL: {model} {self.reason}; {kept} (exit {ACCEPTANCE_FAILED})"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed, "line": self.line()}


#: what tells one run's record of a model from another's: the file, the config, the moment
RECORD_IDENTITY = ("model_sha256", "config_hash", "trained_at")


def evaluate_latest(artifacts: Path, reports: Path | None = None) -> GateOutcome:
    """Judge the latest challenger of the last finished run in ``artifacts``.

    ``reports`` is where the run wrote its reports (default ``artifacts/reports``). Raises
    :class:`UserError` (exit 2) when there is no finished run to judge.
    """
    artifacts = Path(artifacts)
    layout = Layout(artifacts, reports)
    _require_finished_run(layout)
    report_path = layout.reports_dir / TRAINING_REPORT
    report = _read(report_path, f"run `defectops run --artifacts {artifacts}` first")
    models = report.get("models") if isinstance(report, dict) else None
    if not isinstance(models, list) or not models:
        raise UserError(f"{report_path}: lists no models; run `defectops run` again")
    latest = max(models, key=lambda m: int(m["chunk_id"]))
    chunk_id = int(latest["chunk_id"])
    metadata = _chunk_metadata(layout, chunk_id, report_path)
    # the same bytes may come from another run (same rows, another gate): its record differs
    if any(metadata.get(key) != latest.get(key) for key in RECORD_IDENTITY):
        raise UserError(
            f"{report_path} does not match the model of chunk {chunk_id} in "
            f"{layout.models_dir} (another run wrote one of them); run `defectops run` again"
        )
    decision = metadata.get("decision") or {}
    promoted = bool(decision.get("promote", metadata.get("status") == "production"))
    accepted = bool(decision.get("accepted", promoted))
    verdict: Verdict = "promoted" if promoted else ("kept" if accepted else "rejected")
    champion = _read_optional(layout.production_dir / METADATA)
    return GateOutcome(
        verdict=verdict,
        exit_code=0 if accepted else ACCEPTANCE_FAILED,
        chunk_id=chunk_id,
        version=_text(metadata.get("version")),
        reason=str(metadata.get("reason") or decision.get("reason") or "no reason recorded"),
        champion_version=_text(champion.get("version")) if champion else None,
        champion_chunk=int(champion["chunk_id"]) if champion else None,
    )


def _require_finished_run(layout: Layout) -> None:
    """A run that died mid-way leaves the previous run's report; judging it would mislead."""
    state = _read_optional(layout.run_state)
    if state is not None and not state.get("finished", False):
        raise UserError(
            f"the last run in {layout.root} did not finish ({layout.run_state}); "
            "start the same `defectops run` again to resume it"
        )


def _chunk_metadata(layout: Layout, chunk_id: int, report_path: Path) -> dict[str, Any]:
    for path in sorted(layout.models_dir.glob(f"model_*/{METADATA}")):
        metadata = _read(path, "run `defectops run` again")
        if int(metadata.get("chunk_id", -1)) == chunk_id:
            return metadata
    raise UserError(
        f"{report_path} names chunk {chunk_id}, but {layout.models_dir} has no model of it; "
        "run `defectops run` again"
    )


def _read(path: Path, fix: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"no {path.name} in {path.parent}; {fix}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: cannot be read ({exc}); {fix}") from None


def _read_optional(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    value = _read(path, "run `defectops run` again")
    return value if isinstance(value, dict) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _describe(version: str | None, chunk: int | None) -> str:
    if version is None:
        return f"the model of chunk {chunk}"
    return f"version {version} (chunk {chunk})" if chunk is not None else f"version {version}"
