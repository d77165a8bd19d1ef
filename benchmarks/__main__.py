"""`python -m benchmarks [NAME ...]` (= `make bench`): every benchmark, or the ones named, each
writing its table to reports/bench/NAME.csv, then reports/bench/README.md with the headline
figures of all tables found there.

Benchmarks: anchors (the harness's full check against gradcheck + gradgradcheck and
check_grads, per case), validate (the whole default run), scale (HVP check, 10^2 to 10^6 inputs),
mlp (the in-house engine's MLP step; benchmarks/bench_mlp.py, when present), objectives (a check
of each benchmark objective at the benchmarks' sizes, per backend), causes (the mutants'
signatures built cold, on a subset of the catalog unless ``--all``, and a run's causes step
with them cached), mp (the mpmath oracle's seconds per case and quantity, and the cells its
budget skips).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

OUT = Path("reports/bench")
BENCHMARKS = ("anchors", "validate", "scale", "mlp", "objectives", "causes", "mp")


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return "" if v != v else f"{v:.3g}"
    return str(v)


def markdown(df: pd.DataFrame) -> str:
    """A GitHub table (no tabulate dependency)."""
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


# Headline columns of each table for the summary (the CSVs hold everything).
HEADLINES: dict[str, list[str]] = {
    "anchors": ["case", "inputs", "harness_cells", "anchors_first_s", "harness_first_s",
                "harness_jax_compile_s", "ratio_first", "anchors_steady_s", "harness_steady_s",
                "ratio_steady", "harness_new_seed_s", "ratio_new_seed", "anchors_ok"],
    "validate": ["variant", "wall_s", "wall_min_s", "wall_max_s", "cpu_s", "run_s",
                 "startup_and_reports_s", "jax.trace_s", "jax.compile_s", "jax.load_s",
                 "jax.programs_cached", "torch_s", "fd_s", "jax_s", "judge_and_rest_s",
                 "cells", "load_before"],
    "scale": ["n", "backend", "seconds", "growth_mb", "bytes_per_input", "vs_fd_err",
              "vs_fd_tol", "max_abs_diff_vs_jax", "agrees"],
    "mlp": ["activation", "implementation", "threads", "median_ms", "ratio_to_numpy",
            "ratio_to_torch"],
    "objectives": ["case", "inputs", "cells", "unexpected", "first_s", "steady_s", "inhouse_s",
                   "torch_s", "jax_s", "jax_compile_s", "fd_s", "dense", "fd_grad_hvp"],
    "causes": ["step", "mutants", "of_catalog", "cases", "pairs", "seconds", "ms_per_pair"],
    "mp": ["case", "n", "m", "calls", "value_s", "grad_s", "jvp_s", "hvp_s", "jacobian_s",
           "hessian_s", "in_run_s", "evaluations", "skipped"],
}  # fmt: skip
TITLES = {
    "anchors": "Full check of a case: harness vs gradcheck+gradgradcheck and check_grads(order=2)",
    "validate": "The whole default run (`make validate`)",
    "scale": "Second order at scale: HVP check, n = 10^2 .. 10^6",
    "mlp": "In-house engine: MLP forward + backward",
    "objectives": "A check of a real model: the benchmark objectives at size (`--tag large`)",
    "causes": "Likely causes: the mutants' signatures cold (a subset unless `--all`) and warm",
    "mp": "The mpmath oracle at 50 digits: seconds per case and quantity, within its budget",
}


def summary(out: Path = OUT) -> Path:
    """reports/bench/README.md from the tables in `out`."""
    parts = [
        "# Benchmarks",
        "",
        f"Machine: {platform.platform()}, Python {platform.python_version()}; written "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `python -m benchmarks`.",
    ]
    for name in BENCHMARKS:
        path = out / f"{name}.csv"
        if not path.exists():
            continue
        df = pd.read_csv(path)
        cols = [c for c in HEADLINES.get(name, df.columns) if c in df.columns]
        parts += ["", f"## {TITLES.get(name, name)}", "", f"`{path.name}`", "", markdown(df[cols])]
    path = out / "README.md"
    path.write_text("\n".join(parts) + "\n")
    return path


def _runner(name: str, full: bool = False) -> Callable[[], Path] | None:
    module = f"benchmarks.bench_{name}"
    if importlib.util.find_spec(module) is None:
        return None
    mod = importlib.import_module(module)
    kw = {"full": True} if full and "full" in inspect.signature(mod.run).parameters else {}
    return lambda: mod.write(mod.run(**kw), OUT / f"{name}.csv")


def main(argv: Sequence[str]) -> int:
    """`--all`: the benchmarks that run a subset by default (causes) run everything."""
    full = "--all" in argv
    names = [a for a in argv if a != "--all"] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}",
              file=sys.stderr)  # fmt: skip
        return 2
    for name in names:
        bench = _runner(name, full)
        if bench is None:
            print(f"{name}: benchmarks/bench_{name}.py is not there, skipped")
            continue
        t0 = time.perf_counter()
        path = bench()
        print(f"{name}: wrote {path} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"wrote {summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
