"""What report.html lists besides the grid, grouped from the summary: counts by verdict, the
details blocks (with the figures each one gets), why cells were skipped, the baseline changes
and the run metadata. No HTML here (page.py and details.py write it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.report.grid import UNDETAILED
from harness.results import ArrayKey
from harness.vocabulary import SEVERITY, UNEXPECTED

#: Figures beyond this many are left out (the numbers stay); keeps the page light.
MAX_FIGURES = 80
#: Declared (expected) discrepancies are known findings: fewer figures, a faster report.
MAX_DECLARED_FIGURES = 16


def cell_key(row: Mapping[str, Any]) -> ArrayKey:
    """(case, quantity, dtype, backend): the key of a cell's elements and arrays."""
    return (row["case"], row["quantity"], row["dtype"], row["backend"])


def verdict_counts(summary: pd.DataFrame) -> list[tuple[str, int]]:
    """(verdict, cells) for each verdict present, most severe first."""
    counts = summary["verdict"].value_counts()
    return [(v, int(counts[v])) for v in SEVERITY if v in counts]


def run_facts(summary: pd.DataFrame, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The run in a few numbers: cells, cases, seed, dtypes (and duration_s, started if known)."""
    facts: dict[str, Any] = {
        "cells": len(summary),
        "cases": summary["case"].nunique(),
        "seed": meta.get("seed", "?"),
        "dtypes": meta.get("dtypes", ", ".join(dict.fromkeys(summary["dtype"]))),
    }
    facts.update({k: meta[k] for k in ("duration_s", "started") if k in meta})
    return facts


def meta_items(meta: Mapping[str, Any]) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """(package versions, the other run metadata) as (name, value) pairs; counts left out
    (the page shows them as chips)."""
    versions = [
        (k.removeprefix("version."), v) for k, v in meta.items() if k.startswith("version.")
    ]
    run = [(k, v) for k, v in meta.items() if not k.startswith("version.") and k != "counts"]
    return versions, run


def split_changes(changes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(regressions, fixes, every other change) of harness.baseline.compare_summaries."""
    reg = changes[changes["change"] == "regression"]
    fix = changes[changes["change"] == "fix"]
    rest = changes[~changes["change"].isin(["regression", "fix"])]
    return reg, fix, rest


@dataclass
class Block:
    """One details block: one cell, or several cells of one case and backend that share an
    error text and have no numbers (the first row leads)."""

    rows: list[dict[str, Any]]
    elements: pd.DataFrame  #: the lead cell's worst elements
    heatmap: np.ndarray | None = None  #: per-element |error| to draw, within the figure budget
    taylor: np.ndarray | None = None  #: (2, k) steps and Taylor remainders, within the budget


@dataclass
class Details:
    """The cells that are neither a pass nor skipped, worst first, in blocks."""

    cells: int = 0
    unexpected_cells: int = 0
    declared_cells: int = 0
    unexpected: list[Block] = field(default_factory=list)
    declared: list[Block] = field(default_factory=list)
    #: Whether the figure budget ran out (some cells are shown without their figures).
    capped: bool = False


class _Budget:
    def __init__(self, left: int) -> None:
        self.left = left

    def take(self, array: Any, wanted: bool) -> Any:
        """`array` when it is wanted and a figure is left (spending it), None otherwise."""
        if array is None or not wanted or self.left <= 0:
            return None
        self.left -= 1
        return array


def _blocks(
    rows: pd.DataFrame,
    by_cell: Mapping[ArrayKey, pd.DataFrame],
    none: pd.DataFrame,
    arrays: Mapping[ArrayKey, np.ndarray],
    budget: _Budget,
) -> list[Block]:
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows.to_dict("records"):
        numberless = not pd.notna(r["max_abs_err"])
        key = (r["case"], r["backend"], r["verdict"], r["reason"]) if numberless else cell_key(r)
        groups.setdefault(key, []).append(r)
    out = []
    for g in groups.values():
        lead = g[0]
        err = arrays.get(cell_key(lead))
        heat = budget.take(err, err is not None and np.size(err) > 1)
        taylor = arrays.get((lead["case"], "taylor", lead["dtype"], lead["backend"]))
        taylor = budget.take(taylor, lead["quantity"] == "grad")
        out.append(Block(g, by_cell.get(cell_key(lead), none), heat, taylor))
    return out


def details(
    summary: pd.DataFrame, elements: pd.DataFrame, arrays: Mapping[ArrayKey, np.ndarray]
) -> Details:
    """The details blocks: unexpected cells first, then declared or vacuous ones, each group
    worst verdict first, then by case; figures until MAX_FIGURES (MAX_DECLARED_FIGURES for
    the declared ones)."""
    bad = summary[~summary["verdict"].isin(UNDETAILED)]
    bad = bad.assign(_s=bad["verdict"].map(lambda v: SEVERITY.index(v) if v in SEVERITY else 99))
    bad = bad.sort_values(["_s", "case"], kind="stable")
    is_unexp = bad["verdict"].isin(UNEXPECTED)
    by_cell = {k: g for k, g in elements.groupby(["case", "quantity", "dtype", "backend"])}
    none = elements.iloc[:0]
    budget = _Budget(MAX_FIGURES)
    unexpected = _blocks(bad[is_unexp], by_cell, none, arrays, budget)
    budget.left = min(budget.left, MAX_DECLARED_FIGURES)
    declared = _blocks(bad[~is_unexp], by_cell, none, arrays, budget)
    return Details(
        cells=len(bad),
        unexpected_cells=int(is_unexp.sum()),
        declared_cells=int((~is_unexp).sum()),
        unexpected=unexpected,
        declared=declared,
        capped=budget.left <= 0,
    )


@dataclass(frozen=True)
class SkipGroup:
    """Skipped cells of one backend that share a reason."""

    backend: str
    reason: str
    cells: int
    cases: list[str]  #: in order of appearance


def skip_groups(summary: pd.DataFrame) -> list[SkipGroup]:
    """Why cells were skipped, by backend and reason, in order of appearance."""
    sk = summary[summary["verdict"] == "skipped"]
    return [
        SkipGroup(b, r, len(g), list(dict.fromkeys(g["case"])))
        for (b, r), g in sk.groupby(["backend", "reason"], sort=False, dropna=False)
    ]
