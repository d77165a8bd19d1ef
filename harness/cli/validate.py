"""`harness validate`: run the registry on the backends, write the report set, exit 0/1."""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from harness import backends as backend_registry
from harness import generate
from harness.baseline import BaselineError, compare_summaries, read_summary, restrict
from harness.cli import checks, options
from harness.errors import UsageError
from harness.execute import guarded
from harness.executors import (
    EXECUTORS,
    RAY_HINT,
    Config,
    Pool,
    parse_shard,
    select_shard,
    worker_env,
)
from harness.interrupt import DEFAULT_CELL_TIMEOUT, Interrupted, hold_signals, pending_signal
from harness.judge.causes import causes_table
from harness.mutants.causes import likely_causes
from harness.registry import Case
from harness.report.metadata import run_metadata
from harness.report.report_set import write_report_set
from harness.report.terminal import render_terminal
from harness.runner import Runner
from harness.vocabulary import QUANTITIES, UNEXPECTED

#: Without a terminal (CI), a progress line at most this often (seconds) instead of a bar.
PROGRESS_EVERY = 5.0


def configure(sub: Any) -> None:
    p = sub.add_parser("validate", help="run the registry and write reports")
    options.add_selection(p)
    p.add_argument("--backends", nargs="*", help=f"default: {','.join(backend_registry.DEFAULT)}")
    options.add_dtypes(p)
    p.add_argument("--quantities", nargs="*", help=f"default: {','.join(QUANTITIES)}")
    options.add_seed(p)
    p.add_argument("--out", default="reports", help="the folder of the report set")
    p.add_argument("--cotangent", choices=("random", "ones"), default="random",
                   help="VJP cotangents: seeded random (default) or all ones")  # fmt: skip
    p.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, metavar="SECONDS",
                   help=f"a slower backend call is an error (default {DEFAULT_CELL_TIMEOUT:g}; "
                        "0: none)")  # fmt: skip
    options.add_backend_modules(p)
    p.add_argument("--no-isolation", action="store_true",
                   help="run plugin backends in this process, not each in a supervised worker "
                        "process (faster to start; a crash or a hang in native code then stops "
                        "the run)")  # fmt: skip
    p.add_argument("--baseline", metavar="PATH",
                   help="a summary.csv to compare with: regressions and fixes in the terminal "
                        "and report")  # fmt: skip
    p.add_argument("--random", type=int, default=0, metavar="N",
                   help="also run N generated input sets per case (hypothesis); failing ones "
                        "are shrunk")  # fmt: skip
    p.add_argument("--replay", nargs="+", metavar="ID",
                   help="rerun exactly the inputs of these draw ids (from --random) instead of "
                        "the registry")  # fmt: skip
    p.add_argument("--draws", metavar="PATH", help="the draws file (default: OUT/draws.json)")
    p.add_argument("--allow-missing", action="store_true",
                   help="run even when a backend named in --backends is not installed (its "
                        "cells are skipped, with the reason)")  # fmt: skip
    p.add_argument("--causes", choices=("all", "ops", "none"), default="all",
                   help="likely causes of each blamed backend's failures in causes.csv: the ops "
                        "and the catalogued engine bugs they look like (all, default; the bugs' "
                        "fingerprints are computed once and cached under .cache/), ops only, "
                        "or none")  # fmt: skip
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="run cases in N worker processes")  # fmt: skip
    p.add_argument("--shard", metavar="K/N",
                   help="run only shard K of N (a stable hash of case names)")  # fmt: skip
    p.add_argument("--executor", choices=EXECUTORS, default="process",
                   help="process (default) or ray")  # fmt: skip
    p.add_argument("--address", help="the Ray cluster to join (default: start a local one)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cuda: also run torch and jax on the GPU, judged against their CPU "
                        "results")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = checks.out_folder(args.out)  # before any backend runs: one may change directory
    _check_numbers(args)
    cases = options.select_cases(args)
    from_files = options.load_backend_modules(args)
    options.check_expectations(cases)
    names = options.split(args.backends) or [*backend_registry.DEFAULT, *from_files]
    options.choose("backend", names, backend_registry.names())
    if args.backends and not args.allow_missing:
        _check_available(names)
    checks.unique("backend", names, "--backends" if args.backends else "the default backends")
    dtypes = options.dtypes(args)
    quantities = options.choose(
        "quantity", options.split(args.quantities) or list(QUANTITIES), QUANTITIES
    )
    _check_nonempty(cases, dtypes, quantities)
    _check_parallel(args)
    cases = _shard(args, cases)
    names += _device_backends(args.device, names)
    checks.writable(out)
    baseline = _read_baseline(args.baseline)
    draws_path = _draws_path(args, out)
    draws_in_set = draws_path.parent == out  # then written with the report set, as one
    if args.random or args.replay:
        _check_draws(draws_path)

    started = time.time()
    parallel = args.jobs > 1 or args.executor == "ray"
    runner = Pool(_config(args, names), args.jobs, args.executor, args.address) if parallel else (
        Runner(names, seed=args.seed, cotangent=args.cotangent, cell_timeout=args.cell_timeout,
               isolate=not args.no_isolation)
    )  # fmt: skip
    steps = 0 if args.replay else len(cases) * (2 if args.random else 1)
    bar = tqdm(total=steps, unit="case", disable=not sys.stderr.isatty(), leave=False)
    plan = generate.Plan(args.random, args.replay or (), draws_path, args.seed, not draws_in_set)

    done = [0, time.monotonic()]  # cases finished; when the last line was printed

    def progress(case: Case) -> None:
        done[0] += 1  # counted here: a disabled bar (no terminal) counts nothing
        if done[0] >= steps:
            hold_signals()  # the last case has ended: its reports get written, whatever comes
        bar.set_postfix_str(case.name, refresh=False)
        bar.update(1)
        if bar.disable and time.monotonic() - done[1] >= PROGRESS_EVERY:  # CI logs: a line
            print(f"[{done[0]}/{steps} cases] {case.name}", file=sys.stderr, flush=True)
            done[1] = time.monotonic()

    try:
        result, extra = generate.run(runner, cases, dtypes, quantities, plan, progress)
    except generate.ReplayError as e:
        raise UsageError(str(e)) from None
    hold_signals()
    bar.close()
    _print_draws(extra, plan)
    if result.interrupted and not result.cases_finished:
        print(f"interrupted by {result.interrupted} before any case finished; "
              f"the reports in {out} are left as they were", file=sys.stderr)  # fmt: skip
        raise Interrupted(_signum(result.interrupted))
    s, e = result.summary, result.elements
    meta = run_metadata(
        summary=s, seed=args.seed, dtypes=dtypes, backends=names, cotangent=args.cotangent,
        cases=len(cases), quantities=quantities, started=started, argv=args.argv,
        duration_s=time.time() - started, interrupted_by=result.interrupted,
        cases_finished=result.cases_finished, timings=result.timings, shard=args.shard,
        random=args.random if (args.random or args.replay) else None,
        engines=[d for d in map(backend_registry.engine_of, names) if d],
    )  # fmt: skip
    changes = None if baseline is None else compare_summaries(restrict(baseline, s), s)
    draws = {} if not (draws_in_set and extra and extra.draws and not plan.replay) else {
        draws_path.name: generate.draws_json(extra.draws, draws_path)
    }  # fmt: skip
    causes = {} if args.causes == "none" else likely_causes(
        s, e, cases, args.seed, mutants=args.causes == "all")  # fmt: skip
    paths = write_report_set(out, s, e, meta, result.arrays, changes, args.baseline,
                             save_arrays=bool(args.shard), extra=draws,
                             causes=causes_table(causes))  # fmt: skip
    print(render_terminal(s, out / "report.html", changes, args.baseline or "", 10,
                          colour=sys.stdout.isatty(), causes=causes))  # fmt: skip
    for p in paths:
        print(f"wrote {p}")
    if result.interrupted:
        print(f"interrupted by {result.interrupted} after {result.cases_finished} of "
              f"{len(cases)} cases: the reports hold those {result.cases_finished} cases "
              f"({len(s)} cells), marked \"complete\": false in metadata.json")  # fmt: skip
        return 128 + _signum(result.interrupted)
    late = pending_signal()
    if late:
        print(f"{signal.Signals(late).name} came after the last case had ended: the reports "
              f"above are complete", file=sys.stderr)  # fmt: skip
        return 128 + late
    return 1 if s["verdict"].isin(UNEXPECTED).any() else 0


