"""The whole default run, as ``make validate`` runs it, timed from outside its process.

Each repeat runs ``python -m harness validate --seed 0 --out TMP`` in a fresh process (imports
included: that is what a user waits for) and reads the run's own breakdown from its
metadata.json: seconds per backend (its prepare included), JAX's trace and load seconds (inside
jax's share) and compile seconds (on a thread of their own, beside the other backends: only
what jax's cells wait for is in its share; JAX's seconds add up every thread's and the twin
process's, which overlap the run: jax.twin counts the twin's programs), and the runner's
time; the rest of the wall time
is start-up and writing the reports; the runner's time outside the backends is the judging
(``judge_and_rest_s``). Variants, in this
order within each repeat (so that the neighbours' load hits all of them alike):

  cache off       HARNESS_CACHE_DIR=off: what every run paid before the project cache
  cold            an empty cache folder: the first run on a machine (it fills the folder)
  warm            the same folder again: the second run, what ``make validate`` costs then
  jobs 2, warm    ``--jobs 2`` on the warm folder (this machine has 2 cores, shared)

Run: ``python -m benchmarks.bench_validate`` (writes reports/bench/validate.csv).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks import BENCH_DIR, write_table

#: variant -> (extra arguments, cache: "off", "cold" (emptied first) or "warm")
VARIANTS: dict[str, tuple[list[str], str]] = {
    "cache off": ([], "off"),
    "cold": ([], "cold"),
    "warm": ([], "warm"),
    "jobs 2, warm": (["--jobs", "2"], "warm"),
}
FIRST = ["variant", "repeats", "wall_s", "wall_min_s", "wall_max_s", "cpu_s", "run_s",
         "startup_and_reports_s", "jax.trace_s", "jax.compile_s", "jax.load_s", "jax.programs",
         "jax.programs_cached", "jax.twin", "judge_and_rest_s", "cases",
         "cells", "load_before"]  # fmt: skip


def once(extra: list[str], cache_folder: str = "off") -> dict[str, Any]:
    """One run in a fresh process: wall and CPU seconds, and its metadata's timings."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "harness", "validate", "--seed", "0", "--out", tmp, *extra]
        env = {**os.environ, "HARNESS_CACHE_DIR": cache_folder}
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
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
    serial = "--jobs" not in extra
    backends = sum(v for k, v in t.items() if k.endswith("_s") and "." not in k)
    rec["judge_and_rest_s"] = rec["run_s"] - backends if serial else float("nan")
    return rec


def run(repeats: int = 2, variants: dict[str, tuple[list[str], str]] = VARIANTS) -> pd.DataFrame:
    """Medians (and the wall's min and max) over `repeats`, the variants interleaved."""
    recs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            for name, (extra, mode) in variants.items():
                if mode == "cold":
                    shutil.rmtree(folder)
                    os.mkdir(folder)
                recs[name].append(once(extra, "off" if mode == "off" else folder))
    rows = []
    for name, rs in recs.items():
        keys = sorted({k for r in rs for k in r})
        row = {"variant": name, "repeats": len(rs)}
        for k in keys:
            vals = [r[k] for r in rs if isinstance(r.get(k), int | float)]
            row[k] = statistics.median(vals) if vals else None
        row["wall_min_s"] = min(r["wall_s"] for r in rs)
        row["wall_max_s"] = max(r["wall_s"] for r in rs)
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
