"""The gate's decisions on fixed scores, and the weighted PR-AUC its bootstrap is built on.

Every expected decision follows from how the scores are built, not from running the gate: a
perfect ranking against a random one is credibly better or worse under any resampling; two
models that each misrank a few different rows of a small hold-out differ by an amount whose
sign resampling cannot settle (checked with an independent bootstrap written here with
scikit-learn's ``average_precision_score``).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from defectops.core.config import GateSettings
from defectops.evaluation.gate import LOCAL_ONLY, PRODUCTION, Candidate, decide
from defectops.evaluation.metrics import weighted_pr_auc

ACCEPTED = {"accuracy": 0.9, "mcc": 0.5}  # passes acceptance: only the comparison decides


def candidate(chunk: int, scores: np.ndarray) -> Candidate:
    return Candidate(chunk, scores, 0.5, ACCEPTED)


def perfect_and_random(n: int = 400, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(np.int8)
    return y, y + rng.random(n) * 0.5, rng.random(n)  # labels, perfect ranking, chance


RULES = ["newer-unless-worse", "non-inferiority", "superiority"]


@pytest.mark.parametrize("rule", RULES)
def test_a_perfect_newer_model_replaces_a_random_one_under_every_rule(rule: str) -> None:
    y, perfect, chance = perfect_and_random()
    d = decide(candidate(2, perfect), candidate(1, chance), y, GateSettings(rule=rule))
    assert (d.promote, d.status) == (True, PRODUCTION)
    assert "better than champion (chunk 1)" in d.reason


@pytest.mark.parametrize("rule", RULES)
def test_a_random_newer_model_never_replaces_a_perfect_one(rule: str) -> None:
    y, perfect, chance = perfect_and_random()
    d = decide(candidate(2, chance), candidate(1, perfect), y, GateSettings(rule=rule))
    assert (d.promote, d.status) == (False, LOCAL_ONLY)
    assert d.comparison is not None and d.comparison["high"] < 0


def test_an_older_model_needs_a_significant_gain() -> None:
    y, perfect, _ = perfect_and_random()
    same = decide(candidate(1, perfect), candidate(2, perfect.copy()), y, GateSettings())
    assert not same.promote
    assert "not newer" in same.reason


def small_holdout_tie() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """40 rows, 8 defects. The champion ranks one defect below two good parts; the newer model
    ranks a different defect below three good parts: slightly worse, not credibly worse."""
    y = np.r_[np.ones(8), np.zeros(32)].astype(np.int8)
    champion = np.r_[np.linspace(0.9, 0.8, 8), np.linspace(0.5, 0.1, 32)]
    challenger = champion.copy()
    champion[7] = 0.48  # below the first two good parts (0.5, 0.487)
    challenger[0] = 0.465  # below the first three good parts (0.5, 0.487, 0.474)
    return y, challenger, champion


def independent_interval(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    rng = np.random.default_rng(123)
    deltas = []
    for _ in range(2000):
        i = rng.integers(0, len(y), len(y))
        if y[i].any():
            deltas.append(average_precision_score(y[i], a[i]) - average_precision_score(y[i], b[i]))
    low, high = np.quantile(deltas, [0.025, 0.975])
    return float(low), float(high)


def test_on_a_small_holdout_the_newer_model_wins_unless_credibly_worse() -> None:
    y, challenger, champion = small_holdout_tie()
    delta = average_precision_score(y, challenger) - average_precision_score(y, champion)
    low, high = independent_interval(y, challenger, champion)
    assert delta < 0 and low < -0.02 and high > 0  # slightly worse, sign unsettled

    new, old = candidate(5, challenger), candidate(2, champion)
    newer = decide(new, old, y, GateSettings(rule="newer-unless-worse"))
    assert newer.promote
    assert "not credibly worse" in newer.reason
    assert newer.comparison is not None
    assert newer.comparison["delta"] == pytest.approx(delta, abs=1e-12)
    # the fixed 0.02 margin keeps the older champion; superiority too
    assert not decide(new, old, y, GateSettings(rule="non-inferiority", margin=0.02)).promote
    assert not decide(new, old, y, GateSettings(rule="superiority")).promote
    # a margin wider than the interval's lower reach promotes it again
    assert decide(new, old, y, GateSettings(rule="non-inferiority", margin=-low + 0.1)).promote


def test_the_default_rule_is_newer_unless_worse() -> None:
    assert GateSettings().rule == "newer-unless-worse"


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_pr_auc_is_scikit_learns_average_precision(ties: bool) -> None:
    rng = np.random.default_rng(7)
    n = 300
    y = (rng.random(n) < 0.15).astype(np.int8)
    scores = rng.random(n) + 0.4 * y
    if ties:
        scores = np.round(scores, 1)  # many tied groups, defects and good parts mixed in them
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(20)])
    got = weighted_pr_auc(y, scores, weights.astype(np.float32), 0.5)
    expected = [average_precision_score(y, scores, sample_weight=w) for w in weights]
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    # all weights one: the plain average precision
    plain = weighted_pr_auc(y, scores, np.ones((1, n)), 0.5)[0]
    assert plain == pytest.approx(average_precision_score(y, scores), abs=1e-12)
