"""`harness diff A B`: what changed between two summary.csv files; exit 1 when B regressed."""

from __future__ import annotations

import argparse
from typing import Any

from harness.baseline import BaselineError, compare_summaries, read_summary
from harness.cli import checks
from harness.errors import UsageError
from harness.report.terminal import change_counts, change_lines


def configure(sub: Any) -> None:
    p = sub.add_parser("diff", help="compare two summary.csv files (exit 1: B regressed)")
    p.add_argument("before", metavar="A", help="the older summary.csv (e.g. the baseline)")
    p.add_argument("after", metavar="B", help="the newer summary.csv")
    p.add_argument("--limit", type=int, default=50, help="lines per kind of change")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    checks.non_negative("--limit", args.limit)
    try:
        before, after = read_summary(args.before), read_summary(args.after)
    except BaselineError as e:
        raise UsageError(str(e)) from None
    changes = compare_summaries(before, after)
    print(f"{args.after} against {args.before}:")
    print("\n".join(change_lines(changes, args.before, args.limit)[1:]) or "  no changes")
    n_reg = int((changes["change"] == "regression").sum())
    print(change_counts(changes))
    return 1 if n_reg else 0
