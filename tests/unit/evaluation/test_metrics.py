"""Known answers for the hold-out metrics, the paired bootstrap and the gate's rules.

Four kinds of evidence, each independent of the code under test: scikit-learn's metrics on
random data; a bootstrap written here with a plain loop over resampled rows and scikit-learn's
metrics, on the same resamples and on resamples of its own; a six-row hold-out worked out by
hand; and the gate's decision on fixed intervals at each rule's boundary
(``tests/test_gate_decisions.py`` covers decisions on real scores).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from defectops.core.config import GateSettings
from defectops.evaluation import gate
from defectops.evaluation.gate import LOCAL_ONLY, PRODUCTION, Candidate, acceptance, decide
from defectops.evaluation.metrics import (
    Comparison,
    bootstrap_interval,
    classification_metrics,
    paired_bootstrap,
    weighted_metric,
    weighted_pr_auc,
)

#: metric name -> scikit-learn on labels, scores, a threshold and row weights
SKLEARN: dict[str, Any] = {
    "accuracy": lambda y, s, t, w: skm.accuracy_score(y, s >= t, sample_weight=w),
    "balanced_accuracy": lambda y, s, t, w: skm.balanced_accuracy_score(y, s >= t, sample_weight=w),
    "precision": lambda y, s, t, w: skm.precision_score(
        y, s >= t, sample_weight=w, zero_division=0
    ),
    "recall": lambda y, s, t, w: skm.recall_score(y, s >= t, sample_weight=w, zero_division=0),
    "f1": lambda y, s, t, w: skm.f1_score(y, s >= t, sample_weight=w, zero_division=0),
    "mcc": lambda y, s, t, w: skm.matthews_corrcoef(y, s >= t, sample_weight=w),
    "roc_auc": lambda y, s, t, w: skm.roc_auc_score(y, s, sample_weight=w),
    "pr_auc": lambda y, s, t, w: skm.average_precision_score(y, s, sample_weight=w),
    "brier": lambda y, s, t, w: skm.brier_score_loss(y, s, sample_weight=w),
}


def random_holdout(n: int, seed: int, rate: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores that rank defects higher, with ties (two decimals) in every run."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(np.int8)
    return y, np.round(np.clip(rng.random(n) * 0.8 + 0.3 * y, 0, 1), 2)


# -- (1) point and weighted metrics against scikit-learn ------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.75, 1.01])  # 0 and 1.01: one class
def test_classification_metrics_are_scikit_learns(seed: int, threshold: float) -> None:
    y, s = random_holdout(250, seed)
    got = classification_metrics(y, s, threshold)
    for name, fn in SKLEARN.items():
        assert got[name] == pytest.approx(fn(y, s, threshold, None), abs=1e-12), name
    pred = (s >= threshold).astype(int)
    tn, fp, fn_, tp = skm.confusion_matrix(y, pred).ravel().tolist()
    assert got["confusion_matrix"] == {"tn": tn, "fp": fp, "fn": fn_, "tp": tp}
    rate = y.mean()
    assert (got["n"], got["defect_rate"], got["threshold"]) == (250, rate, threshold)
    assert got["baseline_accuracy"] == max(rate, 1 - rate)
    assert got["baseline_pr_auc"] == rate
    assert got["below_baseline"] == (got["accuracy"] <= max(rate, 1 - rate))


def test_one_class_holdout_leaves_the_ranking_metrics_undefined() -> None:
    y, s = np.zeros(20, dtype=np.int8), np.linspace(0, 1, 20)
    got = classification_metrics(y, s, 0.5)
    for name in ("balanced_accuracy", "roc_auc", "pr_auc"):
        assert np.isnan(got[name]), name
    assert got["accuracy"] == pytest.approx(0.5)
    assert got["baseline_accuracy"] == 1.0 and got["below_baseline"]


@pytest.mark.parametrize("name", sorted(SKLEARN))
def test_weighted_metrics_are_scikit_learns_with_sample_weights(name: str) -> None:
    y, s = random_holdout(200, seed=11)
    rng = np.random.default_rng(5)
    weights = np.stack([np.bincount(rng.integers(0, 200, 200), minlength=200) for _ in range(15)])
    got = weighted_metric(name)(y, s, weights.astype(np.float32), 0.5)
    expected = [SKLEARN[name](y, s, 0.5, w) for w in weights]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


# -- (2) the paired bootstrap against one written here --------------------------------------------


def two_models(n: int = 300, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two correlated models: pairing matters, the interval is much narrower."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(np.int8)
    champion = np.clip(rng.random(n) * 0.7 + 0.3 * y, 0, 1)
    challenger = np.clip(champion + rng.normal(0, 0.08, n) + 0.04 * y, 0, 1)
    return y, challenger, champion


def loop_deltas(
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    metric: str,
    picks: Any,
    thresholds: tuple[float, float] = (0.5, 0.5),
) -> np.ndarray:
    """Challenger minus champion (champion minus challenger for Brier) on each resample."""
    fn, sign = SKLEARN[metric], -1.0 if metric == "brier" else 1.0
    ta, tb = thresholds
    return np.array([sign * (fn(y[i], a[i], ta, None) - fn(y[i], b[i], tb, None)) for i in picks])


@pytest.mark.parametrize("metric", ["pr_auc", "roc_auc", "mcc", "f1", "brier"])
def test_paired_bootstrap_is_a_loop_over_the_same_resamples(metric: str) -> None:
    """The seed's resamples (rows drawn with replacement, one draw of ``(n_bootstrap, rows)``)
    scored by scikit-learn row by row give the same delta and the same percentile interval."""
    y, a, b = two_models()
    cut = (0.45, 0.55)  # each model at its own threshold
    picks = np.random.default_rng(42).integers(0, len(y), size=(400, len(y)))
    deltas = loop_deltas(y, a, b, metric, picks, cut)
    got = paired_bootstrap(
        y, a, b, metric, thresholds=cut, n_bootstrap=400, confidence=0.9, seed=42, batch=400
    )
    low, high = np.quantile(deltas, [0.05, 0.95])
    assert got.delta == pytest.approx(loop_deltas(y, a, b, metric, [np.arange(len(y))], cut)[0])
    assert (got.low, got.high) == (pytest.approx(low, abs=1e-9), pytest.approx(high, abs=1e-9))
    assert (got.metric, got.confidence, got.n_bootstrap) == (metric, 0.9, 400)


def test_paired_bootstrap_matches_an_independent_bootstrap_in_distribution() -> None:
    """Resamples of its own: the interval ends agree within a fifth of the deltas' spread.

    The Monte Carlo error of a 2.5% quantile from 2,000 resamples is about 0.04 of the spread
    (here the ends agree within 0.06); an unpaired bootstrap (each model resampled on rows of its
    own) is 3.7 times as wide here, and a 90% interval's ends sit 0.28 and 0.38 of the spread
    inside: both fail.
    """
    y, a, b = two_models()
    picks = np.random.default_rng(2024).integers(0, len(y), size=(2000, len(y)))
    deltas = loop_deltas(y, a, b, "pr_auc", picks)
    spread = float(deltas.std())
    low, high = np.quantile(deltas, [0.025, 0.975])
    got = paired_bootstrap(y, a, b, "pr_auc", n_bootstrap=4000, seed=7)
    assert abs(got.low - low) < 0.2 * spread
    assert abs(got.high - high) < 0.2 * spread
    assert got.low < got.delta < got.high


def test_bootstrap_interval_is_a_loop_over_the_same_resamples() -> None:
    y, _, s = two_models()
    picks = np.random.default_rng(9).integers(0, len(y), size=(200, len(y)))
    values = [skm.roc_auc_score(y[i], s[i]) for i in picks]
    value, low, high = bootstrap_interval(y, s, "roc_auc", n_bootstrap=200, seed=9)
    assert value == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert (low, high) == tuple(
        pytest.approx(q, abs=1e-9) for q in np.quantile(values, [0.025, 0.975])
    )


# -- (3) a hold-out of six rows, worked out by hand -----------------------------------------------

# rows          0    1    2    3    4    5
HAND_Y = np.array([1, 0, 1, 0, 0, 1], dtype=np.int8)
# champion ranks  D G D G D G  (rows 0 1 2 3 5 4)
HAND_CHAMPION = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.5])
# challenger ranks D D G D G G  (rows 0 2 1 5 3 4)
HAND_CHALLENGER = np.array([0.9, 0.7, 0.8, 0.5, 0.4, 0.6])


def test_six_rows_metrics_by_hand() -> None:
    """Champion at threshold 0.65 flags rows 0, 1, 2: TP 2 (rows 0, 2), FP 1 (row 1), FN 1
    (row 5), TN 2 (rows 3, 4).

    accuracy 4/6; precision = recall = F1 = 2/3; balanced accuracy (2/3 + 2/3) / 2 = 2/3;
    MCC (2*2 - 1*1) / sqrt(3*3*3*3) = 3/9 = 1/3.
    PR-AUC (average precision): the mean over the defects of the precision at each one's rank,
    ranks 1, 3, 5: (1/1 + 2/3 + 3/5) / 3 = 34/45.
    ROC-AUC: of the 9 defect/good pairs, row 0 (0.9) wins 3, row 2 (0.7) wins 2 (not 0.8),
    row 5 (0.5) wins 1 (0.4): 6/9.
    Brier: (0.1^2 + 0.8^2 + 0.3^2 + 0.6^2 + 0.4^2 + 0.5^2) / 6 = 1.51 / 6.
    Defect rate 1/2: baseline accuracy 1/2, baseline PR-AUC 1/2, and 4/6 beats it.
    """
    got = classification_metrics(HAND_Y, HAND_CHAMPION, 0.65)
    expected = {
        "accuracy": 4 / 6,
        "precision": 2 / 3,
        "recall": 2 / 3,
        "f1": 2 / 3,
        "balanced_accuracy": 2 / 3,
        "mcc": 1 / 3,
        "pr_auc": 34 / 45,
        "roc_auc": 6 / 9,
        "brier": 1.51 / 6,
        "baseline_accuracy": 0.5,
        "baseline_pr_auc": 0.5,
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name
    assert got["confusion_matrix"] == {"tn": 2, "fp": 1, "fn": 1, "tp": 2}
    assert got["below_baseline"] is False


def test_six_rows_weighted_pr_auc_by_hand() -> None:
    """Weights 2 1 0 1 1 1 (a resample that drew row 0 twice and row 2 never).

    Champion, rows in score order 0 1 2 3 5 4: row 0 (defect, weight 2) precision 2/2; row 2
    has weight 0 and counts for nothing; row 5 (weight 1) comes after 5 units of weight, 3 of
    them defects: 3/5. Weighted AP = (2 * 1 + 1 * 3/5) / 3 = 13/15.
    Challenger, rows 0 2 1 5 3 4: row 0 2/2; row 5 after 4 units, 3 defects: 3/4.
    (2 * 1 + 1 * 3/4) / 3 = 11/12. All weights one: 34/45 and (1 + 1 + 3/4) / 3 = 11/12.
    """
    weights = np.array([[2, 1, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]], dtype=np.float32)
    champion = weighted_pr_auc(HAND_Y, HAND_CHAMPION, weights, 0.5)
    challenger = weighted_pr_auc(HAND_Y, HAND_CHALLENGER, weights, 0.5)
    np.testing.assert_allclose(champion, [13 / 15, 34 / 45], rtol=1e-12)
    np.testing.assert_allclose(challenger, [11 / 12, 11 / 12], rtol=1e-12)


def test_six_rows_paired_bootstrap_by_hand() -> None:
    """Two resamples of seed 0, listed below (the first assert checks they are the ones drawn).

    Point delta: 11/12 - 34/45 = (165 - 136) / 180 = 29/180.
    Resample 1, rows 5 3 3 1 1 0: defects row 0 (weight 1), row 5 (1); good rows 1 (2), 3 (2).
      challenger order 0 1 5 3: precisions 1/1 and 2/4 -> AP 3/4
      champion order 0 1 3 5: precisions 1/1 and 2/6 -> AP 2/3; delta 1/12
    Resample 2, rows 0 0 1 4 3 5: weights 2 1 0 1 1 1, as in the weighted case: 11/12 - 13/15
      = 1/20.
    Deltas sorted: 1/20, 1/12 (apart by 1/30). The 95% interval's ends are np.quantile's
    linear interpolation at 2.5% and 97.5% of the way: 1/20 + 0.025/30 and 1/20 + 0.975/30.
    """
    drawn = np.random.default_rng(0).integers(0, 6, size=(2, 6))
    assert drawn.tolist() == [[5, 3, 3, 1, 1, 0], [0, 0, 1, 4, 3, 5]]
    got = paired_bootstrap(HAND_Y, HAND_CHALLENGER, HAND_CHAMPION, "pr_auc", n_bootstrap=2)
    assert got.delta == pytest.approx(29 / 180, abs=1e-12)
    assert got.low == pytest.approx(1 / 20 + 0.025 / 30, abs=1e-12)
    assert got.high == pytest.approx(1 / 20 + 0.975 / 30, abs=1e-12)
    # the high end, 0.0825, sits halfway between two three-decimal labels: either is right
    assert got.describe() in (
        "PR-AUC +0.161, 95% CI [+0.051, +0.082]",
        "PR-AUC +0.161, 95% CI [+0.051, +0.083]",
    )


def test_six_rows_brier_is_champion_minus_challenger_on_every_resample() -> None:
    """Challenger 0.8 / 0.2 on defects / good parts: squared error 0.04 on every row; champion
    0.6 / 0.4: 0.16. Any resample's mean is that constant, so delta = low = high = 0.12
    (positive: Brier is lower-is-better, the difference is taken champion minus challenger)."""
    challenger = np.where(HAND_Y == 1, 0.8, 0.2)
    champion = np.where(HAND_Y == 1, 0.6, 0.4)
    got = paired_bootstrap(HAND_Y, challenger, champion, "brier", n_bootstrap=300, seed=1)
    for value in (got.delta, got.low, got.high):
        assert value == pytest.approx(0.12, abs=1e-12)


# -- (4) the gate on fixed intervals --------------------------------------------------------------

ACCEPTED = {"accuracy": 0.9, "mcc": 0.5}
NO_SCORES = np.zeros(4)


def decision_on(
    monkeypatch: pytest.MonkeyPatch,
    interval: tuple[float, float, float],
    gate_settings: GateSettings,
    *,
    newer: bool = True,
) -> gate.Decision:
    """The gate's decision when the bootstrap returns ``(delta, low, high)``."""
    delta, low, high = interval
    fixed = Comparison("pr_auc", delta, low, high, 0.95, 1000)
    monkeypatch.setattr(gate, "paired_bootstrap", lambda *args, **kwargs: fixed)
    challenger = Candidate(5 if newer else 1, NO_SCORES, 0.5, ACCEPTED)
    return decide(challenger, Candidate(3, NO_SCORES, 0.5, ACCEPTED), NO_SCORES, gate_settings)


