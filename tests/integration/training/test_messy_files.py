"""Plant files as they come: markers, date formats, delimiters, decimal commas, encodings, gzip,
leaks and identifiers, conflicting options, extreme values, sparse defects.

Each file is written by hand (bytes as a plant's export writes them), read through the one data
contract, and checked against answers known from how the file was written.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cli_helpers import assert_user_error, invoke
from defectops.core.config import DEFAULT_NA_VALUES, load_settings
from defectops.core.errors import UserError
from defectops.data.io import read_raw
from defectops.data.validation import validate
from paths import SHARED_DATA

DATA = SHARED_DATA
AI4I = DATA / "ai4i2020.csv"
SECOM = DATA / "secom_uci.csv"


def cfg(**flags: Any):
    return load_settings(flags=flags, environ={})


def table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """``n`` rows: two readings, a machine, a label with every fourth row a defect."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "torque": np.round(rng.normal(40.0, 5.0, n), 2),
            "temp": np.round(rng.normal(300.0, 2.0, n), 1),
            "machine": rng.choice(["M1", "M2", "M3"], n),
            "DefectStatus": (np.arange(n) % 4 == 0).astype(int),
        }
    )


def csv_text(frame: pd.DataFrame, sep: str = ",") -> str:
    return frame.to_csv(index=False, sep=sep)


def check(report: dict[str, Any], name: str) -> dict[str, str]:
    return next(c for c in report["checks"] if c["name"] == name)


# -- missing markers -------------------------------------------------------------------------------


@pytest.mark.parametrize("marker", ["", *DEFAULT_NA_VALUES])
def test_every_default_marker_is_missing_and_the_column_stays_numeric(
    tmp_path: Path, marker: str
) -> None:
    frame = table().astype({"torque": object})
    frame.loc[[3, 10, 11], "torque"] = marker
    path = tmp_path / "line.csv"
    path.write_text(csv_text(frame), encoding="utf-8")
    result = validate(read_raw(path), cfg())
    assert "torque" in result.schema.numeric
    assert result.report["rows_quarantined"] == 0
    assert result.frame["torque"].isna().sum() == 3
    assert result.report["missing_markers"]["torque"] == {marker: 3}


def test_na_values_replace_the_default_markers(tmp_path: Path) -> None:
    frame = table().astype({"torque": object, "temp": object})
    frame.loc[[3, 4], "torque"] = "NA"  # not a marker any more: a bad number
    frame.loc[[5], "temp"] = "fault"  # a marker now
    path = tmp_path / "line.csv"
    path.write_text(csv_text(frame))
    result = validate(read_raw(path), cfg(na_values="fault,?"))
    assert result.quarantine["source_row"].tolist() == [3, 4]
    assert result.report["quarantined_by_reason"] == {"unparseable_number:torque": 2}
    assert result.report["missing_markers"] == {"temp": {"fault": 1}}


def test_a_question_mark_file_keeps_every_row(tmp_path: Path) -> None:
    """The UCI convention: ``?`` for missing in numeric columns (15% of rows here)."""
    frame = table(n=200).astype({"torque": object, "temp": object})
    rows = np.arange(0, 200, 7)
    frame.loc[rows, "torque"] = "?"
    frame.loc[rows[::2] + 1, "temp"] = "?"
    path = tmp_path / "uci.csv"
    path.write_text(csv_text(frame))
    result = validate(read_raw(path), cfg())
    assert result.schema.numeric == ("torque", "temp")
    assert len(result.frame) == 200
    assert result.report["missing_markers"] == {
        "temp": {"?": len(rows[::2])},
        "torque": {"?": len(rows)},
    }


def test_a_missing_marker_label_is_a_missing_label(tmp_path: Path) -> None:
    frame = table().astype({"DefectStatus": object})
    frame.loc[7, "DefectStatus"] = "?"
    path = tmp_path / "line.csv"
    path.write_text(csv_text(frame))
    result = validate(read_raw(path), cfg())
    assert result.report["quarantined_by_reason"] == {"missing_target": 1}
    assert result.schema.positive_label == "1" and result.schema.negative_label == "0"


# -- timestamps ------------------------------------------------------------------------------------

STAMPS = pd.date_range("2008-07-19 11:55", periods=60, freq="37h")


