"""Command line: `python -m harness list | validate`."""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd

from harness import __version__
from harness import backends as backend_registry
from harness.baseline import compare_summaries, restrict
from harness.interrupt import DEFAULT_CELL_TIMEOUT, Interrupted, SignalGuard, signals_deferred
from harness.registry import DTYPES, QUANTITIES, Case, load_cases, select

UNEXPECTED = ("fail", "error", "unexpected_pass")


class UsageError(Exception):
    """A mistake on the command line: one sentence, exit status 2."""


def _split(values: Sequence[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _check(kind: str, given: list[str], valid: Sequence[str]) -> list[str]:
    unknown = [g for g in given if g not in valid]
    if unknown:
        raise UsageError(
            f"unknown {kind} {', '.join(map(repr, unknown))}; valid choices: {', '.join(valid)}"
        )
    return given


def _select_cases(args: argparse.Namespace) -> list[Case]:
    patterns = _split(args.cases)
    chosen = select(patterns, _split(args.family), _split(args.tag))
    if not chosen:
        names = ", ".join(load_cases())
        what = f"--cases {' '.join(patterns)}" if patterns else "the filters given"
        raise UsageError(f"no case matches {what}; known cases: {names}")
    return chosen


def _versions() -> dict[str, str]:
    out = {"harness": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "scipy", "pandas", "torch", "jax", "jaxlib", "mpmath", "matplotlib"):
        try:
            out[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def cmd_list(args: argparse.Namespace) -> int:
    rows = [
        dict(
            name=c.name,
            family=c.family,
            quantities=" ".join(c.quantities),
            dtypes=" ".join(c.dtypes),
            tags=" ".join(sorted(c.tags)),
            inputs=_domain(c),
            doc=c.doc,
        )
        for c in _select_cases(args)
    ]
    df = pd.DataFrame(rows)
    if args.format == "csv":
        sys.stdout.write(df.to_csv(index=False, lineterminator="\n"))
    else:
        with pd.option_context("display.max_colwidth", 60, "display.width", 200):
            print(df.to_string(index=False))
    return 0


def _domain(case: Case) -> str:
    """Each input's shape and domain, e.g. ``x(4,) in [0.5, 3]; y(4,) labels < 2``."""

    def one(name: str, spec: Any) -> str:
        if spec.values is not None:
            return f"{name}{spec.shape} = {list(spec.values)}"
        if spec.kind == "int":
            return f"{name}{spec.shape} labels < {int(spec.high)}"
        return f"{name}{spec.shape} in [{spec.low:g}, {spec.high:g}]"

    return "; ".join(one(n, s) for n, s in case.inputs.items())


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.report.csv import write_csv
    from harness.report.html import write_html
    from harness.runner import Runner

    cases = _select_cases(args)
    from_files = _load_backend_modules(args)
    names = _split(args.backends) or [*backend_registry.DEFAULT, *from_files]
    _check("backend", names, backend_registry.names())
    dtypes = _check("dtype", _split(args.dtypes) or list(DTYPES), DTYPES)
    quantities = _check("quantity", _split(args.quantities) or list(QUANTITIES), QUANTITIES)
    _check_nonempty(cases, dtypes, quantities)
    from harness import parallel

    parallel.check_args(args)
    cases = parallel.shard_cases(args, cases)
    names += parallel.device_backends(args.device, names)
    out = Path(args.out)
    _check_writable(out)
    baseline = _read_baseline(args.baseline)

    started = time.time()
    started_utc = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started))
    runner = (
        parallel.pool_from_args(args, names)
        if parallel.wanted(args)
        else Runner(names, seed=args.seed, cotangent=args.cotangent, cell_timeout=args.cell_timeout)
    )
    bar = _progress(len(cases))
    result = _run(runner, cases, dtypes, quantities, args, out, bar)
    bar.close()
    if result.interrupted and not result.cases_finished:
        print(f"interrupted by {result.interrupted} before any case finished; "
              f"the reports in {out} are left as they were", file=sys.stderr)  # fmt: skip
        raise Interrupted(_signum(result.interrupted))
    meta: dict[str, Any] = {
        **{f"version.{k}": v for k, v in _versions().items()},
        "platform": platform.platform(),
        "seed": args.seed,
        "dtypes": ",".join(dtypes),
        "backends": ",".join(names),
        "cotangent": args.cotangent,
        "cases": len(cases),
        "quantities": ",".join(quantities),
        "started": started_utc,
        "command": f"python -m harness {shlex.join(args.argv)}",
        "duration_s": round(time.time() - started, 2),
        "complete": result.interrupted is None,
        "interrupted_by": result.interrupted,
        "cases_finished": result.cases_finished,
        "timings": {k: round(float(v), 3) for k, v in result.timings.items()},
        **({"shard": args.shard} if args.shard else {}),
    }
    s, e = result.summary, result.elements
    meta["counts"] = {v: int(n) for v, n in s["verdict"].value_counts().sort_index().items()}
    if args.random or args.replay:
        meta.update(random=args.random, draws=sorted(set(s["draw"]) - {""}))
    changes = None if baseline is None else compare_summaries(restrict(baseline, s), s)
    with signals_deferred():  # the set of reports is written whole, or not at all
        paths = [
            write_csv(s, out / "summary.csv"),
            write_csv(e, out / "elements.csv"),
            write_html(s, e, meta, out / "report.html", result.arrays, changes, args.baseline),
        ]
        from harness.report.files import atomic_write

        paths.append(atomic_write(out / "metadata.json", json.dumps(meta, indent=2) + "\n"))
        if args.shard:  # heatmap arrays, for `merge` to draw them
            paths.append(parallel.save_arrays(result.arrays, out))
    print(terminal_summary(s, out / "report.html", changes, args.baseline))
    for p in paths:
        print(f"wrote {p}")
    if result.interrupted:
        print(f"interrupted by {result.interrupted} after {result.cases_finished} of "
              f"{len(cases)} cases: the reports hold those {result.cases_finished} cases "
              f"({len(s)} cells), marked \"complete\": false in metadata.json")  # fmt: skip
        return 128 + _signum(result.interrupted)
    return 1 if s["verdict"].isin(UNEXPECTED).any() else 0


def _load_backend_modules(args: argparse.Namespace) -> list[str]:
    """Register the backends of every --backend-module file; returns their names."""
    from harness import plugins

    found: list[str] = []
    for path in args.backend_module or ():
        try:
            found += plugins.load_module(path, taken=backend_registry.BUILTIN)
        except plugins.PluginError as e:
            raise UsageError(str(e)) from None
    return found


def cmd_check_backend(args: argparse.Namespace) -> int:
    """Conformance of one backend (or each --backend-module one): 0 complete, 1 lacking."""
    from harness import plugins

    from_files = _load_backend_modules(args)
    names = [args.name] if args.name else from_files
    if not names:
        raise UsageError("name the backend to check (check-backend torch) or give --backend-module")
    _check("backend", names, backend_registry.names())
    cases = _select_cases(args)
    dtypes = _check("dtype", _split(args.dtypes) or list(DTYPES), DTYPES)
    complete = True
    for name in names:
        try:
            be = backend_registry.get(name)
        except ImportError as e:
            print(f"backend {name}\n  not available: {e}")
            complete = False
            continue
        conf = plugins.check(be, cases, dtypes, seed=args.seed)
        print(plugins.render(conf))
        complete &= conf.complete
    return 0 if complete else 1


def terminal_summary(
    summary: pd.DataFrame,
    html_path: Path | None = None,
    changes: pd.DataFrame | None = None,
    baseline: str | None = None,
    worst: int = 10,
) -> str:
    """Counts by verdict, the worst cells, baseline changes and the report's path."""
    from harness.report.terminal import render_terminal

    return render_terminal(summary, html_path, changes, baseline or "", worst)


def _read_baseline(path: str | None) -> pd.DataFrame | None:
    from harness.baseline import BaselineError, read_summary

    if path is None:
        return None
    try:
        return read_summary(path)
    except BaselineError as e:
        raise UsageError(f"{e}; refresh it with `make baseline` or drop --baseline") from None


def cmd_diff(args: argparse.Namespace) -> int:
    """Compare two summary.csv files; 1 when the second regressed."""
    from harness.baseline import BaselineError, compare_summaries, read_summary
    from harness.report.terminal import change_counts, change_lines

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


def _signum(name: str) -> int:
    import signal

    return int(signal.Signals[name])


def _check_nonempty(cases: Sequence[Case], dtypes: list[str], quantities: list[str]) -> None:
    """A selection whose cases declare none of the chosen dtypes or quantities is a mistake."""
    if any(set(c.dtypes) & set(dtypes) and set(c.quantities) & set(quantities) for c in cases):
        return
    raise UsageError(
        f"nothing to run: the {len(cases)} selected case(s) declare none of dtypes "
        f"{','.join(dtypes)} with quantities {','.join(quantities)}"
    )


def _run(
    runner: Any,
    cases: list[Case],
    dtypes: list[str],
    quantities: list[str],
    args: argparse.Namespace,
    out: Path,
    bar: Any,
) -> Any:
    """The registry run. --random N adds N generated input sets per case (a failing one is
    shrunk, stored in the draws file and reported with its id in a `draw` column); --replay
    reruns only the stored draws it names."""
    if not (args.random or args.replay):
        return runner.run(cases, dtypes, quantities, progress=lambda c: bar.update(1))
    from harness import generate

    path = Path(args.draws) if args.draws else out / generate.DRAWS_FILE
    try:
        if args.replay:
            extra = generate.replay(runner, _split(args.replay), path, dtypes, quantities)
            result = runner.run([], dtypes, quantities)
        else:
            result = runner.run(cases, dtypes, quantities, progress=lambda c: bar.update(1))
            extra = generate.explore_all(runner, cases, args.random, dtypes, quantities, args.seed)
            print(f"random: {extra.tried} draws run ({extra.rejected} near a kink dropped), "
                  f"{len(extra.draws)} failing")  # fmt: skip
    except generate.ReplayError as e:
        raise UsageError(str(e)) from None
    for d in extra.draws if not args.replay else []:
        print(f"  failing draw {d.id}: replay with --replay '{d.id}' --draws {path}")
    if extra.draws and not args.replay:
        generate.save_draws(extra.draws, path)
    result.summary = generate.merged(result.summary, extra.summary)
    result.elements = generate.merged(result.elements, extra.elements)
    return result


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"cannot write reports to {out}: {e.strerror or e}") from None