@pytest.mark.parametrize(
    ("interval", "promote", "why"),
    [
        ((0.03, 0.01, 0.05), True, "better than champion (chunk 3)"),
        ((0.03, 0.0, 0.05), False, "gain not significant"),  # the lower end must be above 0
        ((0.01, 0.001, 0.02), False, "gain not significant"),  # below min_delta 0.02
        ((0.02, 0.001, 0.04), True, "better than champion"),  # min_delta itself is enough
    ],
)
def test_superiority_needs_the_interval_above_zero_and_min_delta(
    monkeypatch: pytest.MonkeyPatch, interval: tuple[float, float, float], promote: bool, why: str
) -> None:
    d = decision_on(monkeypatch, interval, GateSettings(rule="superiority", min_delta=0.02))
    assert (d.promote, d.status) == (promote, PRODUCTION if promote else LOCAL_ONLY)
    assert why in d.reason


@pytest.mark.parametrize(
    ("interval", "promote", "why"),
    [
        ((-0.05, -0.09, -0.001), False, "credibly worse than champion (chunk 3)"),
        ((-0.05, -0.09, 0.0), True, "not credibly worse"),  # touching 0 is not below it
        ((0.0, -0.05, 0.05), True, "newer than chunk 3 and not credibly worse"),
    ],
)
def test_newer_unless_worse_refuses_only_an_interval_wholly_below_zero(
    monkeypatch: pytest.MonkeyPatch, interval: tuple[float, float, float], promote: bool, why: str
) -> None:
    d = decision_on(monkeypatch, interval, GateSettings(rule="newer-unless-worse"))
    assert (d.promote, d.status) == (promote, PRODUCTION if promote else LOCAL_ONLY)
    assert why in d.reason
    delta, low, high = interval
    assert d.comparison == {"metric": "pr_auc", "delta": delta, "low": low, "high": high,
                            "confidence": 0.95, "n_bootstrap": 1000}  # fmt: skip


