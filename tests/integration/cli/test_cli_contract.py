"""The CLI contract of ``defectops validate``: exit codes, one-line errors, what lands on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import Result

from cli_helpers import assert_user_error, invoke
from paths import REPO

MakeFrame = Callable[..., pd.DataFrame]
REPO = REPO
AI4I = REPO.parent / "shared" / "data" / "ai4i2020.csv"
CONSOLE_SCRIPT = Path(sys.executable).parent / "defectops"


def validate_cmd(project: Any, *args: str | Path) -> Result:
    return invoke("validate", "--artifacts", project.artifacts, *args)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def report_of(project: Any) -> dict[str, Any]:
    path = project.artifacts / "reports" / "data_validation_report.json"
    return json.loads(path.read_text(encoding="utf-8"))


# -- fatal errors: exit 2, a line naming the thing, nothing written --------------------------------


def _binary_frame(**columns: Any) -> pd.DataFrame:
    return pd.DataFrame({"Torque [Nm]": np.linspace(30.0, 50.0, 8), **columns})


FATAL_CASES: dict[str, tuple[Callable[[Path], None], list[str], list[str]]] = {
    # name: (write the inputs into the project dir, extra CLI args, strings the error must name)
    "missing target column": (
        lambda d: _binary_frame(Status=[0, 1] * 4).to_csv(d / "line.csv", index=False),
        ["--data", "line.csv"],
        ["'DefectStatus'", "from target"],
    ),
    "missing named target column": (
        lambda d: _binary_frame(DefectStatus=[0, 1] * 4).to_csv(d / "line.csv", index=False),
        ["--data", "line.csv", "--target", "Machine failure"],
        ["'Machine failure'"],
    ),
    "three classes": (
        lambda d: _binary_frame(DefectStatus=[0, 1, 2, 0] * 2).to_csv(d / "line.csv", index=False),
        ["--data", "line.csv"],
        ["'DefectStatus'", "3 classes"],
    ),
    "one class": (
        lambda d: _binary_frame(DefectStatus=["ok"] * 8).to_csv(d / "line.csv", index=False),
        ["--data", "line.csv"],
        ["'DefectStatus'", "one class only"],
    ),
    "no feature columns": (
        lambda d: _binary_frame(DefectStatus=[0, 1] * 4).to_csv(d / "line.csv", index=False),
        ["--data", "line.csv", "--drop", "Torque [Nm]"],
        ["no feature columns", "--drop"],
    ),
    "garbage parquet": (
        lambda d: (d / "line.parquet").write_bytes(np.random.default_rng(0).bytes(300)),
        ["--data", "line.parquet"],
        ["line.parquet", "cannot read it as parquet"],
    ),
    "binary junk csv": (
        lambda d: (d / "line.csv").write_bytes(b"\x00\xff\xfe\x89PNG" * 40),
        ["--data", "line.csv"],
        ["line.csv", "cannot read it as csv"],
    ),
    "missing file": (
        lambda d: None,
        ["--data", "nowhere/line.csv"],
        ["line.csv", "not found"],
    ),
    "unknown suffix": (
        lambda d: (d / "line.xlsx").write_text("Torque [Nm],DefectStatus\n1,0\n2,1\n"),
        ["--data", "line.xlsx"],
        ["line.xlsx", "unknown format"],
    ),
    "categorical column missing": (
        lambda d: _binary_frame(DefectStatus=[0, 1] * 4).to_csv(d / "line.csv", index=False),
        ["--data", "line.csv", "--categorical", "Type,Product ID"],
        ["'Type'", "from categorical"],
    ),
    "drop column missing": (
        lambda d: _binary_frame(DefectStatus=[0, 1] * 4).to_csv(d / "line.csv", index=False),
        ["--data", "line.csv", "--drop", "UDI"],
        ["'UDI'", "from drop"],
    ),
    "order column missing": (
        lambda d: _binary_frame(DefectStatus=[0, 1] * 4).to_csv(d / "line.csv", index=False),
        ["--data", "line.csv", "--order-by", "Timestamp [UTC]"],
        ["'Timestamp [UTC]'", "from order_by"],
    ),
    "config file names a missing column": (
        lambda d: (
            _binary_frame(DefectStatus=[0, 1] * 4).to_csv(d / "line.csv", index=False),
            (d / "c.yaml").write_text("data: line.csv\ncategorical: [Type]\n"),
        ),
        ["--config", "c.yaml"],
        ["'Type'", "from categorical"],
    ),
    "config file unknown key": (
        lambda d: (
            _binary_frame(DefectStatus=[0, 1] * 4).to_csv(d / "line.csv", index=False),
            (d / "c.yaml").write_text("data: line.csv\ncategoricals: [Type]\n"),
        ),
        ["--config", "c.yaml"],
        ["categoricals", "unknown key"],
    ),
    "positive label not a target value": (
        lambda d: _binary_frame(DefectStatus=["Y", "N"] * 4).to_csv(d / "line.csv", index=False),
        ["--data", "line.csv", "--positive-label", "defect"],
        ["'defect'", "'DefectStatus'", "--positive-label"],
    ),
    "ambiguous labels": (
        lambda d: _binary_frame(DefectStatus=["red", "blue"] * 4).to_csv(
            d / "line.csv", index=False
        ),
        ["--data", "line.csv"],
        ["'DefectStatus'", "blue, red", "--positive-label"],
    ),
    "no data given": (lambda d: None, [], ["--data"]),
}


@pytest.mark.parametrize("case", list(FATAL_CASES))
def test_fatal_errors_exit_2_name_the_problem_and_write_nothing(
    tmp_project: Any, case: str
) -> None:
    prepare, args, named = FATAL_CASES[case]
    prepare(tmp_project.root)
    before = files_under(tmp_project.root)
    result = validate_cmd(tmp_project, *args)
    assert_user_error(result, *named)
    assert not tmp_project.artifacts.exists()
    assert files_under(tmp_project.root) == before


def test_fatal_error_leaves_an_earlier_report_untouched(
    tmp_project: Any, make_frame: MakeFrame
) -> None:
    make_frame().to_csv("good.csv", index=False)
    assert validate_cmd(tmp_project, "--data", "good.csv").exit_code == 0
    report = tmp_project.artifacts / "reports" / "data_validation_report.json"
    first = report.read_bytes()
    before = files_under(tmp_project.root)
    make_frame().drop(columns=["DefectStatus"]).to_csv("bad.csv", index=False)
    assert_user_error(validate_cmd(tmp_project, "--data", "bad.csv"), "'DefectStatus'")
    assert report.read_bytes() == first
    assert files_under(tmp_project.root) == before | {"bad.csv"}
    assert not (tmp_project.artifacts / "quarantine.csv").exists()


def test_env_typo_is_exit_2_naming_the_variable(
    tmp_project: Any, make_frame: MakeFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_frame().to_csv("line.csv", index=False)
    monkeypatch.setenv("DEFECTOPS_CHUNKSIZE", "500")
    assert_user_error(validate_cmd(tmp_project, "--data", "line.csv"), "DEFECTOPS_CHUNKSIZE")
    assert not tmp_project.artifacts.exists()


def test_env_bad_value_is_exit_2_naming_the_key(
    tmp_project: Any, make_frame: MakeFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_frame().to_csv("line.csv", index=False)
    monkeypatch.setenv("DEFECTOPS_CHUNK_SIZE", "0")
    assert_user_error(validate_cmd(tmp_project, "--data", "line.csv"), "chunk_size", "(got '0')")


def test_list_valued_parquet_column_is_a_user_error(tmp_project: Any) -> None:
    table = pa.table(
        {
            "readings": pa.array([[1.0, 2.0], [3.0]] * 10),
            "Torque [Nm]": np.linspace(30.0, 50.0, 20),
            "DefectStatus": [0, 1] * 10,
        }
    )
    pq.write_table(table, "line.parquet")
    assert_user_error(validate_cmd(tmp_project, "--data", "line.parquet"), "'readings'")


def test_debug_switch_does_not_break_validate(
    tmp_project: Any, make_frame: MakeFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_frame().to_csv("line.csv", index=False)
    monkeypatch.setenv("DEFECTOPS_DEBUG", "1")
    result = validate_cmd(tmp_project, "--data", "line.csv")
    assert result.exit_code == 0, result.output


# -- the real process exit code ------------------------------------------------------------------


def run_process(project: Any, *args: str, script: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DEFECTOPS_")}
    if script:
        if not CONSOLE_SCRIPT.is_file():
            pytest.skip(f"console script not installed at {CONSOLE_SCRIPT}")
        command = [str(CONSOLE_SCRIPT)]
    else:
        command = [sys.executable, "-c", "from defectops.cli import main; main()"]
    return subprocess.run(
        [*command, "validate", "--artifacts", str(project.artifacts), *args],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_process_exit_2_for_missing_target(tmp_project: Any, make_frame: MakeFrame) -> None:
    make_frame().drop(columns=["DefectStatus"]).to_csv("line.csv", index=False)
    done = run_process(tmp_project, "--data", "line.csv", "--order-by", "timestamp")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: column 'DefectStatus' (from target) is not in the data; available columns: "
        "Air temperature [K], Torque [Nm], speed_rpm, machine_id, shift, timestamp"
    ]
    assert done.stdout == ""
    assert not tmp_project.artifacts.exists()


def test_console_script_exit_2_for_garbage_parquet_and_unknown_suffix(tmp_project: Any) -> None:
    Path("line.parquet").write_bytes(b"PAR1" + bytes(200))
    done = run_process(tmp_project, "--data", "line.parquet", script=True)
    assert done.returncode == 2
    assert done.stderr.startswith("error: data file line.parquet: cannot read it as parquet")
    assert len(done.stderr.splitlines()) == 1
    done = run_process(tmp_project, "--data", "line.json", script=True)
    assert done.returncode == 2
    assert "line.json: unknown format" in done.stderr
    assert not tmp_project.artifacts.exists()


def test_console_script_success_exits_0(tmp_project: Any, make_frame: MakeFrame) -> None:
    make_frame().to_csv("line.csv", index=False)
    done = run_process(tmp_project, "--data", "line.csv", script=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "rows read 200, kept 200, quarantined 0" in done.stdout
    assert report_of(tmp_project)["rows_read"] == 200


# -- success: report, quarantine, positive label, precedence -------------------------------------


def test_validate_writes_report_and_quarantine(tmp_project: Any, make_frame: MakeFrame) -> None:
    frame = make_frame()
    frame["Torque [Nm]"] = frame["Torque [Nm]"].astype(object)
    frame.loc[3, "Torque [Nm]"] = "abc"
    frame.loc[5, "Torque [Nm]"] = np.inf
    frame.loc[6, "Air temperature [K]"] = -np.inf
    frame["DefectStatus"] = frame["DefectStatus"].astype(float)
    frame.loc[[7, 3], "DefectStatus"] = np.nan
    frame.loc[9, "timestamp"] = None
    frame.to_csv("line.csv", index=False)

    result = validate_cmd(tmp_project, "--data", "line.csv")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "rows read 200, kept 195, quarantined 5" in result.stdout
    assert "categorical columns inferred: machine_id, shift" in result.stdout

    report = report_of(tmp_project)
    assert report["source"] == "line.csv"
    assert (report["rows_read"], report["rows_kept"], report["rows_quarantined"]) == (200, 195, 5)
    assert report["quarantined_by_reason"] == {
        "bad_order_value:timestamp": 1,
        "infinite_value:Air temperature [K]": 1,
        "infinite_value:Torque [Nm]": 1,
        "missing_target": 2,
        "unparseable_number:Torque [Nm]": 1,
    }
    assert set(report["columns"]) == {
        "Air temperature [K]",
        "Torque [Nm]",
        "speed_rpm",
        "machine_id",
        "shift",
        "timestamp",
    }
    assert report["columns"]["Torque [Nm]"]["role"] == "numeric"
    assert {"dtype", "null_rate", "min", "max", "mean"} <= set(report["columns"]["speed_rpm"])
    assert set(report["columns"]["shift"]["top"]) == {"early", "late", "night"}
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["row_level"] == "warn"
    assert set(statuses.values()) <= {"pass", "warn", "fail"}

    quarantine = pd.read_csv(tmp_project.artifacts / "quarantine.csv")
    assert quarantine["source_row"].tolist() == [3, 5, 6, 7, 9]
    assert quarantine["quarantine_reason"].tolist() == [
        "missing_target; unparseable_number:Torque [Nm]",
        "infinite_value:Torque [Nm]",
        "infinite_value:Air temperature [K]",
        "missing_target",
        "bad_order_value:timestamp",
    ]
    assert quarantine.loc[0, "Torque [Nm]"] == "abc"
    assert list(quarantine.columns) == ["source_row", "quarantine_reason", *frame.columns]


@pytest.mark.parametrize(
    ("values", "flag", "expected_label", "defects"),
    [
        ([0.0, 1.0, 0.0, 0.0], "1", "1", 2),
        (["Y", "N", "N", "N"], "N", "n", 6),
        (["Y", "N", "N", "N"], None, "y", 2),
        ([True, False, False, False], None, "true", 2),
    ],
)
def test_positive_label_through_the_cli(
    tmp_project: Any, values: list[Any], flag: str | None, expected_label: str, defects: int
) -> None:
    _binary_frame(DefectStatus=values * 2).to_csv("line.csv", index=False)
    extra = ["--positive-label", flag] if flag is not None else []
    result = validate_cmd(tmp_project, "--data", "line.csv", *extra)
    assert result.exit_code == 0, result.output
    report = report_of(tmp_project)
    assert report["schema"]["positive_label"] == expected_label
    assert report["class_balance"]["defects"] == defects


def test_file_env_flag_precedence_through_the_cli(
    tmp_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 40
    frame = pd.DataFrame(
        {
            "Torque [Nm]": np.linspace(30.0, 50.0, n),
            "from_file": (np.arange(n) < 4).astype(int),
            "from_env": (np.arange(n) < 8).astype(int),
            "from_flag": (np.arange(n) < 12).astype(int),
        }
    )
    frame.to_csv("line.csv", index=False)
    Path("c.yaml").write_text("data: line.csv\ntarget: from_file\n", encoding="utf-8")

    def defects(*args: str) -> int:
        result = validate_cmd(tmp_project, "--config", "c.yaml", *args)
        assert result.exit_code == 0, result.output
        report = report_of(tmp_project)
        return report["class_balance"]["defects"]

    assert defects() == 4
    monkeypatch.setenv("DEFECTOPS_TARGET", "from_env")
    assert defects() == 8
    assert defects("--target", "from_flag") == 12
    assert report_of(tmp_project)["schema"]["target"] == "from_flag"


def test_artifacts_from_env_decides_where_outputs_land(
    tmp_project: Any, make_frame: MakeFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_frame(n=30).to_csv("line.csv", index=False)
    monkeypatch.setenv("DEFECTOPS_ARTIFACTS", "elsewhere")
    result = invoke("validate", "--data", "line.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_project.root / "elsewhere" / "reports" / "data_validation_report.json").is_file()
    assert not (tmp_project.root / "artifacts").exists()


def test_ai4i_2020_through_the_cli(tmp_project: Any) -> None:
    if not AI4I.is_file():
        pytest.skip(f"AI4I 2020 data not found at {AI4I}")
    result = validate_cmd(
        tmp_project,
        "--data",
        AI4I,
        "--target",
        "Machine failure",
        "--categorical",
        "Type,Product ID",
        "--drop",
        "TWF,HDF,PWF,OSF,RNF",
        "--order-by",
        "UDI",
    )
    assert result.exit_code == 0, result.output
    report = report_of(tmp_project)
    assert (report["rows_read"], report["rows_kept"], report["rows_quarantined"]) == (
        10000,
        10000,
        0,
    )
    assert report["class_balance"]["defects"] == 339
    assert {"Air temperature [K]", "Torque [Nm]", "Tool wear [min]"} <= set(report["columns"])
    assert not (tmp_project.artifacts / "quarantine.csv").exists()
