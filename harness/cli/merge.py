"""`harness merge DIR... --out DIR`: join the report sets of shard runs into one; exit 1 when
shards of the run are missing (the merged set is then marked incomplete)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.cli import checks
from harness.report.merge import merge


def configure(sub: Any) -> None:
    p = sub.add_parser("merge", help="join the report folders of shard runs into one")
    p.add_argument("folders", nargs="+", metavar="DIR", help="the --out folders of the shards")
    p.add_argument("--out", default="reports", help="where to write the merged reports")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    paths = merge([Path(d) for d in args.folders], checks.out_folder(args.out))
    for p in paths:
        print(f"wrote {p}")
    missing = json.loads(paths[3].read_text()).get("missing_shards") or []
    if missing:
        print(f"shard {', '.join(missing)} missing: the merged set is incomplete "
              f"(\"complete\": false in {paths[3]})", file=sys.stderr)  # fmt: skip
        return 1
    return 0