@pytest.mark.parametrize(
    ("name", "render", "expected_format"),
    [
        ("timestamp", lambda t: t.strftime("%Y-%m-%dT%H:%M:%S"), "ISO8601"),
        ("timestamp", lambda t: t.strftime("%Y-%m-%d %H:%M"), "ISO8601"),
        ("timestamp", lambda t: t.strftime("%d/%m/%Y %H:%M:%S"), "%d/%m/%Y %H:%M:%S"),
        ("timestamp", lambda t: t.strftime("%m/%d/%Y %H:%M"), "%m/%d/%Y %H:%M"),
        ("timestamp", lambda t: t.strftime("%d.%m.%Y %H:%M"), "%d.%m.%Y %H:%M"),
        ("timestamp", lambda t: t.strftime("%m/%d/%Y %I:%M %p"), "%m/%d/%Y %I:%M %p"),
        ("date", lambda t: t.strftime("%Y%m%d"), "%Y%m%d"),
        ("event_time", lambda t: str(int(t.timestamp())), "epoch_s"),
        ("ts", lambda t: str(int(t.timestamp() * 1000)), "epoch_ms"),
    ],
)
def test_each_timestamp_format_is_read_in_true_time_order(
    tmp_path: Path, name: str, render: Any, expected_format: str
) -> None:
    frame = table()
    frame.insert(0, name, [render(t) for t in STAMPS])
    shuffled = frame.sample(frac=1.0, random_state=3)
    path = tmp_path / "line.csv"
    path.write_text(csv_text(shuffled))
    result = validate(read_raw(path), cfg())
    assert result.schema.timestamp_formats == {name: expected_format}
    assert result.schema.order_by == name
    truth = STAMPS.floor("min") if "%S" not in expected_format else STAMPS
    if expected_format == "%Y%m%d":
        truth = STAMPS.normalize()
    assert result.frame[name].tolist() == list(truth)  # sorted into true time order
    assert result.frame["torque"].tolist() == frame["torque"].tolist()
    column = result.report["columns"][name]
    assert column["format"] == expected_format
    assert column["min"] == truth[0].isoformat() and column["max"] == truth[-1].isoformat()


def test_day_first_is_decided_by_a_day_above_twelve(tmp_path: Path) -> None:
    """The SECOM case: ``01/08/2008`` is the 1st of August, because ``19/07/2008`` exists."""
    path = tmp_path / "line.csv"
    frame = table(n=4)
    frame.insert(0, "when", ["19/07/2008 10:00", "01/08/2008 09:00", "02/08/2008 08:00", "x"])
    path.write_text(csv_text(frame))
    result = validate(read_raw(path), cfg(order_by="when"))
    assert result.schema.timestamp_formats == {"when": "%d/%m/%Y %H:%M"}
    assert [t.strftime("%Y-%m-%d") for t in result.frame["when"]] == [
        "2008-07-19",
        "2008-08-01",
        "2008-08-02",
    ]
    # a value that does not fit the column's one format is quarantined, with its reason
    assert result.quarantine["quarantine_reason"].tolist() == ["bad_order_value:when"]
    assert not any("no value decides" in n for n in result.schema.notes)


def test_an_undecided_day_first_column_says_what_was_assumed(tmp_path: Path) -> None:
    frame = table(n=3)
    frame.insert(0, "when", ["01/02/2020", "03/02/2020", "05/02/2020"])
    path = tmp_path / "line.csv"
    path.write_text(csv_text(frame))
    result = validate(read_raw(path), cfg())
    assert result.schema.timestamp_formats == {"when": "%d/%m/%Y"}
    assert any(
        "no value decides between day-first and month-first" in n for n in result.schema.notes
    )
    # --timestamp-format overrides the assumption
    chosen = validate(read_raw(path), cfg(timestamp_format="%m/%d/%Y"))
    assert chosen.schema.timestamp_formats == {"when": "%m/%d/%Y"}
    assert [t.month for t in chosen.frame["when"]] == [1, 3, 5]


def test_the_rows_written_in_time_order_decide_an_undecided_column(tmp_path: Path) -> None:
    # month-first: 12 Jan, 1 Feb, 2 Mar ... in order; read day-first they would jump around
    when = ["01/12/2021", "02/01/2021", "03/02/2021", "04/03/2021", "05/04/2021"]
    frame = table(n=5)
    frame.insert(0, "when", when)
    path = tmp_path / "line.csv"
    path.write_text(csv_text(frame))
    result = validate(read_raw(path), cfg())
    assert result.schema.timestamp_formats == {"when": "%m/%d/%Y"}
    assert any("in time order more often" in n for n in result.schema.notes)


