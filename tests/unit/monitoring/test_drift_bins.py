"""A drift report reads on its own: each column lists what its counts count."""

from __future__ import annotations

import numpy as np
import pandas as pd

from defectops.core.config import MonitorSettings
from defectops.monitoring.drift import bin_labels, categorical_drift, numeric_drift
from defectops.monitoring.profile import categorical_profile, numeric_profile


def test_bin_labels_name_intervals_values_and_missing() -> None:
    assert bin_labels({"edges": [1.0, 2.5], "counts": [3, 3, 3, 1]}) == [
        "≤1",
        "≤2.5",
        ">2.5",
        "missing",
    ]
    assert bin_labels({"edges": [], "counts": [0, 4]}) == ["all", "missing"]
    assert bin_labels({"values": ["A", 7], "counts": [2, 2, 1, 0]}) == [
        "A",
        "7",
        "other",
        "missing",
    ]


def test_a_column_entry_carries_its_bins_and_both_counts() -> None:
    settings = MonitorSettings()
    # training values 1..10: deciles at 1.9, 2.8, ..., 9.1; one missing value
    ref = numeric_profile(np.array([*range(1, 11), np.nan], dtype=float), window_rows=5, bins=2)
    assert ref["edges"] == [5.5] and ref["counts"] == [5, 5, 1]
    entry = numeric_drift(ref, np.array([0.5, 5.5, 6.0, 9.0, np.nan]), settings)
    # by hand: 0.5 and 5.5 are at or below 5.5; 6 and 9 above; one missing
    assert entry["bins"] == ["≤5.5", ">5.5", "missing"]
    assert entry["counts"] == [2, 2, 1]
    assert entry["reference_counts"] == [5, 5, 1]

    cat = categorical_profile(pd.Series(["a", "a", "a", "b", "b", "c", None]), window_rows=2, top=2)
    assert cat["values"] == ["a", "b"] and cat["counts"] == [3, 2, 1, 1]
    entry = categorical_drift(cat, pd.Series(["a", "b", "b", "z", None]), None, settings)
    assert entry["bins"] == ["a", "b", "other", "missing"]
    assert entry["counts"] == [1, 2, 1, 1]
    assert entry["reference_counts"] == [3, 2, 1, 1]