@pytest.mark.parametrize(
    ("low", "promote", "why"),
    [
        (-0.019, True, "non-inferior (margin 0.02) and newer than chunk 3"),
        (-0.02, False, "may be worse than champion (chunk 3) by more than 0.02"),
        (-0.03, False, "by more than 0.02"),
    ],
)
def test_non_inferiority_needs_the_lower_end_above_minus_the_margin(
    monkeypatch: pytest.MonkeyPatch, low: float, promote: bool, why: str
) -> None:
    d = decision_on(monkeypatch, (0.0, low, 0.03), GateSettings(rule="non-inferiority"))
    assert d.promote is promote
    assert why in d.reason


@pytest.mark.parametrize("rule", ["newer-unless-worse", "non-inferiority"])
def test_an_older_challenger_needs_a_significant_gain_under_the_lenient_rules(
    monkeypatch: pytest.MonkeyPatch, rule: str
) -> None:
    lenient = decision_on(monkeypatch, (0.0, -0.001, 0.05), GateSettings(rule=rule), newer=False)
    assert not lenient.promote and "not newer than champion (chunk 3)" in lenient.reason
    gain = decision_on(monkeypatch, (0.03, 0.01, 0.05), GateSettings(rule=rule), newer=False)
    assert gain.promote and "better than champion" in gain.reason


