"""`harness merge DIR... --out DIR`: join the report sets of shard runs into one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.report.merge import merge


def configure(sub: Any) -> None:
    p = sub.add_parser("merge", help="join the report folders of shard runs into one")
    p.add_argument("folders", nargs="+", metavar="DIR", help="the --out folders of the shards")
    p.add_argument("--out", default="reports", help="where to write the merged reports")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for p in merge([Path(d) for d in args.folders], Path(args.out)):
        print(f"wrote {p}")
    return 0
