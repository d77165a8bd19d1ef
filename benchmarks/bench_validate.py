"""The whole default run, as ``make validate`` runs it, timed from outside its process.

Each repeat runs ``python -m harness validate --seed 0 --out TMP`` in a fresh process (imports
included: that is what a user waits for) and reads the run's own breakdown from its
metadata.json: seconds per backend, JAX's trace and compile seconds (inside jax's share), and
the runner's time; the rest of the wall time is start-up and writing the reports. Variants:
serial, and ``--jobs 2`` (this machine has 2 cores, shared: the load average is recorded).

Run: ``python -m benchmarks.bench_validate`` (writes reports/bench/validate.csv).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks import BENCH_DIR, write_table

VARIANTS: dict[str, list[str]] = {"serial": [], "jobs 2": ["--jobs", "2"]}
FIRST = ["variant", "repeats", "wall_s", "cpu_s", "run_s", "startup_and_reports_s",
         "jax.trace_s", "jax.compile_s", "jax.programs", "run_without_jax_compile_s",
         "cases", "cells", "load_before"]  # fmt: skip


def once(extra: list[str]) -> dict[str, Any]:
    """One run in a fresh process: wall and CPU seconds, and its metadata's timings."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "harness", "validate", "--seed", "0", "--out", tmp, *extra]
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
        meta = json.loads((Path(tmp) / "metadata.json").read_text())
    t = meta.get("timings", {})
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rec = {
        "wall_s": wall,
        "cpu_s": cpu,
        "run_s": t.get("run_seconds", float("nan")),
        "cases": meta.get("cases"),
        "cells": sum(meta.get("counts", {}).values()),
        "load_before": load,
    }
    rec.update({k: v for k, v in t.items() if k != "run_seconds"})
    rec["startup_and_reports_s"] = wall - rec["run_s"]
    # With workers, per-backend seconds are summed over them: only a serial run splits its wall.
    rec["run_without_jax_compile_s"] = (
        rec["run_s"] - t.get("jax.trace_s", 0.0) - t.get("jax.compile_s", 0.0)
        if "--jobs" not in extra
        else float("nan")
    )
    return rec


def run(repeats: int = 2, variants: dict[str, list[str]] = VARIANTS) -> pd.DataFrame:
    """Medians over `repeats`, the variants interleaved (so that the neighbours' load hits all)."""
    recs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for _ in range(repeats):
        for name, extra in variants.items():
            recs[name].append(once(extra))
    rows = []
    for name, rs in recs.items():
        keys = sorted({k for r in rs for k in r})
        row = {"variant": name, "repeats": len(rs)}
        for k in keys:
            vals = [r[k] for r in rs if isinstance(r.get(k), int | float)]
            row[k] = statistics.median(vals) if vals else None
        rows.append(row)
    df = pd.DataFrame(rows)
    return df.reindex(columns=[*FIRST, *(c for c in df.columns if c not in FIRST)])


def write(df: pd.DataFrame, path: Path = BENCH_DIR / "validate.csv") -> Path:
    return write_table(df, path)


if __name__ == "__main__":
    table = run()
    out = write(table)
    print(table.T.to_string(header=False, float_format=lambda v: f"{v:.3g}"))
    print(f"wrote {out}")
