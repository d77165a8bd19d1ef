"""Options shared by the subcommands, defined once, and the checks every command applies."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from harness import backends as backend_registry
from harness.errors import UsageError
from harness.library import load_case_module, load_cases, select
from harness.registry import Case, origin
from harness.vocabulary import DEFAULT_DTYPES, DTYPES


def split(values: Sequence[str] | None) -> list[str] | None:
    """Space- and comma-separated values as one list (None when none were given)."""
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def choose(kind: str, given: list[str], valid: Sequence[str]) -> list[str]:
    """`given`, or a UsageError naming the unknown ones and the valid choices."""
    unknown = [g for g in given if g not in valid]
    if unknown:
        raise UsageError(
            f"unknown {kind} {', '.join(map(repr, unknown))}; valid choices: {', '.join(valid)}"
        )
    return given


def add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cases", nargs="*", help="glob(s) over case names, e.g. 'softmax*'")
    p.add_argument("--family", nargs="*", help="only these families")
    p.add_argument("--tag", nargs="*", help="only cases with one of these tags; those tagged "
                   "'large' (benchmark sizes) run only when named here or by --cases")  # fmt: skip
    p.add_argument(
        "--case-module",
        action="append",
        metavar="FILE.py",
        help="a file of your own @case functions (from harness import array, case): "
        "loaded beside the registry; repeatable",
    )


def add_backend_modules(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend-module",
        action="append",
        metavar="FILE.py",
        help="a file defining Backend subclasses: selectable by name, and run by default",
    )


def add_dtypes(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dtypes", nargs="*", help=f"{','.join(DTYPES)} or all (default "
                   f"{','.join(DEFAULT_DTYPES)})")  # fmt: skip


def add_seed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="the seed of inputs and probes")


def select_cases(args: argparse.Namespace, opt_in: bool = False) -> list[Case]:
    """The cases --cases/--family/--tag select (after loading --case-module files); a
    UsageError when none. Cases tagged ``large`` only when asked for (library.OPT_IN_TAGS),
    unless `opt_in`."""
    for path in getattr(args, "case_module", None) or ():
        load_case_module(path)
    patterns = split(args.cases)
    chosen = select(patterns, split(args.family), split(args.tag), opt_in=opt_in)
    if not chosen:
        names = ", ".join(load_cases())
        what = f"--cases {' '.join(patterns)}" if patterns else "the filters given"
        raise UsageError(f"no case matches {what}; known cases: {names}")
    return chosen


def dtypes(args: argparse.Namespace) -> list[str]:
    """The dtypes named (``all``: every dtype of the table), else the default ones."""
    return dtype_names(split(args.dtypes))


def dtype_names(given: list[str] | None) -> list[str]:
    """`given` dtype names checked, ``all`` expanded; DEFAULT_DTYPES when none are given."""
    if not given:
        return list(DEFAULT_DTYPES)
    if "all" in given:
        return list(DTYPES)
    return choose("dtype", given, (*DTYPES, "all"))


def load_backend_modules(args: argparse.Namespace) -> list[str]:
    """Register the backends of every --backend-module file; returns their names."""
    found: list[str] = []
    for path in args.backend_module or ():
        found += [n for n in backend_registry.load_module(path) if n not in found]
    return found


def subparsers(parser: argparse.ArgumentParser) -> Any:
    return parser.add_subparsers(dest="command", required=True)


def check_expectations(cases: list[Case]) -> None:
    """An expect() naming a backend that no loaded backend has is a mistake in the case."""
    known = set(backend_registry.names())
    for c in cases:
        for e in c.expects:
            unknown = sorted(set(e.backends) - known)
            if unknown:
                raise UsageError(
                    f"case {c.name!r} ({origin(c.fn)}): expect() names unknown backend "
                    f"{', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
                )
