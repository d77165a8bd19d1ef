"""`python -m harness mutants`: the kill table, the real engine's alarms, `killed K/N`."""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
from collections.abc import Sequence
from typing import Any

from harness import backends as backend_registry
from harness.cli import checks, options
from harness.errors import UsageError
from harness.interrupt import DEFAULT_CELL_TIMEOUT
from harness.mutants.catalog import MUTANTS, Mutant
from harness.mutants.run import MutationSession
from harness.vocabulary import DEFAULT_DTYPES, QUANTITIES

DEFAULT_BACKENDS = "inhouse,torch,jax,fd,mp"
SHOWN_KILLERS = 3


def configure(sub: Any) -> None:
    """Add the `mutants` subcommand to the command line's subparsers."""
    p = sub.add_parser("mutants", help="plant bugs in the in-house engine; each must be caught")
    p.add_argument("--only", nargs="*", help="glob(s) over mutant names")
    options.add_selection(p)
    p.add_argument("--backends", default=DEFAULT_BACKENDS,
                   help=f"inhouse and its oracles (default {DEFAULT_BACKENDS})")  # fmt: skip
    p.add_argument("--dtypes", default="float64", help="dtypes of the mutant runs (float64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the mutant runs")
    p.add_argument("--clean-seeds", type=int, default=5, metavar="N",
                   help="the real engine must raise no alarm at seeds seed..seed+N-1, in "
                        "float64 and float32 (default 5; 1: the mutant seed only)")  # fmt: skip
    p.add_argument(
        "--cell-timeout",
        type=float,
        default=DEFAULT_CELL_TIMEOUT,
        metavar="SECONDS",
        help=f"a slower backend call is an error (default {DEFAULT_CELL_TIMEOUT:g})",
    )
    p.add_argument("--list", action="store_true", help="print the mutants and exit")
    p.set_defaults(func=run)


def _mutants(only: Sequence[str] | None) -> list[Mutant]:
    pats = options.split(only) or ["*"]
    chosen = [m for m in MUTANTS if any(fnmatch.fnmatchcase(m.name, p) for p in pats)]
    if not chosen:
        names = ", ".join(m.name for m in MUTANTS)
        raise UsageError(f"no mutant matches --only {' '.join(pats)}; known mutants: {names}")
    return chosen


def _names(kind: str, text: str, valid: Sequence[str]) -> list[str]:
    return options.choose(kind, options.split([text]) or [], valid)


def run(args: argparse.Namespace) -> int:
    """Baseline (the real engine over the clean seeds), then each mutant; 0 only if all clean
    and all killed."""
    checks.non_negative("--seed", args.seed)
    checks.seconds("--cell-timeout", args.cell_timeout)
    mutants = _mutants(args.only)
    if args.list:
        print(_table([(m.name, m.what, f"harness/engine/{m.module}.py") for m in mutants],
                     ("mutant", "what it changes", "where")))  # fmt: skip
        return 0
    backends = _names("backend", args.backends, list(backend_registry.BUILTIN))
    dtypes = options.dtype_names(options.split([args.dtypes]))
    cases = options.select_cases(args)
    session = MutationSession(cases, backends, QUANTITIES, args.cell_timeout)
    t0 = time.perf_counter()
    seeds = range(args.seed, args.seed + max(1, args.clean_seeds))
    print(f"real engine: {len(cases)} cases, seeds {seeds.start}..{seeds.stop - 1}, "
          f"float64 and float32, backends {','.join(backends)}", flush=True)  # fmt: skip
    clean = session.baseline(seeds, list(DEFAULT_DTYPES))
    alarms = {(s, *cell): v.reasons[cell] for s, v in clean.items() for cell in v.alarms}
    t_clean = time.perf_counter() - t0
    print(_alarm_lines(alarms, sum(v.judged for v in clean.values()), t_clean), flush=True)
    print(f"{'mutant':<28} {'what it changes':<64} killed by (cases)")
    results = []
    for m in mutants:
        results.append(session.kill(m, args.seed, dtypes, clean[args.seed], time.perf_counter))
        print(_row(results[-1]), flush=True)
    return _finish(results, alarms, time.perf_counter() - t0, t_clean)


def _alarm_lines(alarms: dict, judged: int, seconds: float) -> str:
    if not alarms:
        return f"real engine: no alarm in {judged} in-house cells ({seconds:.0f} s)\n"
    lines = [f"real engine: {len(alarms)} alarm(s) in {judged} in-house cells ({seconds:.0f} s):"]
    for (seed, case, q, dtype), reason in sorted(alarms.items())[:20]:
        lines.append(f"  seed {seed} {case}[{q}-{dtype}]: {reason[:150]}")
    return "\n".join(lines) + "\n"


def _row(r: Any) -> str:
    if r.stale:
        verdict = f"STALE: {r.stale}"
    elif not r.killed:
        verdict = "SURVIVED: no case catches it"
    else:
        shown = ", ".join(r.killed_by[:SHOWN_KILLERS])
        more = f", +{len(r.killed_by) - SHOWN_KILLERS}" if len(r.killed_by) > SHOWN_KILLERS else ""
        verdict = f"{len(r.killed_by)}: {shown}{more}"
    return f"{r.mutant.name:<28} {r.mutant.what[:64]:<64} {verdict}"


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in [header, *rows])  # fmt: skip


def _finish(results: list, alarms: dict, total: float, t_clean: float) -> int:
    killed = sum(r.killed for r in results)
    survivors = [r.mutant.name for r in results if not r.killed]
    print(f"\nwall time {total:.0f} s (real engine {t_clean:.0f} s, "
          f"{len(results)} mutants {total - t_clean:.0f} s)")  # fmt: skip
    if survivors:
        print(f"survived ({len(survivors)}): {', '.join(survivors)}", file=sys.stderr)
    if alarms:
        print(f"the real engine raised {len(alarms)} alarm(s): see above", file=sys.stderr)
    print(f"killed {killed}/{len(results)}")
    return 0 if killed == len(results) and not alarms else 1
