"""Likely causes for every backend with unexpected cells: the ops its failing cells share and the
catalogued engine bugs whose fingerprints look like its own (harness.judge.causes)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from harness.judge.causes import (
    Cause,
    attribute_ops,
    fingerprint,
    match_mutants,
)
from harness.mutants.catalog import MUTANTS, Mutant
from harness.mutants.signatures import signatures
from harness.registry import Case
from harness.usage import ops_used
from harness.vocabulary import UNEXPECTED


def blamed_backends(summary: pd.DataFrame) -> list[str]:
    """Backends with unexpected cells blamed on them, most first."""
    bad = summary[summary["verdict"].isin(UNEXPECTED) & (summary["blame"] == summary["backend"])]
    return list(bad["backend"].value_counts().index)


def likely_causes(
    summary: pd.DataFrame,
    elements: pd.DataFrame,
    cases: Sequence[Case],
    seed: int = 0,
    mutants: bool = True,
    catalog: Sequence[Mutant] = MUTANTS,
) -> dict[str, list[Cause]]:
    """backend -> its likely causes, ops first, then the mutants of `catalog` (``mutants=False``:
    ops only)."""
    backends = blamed_backends(summary)
    if not backends:
        return {}
    ran = [c for c in cases if c.name in set(summary["case"])]
    case_ops = {c.name: ops_used(c.fn, list(c.draw(seed).values())) for c in ran}
    signed = signatures(ran, seed, catalog) if mutants else {}
    out = {}
    for b in backends:
        found = attribute_ops(summary, b, case_ops)
        if signed:
            found += match_mutants(fingerprint(summary, elements, b), signed)
        out[b] = found
    return out


__all__ = ["blamed_backends", "likely_causes"]
