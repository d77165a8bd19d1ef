"""What a harness check of a real model costs: the AD benchmarks' objectives at the benchmarks'
sizes (the cases tagged ``large``: ADBench's GMM at d = 10, k = 25, n = 1000, 1,650 parameters;
its bundle adjustment at 49 cameras, 7776 points, 31843 observations, 55,710 inputs; its LSTM
with l = 2, b = 14; GradBench's det, lse and kmeans), each checked on every default backend.

A check is what ``harness validate --tag large`` runs for one case: every quantity in float64
and float32 with verdicts; past 64 inputs the dense Jacobian and Hessian are refused (``dense``)
and past 1024 fd's grad and hvp (``fd_grad_hvp``), with the reason in the report. Each case
runs in a fresh process, with the project cache off so that JAX compiles its programs as a
first run does: library start-up is paid on a small warm-up case and not counted; then the
first check (``first_s``, compiles included) and the same check again (``steady_s``, what
another seed costs). ``<backend>_s`` split the first check's time by
backend; ``jax_compile_s`` is the part of ``jax_s`` spent tracing and compiling.

Run: ``python -m benchmarks.bench_objectives`` (writes reports/bench/objectives.csv).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks import BENCH_DIR, write_table

WARMUP_CASE = "gmm_d2_k5"
DTYPES = ("float64", "float32")
QUANTITIES = ("value", "grad", "jvp", "hvp", "jacobian", "hessian")  # dense: refused here
SHOWN = ("inhouse", "torch", "jax", "fd")
COLUMNS = [
    "case", "inputs", "outputs", "cells", "verdicts", "unexpected", "first_s", "steady_s",
    "inhouse_s", "torch_s", "jax_s", "jax_compile_s", "fd_s", "other_s", "dense", "fd_grad_hvp",
]  # fmt: skip


def _check(runner: Any, case: Any) -> tuple[float, list[dict], dict[str, float]]:
    """One check of `case`: wall seconds, report rows, seconds per backend (and JAX's
    trace + compile as ``jax_compile``)."""
    jax = runner.backends.get("jax")
    before = dict(runner.timings), dict(getattr(jax, "timings", {}))
    t0 = time.perf_counter()
    rows, _ = runner.run_case(case, DTYPES, QUANTITIES)
    wall = time.perf_counter() - t0
    spent = {k: v - before[0].get(k, 0.0) for k, v in runner.timings.items()}
    jt = getattr(jax, "timings", {})
    spent["jax_compile"] = sum(jt.get(k, 0.0) - before[1].get(k, 0.0)
                               for k in ("trace_s", "compile_s"))  # fmt: skip
    return wall, rows, spent


def _outcome(rows: list[dict], backends: set[str] | None, quantities: tuple[str, ...]) -> str:
    """'refused' when every such cell is skipped, else their verdicts."""
    got = Counter(r["verdict"] for r in rows if r["quantity"] in quantities
                  and (backends is None or r["backend"] in backends))  # fmt: skip
    if set(got) == {"skipped"}:
        return "refused"
    return ", ".join(f"{v} {n}" for v, n in sorted(got.items()))


def one(name: str) -> dict[str, Any]:
    """The measurement of one case, in this process (see the module docstring)."""
    from harness import backends
    from harness.library import load_cases
    from harness.problem import make_problem
    from harness.runner import Runner
    from harness.vocabulary import UNEXPECTED

    reg = load_cases()
    runner = Runner(list(backends.DEFAULT), seed=0)
    _check(runner, reg[WARMUP_CASE])  # start-up: imports, first calls, thread pools
    runner = Runner(list(backends.DEFAULT), seed=0)
    case = reg[name]
    first, rows, spent = _check(runner, case)
    steady = _check(runner, case)[0]
    verdicts = Counter(r["verdict"] for r in rows)
    rec: dict[str, Any] = {
        "case": name,
        "inputs": case.n_wrt,
        "outputs": int(make_problem(case, 0, "float64").m),
        "cells": len(rows),
        "verdicts": ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items())),
        "unexpected": sum(n for v, n in verdicts.items() if v in UNEXPECTED),
        "first_s": first,
        "steady_s": steady,
        "jax_compile_s": spent.pop("jax_compile"),
        "dense": _outcome(rows, None, ("jacobian", "hessian")),
        "fd_grad_hvp": _outcome(rows, {"fd"}, ("grad", "hvp")),
    }
    rec.update({f"{b}_s": spent.pop(b, 0.0) for b in SHOWN})
    rec["other_s"] = sum(spent.values())
    return rec


def run(cases: tuple[str, ...] | None = None) -> pd.DataFrame:
    """One row per case tagged large (or per name in `cases`), each from a fresh process."""
    if cases is None:
        from harness.library import select

        cases = tuple(c.name for c in select(tags=["large"]))
    env = {**os.environ, "HARNESS_CACHE_DIR": "off"}
    recs = []
    for name in cases:
        cmd = [sys.executable, "-m", "benchmarks.bench_objectives", "--one", name]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
        recs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return pd.DataFrame(recs).reindex(columns=COLUMNS)


def write(df: pd.DataFrame, path: Path = BENCH_DIR / "objectives.csv") -> Path:
    return write_table(df, path)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(one(sys.argv[2])))
    else:
        table = run()
        out = write(table)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        print(f"wrote {out}")
