"""A README results block kept current between two HTML comment markers.

:func:`update_readme` keeps a short results block in a README current, between two HTML comment
markers, without touching a byte outside them, so a project README can show the latest run and
re-running on the same report changes nothing.

Everything is rendered from the training report alone (no clock, no file system), so the same
report gives the same bytes, and every write is atomic.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from defectops.core import atomic
from defectops.core.errors import UserError
from defectops.reporting.markdown import count, pct
from defectops.reporting.results_text import (
    baseline_warning,
    holdout_text,
    metrics_table,
    run_tally,
)
from defectops.reporting.training_report import champion_metadata, check_report

START = "<!-- defectops:results -->"
END = "<!-- /defectops:results -->"
RESULTS_HEADING = "## Results"

_RESULTS_ROWS = ("accuracy", "pr_auc", "roc_auc", "mcc", "f1")


def render_results_section(report: dict[str, Any], image: str) -> str:
    """The short results block for a README: champion, metrics beside the baseline, the picture.

    No dates, timings or absolute paths, so rendering the same report twice gives the same text
    and a README under version control changes only when the results do. ``image`` is used as
    given (a path relative to the README, with forward slashes).
    """
    check_report(report, "report")
    champion = champion_metadata(report)
    data = report["data"]
    summary = report["summary"]
    lines: list[str] = []
    if champion is None:
        lines += [
            "**No champion:** no model passed acceptance, so nothing is deployed "
            f"(hold-out: {holdout_text(data, short=True)}, "
            f"defect rate {pct(data.get('holdout_defect_rate'))}).",
            "",
        ]
    else:
        metrics = champion["metrics"]
        lines += [
            f"**Champion:** the model of chunk {champion['chunk_id']} "
            f"(`{champion.get('model', 'n/a')}`, `{champion.get('strategy', 'n/a')}`), "
            f"trained on the first {count(champion.get('rows_seen'))} rows; scored on "
            f"{count(metrics.get('n'))} hold-out rows ({holdout_text(data, short=True)}, "
            f"defect rate {pct(metrics.get('defect_rate'))}).",
            "",
            *baseline_warning(metrics),
            *metrics_table(metrics, keys=_RESULTS_ROWS, explain=False),
            "",
        ]
    lines += [
        f"![Hold-out metrics per chunk, the majority baseline and the promotions]({_link(image)})",
        "",
        f"{run_tally(summary)}",
    ]
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, report: dict[str, Any], image_path: Path) -> bool:
    """Put the rendered results between ``START`` and ``END`` in ``readme``; True if it changed.

    Only the bytes between the two markers are replaced (the markers themselves stay); every other
    byte of the file, including its line endings and any non-ASCII text, is left exactly as it
    was, so the block can sit inside a hand-written README. The block uses the file's dominant
    line ending (CRLF or LF, counted outside the markers, so the choice is stable). The image link
    is ``image_path`` relative to the README's folder (``os.path.relpath``, forward slashes), so it
    works on GitHub and in a checkout wherever the two live.

    A README without any marker gets a ``## Results`` heading and the marker block appended at
    its end; to place the block elsewhere, put the two markers there once. Anything else than
    exactly one ``START`` followed later by exactly one ``END`` is a
    :class:`~defectops.core.errors.UserError` naming the problem, because guessing which block to
    overwrite could destroy hand-written text. A README that does not exist is a UserError too.

    The file is rewritten atomically, and only when its content changes: a second call with the
    same report returns False and leaves the file (and its modification time) alone.
    """
    readme = Path(readme)
    if not readme.is_file():
        raise UserError(f"{readme}: README not found; create it (or pass an existing file)")
    raw = readme.read_bytes()
    try:
        text = raw.decode("utf-8")  # not read_text: it would turn CRLF into LF
    except UnicodeDecodeError as exc:
        raise UserError(f"{readme}: not UTF-8 text ({exc}); cannot update it safely") from None

    section = render_results_section(report, _relative_link(Path(image_path), readme.parent))
    starts, ends = text.count(START), text.count(END)
    if starts == 0 and ends == 0:
        newline = _dominant_newline(text)
        lead = "" if not text or text.endswith(("\n", "\r")) else newline
        gap = newline if text else ""
        block = f"{RESULTS_HEADING}\n\n{START}\n{section}{END}\n".replace("\n", newline)
        new_text = text + lead + gap + block
    else:
        _check_markers(readme, text, starts, ends)
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        newline = _dominant_newline(head + tail)
        body = f"\n{section}".replace("\n", newline)
        new_text = head + START + body + END + tail

    new_raw = new_text.encode("utf-8")
    if new_raw == raw:
        return False
    atomic.write_bytes(readme, new_raw)
    return True


def _check_markers(readme: Path, text: str, starts: int, ends: int) -> None:
    problems = []
    if starts != 1:
        problems.append(f"{starts} START markers" if starts else "no START marker")
    if ends != 1:
        problems.append(f"{ends} END markers" if ends else "no END marker")
    if not problems and text.index(END) < text.index(START):
        problems.append("the END marker comes before the START marker")
    if problems:
        raise UserError(
            f"{readme}: malformed results markers ({'; '.join(problems)}); keep exactly one "
            f"{START} followed by one {END}, or remove both to have the block appended"
        )


def _dominant_newline(text: str) -> str:
    """CRLF when most line breaks in ``text`` are CRLF, else LF (also for text without any)."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf > text.count("\n") - crlf else "\n"


def _relative_link(image: Path, folder: Path) -> str:
    try:
        relative = os.path.relpath(image, folder)
    except ValueError:  # Windows: another drive has no relative path
        relative = str(image.resolve())
    return relative.replace(os.sep, "/")


def _link(target: str) -> str:
    """A Markdown link destination; angle brackets when it holds spaces or parentheses."""
    if any(c in target for c in " ()"):
        return f"<{target}>"
    return target