def test_secom_parses_in_true_time_order() -> None:
    if not SECOM.is_file():
        pytest.skip(f"SECOM not found at {SECOM}")
    result = validate(read_raw(SECOM), cfg(target="label"))
    explicit = pd.to_datetime(
        pd.read_csv(SECOM, usecols=["timestamp"])["timestamp"], format="%d/%m/%Y %H:%M:%S"
    )
    assert result.schema.timestamp_formats == {"timestamp": "%d/%m/%Y %H:%M:%S"}
    assert len(result.frame) == 1_567
    # the file is in time order: sorting by the parsed stamps keeps every row where it was
    np.testing.assert_array_equal(result.frame["timestamp"].to_numpy(), explicit.to_numpy())
    assert result.report["columns"]["timestamp"]["min"] == "2008-07-19T11:55:00"
    assert result.report["columns"]["timestamp"]["max"] == "2008-10-17T06:07:00"
    assert (result.schema.positive_label, result.schema.negative_label) == ("1", "-1")


# -- file formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_every_delimiter_is_sniffed(tmp_path: Path, sep: str) -> None:
    frame = table()
    path = tmp_path / "line.csv"
    path.write_text(csv_text(frame, sep))
    raw = read_raw(path)
    assert list(raw.columns) == list(frame.columns)
    result = validate(raw, cfg())
    assert result.frame["torque"].tolist() == frame["torque"].tolist()
    assert result.report["read_as"]["delimiter"] == sep


def test_a_european_export_with_decimal_commas(tmp_path: Path) -> None:
    frame = table()
    text = frame.to_csv(index=False, sep=";", decimal=",")
    assert "," in text.splitlines()[1]
    path = tmp_path / "export.csv"
    path.write_text(text)
    result = validate(read_raw(path), cfg())
    assert result.schema.numeric == ("torque", "temp")
    assert result.frame["torque"].tolist() == frame["torque"].tolist()
    assert result.report["read_as"]["decimal"] == ","


def test_decimal_points_and_commas_mixed_are_read_with_points(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("torque;note;DefectStatus\n1.5;a,b;0\n2,5;c;1\n3.5;d;0\n")
    raw = read_raw(path)
    assert raw.attrs["defectops.read_as"]["decimal"] == "."
    assert raw["note"].tolist() == ["a,b", "c", "d"]


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
    ],
)
def test_utf8_with_or_without_bom_and_utf16_with_bom(
    tmp_path: Path, encoding: str, bom: bytes
) -> None:
    frame = table().rename(columns={"temp": "Temp °C"})
    path = tmp_path / "line.csv"
    path.write_bytes(bom + csv_text(frame).encode(encoding))
    raw = read_raw(path)
    assert list(raw.columns) == list(frame.columns)  # no BOM glued to the first name
    result = validate(raw, cfg())
    assert result.frame["Temp °C"].tolist() == frame["Temp °C"].tolist()


def test_another_encoding_is_refused_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(csv_text(table().rename(columns={"temp": "Temp °C"})).encode("latin-1"))
    with pytest.raises(UserError, match=r"latin1\.csv: cannot read it as csv \(not UTF-8 text"):
        read_raw(path)


@pytest.mark.parametrize("name", ["line.csv.gz", "line.csv"])
def test_gzip_is_read_by_its_magic_bytes(tmp_path: Path, name: str) -> None:
    frame = table()
    path = tmp_path / name
    path.write_bytes(gzip.compress(csv_text(frame, ";").encode()))
    raw = read_raw(path)
    assert raw.attrs["defectops.read_as"]["compression"] == "gzip"
    assert validate(raw, cfg()).frame["temp"].tolist() == frame["temp"].tolist()


# -- conflicting options, extreme values -----------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--order-by", "when", "--drop", "when"], ["'when'", "order_by", "drop"]),
        (["--categorical", "machine", "--drop", "machine"], ["'machine'", "drop"]),
        (["--drop", "DefectStatus"], ["'DefectStatus'", "target"]),
        (["--categorical", "machine,machine"], ["'machine'", "twice"]),
        (["--drop", "temp,temp"], ["'temp'", "twice"]),
    ],
)
def test_conflicting_options_stop_before_anything_is_written(
    tmp_project: Any, flags: list[str], named: list[str]
) -> None:
    frame = table()
    frame.insert(0, "when", [t.isoformat() for t in STAMPS])
    (tmp_project.root / "line.csv").write_text(csv_text(frame))
    for verb in ("validate", "run"):
        assert_user_error(invoke(verb, "--data", "line.csv", *flags), "conflicting", *named)
    assert not tmp_project.artifacts.exists()


