"""The small pieces every part of report.html is written with: escaping, numbers for people,
verdict words and colours, cell ids and anchors. Presentation only: nothing here reads a table."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.vocabulary import VERDICT, cell_id

#: One colour per verdict of harness.vocabulary.VERDICT_TABLE (a test keeps them in step). The
#: grid's style rules follow this order.
COLORS: dict[str, str] = {
    "pass": "#d5efd5",
    "fail": "#f3a6a6",
    "error": "#e07a7a",
    "unexpected_pass": "#f6cf7e",
    "expected_fail": "#ddd5f0",
    "vacuous": "#f1e5a2",
    "skipped": "#ececec",
}


def esc(x: Any) -> str:
    """`x` as text, escaped for HTML (attribute values included)."""
    return html.escape(str(x), quote=True)


def num(x: Any, digits: int = 3) -> str:
    """A number for people: 3 significant digits, '—' for a missing one."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return esc(x) if x is not None else "—"
    if np.isnan(v):
        return "—"
    return f"{v:.{digits}g}"


def short_num(x: float) -> str:
    """Two significant digits, exponent without padding: 5.9e-8, 0.047, 2.8e5."""
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m[1].replace("+", "") + m[2], f"{x:.2g}")


def present(x: Any) -> bool:
    """Not None, NaN or empty (CSV round trips turn empty text into NaN)."""
    return x is not None and not (isinstance(x, float) and np.isnan(x)) and x != ""


def label(verdict: str) -> str:
    """The verdict in words ("expected fail"); a name outside the table as it is."""
    return VERDICT[verdict].label if verdict in VERDICT else verdict


def short(verdict: str) -> str:
    """The verdict's short word for the grid ("xfail"); a name outside the table as it is."""
    return VERDICT[verdict].short if verdict in VERDICT else verdict


def row_id(row: Mapping[str, Any]) -> str:
    """The id shared by a report row and its pytest item (harness.vocabulary.cell_id)."""
    return cell_id(row["case"], row["backend"], row["quantity"], row["dtype"])


def anchor(row: Mapping[str, Any]) -> str:
    """The HTML id of a row's details block."""
    return "cell-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", row_id(row)).strip("-")


def chip(verdict: str, text: str | None = None) -> str:
    """A rounded label in the verdict's colour (`text` is HTML; default: the verdict's label)."""
    body = text if text is not None else label(verdict)
    return f'<span class="chip" style="background:{COLORS.get(verdict, "#fff")}">{body}</span>'
