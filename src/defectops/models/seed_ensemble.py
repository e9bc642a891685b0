"""The ``seed-ensemble`` model family, the classic design kept for comparison.

SMOTE on the fit part, then a soft vote of logistic regression, a random forest and gradient
boosting. Its probabilities are not calibrated (SMOTE changes the class prior); only its ranking
and thresholded decisions are comparable with the other models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SMOTE_NEIGHBOURS = 5


def fit_seed_ensemble(Z: Any, y: np.ndarray, random_state: int, fallbacks: list[str]) -> Any:
    """The fitted soft vote, on rows over-sampled to balance the classes.

    SMOTE needs more minority rows than neighbours: with 2-5 minority rows it runs with
    ``k_neighbors = minority - 1``, with 1 plain random over-sampling replaces it; either appends
    one line to ``fallbacks``.
    """
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        RandomForestClassifier,
        VotingClassifier,
    )
    from sklearn.linear_model import LogisticRegression

    minority = int(np.bincount(y, minlength=2).min())
    sampler: Any
    if minority > SMOTE_NEIGHBOURS:
        sampler = SMOTE(k_neighbors=SMOTE_NEIGHBOURS, random_state=random_state)
    elif minority >= 2:
        sampler = SMOTE(k_neighbors=minority - 1, random_state=random_state)
        fallbacks.append(
            f"minority class has {minority} rows, fewer than SMOTE needs for "
            f"{SMOTE_NEIGHBOURS} neighbours: SMOTE with k_neighbors={minority - 1}"
        )
    else:
        sampler = RandomOverSampler(random_state=random_state)
        fallbacks.append(
            f"minority class has {minority} row: random over-sampling instead of SMOTE"
        )
    Z_res, y_res = sampler.fit_resample(Z, y)
    ensemble = VotingClassifier(
        [
            ("logreg", LogisticRegression(C=1.0, max_iter=2000)),
            (
                "forest",
                RandomForestClassifier(n_estimators=250, n_jobs=2, random_state=random_state),
            ),
            ("boosting", GradientBoostingClassifier(random_state=random_state)),
        ],
        voting="soft",
    )
    ensemble.fit(Z_res, y_res)
    # predict with one thread: for the few rows of a request, starting threads costs ~40 ms
    ensemble.named_estimators_["forest"].set_params(n_jobs=1)
    return ensemble
