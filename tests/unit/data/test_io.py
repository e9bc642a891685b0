"""Reading and writing tables: verbatim column names, CSV == Parquet, clear errors, fingerprints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from defectops.core.config import load_settings
from defectops.core.errors import UserError
from defectops.data.io import frame_sha256, read_table, table_format, write_table
from defectops.data.validation import validate

ODD_NAMES = ["Air temperature [K]", "Torque [Nm]", "Temp °C", "tool wear (min)", "  padded name "]


def odd_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            ODD_NAMES[0]: [298.1, 298.2, 299.0],
            ODD_NAMES[1]: [42.8, 46.3, 39.5],
            ODD_NAMES[2]: [21.5, 22.0, 23.25],
            ODD_NAMES[3]: [0, 3, 5],
            ODD_NAMES[4]: ["a", "b", "c"],
            "DefectStatus": [0, 1, 0],
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".txt", ".parquet", ".pq", ".CSV"])
def test_round_trip_keeps_names_values_and_a_range_index(tmp_path: Path, suffix: str) -> None:
    frame = odd_frame()
    path = write_table(frame, tmp_path / f"data{suffix}")
    back = read_table(path)
    assert list(back.columns) == list(frame.columns)
    assert isinstance(back.index, pd.RangeIndex) and back.index.start == 0
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    # atomic write: only the target file is left in the directory
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_csv_gz_is_really_compressed(tmp_path: Path) -> None:
    path = write_table(odd_frame(), tmp_path / "data.csv.gz")
    assert path.read_bytes()[:2] == b"\x1f\x8b"


@pytest.mark.parametrize(
    ("name", "kind"),
    [("a.csv", "csv"), ("A.TXT", "csv"), ("a.csv.gz", "csv"), ("a.parquet", "parquet")],
)
def test_table_format_from_suffix(name: str, kind: str) -> None:
    assert table_format(Path(name)) == kind


@pytest.mark.parametrize("name", ["data.xlsx", "data.json", "data", "data.csv.bak"])
def test_unknown_suffix_is_a_user_error_and_writes_nothing(tmp_path: Path, name: str) -> None:
    with pytest.raises(UserError, match=r"unknown format; use one of .*\.csv.*\.parquet"):
        write_table(odd_frame(), tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / name).write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="unknown format"):
        read_table(tmp_path / name)


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"absent\.csv: not found"):
        read_table(tmp_path / "absent.csv")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("junk.parquet", np.random.default_rng(1).bytes(400)),
        ("text.parquet", b"a,b\n1,2\n"),
        ("junk.csv", np.random.default_rng(2).bytes(400)),
        ("image.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256))),
        ("empty.csv", b""),
    ],
)
def test_unreadable_content_is_a_user_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    kind = "parquet" if name.endswith(".parquet") else "csv"
    with pytest.raises(UserError, match=f"cannot read it as {kind}") as info:
        read_table(path)
    assert name in str(info.value)
    assert "\n" not in str(info.value)


def test_parquet_file_named_csv_is_a_user_error(tmp_path: Path) -> None:
    odd_frame().to_parquet(tmp_path / "x.parquet")
    (tmp_path / "x.parquet").rename(tmp_path / "x.csv")
    with pytest.raises(UserError, match="cannot read it as csv"):
        read_table(tmp_path / "x.csv")


def test_duplicate_parquet_columns_are_a_user_error(tmp_path: Path) -> None:
    table = pa.table([pa.array([1, 2]), pa.array([3, 4])], names=["Torque [Nm]", "Torque [Nm]"])
    pq.write_table(table, tmp_path / "dup.parquet")
    with pytest.raises(UserError, match=r"dup\.parquet"):
        read_table(tmp_path / "dup.parquet")


def test_duplicate_csv_header_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("Torque [Nm],Torque [Nm],DefectStatus\n1,2,0\n3,4,1\n")
    with pytest.raises(UserError, match=r"duplicate column names.*Torque \[Nm\]"):
        read_table(path)


# -- CSV and Parquet agree -------------------------------------------------------------------------


def messy_frame(make_frame: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    frame = make_frame(n=120, seed=3)
    frame["shift"] = frame["shift"].astype(object)
    frame.loc[[1, 2], "shift"] = None
    frame.loc[4, "Torque [Nm]"] = np.nan
    frame["machine_id"] = frame["machine_id"].astype(float)
    frame.loc[7, "machine_id"] = np.nan
    frame["Temp °C"] = np.linspace(18.0, 24.0, len(frame))
    frame["cooling on"] = frame["speed_rpm"] > 2000
    frame["DefectStatus"] = np.where(frame["DefectStatus"] == 1, "defect", "ok")
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def test_csv_and_parquet_validate_to_the_same_frame_and_fingerprint(
    tmp_path: Path, make_frame: Callable[..., pd.DataFrame]
) -> None:
    frame = messy_frame(make_frame)
    settings = load_settings(environ={})
    results = [
        validate(read_table(write_table(frame, tmp_path / f"line{suffix}")), settings)
        for suffix in (".csv", ".parquet")
    ]
    from_csv, from_parquet = results
    pd.testing.assert_frame_equal(from_csv.frame, from_parquet.frame)
    assert from_csv.schema == from_parquet.schema
    assert frame_sha256(from_csv.frame) == frame_sha256(from_parquet.frame)
    # and the result is the expected one, not merely equal
    clean = from_csv.frame
    assert len(clean) == 120
    assert int(clean["DefectStatus"].sum()) == 30
    assert clean["timestamp"].is_monotonic_increasing
    assert clean.loc[clean["shift"].isna()].shape[0] == 2
    assert set(clean["machine_id"].dropna()) <= {"1", "2", "3", "4", "5"}
    assert list(clean.columns) == list(frame.columns)


def test_csv_and_parquet_agree_with_a_real_datetime_column(
    tmp_path: Path, make_frame: Callable[..., pd.DataFrame]
) -> None:
    frame = make_frame(n=50)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    settings = load_settings(environ={})
    from_csv = validate(read_table(write_table(frame, tmp_path / "a.csv")), settings)
    from_parquet = validate(read_table(write_table(frame, tmp_path / "a.parquet")), settings)
    pd.testing.assert_frame_equal(from_csv.frame, from_parquet.frame)
    assert frame_sha256(from_csv.frame) == frame_sha256(from_parquet.frame)


# -- frame_sha256 ---------------------------------------------------------------------------------


def test_fingerprint_is_stable_and_ignores_the_index() -> None:
    frame = odd_frame()
    digest = frame_sha256(frame)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert frame_sha256(frame.copy()) == digest
    assert frame_sha256(frame.set_axis([10, 11, 12])) == digest


def test_fingerprint_sees_values_order_and_names() -> None:
    frame = odd_frame()
    digest = frame_sha256(frame)
    changed = frame.copy()
    changed.iloc[1, 0] = 298.3
    assert frame_sha256(changed) != digest
    assert frame_sha256(frame.iloc[::-1].reset_index(drop=True)) != digest
    assert frame_sha256(frame.rename(columns={"Temp °C": "Temp C"})) != digest
    assert frame_sha256(frame[list(reversed(frame.columns))]) != digest


def test_fingerprint_distinguishes_names_containing_commas() -> None:
    values = {"first": [1, 2], "second": [3, 4]}
    one = pd.DataFrame(values).set_axis(["x,y", "z"], axis=1)
    two = pd.DataFrame(values).set_axis(["x", "y,z"], axis=1)
    assert frame_sha256(one) != frame_sha256(two)