def test_values_beyond_float32_are_quarantined_and_the_bound_is_a_setting(tmp_path: Path) -> None:
    frame = table().astype({"torque": object})
    frame.loc[2, "torque"] = "1e300"
    frame.loc[5, "torque"] = "-4e38"
    frame.loc[6, "torque"] = "2e6"
    path = tmp_path / "line.csv"
    path.write_text(csv_text(frame))
    result = validate(read_raw(path), cfg())
    assert result.quarantine["source_row"].tolist() == [2, 5]
    assert set(result.quarantine["quarantine_reason"]) == {"beyond_max_abs_value:torque"}
    tight = validate(read_raw(path), cfg(max_abs_value=1e6))
    assert tight.quarantine["source_row"].tolist() == [2, 5, 6]


# -- leaks and identifiers -------------------------------------------------------------------------


def test_ai4i_without_drop_flags_the_leaks_and_the_identifiers() -> None:
    if not AI4I.is_file():
        pytest.skip(f"AI4I not found at {AI4I}")
    result = validate(read_raw(AI4I), cfg(target="Machine failure"))
    schema = result.schema
    assert set(schema.identifiers) == {"UDI", "Product ID"}
    assert "counter" in schema.identifiers["UDI"]
    assert "unique per row" in schema.identifiers["Product ID"]
    assert not {"UDI", "Product ID"} & set(schema.features)
    assert set(schema.leak_suspects) == {"TWF", "HDF", "PWF", "OSF"}
    # the crosstab of the file: each flag set means a failure, every time
    assert "46 of 339 defects" in schema.leak_suspects["TWF"]
    assert "115 of 339 defects" in schema.leak_suspects["HDF"]
    leakage = check(result.report, "leakage")
    assert leakage["status"] == "warn"
    assert "--drop TWF,HDF,PWF,OSF" in leakage["detail"]
    identifiers = check(result.report, "identifiers")
    assert identifiers["status"] == "warn" and "UDI" in identifiers["detail"]


