"""The case library and selection: the registry's own cases (harness.cases), loaded once."""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
from collections.abc import Iterable

from harness import cases
from harness.registry import Case, registered


def load_cases() -> dict[str, Case]:
    """Import every module of the harness.cases package (which registers its cases) and
    return every registered case by name."""
    for mod in pkgutil.iter_modules(cases.__path__):
        importlib.import_module(f"{cases.__name__}.{mod.name}")
    return registered()


def select(
    patterns: Iterable[str] | None = None,
    families: Iterable[str] | None = None,
    tags: Iterable[str] | None = None,
) -> list[Case]:
    """Cases whose name matches any glob in `patterns`, filtered by family and tag."""
    all_cases = load_cases()
    pats = list(patterns or ["*"])
    out = [c for n, c in all_cases.items() if any(fnmatch.fnmatchcase(n, p) for p in pats)]
    if families:
        fams = set(families)
        out = [c for c in out if c.family in fams]
    if tags:
        tg = set(tags)
        out = [c for c in out if c.tags & tg]
    return out
