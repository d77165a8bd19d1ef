"""What the likely causes cost: the mutants' signatures built cold (every mutant on every case,
against the oracles, in float64), then a run's whole causes step with the signatures cached.

The cold build runs in a fresh, empty cache folder, by default on a subset (SUBSET_MUTANTS
mutants spread over the catalog, every registry case but the large ones); ``--all`` (or
``python -m benchmarks causes --all``) builds the whole catalog (over a minute here). The first
mutant's row includes the oracles' first pass over the registry (JAX compiling every case); the
others' row (a fresh session) includes the oracles again, JAX's programs then cached; the
catalog's cold cost is extrapolated from the two. The warm rows time what every ``validate``
with a blamed backend pays once the cache is filled: loading the signatures, recording the ops
of every case and matching, on a summary whose failures are one mutant's own (so that every
step has real work).

Run: ``python -m benchmarks.bench_causes [--all]`` (writes reports/bench/causes.csv).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks import BENCH_DIR, write_table
from harness import cache
from harness.judge.causes import Fingerprint
from harness.library import load_cases
from harness.mutants import MUTANTS
from harness.mutants.causes import likely_causes
from harness.mutants.signatures import signatures
from harness.vocabulary import QUANTITIES, REFERENCE_DTYPE

SUBSET_MUTANTS = 8
REPEATS = 5


def _summary(cases: list, fp: Fingerprint) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of a backend 'b' failing exactly where `fp` fails, with its errors as elements."""
    rows = [dict(case=c.name, quantity=q, dtype=REFERENCE_DTYPE, backend="b",
                 verdict="fail" if (c.name, q) in fp.failing else "pass",
                 blame="b" if (c.name, q) in fp.failing else "none", reason="")
            for c in cases for q in QUANTITIES]  # fmt: skip
    elems = [dict(case=c, quantity=q, dtype=REFERENCE_DTYPE, backend="b", index=i,
                  value=1.0 + e, reference_value=1.0)
             for (c, q, i), e in fp.errors.items()]  # fmt: skip
    cols = ["case", "quantity", "dtype", "backend", "index", "value", "reference_value"]
    return pd.DataFrame(rows), pd.DataFrame(elems, columns=cols)


def run(full: bool = False) -> pd.DataFrame:
    cases = [c for c in load_cases().values() if "large" not in c.tags]
    step = max(1, len(MUTANTS) // SUBSET_MUTANTS)
    mutants = list(MUTANTS) if full else list(MUTANTS[::step][:SUBSET_MUTANTS])
    before = os.environ.get(cache.ENV)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[cache.ENV] = tmp
        cache.root.cache_clear()
        try:
            first = _timed(lambda: signatures(cases, 0, mutants[:1]))
            rest = _timed(lambda: signatures(cases, 0, mutants))
            sigs = signatures(cases, 0, mutants)
            warm_load = min(_timed(lambda: signatures(cases, 0, mutants)) for _ in range(REPEATS))
            name = next((n for n, (_, fp) in sigs.items() if fp.failing), None)
            s, e = _summary(cases, sigs[name][1]) if name else _summary(cases, Fingerprint())
            causes = min(_timed(lambda: likely_causes(s, e, cases, 0, catalog=mutants))
                         for _ in range(REPEATS))  # fmt: skip
        finally:
            if before is None:
                os.environ.pop(cache.ENV, None)
            else:
                os.environ[cache.ENV] = before
            cache.root.cache_clear()
    rows = [  # (step, mutants, seconds)
        ("cold: the first mutant (the oracles' first pass, JAX compiling)", 1, first),
        ("cold: the others (the oracles again, JAX's programs cached)", len(mutants) - 1, rest),
        ("cold: the catalog, extrapolated (at most: the others carry an oracle pass)", len(MUTANTS),
         first + rest * (len(MUTANTS) - 1) / max(1, len(mutants) - 1)),
        ("warm: signatures loaded", len(mutants), warm_load),
        ("warm: likely causes of one run", len(mutants), causes),
    ]  # fmt: skip
    return pd.DataFrame(
        [
            dict(
                step=k,
                mutants=n,
                of_catalog=len(MUTANTS),
                cases=len(cases),
                pairs=n * len(cases),
                seconds=round(v, 3),
                ms_per_pair=round(1000 * v / max(1, n * len(cases)), 3),
            )
            for k, n, v in rows
        ]
    )


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def write(df: pd.DataFrame, path: Path = BENCH_DIR / "causes.csv") -> Path:
    return write_table(df, path)


if __name__ == "__main__":
    table = run(full="--all" in sys.argv[1:])
    out = write(table)
    print(table.to_string(index=False))
    print(f"wrote {out}")
