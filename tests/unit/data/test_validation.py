"""The data contract: fatal errors, quarantined rows and reasons, labels, inference, the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from defectops.core.config import Settings, load_settings
from defectops.core.errors import UserError
from defectops.data.io import read_table
from defectops.data.quarantine import REASON_COLUMN, ROW_COLUMN
from defectops.data.reference import reference_profile
from defectops.data.schema import category_strings
from defectops.data.schema_inference import infer_schema
from defectops.data.validation import validate, write_outputs
from paths import SHARED_DATA

MakeFrame = Callable[..., pd.DataFrame]
AI4I = SHARED_DATA / "ai4i2020.csv"


def cfg(**flags: Any) -> Settings:
    """Settings from flags only, never from the real environment."""
    return load_settings(None, flags, environ={})


def check(report: dict[str, Any], name: str) -> dict[str, str]:
    (found,) = [c for c in report["checks"] if c["name"] == name]
    return found


def reasons_of(quarantine: pd.DataFrame) -> dict[int, set[str]]:
    return {
        int(row): set(reason.split("; "))
        for row, reason in zip(quarantine[ROW_COLUMN], quarantine[REASON_COLUMN], strict=True)
    }


# -- fatal errors ---------------------------------------------------------------------------------


def test_missing_target_column_names_it(make_frame: MakeFrame) -> None:
    frame = make_frame(n=20).drop(columns=["DefectStatus"])
    with pytest.raises(UserError, match=r"'DefectStatus' \(from target\) is not in the data"):
        validate(frame, cfg())


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0, 1, 2, 0, 1, 2], r"target 'DefectStatus' has 3 classes \(0, 1, 2\)"),
        (["ok", "scratch", "dent", "ok", "ok", "dent"], "has 3 classes"),
        ([0, 0, 0, 0, 0, 0], r"target 'DefectStatus' has one class only \(0\)"),
        ([1.0, 1, "1", True, 1, np.nan], "has one class only"),  # all spell the same class
        ([np.nan] * 6, r"one class only \(no values\)"),
    ],
)
def test_target_must_have_exactly_two_classes(values: list[Any], message: str) -> None:
    frame = pd.DataFrame({"x": np.arange(6.0), "DefectStatus": pd.Series(values, dtype=object)})
    with pytest.raises(UserError, match=message):
        validate(frame, cfg())


def test_no_feature_columns_left(make_frame: MakeFrame) -> None:
    frame = make_frame(n=20)[["machine_id", "speed_rpm", "timestamp", "DefectStatus"]]
    with pytest.raises(UserError, match=r"no feature columns.*--drop"):
        validate(frame, cfg(drop="machine_id,speed_rpm"))


@pytest.mark.parametrize(
    ("flags", "key", "missing"),
    [
        ({"categorical": "shift,Shift Name"}, "categorical", "Shift Name"),
        ({"drop": "UDI"}, "drop", "UDI"),
        ({"order_by": "serial"}, "order_by", "serial"),
        ({"target": "Machine failure"}, "target", "Machine failure"),
    ],
)
def test_configured_column_missing_from_data(
    make_frame: MakeFrame, flags: dict[str, str], key: str, missing: str
) -> None:
    with pytest.raises(UserError) as info:
        validate(make_frame(n=20), cfg(**flags))
    message = str(info.value)
    assert f"{missing!r} (from {key}) is not in the data" in message
    assert "available columns: Air temperature [K], Torque [Nm]" in message


def test_target_listed_in_drop_is_fatal(make_frame: MakeFrame) -> None:
    with pytest.raises(UserError, match="'DefectStatus' is the target"):
        validate(make_frame(n=20), cfg(drop="DefectStatus"))


def test_unlisted_text_column_with_explicit_categorical_is_fatal(make_frame: MakeFrame) -> None:
    with pytest.raises(UserError, match=r"'shift' is not numeric.*--categorical or --drop"):
        validate(make_frame(n=20), cfg(categorical="machine_id"))


def test_later_batch_missing_a_feature_names_it(make_frame: MakeFrame) -> None:
    first = validate(make_frame(n=40), cfg())
    batch = make_frame(n=40, seed=1).drop(columns=["Torque [Nm]"])
    with pytest.raises(UserError, match=r"'Torque \[Nm\]' is missing from the data"):
        validate(batch, cfg(), schema=first.schema)


# -- positive label -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "positive_label", "expected_label", "expected_y"),
    [
        ([0, 1, 1, 0], None, "1", [0, 1, 1, 0]),
        ([0.0, 1.0, 1.0, 0.0], None, "1", [0, 1, 1, 0]),
        ([-1, 1, 1, -1], None, "1", [0, 1, 1, 0]),
        (["N", "Y", "Y", "N"], None, "y", [0, 1, 1, 0]),
        (["no", "yes", "yes", "no"], None, "yes", [0, 1, 1, 0]),
        (["No", "Yes", "YES", "no"], None, "yes", [0, 1, 1, 0]),
        (["ok", "defect", "defect", "ok"], None, "defect", [0, 1, 1, 0]),
        (["pass", "fail", "fail", "pass"], None, "fail", [0, 1, 1, 0]),
        ([False, True, True, False], None, "true", [0, 1, 1, 0]),
        (["0", "1", "1", "0"], None, "1", [0, 1, 1, 0]),
        (["FALSE", "TRUE", "TRUE", "FALSE"], None, "true", [0, 1, 1, 0]),
        (["N", "Y", "Y", "N"], "N", "n", [1, 0, 0, 1]),
        ([0.0, 1.0, 1.0, 0.0], "1", "1", [0, 1, 1, 0]),
        ([0, 1, 1, 0], "1.0", "1", [0, 1, 1, 0]),
        ([0, 1, 1, 0], "0", "0", [1, 0, 0, 1]),
        ([-1, 1, 1, -1], "-1", "-1", [1, 0, 0, 1]),
        (["no", "yes", "yes", "no"], "YES", "yes", [0, 1, 1, 0]),
        ([False, True, True, False], "True", "true", [0, 1, 1, 0]),
        (["blue", "red", "red", "blue"], "red", "red", [0, 1, 1, 0]),
    ],
)
def test_positive_label_mapping(
    values: list[Any], positive_label: str | None, expected_label: str, expected_y: list[int]
) -> None:
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4], "DefectStatus": values})
    result = validate(frame, cfg(positive_label=positive_label))
    assert result.schema.positive_label == expected_label
    assert result.frame["DefectStatus"].tolist() == expected_y
    assert result.frame["DefectStatus"].dtype == np.int8
    assert result.y.tolist() == expected_y
    assert result.report["class_balance"]["defects"] == sum(expected_y)


def test_ambiguous_labels_ask_for_positive_label() -> None:
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4], "DefectStatus": ["red", "blue"] * 2})
    with pytest.raises(UserError, match=r"values: blue, red\).*--positive-label"):
        validate(frame, cfg())


def test_positive_label_not_a_target_value() -> None:
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4], "DefectStatus": ["Y", "N"] * 2})
    with pytest.raises(UserError, match=r"positive label 'defect' is not a value of target"):
        validate(frame, cfg(positive_label="defect"))


def test_later_batch_keeps_the_first_batch_label_meaning() -> None:
    first = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4], "q": ["N", "Y", "Y", "N"]})
    schema = validate(first, cfg(target="q", positive_label="N")).schema
    batch = pd.DataFrame({"x": [0.5, 0.6, 0.7], "q": ["Y", "N", "N"]})
    assert validate(batch, cfg(target="q"), schema=schema).frame["q"].tolist() == [0, 1, 1]


# -- quarantine -----------------------------------------------------------------------------------


def broken_frame(make_frame: MakeFrame) -> pd.DataFrame:
    frame = make_frame(n=200)
    frame["Torque [Nm]"] = frame["Torque [Nm]"].astype(object)
    frame["DefectStatus"] = frame["DefectStatus"].astype(float)
    frame.loc[3, "Torque [Nm]"] = "abc"
    frame.loc[5, "Torque [Nm]"] = np.inf
    frame.loc[6, "Air temperature [K]"] = -np.inf
    frame.loc[7, "DefectStatus"] = np.nan
    frame.loc[10, ["Torque [Nm]", "DefectStatus"]] = ["12,5", np.nan]  # two problems
    frame.loc[11, "Torque [Nm]"] = ""  # empty text is missing, not junk
    frame.loc[12, "Torque [Nm]"] = " 41.5 "  # padded number parses
    return frame


def test_bad_rows_are_quarantined_with_reasons_and_nothing_is_lost(make_frame: MakeFrame) -> None:
    raw = broken_frame(make_frame)
    result = validate(raw, cfg())
    assert len(result.frame) + len(result.quarantine) == len(raw) == 200
    assert reasons_of(result.quarantine) == {
        3: {"unparseable_number:Torque [Nm]"},
        5: {"infinite_value:Torque [Nm]"},
        6: {"infinite_value:Air temperature [K]"},
        7: {"missing_target"},
        10: {"missing_target", "unparseable_number:Torque [Nm]"},
    }
    assert result.report["rows_read"] == 200
    assert result.report["rows_kept"] == 195
    assert result.report["rows_quarantined"] == 5
    assert result.report["quarantined_by_reason"] == {
        "infinite_value:Air temperature [K]": 1,
        "infinite_value:Torque [Nm]": 1,
        "missing_target": 2,
        "unparseable_number:Torque [Nm]": 2,
    }
    assert check(result.report, "row_level")["status"] == "warn"
    # the junk column stayed numeric: 4 junk values in 200 do not make it categorical
    assert "Torque [Nm]" in result.schema.numeric
    clean = result.frame
    assert clean["Torque [Nm]"].dtype == np.float64
    assert np.isfinite(clean["Air temperature [K]"]).all()
    assert clean["Torque [Nm]"].isna().sum() == 1  # row 11, kept as missing
    assert 41.5 in clean["Torque [Nm]"].tolist()


def test_quarantine_keeps_the_original_values_and_columns(make_frame: MakeFrame) -> None:
    raw = broken_frame(make_frame)
    quarantine = validate(raw, cfg()).quarantine
    assert list(quarantine.columns) == [ROW_COLUMN, REASON_COLUMN, *raw.columns]
    for _, row in quarantine.iterrows():
        original = raw.loc[int(row[ROW_COLUMN])]
        for col in raw.columns:
            assert row[col] == original[col] or (pd.isna(row[col]) and pd.isna(original[col]))
    torque = dict(zip(quarantine[ROW_COLUMN], quarantine["Torque [Nm]"], strict=True))
    assert torque[3] == "abc"
    assert torque[10] == "12,5"
    assert torque[5] == np.inf


def test_mostly_numeric_text_column_stays_numeric(tmp_path: Path, make_frame: MakeFrame) -> None:
    frame = make_frame(n=200)
    frame["Torque [Nm]"] = frame["Torque [Nm]"].astype(str)
    frame.loc[[20, 21, 150], "Torque [Nm]"] = ["n/a?", "ERR", "--"]
    path = tmp_path / "line.csv"
    frame.to_csv(path, index=False)
    raw = read_table(path)
    assert not pd.api.types.is_numeric_dtype(raw["Torque [Nm]"])  # really text on disk
    result = validate(raw, cfg())
    assert "Torque [Nm]" in result.schema.numeric
    assert "Torque [Nm]" not in result.schema.categorical
    # "--" is a missing-value marker: missing, not a bad number
    assert result.quarantine[ROW_COLUMN].tolist() == [20, 21]
    assert result.report["missing_markers"]["Torque [Nm]"] == {"--": 1}
    assert result.quarantine["Torque [Nm]"].tolist() == ["n/a?", "ERR"]
    assert result.frame["Torque [Nm]"].dtype == np.float64


def test_bad_numeric_order_values_are_quarantined_and_rows_sorted(make_frame: MakeFrame) -> None:
    frame = make_frame(n=50).drop(columns=["timestamp"])
    frame["serial"] = pd.Series(np.arange(50)[::-1], dtype=object)
    frame.loc[9, "serial"] = "x9"
    frame.loc[12, "serial"] = None
    frame.loc[13, "serial"] = np.inf
    result = validate(frame, cfg(order_by="serial"))
    assert reasons_of(result.quarantine) == {
        9: {"bad_order_value:serial"},
        12: {"bad_order_value:serial"},
        13: {"bad_order_value:serial"},
    }
    assert result.schema.order_by == "serial"
    assert "serial" not in result.schema.features
    assert result.frame["serial"].tolist() == sorted(set(range(50)) - {36, 37, 40})
    # rows travel with their order value
    torque = dict(zip(frame["serial"], frame["Torque [Nm]"], strict=True))
    assert result.frame["Torque [Nm]"].tolist() == [torque[s] for s in result.frame["serial"]]


def test_missing_timestamp_is_a_bad_order_value(make_frame: MakeFrame) -> None:
    frame = make_frame(n=60)
    frame.loc[[4, 30], "timestamp"] = np.nan
    result = validate(frame, cfg())
    assert result.schema.order_by == "timestamp"
    assert reasons_of(result.quarantine) == {
        4: {"bad_order_value:timestamp"},
        30: {"bad_order_value:timestamp"},
    }
    assert len(result.frame) == 58


def test_one_garbled_timestamp_is_quarantined_not_made_a_feature(make_frame: MakeFrame) -> None:
    frame = make_frame(n=60)
    frame.loc[4, "timestamp"] = "2024-13-45 99:99"
    result = validate(frame, cfg())
    assert "timestamp" not in result.schema.features
    assert result.schema.order_by == "timestamp"
    assert reasons_of(result.quarantine) == {4: {"bad_order_value:timestamp"}}


def test_explicit_timestamp_order_quarantines_only_the_bad_row(make_frame: MakeFrame) -> None:
    frame = make_frame(n=60)
    frame.loc[4, "timestamp"] = "garbage"
    result = validate(frame, cfg(order_by="timestamp"))
    assert result.report["rows_quarantined"] == 1
    assert len(result.frame) == 59


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    n=st.integers(min_value=8, max_value=60),
    kinds=st.lists(
        st.sampled_from(["ok", "ok", "ok", "inf", "-inf", "no_target", "blank"]), max_size=60
    ),
    junk_rows=st.sets(st.integers(min_value=0, max_value=59), max_size=6),
)
def test_rows_in_equal_rows_kept_plus_quarantined(
    make_frame: MakeFrame, n: int, kinds: list[str], junk_rows: set[int]
) -> None:
    frame = make_frame(n=n, seed=n)
    frame["Torque [Nm]"] = frame["Torque [Nm]"].astype(object)
    frame["DefectStatus"] = frame["DefectStatus"].astype(object)
    expected_bad = set()
    for row, kind in enumerate(kinds[:n]):
        if kind in ("inf", "-inf"):
            frame.loc[row, "Torque [Nm]"] = float(kind)
        elif kind == "no_target":
            frame.loc[row, "DefectStatus"] = None
        elif kind == "blank":
            frame.loc[row, "Torque [Nm]"] = None  # missing is allowed, not quarantined
        if kind not in ("ok", "blank"):
            expected_bad.add(row)
    for row in junk_rows:
        if row < n:
            frame.loc[row, "Torque [Nm]"] = "bad#"
            expected_bad.add(row)
    torque = frame["Torque [Nm]"]
    junk_share = (torque == "bad#").sum() / max(int(torque.notna().sum()), 1)
    try:
        result = validate(frame, cfg())
    except UserError as exc:
        # corrupting most targets can leave a single class: fatal by design
        assert "one class only" in str(exc)
        event("fatal: one class")
        return
    assert len(result.frame) + len(result.quarantine) == n
    assert result.report["rows_read"] == n
    assert result.report["rows_kept"] + result.report["rows_quarantined"] == n
    if junk_share > 0.1:
        # too much text for a numeric column: it becomes a category and keeps its junk rows
        assert "Torque [Nm]" in result.schema.categorical
        event("junk column became categorical")
        return
    event("junk column stayed numeric")
    assert "Torque [Nm]" in result.schema.numeric
    assert set(result.quarantine[ROW_COLUMN]) == expected_bad
    assert result.report["rows_quarantined"] == len(expected_bad)
    assert sum(result.report["quarantined_by_reason"].values()) >= len(expected_bad)
    kept = result.frame["Torque [Nm]"].dropna()
    assert np.isfinite(kept.to_numpy(dtype=float)).all()


# -- column roles ---------------------------------------------------------------------------------


def test_inference_of_roles_and_notes(make_frame: MakeFrame) -> None:
    frame = make_frame(n=40)
    frame["x_id"] = np.linspace(0.5, 9.75, 40)  # float, not integer: a measurement
    frame["lot_id"] = np.where(np.arange(40) % 7 == 0, np.nan, np.arange(40) % 4 + 100.0)
    frame["station"] = np.arange(40) % 3  # integer but not *_id: numeric
    frame["cooling"] = np.arange(40) % 2 == 0
    schema = infer_schema(frame, cfg())
    assert schema.numeric == (
        "Air temperature [K]",
        "Torque [Nm]",
        "speed_rpm",
        "x_id",
        "station",
        "cooling",
    )
    assert schema.categorical == ("machine_id", "shift", "lot_id")
    assert schema.timestamps == ("timestamp",)
    assert schema.order_by == "timestamp"
    assert "timestamp" not in schema.features
    assert "DefectStatus" not in schema.features
    notes = " | ".join(schema.notes)
    assert "order column: 'timestamp' (parses as timestamps)" in notes
    assert "timestamp column 'timestamp' (ISO8601) is not used as a feature" in notes
    assert "categorical columns inferred: machine_id, shift, lot_id" in notes


def test_categorical_values_become_canonical_text(make_frame: MakeFrame) -> None:
    frame = make_frame(n=40)
    frame["lot_id"] = np.where(np.arange(40) % 7 == 0, np.nan, np.arange(40) % 4 + 100.0)
    result = validate(frame, cfg())
    assert set(result.frame["lot_id"].dropna()) == {"100", "101", "102", "103"}
    assert result.frame["lot_id"].isna().sum() == 6
    assert set(result.frame["machine_id"]) <= {"1", "2", "3", "4", "5"}
    texts = category_strings(
        pd.Series([101, 101.0, "101", " 101 ", np.nan, "", True], dtype=object)
    )
    assert texts.tolist() == ["101", "101", "101", "101", None, None, "True"]


def test_explicit_categorical_list_is_used_as_given(make_frame: MakeFrame) -> None:
    schema = infer_schema(make_frame(n=40), cfg(categorical="shift,speed_rpm"))
    assert schema.categorical == ("speed_rpm", "shift")
    assert schema.numeric == ("Air temperature [K]", "Torque [Nm]", "machine_id")
    assert not any("inferred" in note for note in schema.notes)


def test_timestamp_orders_shuffled_rows_and_is_never_a_feature(make_frame: MakeFrame) -> None:
    frame = make_frame(n=80)
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    result = validate(shuffled, cfg())
    clean = result.frame
    assert pd.api.types.is_datetime64_any_dtype(clean["timestamp"])
    assert clean["timestamp"].is_monotonic_increasing
    assert clean["Torque [Nm]"].tolist() == frame["Torque [Nm]"].tolist()
    assert clean["DefectStatus"].tolist() == frame["DefectStatus"].tolist()
    assert result.report["columns"]["timestamp"]["role"] == "timestamp"
    assert result.report["columns"]["timestamp"]["min"] == "2024-03-01T06:00:00"


def test_explicit_order_by_timestamp(make_frame: MakeFrame) -> None:
    frame = make_frame(n=30).iloc[::-1].reset_index(drop=True)
    result = validate(frame, cfg(order_by="timestamp"))
    assert result.schema.timestamps == ("timestamp",)
    assert result.frame["timestamp"].is_monotonic_increasing
    assert result.report["rows_quarantined"] == 0


def test_odd_column_names_kept_verbatim(make_frame: MakeFrame) -> None:
    frame = make_frame(n=40).rename(
        columns={"speed_rpm": "Rotational speed [rpm]", "shift": "Shift (crew)"}
    )
    frame["Temp °C"] = np.linspace(18.0, 25.0, 40)
    frame["Tool wear [min]"] = np.arange(40) * 3
    result = validate(frame, cfg(categorical="Shift (crew),machine_id", drop="Tool wear [min]"))
    expected = [c for c in frame.columns if c != "Tool wear [min]"]
    assert list(result.frame.columns) == expected
    assert result.schema.numeric == (
        "Air temperature [K]",
        "Torque [Nm]",
        "Rotational speed [rpm]",
        "Temp °C",
    )
    assert result.schema.categorical == ("machine_id", "Shift (crew)")
    assert result.schema.dropped == ("Tool wear [min]",)
    assert set(result.report["columns"]) == {*result.schema.features, "timestamp"}
    assert json.loads(json.dumps(result.report))["columns"]["Temp °C"]["max"] == 25.0


# -- report ---------------------------------------------------------------------------------------


def test_clean_frame_reports_pass_with_known_profile() -> None:
    frame = pd.DataFrame(
        {
            "Torque [Nm]": [10.0, 20.0, 30.0, np.nan],
            "shift": ["a", "b", "a", "a"],
            "DefectStatus": [0, 1, 0, 1],
        }
    )
    report = validate(frame, cfg()).report
    assert report["status"] == "warn"  # 25% missing torque
    torque = report["columns"]["Torque [Nm]"]
    assert torque == {
        "role": "numeric",
        "dtype": "float64",
        "null_rate": 0.25,
        "n_unique": 3,
        "min": 10.0,
        "max": 30.0,
        "mean": 20.0,
    }
    assert report["columns"]["shift"]["top"] == {"a": 3, "b": 1}
    assert report["columns"]["shift"]["role"] == "categorical"
    assert report["class_balance"] == {"defects": 2, "good": 2, "defect_rate": 0.5}
    assert check(report, "null_rates") == {
        "name": "null_rates",
        "status": "warn",
        "detail": "Torque [Nm]: 25.0% missing",
    }
    names = [c["name"] for c in report["checks"]]
    assert names == [
        "row_level",
        "null_rates",
        "constant_columns",
        "duplicates",
        "class_balance",
        "identifiers",
        "leakage",
    ]
    assert all(c["status"] in {"pass", "warn", "fail"} for c in report["checks"])


def test_all_checks_pass_on_a_good_frame(make_frame: MakeFrame) -> None:
    report = validate(make_frame(), cfg()).report
    assert report["status"] == "pass"
    assert {c["status"] for c in report["checks"]} == {"pass"}
    assert report["class_balance"]["defects"] == 50
    assert check(report, "class_balance")["detail"] == "defect rate 25.00% (50 defects, 150 good)"


def test_null_rate_threshold(make_frame: MakeFrame) -> None:
    frame = make_frame(n=100)
    frame.loc[:9, "speed_rpm"] = np.nan  # 10%: fine
    frame.loc[:21, "shift"] = None  # 22%: reported
    report = validate(frame, cfg()).report
    result = check(report, "null_rates")
    assert result["status"] == "warn"
    assert result["detail"] == "shift: 22.0% missing"
    assert report["columns"]["speed_rpm"]["null_rate"] == pytest.approx(0.10)


def test_constant_and_duplicate_rows_are_reported(make_frame: MakeFrame) -> None:
    frame = make_frame(n=60)
    frame["plant"] = "Berlin"
    frame["voltage"] = 230.0
    frame = pd.concat([frame, frame.iloc[[3, 4, 5]]], ignore_index=True)
    report = validate(frame, cfg()).report
    assert check(report, "constant_columns") == {
        "name": "constant_columns",
        "status": "warn",
        "detail": "constant: voltage, plant",
    }
    assert check(report, "duplicates")["status"] == "warn"
    assert check(report, "duplicates")["detail"] == "3 duplicate rows"
    assert report["status"] == "warn"


@pytest.mark.parametrize(
    ("defects", "status"), [(4, "warn"), (9, "warn"), (10, "pass"), (190, "pass"), (196, "warn")]
)
def test_class_balance_warning(make_frame: MakeFrame, defects: int, status: str) -> None:
    frame = make_frame(n=200)
    frame["DefectStatus"] = (np.arange(200) < defects).astype(int)
    result = check(validate(frame, cfg()).report, "class_balance")
    assert result["status"] == status
    assert f"({defects} defects, {200 - defects} good)" in result["detail"]


def test_reference_profile_reports_out_of_range_and_unseen(make_frame: MakeFrame) -> None:
    train = validate(make_frame(n=200), cfg())
    reference = reference_profile(train.frame, train.schema)
    assert reference["categorical"]["shift"] == ["early", "late", "night"]
    assert reference["numeric"]["Torque [Nm]"]["max"] == train.frame["Torque [Nm]"].max()

    same = validate(make_frame(n=200), cfg(), schema=train.schema, reference=reference).report
    assert check(same, "out_of_range") == {
        "name": "out_of_range",
        "status": "pass",
        "detail": "all within range",
    }
    assert check(same, "unseen_categories")["status"] == "pass"

    batch = make_frame(n=200)
    batch.loc[0, "Torque [Nm]"] = 1000.0
    batch.loc[[1, 2], "shift"] = "weekend"
    batch.loc[3, "machine_id"] = 99
    report = validate(batch, cfg(), schema=train.schema, reference=reference).report
    out_of_range = check(report, "out_of_range")
    assert out_of_range["status"] == "warn"
    assert out_of_range["detail"].startswith("Torque [Nm]: 0.5% outside [")
    assert "Air temperature" not in out_of_range["detail"]
    unseen = check(report, "unseen_categories")
    assert unseen["status"] == "warn"
    assert unseen["detail"] == (
        "machine_id: 0.5% unseen (e.g. 99); shift: 1.0% unseen (e.g. weekend)"
    )
    assert report["status"] == "warn"


def test_write_outputs_writes_report_and_quarantine(
    tmp_project: Any, make_frame: MakeFrame
) -> None:
    settings = cfg(artifacts=tmp_project.artifacts)
    result = validate(broken_frame(make_frame), settings, source="line.csv")
    written = write_outputs(result, settings)
    assert written == {
        "report": tmp_project.artifacts / "reports" / "data_validation_report.json",
        "quarantine": tmp_project.artifacts / "quarantine.csv",
    }
    report = json.loads(written["report"].read_text(encoding="utf-8"))
    assert report["source"] == "line.csv"
    assert (report["rows_read"], report["rows_kept"], report["rows_quarantined"]) == (200, 195, 5)
    assert report["quarantined_by_reason"]["missing_target"] == 2
    assert report["columns"]["Torque [Nm]"]["dtype"] == "float64"
    assert set(report["columns"]["shift"]["top"]) == {"early", "late", "night"}
    assert {c["name"]: c["status"] for c in report["checks"]}["row_level"] == "warn"

    quarantine = pd.read_csv(written["quarantine"])
    assert quarantine[ROW_COLUMN].tolist() == [3, 5, 6, 7, 10]
    assert quarantine.loc[0, "Torque [Nm]"] == "abc"
    assert quarantine.loc[4, REASON_COLUMN] == "missing_target; unparseable_number:Torque [Nm]"
    assert list(quarantine.columns[2:]) == list(make_frame().columns)

    # a clean re-run removes the stale quarantine file
    written = write_outputs(validate(make_frame(), settings), settings)
    assert "quarantine" not in written
    assert not (tmp_project.artifacts / "quarantine.csv").exists()


# -- real data ------------------------------------------------------------------------------------


def test_ai4i_2020_validates() -> None:
    if not AI4I.is_file():
        pytest.skip(f"AI4I 2020 data not found at {AI4I}")
    raw = read_table(AI4I)
    result = validate(
        raw,
        cfg(
            target="Machine failure",
            categorical="Type,Product ID",
            drop="TWF,HDF,PWF,OSF,RNF",
            order_by="UDI",
        ),
    )
    assert len(raw) == 10_000
    assert len(result.frame) == 10_000
    assert len(result.quarantine) == 0
    assert int(result.y.sum()) == 339
    assert result.report["class_balance"]["defects"] == 339
    assert result.schema.numeric == (
        "Air temperature [K]",
        "Process temperature [K]",
        "Rotational speed [rpm]",
        "Torque [Nm]",
        "Tool wear [min]",
    )
    # a serial number unique per row is an identifier, left out of the features
    assert result.schema.categorical == ("Type",)
    assert set(result.schema.identifiers) == {"Product ID"}
    assert list(result.frame.columns) == [
        "UDI",
        "Product ID",
        "Type",
        "Air temperature [K]",
        "Process temperature [K]",
        "Rotational speed [rpm]",
        "Torque [Nm]",
        "Tool wear [min]",
        "Machine failure",
    ]
    assert result.frame["Product ID"].iloc[0] == "M14860"  # UDI order kept
    assert check(result.report, "class_balance")["status"] == "warn"  # 3.39% < 5%
