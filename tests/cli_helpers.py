"""Calling the CLI in-process, and what a user error must look like."""

from __future__ import annotations

import hashlib
from pathlib import Path

from typer.testing import CliRunner, Result

from defectops.cli.app import app


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_user_error(result: Result, *named: str) -> None:
    """Exit 2, exactly one line ``error: ...`` on stderr naming every ``named`` item."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for item in named:
        assert item in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the sha256 of its bytes: to show nothing was written."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
