"""The promotion policy: when does a challenger replace the champion, and why.

Two questions, in order:

1. Acceptance: is the challenger good enough to serve at all? (default: accuracy >= 0.70, the
   classic design's bar, and MCC above the majority-class baseline's 0, so a model that only
   predicts "no defect" on an imbalanced line can never pass).
2. Comparison with the champion on the *same hold-out rows*, by one of four rules:

   * ``newer-unless-worse`` (default): promote a *newer* challenger unless it is credibly worse:
     the whole paired bootstrap interval of (challenger - champion) lies below 0. A newer model
     has learned from more, and more recent, rows; on a hold-out with few defects the interval
     is wide (AI4I's 1,600 rows: about +-0.1 PR-AUC), so a rule that asks the newer model to
     *prove* it is not worse keeps an early champion for good. Chosen by
     ``bench/gate_rules.py`` (mean regret over the demo line, AI4I and SECOM; see
     ``docs/benchmarks.md``), where it has the lowest regret of the rules.
   * ``non-inferiority``: promote a newer challenger when the interval's lower bound is above
     ``-margin``: the newer model must show it is at most ``margin`` worse, which a small
     hold-out cannot show.
   * ``superiority``: promote only a significant gain: delta >= ``min_delta`` and the interval's
     lower bound above 0.
   * ``classic``: the classic design's rule, accuracy >= the champion's accuracy.

The first challenger that passes acceptance becomes the first champion. Every decision returns a
one-line reason that ends up in the model's metadata, the registry and the reports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import cast

import numpy as np

from defectops.core.config import GateSettings
from defectops.evaluation.metrics import LABELS, Comparison, paired_bootstrap
from defectops.evaluation.records import DecisionRecord

PRODUCTION = "production"
LOCAL_ONLY = "local_only"


@dataclass(frozen=True)
class Candidate:
    """What the gate needs to know of one model: its hold-out scores, metrics and age."""

    chunk_id: int
    scores: np.ndarray = field(repr=False)
    threshold: float
    metrics: dict


@dataclass(frozen=True)
class Decision:
    promote: bool
    status: str
    reason: str
    accepted: bool
    comparison: dict | None = None

    def to_dict(self) -> DecisionRecord:
        return cast(DecisionRecord, asdict(self))


def acceptance(metrics: dict, gate: GateSettings) -> tuple[bool, str]:
    """Does the model meet the bar to serve at all? Returns (ok, why)."""
    problems, passed = [], []
    accuracy = metrics["accuracy"]
    if accuracy >= gate.min_accuracy:
        passed.append(f"accuracy {accuracy:.3f} >= {gate.min_accuracy:.2f}")
    else:
        problems.append(f"accuracy {accuracy:.3f} < {gate.min_accuracy:.2f}")
    if gate.beat_baseline_mcc:
        mcc = metrics["mcc"]
        if mcc > 0:
            passed.append(f"MCC {mcc:.3f} > baseline 0")
        else:
            problems.append(f"MCC {mcc:.3f} not above the majority baseline (0)")
    if problems:
        return False, "fails acceptance: " + "; ".join(problems)
    return True, ", ".join(passed)


def decide(
    challenger: Candidate,
    champion: Candidate | None,
    y_holdout: np.ndarray,
    gate: GateSettings,
    *,
    seed: int = 0,
) -> Decision:
    """Apply acceptance, then the configured comparison rule; explain the outcome in one line."""
    accepted, why = acceptance(challenger.metrics, gate)
    if not accepted:
        return Decision(False, LOCAL_ONLY, why, accepted=False)
    if champion is None:
        return Decision(True, PRODUCTION, f"first champion: {why}", accepted=True)

    if gate.rule == "classic":
        new, old = challenger.metrics["accuracy"], champion.metrics["accuracy"]
        better = new >= old
        verdict = ">=" if better else "<"
        reason = f"accuracy {new:.3f} {verdict} champion's {old:.3f} (classic rule)"
        return Decision(better, PRODUCTION if better else LOCAL_ONLY, reason, accepted=True)

    comparison = paired_bootstrap(
        y_holdout,
        challenger.scores,
        champion.scores,
        gate.primary_metric,
        thresholds=(challenger.threshold, champion.threshold),
        n_bootstrap=gate.n_bootstrap,
        confidence=gate.confidence,
        seed=seed,
    )
    promote, verdict = _compare(comparison, challenger, champion, gate)
    status = PRODUCTION if promote else LOCAL_ONLY
    return Decision(
        promote,
        status,
        f"{comparison.describe()}: {verdict}",
        accepted=True,
        comparison=comparison.to_dict(),
    )


def _compare(
    comparison: Comparison, challenger: Candidate, champion: Candidate, gate: GateSettings
) -> tuple[bool, str]:
    label = LABELS.get(gate.primary_metric, gate.primary_metric)
    significant = comparison.low > 0 and comparison.delta >= gate.min_delta
    if significant:
        return True, f"better than champion (chunk {champion.chunk_id})"
    if gate.rule == "superiority":
        return False, f"{label} gain not significant over champion (chunk {champion.chunk_id})"
    newer = challenger.chunk_id > champion.chunk_id
    if not newer:
        return False, f"not newer than champion (chunk {champion.chunk_id}) and not better"
    if gate.rule == "newer-unless-worse":
        if comparison.high < 0:
            return False, f"credibly worse than champion (chunk {champion.chunk_id})"
        return True, f"newer than chunk {champion.chunk_id} and not credibly worse"
    if comparison.low > -gate.margin:
        return (
            True,
            f"non-inferior (margin {gate.margin:g}) and newer than chunk {champion.chunk_id}",
        )
    return (
        False,
        f"may be worse than champion (chunk {champion.chunk_id}) by more than {gate.margin:g}",
    )
