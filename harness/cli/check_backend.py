"""`harness check-backend [NAME]`: what a backend lacks (vocabulary, quantities); exit 0/1."""

from __future__ import annotations

import argparse
from typing import Any

from harness import backends as backend_registry
from harness.cli import checks, options
from harness.conformance import check, render
from harness.errors import UsageError


def configure(sub: Any) -> None:
    p = sub.add_parser(
        "check-backend", help="what a backend lacks (vocabulary, quantities) and what it can run"
    )
    p.add_argument("name", nargs="?", help="backend id (default: each --backend-module one)")
    options.add_selection(p)
    options.add_backend_modules(p)
    options.add_dtypes(p)
    options.add_seed(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Conformance of one backend (or each --backend-module one): 0 complete, 1 lacking."""
    checks.non_negative("--seed", args.seed)
    from_files = options.load_backend_modules(args)
    names = [args.name] if args.name else from_files
    if not names:
        raise UsageError("name the backend to check (check-backend torch) or give --backend-module")
    options.choose("backend", names, backend_registry.names())
    cases = options.select_cases(args)
    dtypes = options.dtypes(args)
    complete = True
    for name in names:
        try:
            be = backend_registry.get(name)
        except ImportError as e:
            print(f"backend {name}\n  not available: {e}")
            complete = False
            continue
        conf = check(be, cases, dtypes, seed=args.seed)
        print(render(conf))
        complete &= conf.complete
    return 0 if complete else 1
