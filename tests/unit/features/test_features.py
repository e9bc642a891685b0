"""FeatureBuilder: hashing that is stable and canonical, scaling, and the lean one-row path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from defectops.core.errors import UserError
from defectops.features.builder import SMALL_BATCH, FeatureBuilder

NUMERIC = ["Air temperature [K]", "Torque [Nm]"]
CATEGORICAL = ["machine_id", "operator_id", "shift"]


def make_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "Air temperature [K]": rng.normal(300.0, 2.0, n),
            "Torque [Nm]": rng.normal(40.0, 10.0, n),
            "machine_id": rng.integers(101, 141, n),
            "operator_id": rng.integers(1001, 1061, n),
            "shift": rng.choice(["A", "B", "C"], n),
            "unused": "ignored",
        }
    )


def dense(matrix: sp.csr_matrix | np.ndarray) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


@pytest.fixture(params=["sparse", "codes"])
def output(request: pytest.FixtureRequest) -> str:
    return request.param


def builder(output: str = "sparse", **kwargs: object) -> FeatureBuilder:
    return FeatureBuilder(numeric=NUMERIC, categorical=CATEGORICAL, output=output, **kwargs)


# -- hashing ------------------------------------------------------------------------------------


HASH_SCRIPT = textwrap.dedent(
    """
    import numpy as np, pandas as pd
    from defectops.features.builder import FeatureBuilder
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "machine_id": [101, "M-7", None],
                          "operator_id": ["a", "b", "c"]})
    fb = FeatureBuilder(["x"], ["machine_id", "operator_id"]).fit(frame)
    print(fb.transform(frame).indices.tolist(), fb.bucket_of("machine_id", "M-7"))
    """
)


def test_hashing_is_identical_in_separate_processes() -> None:
    # Python's own hash() is salted per process; the builder must not depend on it
    runs = [
        subprocess.run(
            [sys.executable, "-c", HASH_SCRIPT],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    assert runs[0] == runs[1]
    assert runs[0].strip()


def test_int_float_and_text_forms_of_an_id_are_one_value(output: str) -> None:
    train = make_frame()
    fb = builder(output).fit(train)
    rows = pd.concat([train.iloc[[0]]] * 3, ignore_index=True)
    rows["machine_id"] = pd.Series([101, 101.0, " 101"], dtype=object)
    out = dense(fb.transform(rows))
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], out[2])


def test_unseen_category_transforms_without_error(output: str) -> None:
    fb = builder(output).fit(make_frame())
    rows = make_frame(3, seed=1)
    rows["machine_id"] = ["never-seen", 999_999, 3.5]
    out = dense(fb.transform(rows))
    assert out.shape == (3, fb.n_features_out_)
    if output == "codes":  # a bucket never seen in fit is missing for the trees
        assert np.isnan(out[:, len(NUMERIC)]).all()


def test_missing_category_is_a_value_of_its_own() -> None:
    train = make_frame(500)
    fb = builder().fit(train)
    rows = train.iloc[[0, 0, 0, 0]].reset_index(drop=True)
    rows["machine_id"] = pd.Series([None, np.nan, "", 101], dtype=object)
    out = dense(fb.transform(rows))
    np.testing.assert_array_equal(out[0], out[1])  # None and NaN: both missing
    np.testing.assert_array_equal(out[0], out[2])  # blank text: missing too
    assert not np.array_equal(out[0], out[3])
    missing_bucket = fb.bucket_of("machine_id", None)
    seen = {fb.bucket_of("machine_id", v) for v in train["machine_id"].unique()}
    assert missing_bucket not in seen


def test_same_value_in_two_columns_rarely_shares_a_bucket() -> None:
    # with a per-column salt, bucket(machine=v) == bucket(operator=v) happens with probability
    # 1/n_buckets; without it, always. 2,000 values at 1/256: ~8 expected, 40 is far out.
    fb = FeatureBuilder(categorical=["machine_id", "operator_id"], n_buckets=256, crosses=None)
    fb.fit(pd.DataFrame({"machine_id": [1], "operator_id": [1]}))
    values = [f"id-{i}" for i in range(2000)]
    same = sum(
        fb.bucket_of("machine_id", v)[0] == fb.bucket_of("operator_id", v)[0] for v in values
    )
    assert same < 40
    buckets = {fb.bucket_of("machine_id", v)[0] for v in values}
    assert len(buckets) > 240  # 2,000 values fill nearly all 256 buckets


def test_hashed_values_are_signed_ones() -> None:
    fb = FeatureBuilder(categorical=["machine_id"], crosses=None, n_buckets=1 << 20)
    frame = pd.DataFrame({"machine_id": np.arange(400)})
    out = fb.fit(frame).transform(frame)
    assert set(np.unique(out.data)) == {-1.0, 1.0}
    assert out.nnz == 400  # one entry per row, no collisions at 1M buckets
    signs = out.sum(axis=1).A1
    assert 0.3 < (signs > 0).mean() < 0.7


def test_colliding_buckets_add_up() -> None:
    fb = FeatureBuilder(categorical=["a", "b", "c"], crosses=None, n_buckets=1)
    frame = pd.DataFrame({"a": ["x"], "b": ["y"], "c": ["z"]})
    out = fb.fit(frame).transform(frame)
    expected = sum(fb.bucket_of(c, v)[1] for c, v in zip("abc", "xyz", strict=True))
    assert out.nnz == 1 and out.toarray()[0, 0] == expected


# -- crosses ------------------------------------------------------------------------------------


def test_machine_operator_cross_when_both_exist() -> None:
    frame = make_frame()
    auto = builder("codes").fit(frame)
    assert auto.crosses_ == [("machine_id", "operator_id")]
    assert auto.get_feature_names_out()[-1] == "machine_id x operator_id"
    assert auto.feature_types_ == ["q", "q", "c", "c", "c", "c"]
    without = FeatureBuilder(NUMERIC, ["machine_id", "shift"], output="codes").fit(frame)
    assert without.crosses_ == []
    assert builder("codes", crosses=None).fit(frame).crosses_ == []
    assert builder("sparse").fit(frame).transform(frame).getnnz(axis=1).max() <= 2 + 4


def test_cross_separates_pairs_that_main_effects_cannot() -> None:
    frame = pd.DataFrame({"machine_id": [1, 1, 2, 2], "operator_id": [7, 8, 7, 8]})
    fb = FeatureBuilder(categorical=["machine_id", "operator_id"], output="codes").fit(frame)
    cross = fb.transform(frame)[:, 2]
    assert len(np.unique(cross)) == 4


def test_explicit_cross_must_name_categorical_columns() -> None:
    with pytest.raises(UserError, match="Torque"):
        builder(crosses=[("machine_id", "Torque [Nm]")]).fit(make_frame())


# -- numeric ------------------------------------------------------------------------------------


def test_standardised_on_training_data() -> None:
    frame = make_frame(1000)
    out = builder().fit(frame).transform(frame).toarray()[:, :2]
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-9)


def test_missing_numbers_are_imputed_with_the_mean_and_flagged() -> None:
    frame = make_frame(100)
    frame.loc[:9, "Torque [Nm]"] = np.nan
    fb = builder().fit(frame)
    assert fb.missing_indicator_.tolist() == [False, True]
    names = fb.get_feature_names_out().tolist()
    assert names[:3] == ["Air temperature [K]", "Torque [Nm]", "Torque [Nm] missing"]
    out = fb.transform(frame).toarray()
    assert (out[:10, 1] == 0).all() and (out[:10, 2] == 1).all() and (out[10:, 2] == 0).all()
    codes = builder("codes").fit(frame).transform(frame)
    assert np.isnan(codes[:10, 1]).all()  # trees see the missing value itself


def test_all_missing_column_gives_finite_output(output: str) -> None:
    frame = make_frame(50)
    frame["Torque [Nm]"] = np.nan
    frame["Air temperature [K]"] = 5.0  # constant: std 0
    fb = builder(output).fit(frame)
    assert fb.scale_.tolist() == [1.0, 1.0]
    out = dense(fb.transform(frame))
    if output == "sparse":
        assert np.isfinite(out).all()
    else:
        assert np.isnan(out[:, 1]).all() and np.isfinite(out[:, 0]).all()


def test_numbers_as_text_and_infinities() -> None:
    frame = make_frame(20)
    frame.loc[0, "Torque [Nm]"] = np.nan  # training saw a missing torque: missing stays missing
    fb = builder("codes").fit(frame)
    rows = frame.iloc[:4].copy()
    rows["Torque [Nm]"] = pd.Series(["41.5", " 7 ", "n/a", np.inf], dtype=object)
    out = fb.transform(rows)
    np.testing.assert_array_equal(out[:2, 1], [41.5, 7.0])
    assert np.isnan(out[2:, 1]).all()  # unparseable text and inf count as missing


def test_missing_where_training_saw_none_is_the_training_median() -> None:
    frame = make_frame(21)
    fb = builder("codes").fit(frame)
    rows = frame.iloc[:2].copy()
    rows["Torque [Nm]"] = pd.Series(["n/a", np.inf], dtype=object)
    out = fb.transform(rows)
    expected = np.float32(np.median(frame["Torque [Nm]"]))  # the codes layout is float32
    np.testing.assert_array_equal(out[:, 1], [expected, expected])


# -- frames -------------------------------------------------------------------------------------


def test_one_row_equals_the_same_row_in_a_big_batch(output: str) -> None:
    frame = make_frame(300)
    frame.loc[3, "Torque [Nm]"] = np.nan
    frame["machine_id"] = frame["machine_id"].astype(object)
    frame.loc[4, "machine_id"] = None
    frame.loc[5, "machine_id"] = "M-9"
    frame.loc[6, "machine_id"] = True  # a bool must not be merged with the ID 1 elsewhere
    frame.loc[7, "operator_id"] = 1
    fb = builder(output).fit(frame)
    batch = dense(fb.transform(frame))
    assert len(frame) > SMALL_BATCH  # the batch takes the vectorised path
    for i in range(10):
        single = dense(fb.transform(frame.iloc[[i]]))
        np.testing.assert_array_equal(single[0], batch[i])
    few = dense(fb.transform(frame.iloc[:SMALL_BATCH]))
    np.testing.assert_array_equal(few, batch[:SMALL_BATCH])


def test_columns_of_plain_values_equal_the_frame(output: str) -> None:
    """transform_columns (a JSON body's columns) builds the matrix transform builds."""
    frame = make_frame(300)
    frame["Torque [Nm]"] = frame["Torque [Nm]"].astype(object)
    frame.loc[3, "Torque [Nm]"] = None
    frame["machine_id"] = frame["machine_id"].astype(object)
    frame["operator_id"] = frame["operator_id"].astype(object)
    forms = [None, "", "  ", "M-9", " 101", 101.0, 101, True, 1, 1.0, 0, False, 2.5, "x" * 256]
    for i, value in enumerate(forms):
        frame.loc[i, "machine_id"] = value
        frame.loc[i + 20, "operator_id"] = value
    fb = builder(output).fit(frame)
    numbers = frame[NUMERIC].to_numpy(dtype=np.float64, na_value=np.nan)
    categories = [frame[name].to_numpy(dtype=object) for name in CATEGORICAL]
    assert len(frame) > SMALL_BATCH  # the frame takes the vectorised path
    np.testing.assert_array_equal(
        dense(fb.transform_columns(numbers, categories)), dense(fb.transform(frame))
    )


def test_one_row_from_a_json_record() -> None:
    frame = make_frame(100)
    fb = builder("codes").fit(frame)
    record = {k: (str(v) if k != "shift" else v) for k, v in frame.iloc[0].to_dict().items()}
    np.testing.assert_array_equal(fb.transform(pd.DataFrame([record]))[0], fb.transform(frame)[0])


def test_missing_column_names_it() -> None:
    fb = builder().fit(make_frame())
    for rows in (make_frame(1), make_frame(100)):
        with pytest.raises(UserError, match=r"Torque \[Nm\]"):
            fb.transform(rows.drop(columns=["Torque [Nm]"]))
    with pytest.raises(UserError, match="operator_id"):
        builder().fit(make_frame().drop(columns=["operator_id"]))


def test_duplicated_column_is_named() -> None:
    fb = builder().fit(make_frame())
    rows = make_frame(3)
    twice = pd.concat([rows, rows[["shift"]]], axis=1)
    with pytest.raises(UserError, match="'shift' appears more than once"):
        fb.transform(twice)


def test_same_column_in_two_roles_is_refused() -> None:
    with pytest.raises(UserError, match="machine_id"):
        FeatureBuilder(numeric=["machine_id"], categorical=["machine_id"]).fit(make_frame())


def test_clone_and_not_fitted() -> None:
    fb = builder("codes", n_buckets=64)
    copy = clone(fb)
    assert copy.get_params() == fb.get_params()
    with pytest.raises(NotFittedError):
        fb.transform(make_frame())
    fitted = fb.fit(make_frame())
    assert not hasattr(clone(fitted), "mean_")


def test_new_categories_get_new_codes_and_old_codes_stay() -> None:
    first, later = make_frame(40, seed=0), make_frame(400, seed=1)
    fb = builder("codes").fit(first)
    before = fb.transform(later)
    fb.learn_new_categories(later)
    after = fb.transform(later)
    known = ~np.isnan(before)
    np.testing.assert_array_equal(after[known], before[known])
    assert np.isnan(before).any() and not np.isnan(after[:, 2:]).any()
