"""The case × backend grid of report.html as data: one GridCell per case and backend, holding
its worst verdict over the cell's quantities and dtypes. No HTML here (page.py draws it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.vocabulary import SEVERITY, UNEXPECTED

#: Verdicts without a details block: nothing there to look into.
UNDETAILED: tuple[str, ...] = ("pass", "skipped")


def worst(verdicts: Iterable[str]) -> str:
    """The most severe of `verdicts` (harness.vocabulary.SEVERITY); '' when none is known."""
    present = set(verdicts)
    return next((v for v in SEVERITY if v in present), "")


def backend_order(summary: pd.DataFrame, meta: Mapping[str, Any]) -> list[str]:
    """The run's backend order (from the command line), then any others in order of appearance."""
    present = list(dict.fromkeys(summary["backend"]))
    named = [b for b in str(meta.get("backends", "")).split(",") if b in present]
    return named + [b for b in present if b not in named]


@dataclass(frozen=True)
class GridCell:
    """One case × backend cell of the grid."""

    verdict: str  #: the worst verdict of its rows
    rows: tuple[dict[str, Any], ...]  #: every summary row of this case and backend
    hits: int  #: how many rows have that worst verdict
    max_err: float | None  #: the largest max_abs_err among those rows (None: no numbers)
    target: dict[str, Any] | None  #: the first row with a details block, to link to
    unexpected: bool  #: whether any row's verdict is unexpected


def grid_cell(rows: list[dict[str, Any]]) -> GridCell | None:
    """The grid cell of one case and backend from its summary rows (None: no rows)."""
    if not rows:
        return None
    v = worst(r["verdict"] for r in rows)
    hit = [r for r in rows if r["verdict"] == v]
    errs = [float(r["max_abs_err"]) for r in hit if pd.notna(r["max_abs_err"])]
    target = next((r for r in rows if r["verdict"] not in UNDETAILED), None)
    unexpected = any(r["verdict"] in UNEXPECTED for r in rows)
    return GridCell(v, tuple(rows), len(hit), max(errs) if errs else None, target, unexpected)


def grid(
    summary: pd.DataFrame, backends: list[str]
) -> tuple[pd.MultiIndex, list[list[GridCell | None]]]:
    """The (family, case) rows, sorted, and for each one a GridCell per backend of `backends`."""
    keys = summary[["family", "case"]].drop_duplicates().sort_values(["family", "case"])
    index = pd.MultiIndex.from_frame(keys)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in summary.to_dict("records"):
        groups.setdefault((r["case"], r["backend"]), []).append(r)
    cells = [[grid_cell(groups.get((case, b), [])) for b in backends] for _, case in index]
    return index, cells