def _check_available(names: list[str]) -> None:
    """A backend asked for by name that is not installed is a usage error, not a run whose
    cells are all skipped (--allow-missing: run without it)."""
    for name in names:
        be, _ = guarded(backend_registry.get, name)
        why, _ = (None, None) if be is None else guarded(be.available)
        if why:  # a backend whose constructor raises gets error cells, with the reason
            raise UsageError(f"backend {name} was asked for but is not available: {why}; "
                             "pass --allow-missing to run without it")  # fmt: skip


def _draws_path(args: argparse.Namespace, out: Path) -> Path:
    if args.draws is not None:
        return checks.out_folder(args.draws, "--draws", "reports/draws.json")
    return out / generate.DRAWS_FILE


def _check_draws(path: Path) -> None:
    """The draws file must be one (or absent) before the run, not at its end."""
    try:
        generate.load_draws(path)
    except generate.ReplayError as e:
        raise UsageError(str(e)) from None


def _check_numbers(args: argparse.Namespace) -> None:
    checks.non_negative("--seed", args.seed)
    checks.seconds("--cell-timeout", args.cell_timeout)
    checks.non_negative("--random", args.random)


def _print_draws(extra: generate.DrawRun | None, plan: generate.Plan) -> None:
    if extra is None or plan.replay:
        return
    print(f"random: {extra.tried} draws run ({extra.rejected} near a kink dropped), "
          f"{len(extra.draws)} failing")  # fmt: skip
    for d in extra.draws:
        print(f"  failing draw {d.id}: replay with --replay '{d.id}' --draws {plan.draws_path}")


