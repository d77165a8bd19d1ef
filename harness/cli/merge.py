"""`harness merge DIR... --out DIR`: join the report sets of shard runs into one; exit 1 when
shards of the run are missing (the merged set is then marked incomplete)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from harness.cli import checks
from harness.judge.causes import causes_table
from harness.library import load_cases
from harness.mutants.causes import likely_causes
from harness.report.merge import merge


def configure(sub: Any) -> None:
    p = sub.add_parser("merge", help="join the report folders of shard runs into one")
    p.add_argument("folders", nargs="+", metavar="DIR", help="the --out folders of the shards")
    p.add_argument("--out", default="reports", help="where to write the merged reports")
    p.add_argument("--causes", choices=("all", "ops", "none"), default="all",
                   help="likely causes, recomputed from the merged cells as validate computes "
                        "them: ops and catalogued bugs (all, default), ops, or none")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    def causes_of(summary: pd.DataFrame, elements: pd.DataFrame, meta: dict) -> pd.DataFrame:
        known = load_cases()  # the registry's cases (a case module's cases are not reloaded)
        cases = [known[n] for n in dict.fromkeys(summary["case"]) if n in known]
        found = likely_causes(summary, elements, cases, int(meta.get("seed") or 0),
                              mutants=args.causes == "all")  # fmt: skip
        return causes_table(found)

    chosen = None if args.causes == "none" else causes_of
    paths = merge([Path(d) for d in args.folders], checks.out_folder(args.out), chosen)
    for p in paths:
        print(f"wrote {p}")
    missing = json.loads(paths[3].read_text()).get("missing_shards") or []
    if missing:
        print(f"shard {', '.join(missing)} missing: the merged set is incomplete "
              f"(\"complete\": false in {paths[3]})", file=sys.stderr)  # fmt: skip
        return 1
    return 0
