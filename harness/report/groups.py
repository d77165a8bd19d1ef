"""What report.html lists besides the grid and the failures (failures.py), grouped from the
summary: counts by verdict, why cells were skipped, the baseline changes and the run
metadata. No HTML here (page.py and details.py write it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.vocabulary import SEVERITY


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
