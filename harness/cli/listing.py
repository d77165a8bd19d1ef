"""`harness list`: the registry as a table (or CSV)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pandas as pd

from harness.cli import options
from harness.registry import Case, Input


def configure(sub: Any) -> None:
    p = sub.add_parser("list", help="print the registry as a table")
    options.add_selection(p)
    p.add_argument("--format", choices=("table", "csv"), default="table",
                   help="a table to read (default) or CSV for scripts")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = [
        dict(
            name=c.name,
            family=c.family,
            quantities=" ".join(c.quantities),
            dtypes=" ".join(c.dtypes),
            tags=" ".join(sorted(c.tags)),
            inputs=domain(c),
            doc=c.doc,
        )
        for c in options.select_cases(args, opt_in=True)  # every case, `large` ones too
    ]
    df = pd.DataFrame(rows)
    if args.format == "csv":
        sys.stdout.write(df.to_csv(index=False, lineterminator="\n"))
    else:
        with pd.option_context("display.max_colwidth", 60, "display.width", 200):
            print(df.to_string(index=False))
    return 0


def domain(case: Case) -> str:
    """Each input's shape and domain, e.g. ``x(4,) in [0.5, 3]; y(4,) labels < 2``."""

    def one(name: str, spec: Input) -> str:
        if spec.values is not None:
            return f"{name}{spec.shape} = {list(spec.values)}"
        if spec.kind == "int":
            return f"{name}{spec.shape} labels < {int(spec.high)}"
        return f"{name}{spec.shape} in [{spec.low:g}, {spec.high:g}]"

    return "; ".join(one(n, s) for n, s in case.inputs.items())
