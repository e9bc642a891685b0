"""Report values as Markdown text that cannot break the document around it.

Reports hold numbers that may be undefined (NaN is ``null`` in the JSON), counts that may be
missing and strings that may hold pipes, backticks or line breaks. Every renderer of a report
formats them here, so an undefined metric reads ``n/a`` everywhere and no report string can
split a table row or a code span.
"""

from __future__ import annotations

import math
from typing import Any


def missing(value: Any) -> bool:
    """True for an absent or undefined number: ``None``, NaN or an infinity."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def num(value: Any, digits: int = 3, strip: bool = False) -> str:
    """A metric with fixed decimals; ``n/a`` for undefined ones (NaN is ``null`` in the JSON)."""
    if missing(value) or isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if strip and "." in text else text


def pct(value: Any, digits: int = 1) -> str:
    """A share as a percentage; ``n/a`` when it is undefined."""
    if missing(value) or not isinstance(value, int | float):
        return "n/a"
    return f"{value:.{digits}%}"


def count(value: Any) -> str:
    """A row count with thousands separators; ``n/a`` for anything but an integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "n/a"


def int_list(values: list[Any]) -> str:
    """Chunk numbers and the like, comma-separated."""
    return ", ".join(str(v) for v in values)


def inline(value: Any) -> str:
    """One line of text: report strings must not break the Markdown structure."""
    return " ".join(str(value).split())


def cell(value: Any) -> str:
    """Text for a table cell: one line, and a pipe cannot end the cell early."""
    return inline(value).replace("|", "\\|")


def code(value: Any) -> str:
    """A code span that holds any text, backticks included."""
    text = inline(value)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_list(values: list[Any]) -> str:
    """Column names as code spans; ``none`` for an empty list."""
    return ", ".join(code(v) for v in values) if values else "none"
