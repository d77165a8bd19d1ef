"""The case × backend grid of report.html as data: one GridCell per case and backend, holding
its worst verdict over the cell's quantities and dtypes and how many rows have each verdict;
which backends apply to few cases (their columns are drawn narrow). No HTML here (page.py
draws it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.vocabulary import SEVERITY, UNEXPECTED

#: Verdicts without a details block: nothing there to look into.
UNDETAILED: tuple[str, ...] = ("pass", "skipped")
#: A backend whose rows are all skipped (or missing) on more than this share of the cases
#: applies to few cases: its column is drawn narrow.
SPARSE_SHARE = 0.5


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

    verdict: str  #: the worst verdict of its rows, a skip only when every row is skipped
    rows: tuple[dict[str, Any], ...]  #: every summary row of this case and backend
    counts: tuple[tuple[str, int], ...]  #: (verdict, rows) for each verdict, most severe first
    hits: int  #: how many rows have that worst verdict
    max_err: float | None  #: the largest max_abs_err among those rows (None: no numbers)
    target: dict[str, Any] | None  #: the first row with a details block, to link to
    unexpected: bool  #: whether any row's verdict is unexpected


def grid_cell(rows: list[dict[str, Any]]) -> GridCell | None:
    """The grid cell of one case and backend from its summary rows (None: no rows)."""
    if not rows:
        return None
    verdicts = [r["verdict"] for r in rows]
    v = worst(x for x in verdicts if x != "skipped") or worst(verdicts)
    hit = [r for r in rows if r["verdict"] == v]
    errs = [float(r["max_abs_err"]) for r in hit if pd.notna(r["max_abs_err"])]
    target = next((r for r in rows if r["verdict"] not in UNDETAILED), None)
    unexpected = any(r["verdict"] in UNEXPECTED for r in rows)
    rank = {x: i for i, x in enumerate(SEVERITY)}  # skips last: "5 pass · 1 skip"
    order = sorted(set(verdicts), key=lambda x: (x == "skipped", rank.get(x, -1)))
    counts = tuple((x, verdicts.count(x)) for x in order)
    return GridCell(v, tuple(rows), counts, len(hit), max(errs) if errs else None, target,
                    unexpected)  # fmt: skip


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


def sparse_backends(cells: list[list[GridCell | None]], backends: list[str]) -> list[str]:
    """The backends of `backends` (the grid's columns) that apply to few cases: more than
    SPARSE_SHARE of the rows of `cells` have none of their rows run (all skipped, or none)."""
    out = []
    for j, b in enumerate(backends):
        idle = sum(c is None or c.verdict == "skipped" for c in (row[j] for row in cells))
        if cells and idle > SPARSE_SHARE * len(cells):
            out.append(b)
    return out