def test_the_bootstrap_gets_the_gates_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake(y: Any, a: Any, b: Any, metric: str, **kwargs: Any) -> Comparison:
        seen.update(kwargs, metric=metric, a=a, b=b)
        return Comparison(metric, 0.0, -0.1, 0.1, kwargs["confidence"], kwargs["n_bootstrap"])

    monkeypatch.setattr(gate, "paired_bootstrap", fake)
    settings = GateSettings(primary_metric="mcc", confidence=0.9, n_bootstrap=321)
    new, old = Candidate(5, np.ones(4), 0.3, ACCEPTED), Candidate(3, np.zeros(4), 0.7, ACCEPTED)
    d = decide(new, old, np.ones(4), settings, seed=17)
    assert seen["metric"] == "mcc" and seen["a"] is new.scores and seen["b"] is old.scores
    assert (seen["thresholds"], seen["confidence"], seen["n_bootstrap"], seen["seed"]) == (
        (0.3, 0.7),
        0.9,
        321,
        17,
    )
    assert d.reason.startswith("MCC +0.000, 90% CI [-0.100, +0.100]: ")


@pytest.mark.parametrize(("new", "promote"), [(0.85, True), (0.8499, False)])
def test_classic_compares_accuracy_without_a_bootstrap(
    monkeypatch: pytest.MonkeyPatch, new: float, promote: bool
) -> None:
    def never(*args: Any, **kwargs: Any) -> Comparison:
        raise AssertionError("the classic rule runs no bootstrap")

    monkeypatch.setattr(gate, "paired_bootstrap", never)
    challenger = Candidate(5, NO_SCORES, 0.5, {"accuracy": new, "mcc": 0.4})
    champion = Candidate(3, NO_SCORES, 0.5, {"accuracy": 0.85, "mcc": 0.6})
    d = decide(challenger, champion, NO_SCORES, GateSettings(rule="classic"))
    assert (d.promote, d.comparison) == (promote, None)
    verdict = ">=" if promote else "<"
    assert d.reason == f"accuracy {new:.3f} {verdict} champion's 0.850 (classic rule)"


