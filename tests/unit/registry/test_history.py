"""The alias history: append-only, torn lines skipped, rollback targets."""

from __future__ import annotations

import json

from defectops.core.layout import HISTORY as HISTORY_FILE
from defectops.registry.history import append_history, previous_champion, read_history


def champion(frm, to, action="gate"):
    return {"alias": "champion", "from_version": frm, "to_version": to, "action": action}


def test_entries_are_appended_with_who_and_when(tmp_path):
    first = append_history(tmp_path, champion(None, "1"))
    second = append_history(tmp_path, champion("1", "3") | {"reason": "PR-AUC +0.02"})
    assert (first["seq"], second["seq"]) == (1, 2)
    assert "@" in first["by"] and first["at"].endswith("+00:00")
    assert [e["to_version"] for e in read_history(tmp_path)] == ["1", "3"]


def test_a_torn_last_line_is_skipped_and_closed(tmp_path):
    append_history(tmp_path, champion(None, "1"))
    with open(tmp_path / HISTORY_FILE, "a") as handle:
        handle.write('{"alias": "champion", "to_ver')  # a crash mid-append
    assert len(read_history(tmp_path)) == 1
    append_history(tmp_path, champion("1", "2"))
    lines = (tmp_path / HISTORY_FILE).read_text().splitlines()
    assert json.loads(lines[-1])["to_version"] == "2"
    assert [e["to_version"] for e in read_history(tmp_path)] == ["1", "2"]


def test_rollback_goes_back_one_champion_at_a_time():
    entries = [champion(None, "1"), champion("1", "3"), champion("3", "5")]
    assert previous_champion(entries, "5") == "3"
    entries.append(champion("5", "3", action="rollback"))
    assert previous_champion(entries, "3") == "1"  # not back to 5, which was rolled back from
    entries.append(champion("3", "1", action="rollback"))
    assert previous_champion(entries, "1") is None


def test_no_previous_champion_without_history():
    assert previous_champion([], None) is None
    assert previous_champion([champion(None, "1")], "1") is None