def _signum(name: str) -> int:
    return int(signal.Signals[name])


def _check_nonempty(cases: list[Case], dtypes: list[str], quantities: list[str]) -> None:
    """A selection whose cases declare none of the chosen dtypes or quantities is a mistake."""
    if any(set(c.dtypes) & set(dtypes) and set(c.quantities) & set(quantities) for c in cases):
        return
    raise UsageError(
        f"nothing to run: the {len(cases)} selected case(s) declare none of dtypes "
        f"{','.join(dtypes)} with quantities {','.join(quantities)}"
    )


def _check_parallel(args: argparse.Namespace) -> None:
    """One-sentence usage errors for option combinations that cannot work."""
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: give a number of worker processes, at least 1")
    parallel = args.jobs > 1 or args.executor == "ray"
    if parallel and (args.random or args.replay):
        raise UsageError("--random and --replay run in one process: drop --jobs/--executor")
    if args.address and args.executor != "ray":
        raise UsageError("--address names a Ray cluster: add --executor ray")
    if args.executor == "ray" and not _installed("ray"):
        raise UsageError(RAY_HINT)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _shard(args: argparse.Namespace, cases: list[Case]) -> list[Case]:
    if not args.shard:
        return cases
    try:
        k, n = parse_shard(args.shard)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return select_shard(cases, k, n)


def _device_backends(device: str, names: list[str]) -> list[str]:
    """--device cuda: the GPU twins of the selected backends that have one (judged against
    the CPU consensus, never voting), with JAX told to bring up its GPU platform too."""
    if device == "cpu":
        return []
    os.environ["HARNESS_DEVICE"] = device
    twins = [backend_registry.GPU_TWINS[b] for b in names if b in backend_registry.GPU_TWINS]
    return [t for t in twins if t not in names]


def _config(args: argparse.Namespace, backends: list[str]) -> Config:
    return Config(
        backends=tuple(backends),
        seed=args.seed,
        cotangent=args.cotangent,
        cell_timeout=args.cell_timeout,
        backend_modules=tuple(str(Path(m).resolve()) for m in args.backend_module or ()),
        case_modules=tuple(str(Path(m).resolve()) for m in args.case_module or ()),
        env=worker_env(args.device),
        isolate=not args.no_isolation,
    )


def _read_baseline(path: str | None) -> pd.DataFrame | None:
    if path is None:
        return None
    try:
        return read_summary(path)
    except BaselineError as e:
        raise UsageError(f"{e}; refresh it with `make baseline` or drop --baseline") from None