@pytest.mark.parametrize(
    ("metrics", "settings", "ok", "why"),
    [
        ({"accuracy": 0.70, "mcc": 0.01}, GateSettings(), True, "accuracy 0.700 >= 0.70"),
        ({"accuracy": 0.6999, "mcc": 0.5}, GateSettings(), False, "accuracy 0.700 < 0.70"),
        ({"accuracy": 0.9, "mcc": 0.0}, GateSettings(), False, "not above the majority baseline"),
        ({"accuracy": 0.9, "mcc": 0.0}, GateSettings(beat_baseline_mcc=False), True, ""),
        ({"accuracy": 0.5, "mcc": -0.1}, GateSettings(), False, "accuracy 0.500 < 0.70; MCC"),
    ],
)
def test_acceptance_bar_at_its_edges(
    metrics: dict[str, float], settings: GateSettings, ok: bool, why: str
) -> None:
    passed, reason = acceptance(metrics, settings)
    assert passed is ok
    assert why in reason
    assert reason.startswith("fails acceptance: ") is not ok


def test_first_accepted_challenger_becomes_champion_and_a_failed_one_stays_local() -> None:
    first = decide(Candidate(1, NO_SCORES, 0.5, ACCEPTED), None, NO_SCORES, GateSettings())
    assert (first.promote, first.status, first.accepted) == (True, PRODUCTION, True)
    assert first.reason == "first champion: accuracy 0.900 >= 0.70, MCC 0.500 > baseline 0"
    failing = Candidate(2, NO_SCORES, 0.5, {"accuracy": 0.9, "mcc": -0.2})
    rejected = decide(failing, Candidate(1, NO_SCORES, 0.5, ACCEPTED), NO_SCORES, GateSettings())
    assert (rejected.promote, rejected.status, rejected.accepted) == (False, LOCAL_ONLY, False)
    assert rejected.comparison is None