def test_ai4i_strict_refuses_the_leaks_with_the_exact_drop(tmp_project: Any) -> None:
    if not AI4I.is_file():
        pytest.skip(f"AI4I not found at {AI4I}")
    result = invoke("run", "--data", AI4I, "--target", "Machine failure", "--strict")
    assert_user_error(result, "leak suspects", "--drop TWF,HDF,PWF,OSF")
    assert not tmp_project.artifacts.exists()
    # with the suggested --drop (and the order column), it validates clean of leaks
    ok = invoke(
        "validate", "--data", AI4I, "--target", "Machine failure", "--strict",
        "--drop", "TWF,HDF,PWF,OSF,RNF", "--order-by", "UDI",
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    report = json.loads(
        (tmp_project.artifacts / "reports" / "data_validation_report.json").read_text()
    )
    assert check(report, "leakage")["status"] == "pass"
    assert report["schema"]["identifiers"] == {
        "Product ID": "unique per row (10,000 distinct values in 10,000)"
    }


def test_identifiers_can_be_kept(tmp_path: Path) -> None:
    frame = table(n=120)
    frame.insert(0, "serial", [f"S{i:05d}" for i in range(120)])
    frame.insert(0, "row", np.arange(1, 121))
    path = tmp_path / "line.csv"
    path.write_text(csv_text(frame))
    default = validate(read_raw(path), cfg())
    assert set(default.schema.identifiers) == {"row", "serial"}
    assert not {"row", "serial"} & set(default.schema.features)
    kept = validate(read_raw(path), cfg(keep_identifiers=True))
    assert {"row", "serial"} <= set(kept.schema.features)
    assert "kept as features" in check(kept.report, "identifiers")["detail"]


def test_real_readings_are_neither_identifiers_nor_leaks(tmp_path: Path) -> None:
    """Float readings unique per row, and the simulator's line, trip no guard."""
    from defectops.data.simulate import SimulationSpec, simulate

    frame, _ = simulate(SimulationSpec(rows=5_000, seed=3))
    path = tmp_path / "line.csv"
    frame.to_csv(path, index=False)
    result = validate(read_raw(path), cfg())
    assert result.schema.identifiers == {} and result.schema.leak_suspects == {}


# -- sparse defects --------------------------------------------------------------------------------


def test_defects_only_early_in_an_ordered_file_still_run_by_default(tmp_project: Any) -> None:
    """1% defects, all in the first 60% of the rows: the tail holds none, so the hold-out
    falls back to stratified, and says why."""
    from defectops.data.simulate import SimulationSpec, simulate

    frame, _ = simulate(SimulationSpec(rows=3_000, seed=8))
    y = np.zeros(3_000, dtype=int)
    y[np.arange(30) * 60] = 1  # 30 defects in rows 0 .. 1,740
    frame["DefectStatus"] = y
    frame.to_csv(tmp_project.root / "sparse.csv", index=False)
    result = invoke("run", "--data", "sparse.csv", "--model", "logreg")
    assert result.exit_code == 0, result.output
    assert "hold-out: stratified" in result.stdout
    report = json.loads(
        (tmp_project.artifacts / "reports" / "incremental_training_report.json").read_text()
    )
    rule = report["data"]["holdout_rule"]
    assert rule["rule"] == "stratified" and rule["rows"] == 600 and rule["defects"] == 6
    assert "clustered earlier" in rule["why"]


# -- labels in the production loop -----------------------------------------------------------------


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A champion trained on 0/1 labels, and the rows that come after it."""
    from defectops.data.simulate import SimulationSpec, simulate
    from defectops.ops.run import run_pipeline

    root = tmp_path_factory.mktemp("loop")
    frame, _ = simulate(SimulationSpec(rows=2_400, seed=4))
    frame.iloc[:1_200].to_csv(root / "line.csv", index=False)
    settings = cfg(
        data=root / "line.csv",
        artifacts=root / "artifacts",
        model="logreg",
        chunk_size=600,
        ingest={"retrain": "every-n", "every": 100, "label_key": "timestamp"},
    )
    run_pipeline(settings)
    return {"root": root, "settings": settings, "later": frame.iloc[1_200:].reset_index(drop=True)}


def stored_labels(settings: Any, batch: str) -> list[int]:
    from defectops.data.store import DataStore

    return DataStore(settings.store_dir).read_batch(batch)["DefectStatus"].astype(int).tolist()


@pytest.mark.parametrize(
    ("name", "spelled"),
    [
        ("yes_no", {1: "yes", 0: "no"}),
        ("minus_one", {1: "1", 0: "-1"}),
        ("words", {1: "NOK", 0: "OK"}),
    ],
)
def test_ingest_maps_labels_written_otherwise_onto_the_champions_classes(
    loop: dict[str, Any], name: str, spelled: dict[int, str]
) -> None:
    from defectops.ops.ingest import ingest_batch

    rows = loop["later"].iloc[:200].copy()
    rows["timestamp"] = rows["timestamp"] + pd.Timedelta(days=len(name))  # a new batch each
    truth = rows["DefectStatus"].tolist()
    rows["DefectStatus"] = rows["DefectStatus"].map(spelled)
    path = loop["root"] / f"{name}.csv"
    rows.to_csv(path, index=False)
    result = ingest_batch(loop["settings"], path)
    assert result.batch.labelled_rows == 200
    assert stored_labels(loop["settings"], name) == truth


def test_ingest_refuses_a_third_class_and_stores_nothing(loop: dict[str, Any]) -> None:
    from defectops.ops.ingest import ingest_batch

    settings = loop["settings"]
    rows = loop["later"].iloc[200:400].copy()
    rows.loc[rows.index[:5], "DefectStatus"] = 2
    path = loop["root"] / "three_classes.csv"
    rows.to_csv(path, index=False)
    store = settings.store_dir
    before = sorted(p.relative_to(store) for p in store.rglob("*")) if store.exists() else []
    with pytest.raises(UserError, match=r"values the model's two classes do not cover: '2'"):
        ingest_batch(settings, path)
    after = sorted(p.relative_to(store) for p in store.rglob("*")) if store.exists() else []
    assert after == before


def test_label_maps_yes_no_and_refuses_a_third_class(loop: dict[str, Any]) -> None:
    from defectops.ops.ingest import ingest_batch
    from defectops.ops.labels import attach_labels

    settings = loop["settings"]
    rows = loop["later"].iloc[400:600].copy()
    truth = rows["DefectStatus"].tolist()
    unlabelled = rows.assign(DefectStatus=np.nan)
    unlabelled.to_csv(loop["root"] / "late.csv", index=False)
    ingest_batch(settings, loop["root"] / "late.csv")
    bad = rows[["timestamp", "DefectStatus"]].assign(DefectStatus=rows["DefectStatus"] + 1)
    bad.to_csv(loop["root"] / "bad_labels.csv", index=False)
    with pytest.raises(UserError, match=r"do not cover: '2'"):
        attach_labels(settings, "late", loop["root"] / "bad_labels.csv")
    assert set(pd.isna(pd.Series(stored_labels_or_none(settings, "late")))) == {True}
    words = rows[["timestamp", "DefectStatus"]].assign(
        DefectStatus=np.where(rows["DefectStatus"] == 1, "yes", "no")
    )
    words.to_csv(loop["root"] / "labels.csv", index=False)
    attach_labels(settings, "late", loop["root"] / "labels.csv")
    assert stored_labels(settings, "late") == truth


def stored_labels_or_none(settings: Any, batch: str) -> list[Any]:
    from defectops.data.store import DataStore

    return DataStore(settings.store_dir).read_batch(batch)["DefectStatus"].tolist()


# -- the service reads markers as the contract does ------------------------------------------------


def test_a_marker_in_a_requests_categorical_field_is_missing_as_in_training(
    tmp_path: Path,
) -> None:
    """``?`` in a file's ``shift`` column is missing when the model learns; ``?`` in a request
    must be missing too, not a category never seen (which a linear model gives no weight)."""
    from fastapi.testclient import TestClient

    from defectops.data.simulate import SimulationSpec, simulate
    from defectops.ops.run import run_pipeline
    from defectops.serving import create_app

    frame, _ = simulate(SimulationSpec(rows=1_500, seed=9))
    frame["shift"] = frame["shift"].astype(object)
    frame.loc[frame.index % 4 == 0, "shift"] = "?"
    frame.to_csv(tmp_path / "line.csv", index=False)
    settings = cfg(data=tmp_path / "line.csv", artifacts=tmp_path / "a", model="logreg",
                   chunk_size=600)  # fmt: skip
    run_pipeline(settings)
    body = json.loads(frame.drop(columns=["timestamp", "DefectStatus"]).iloc[[1]].to_json(
        orient="records"))[0]  # fmt: skip
    scores = {}
    with TestClient(create_app(settings, poll_interval=None)) as client:
        for value in (None, "?", "NA", "a shift never seen"):
            response = client.post("/predict", json={**body, "shift": value})
            assert response.status_code == 200, response.text
            scores[value] = response.json()["defect_probability"]
    assert scores["?"] == scores[None] == scores["NA"]
    assert scores["a shift never seen"] != scores[None]  # missing has a weight of its own


# -- the dask engine reads the same way ------------------------------------------------------------


def test_dask_decides_an_undecided_sample_from_every_row(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dask engine infers column roles from the first rows; when those cannot tell
    day-first from month-first, the format is decided from every partition's values."""
    from distributed import Client

    import defectops.engines.dask.validate as dist

    stamps = pd.Timestamp("2021-01-02") + pd.to_timedelta(np.arange(600) * 1.5, unit="h")
    frame = table(n=600)
    frame.insert(0, "when", stamps.strftime("%m/%d/%Y %H:%M"))  # days above 12 from row 176
    path = tmp_path / "line.csv"
    path.write_text(csv_text(frame))
    monkeypatch.setattr(dist, "SCHEMA_SAMPLE_ROWS", 100)  # all on 2-6 January: undecided
    monkeypatch.setattr(dist, "CSV_BLOCKSIZE", "8KB")
    local = validate(read_raw(path), cfg())
    assert local.schema.timestamp_formats == {"when": "%m/%d/%Y %H:%M"}
    sample = validate(read_raw(path, nrows=100), cfg())
    assert sample.schema.timestamp_formats == {"when": "%d/%m/%Y %H:%M"}  # the sample alone errs
    with Client(cluster) as client:
        remote = dist.validate_distributed(path, cfg(artifacts=tmp_path / "a"), client)
        assert len(remote.frame.parts) > 1
        assert remote.schema.timestamp_formats == {"when": "%m/%d/%Y %H:%M"}
        assert not any("no value decides" in n for n in remote.schema.notes)
        assert remote.report["columns"]["when"] == local.report["columns"]["when"]