def _progress(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="case", disable=not sys.stderr.isatty(), leave=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def selection(p: argparse.ArgumentParser) -> None:
        p.add_argument("--cases", nargs="*", help="glob(s) over case names, e.g. 'softmax*'")
        p.add_argument("--family", nargs="*", help="only these families")
        p.add_argument("--tag", nargs="*", help="only cases with one of these tags")

    p_list = sub.add_parser("list", help="print the registry as a table")
    selection(p_list)
    p_list.add_argument("--format", choices=("table", "csv"), default="table")
    p_list.set_defaults(func=cmd_list)

    p_val = sub.add_parser("validate", help="run the registry and write reports")
    selection(p_val)
    p_val.add_argument(
        "--backends", nargs="*", help=f"default: {','.join(backend_registry.DEFAULT)}"
    )
    p_val.add_argument("--dtypes", nargs="*", help="float64,float32 (default both)")
    p_val.add_argument("--quantities", nargs="*", help=f"default: {','.join(QUANTITIES)}")
    p_val.add_argument("--seed", type=int, default=0)
    p_val.add_argument("--out", default="reports")
    p_val.add_argument(
        "--cotangent",
        choices=("random", "ones"),
        default="random",
        help="VJP cotangents: seeded random (default) or all ones",
    )
    p_val.add_argument(
        "--cell-timeout",
        type=float,
        default=DEFAULT_CELL_TIMEOUT,
        metavar="SECONDS",
        help=f"a slower backend call is an error (default {DEFAULT_CELL_TIMEOUT:g}; 0: none)",
    )
    p_val.add_argument(
        "--backend-module",
        action="append",
        metavar="FILE.py",
        help="a file defining Backend subclasses: selectable by name, and run by default",
    )
    p_val.add_argument(
        "--baseline",
        metavar="PATH",
        help="a summary.csv to compare with: regressions and fixes in the terminal and report",
    )
    p_val.add_argument(
        "--random",
        type=int,
        default=0,
        metavar="N",
        help="also run N generated input sets per case (hypothesis); failing ones are shrunk",
    )
    p_val.add_argument(
        "--replay",
        nargs="+",
        metavar="ID",
        help="rerun exactly the inputs of these draw ids (from --random) instead of the registry",
    )
    p_val.add_argument("--draws", metavar="PATH", help="the draws file (default: OUT/draws.json)")
    p_val.set_defaults(func=cmd_validate)
    from harness import parallel

    parallel.add_arguments(p_val)
    parallel.add_merge_command(sub)

    p_diff = sub.add_parser("diff", help="compare two summary.csv files (exit 1: B regressed)")
    p_diff.add_argument("before", metavar="A", help="the older summary.csv (e.g. the baseline)")
    p_diff.add_argument("after", metavar="B", help="the newer summary.csv")
    p_diff.add_argument("--limit", type=int, default=50, help="lines per kind of change")
    p_diff.set_defaults(func=cmd_diff)

    p_chk = sub.add_parser(
        "check-backend", help="what a backend lacks (vocabulary, quantities) and what it can run"
    )
    p_chk.add_argument("name", nargs="?", help="backend id (default: each --backend-module one)")
    selection(p_chk)
    p_chk.add_argument("--backend-module", action="append", metavar="FILE.py")
    p_chk.add_argument("--dtypes", nargs="*", help="float64,float32 (default both)")
    p_chk.add_argument("--seed", type=int, default=0)
    p_chk.set_defaults(func=cmd_check_backend)

    from harness.mutants.command import configure as add_mutants

    add_mutants(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with SignalGuard():  # SIGINT/SIGTERM become Interrupted, with the finished work kept
            return int(args.func(args))
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(f"{e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
