"""mp's cost per case: seconds per quantity of the mpmath oracle on the default registry, and
the cells it skips with their reason (its budget, harness.backends.mp.BUDGET).

One row per case. Each cell is computed alone (a fresh backend, no project cache, no other
quantity of the case to share stencils with), in float64 at the case's seeded inputs, so
``<quantity>_s`` is what that quantity costs by itself (empty: the case does not ask for it, or
mp skipped it: ``skipped`` says why); in a run, grad comes free with the Jacobian's columns and
hvp with the Hessian where both are asked for. ``calls`` is the Python calls of one evaluation
that the budget multiplies the evaluations by, ``evaluations`` the case's evaluations in mpmath
over its cells (the measuring ones included), ``in_run_s`` the case's cells in one runner pass
(sharing their work): what a cold default ``harness validate`` pays for it.

Run: ``python -m benchmarks.bench_mp`` (writes reports/bench/mp.csv).
"""

from __future__ import annotations

import contextlib
import time

import pandas as pd

from benchmarks import BENCH_DIR, write_table
from harness.backends.base import Unsupported
from harness.backends.mp import BUDGET, MpMath, evaluations
from harness.execute import dense_refusal
from harness.library import select
from harness.problem import make_problem
from harness.vocabulary import COMPUTED, REFERENCE_DTYPE

COLUMNS = ["case", "n", "m", "calls", *(f"{q}_s" for q in COMPUTED), "in_run_s",
           "evaluations", "budget", "skipped"]  # fmt: skip


def _cell(case, q: str) -> dict:
    p = make_problem(case, 0, REFERENCE_DTYPE)
    be = MpMath()
    be.prepare([(p, [q])])
    row = {"case": case.name, "n": p.n, "m": p.m, "quantity": q, "budget": BUDGET}
    refused = dense_refusal(q, p)
    if refused:
        return {**row, "status": "refused", "reason": refused}
    t0 = time.perf_counter()
    try:
        be.compute(q, p)
        row["status"], row["reason"] = "ok", ""
    except Unsupported as e:
        row["status"], row["reason"] = "skipped", str(e)
    row["seconds"] = time.perf_counter() - t0
    row["evaluations"] = be.evaluations
    calls = [v for k, v in be._memo.items() if k[0] == "value" and isinstance(v, tuple)]
    if calls:
        row["calls"] = calls[0][1]
        row["estimate"] = evaluations(q, p.n) * calls[0][1]
    return row


def _in_run(case) -> float:
    """The case's mp cells as one runner pass computes them (sharing stencils), seconds."""
    p = make_problem(case, 0, REFERENCE_DTYPE)
    qs = [q for q in COMPUTED if q in case.quantities and not dense_refusal(q, p)]
    be = MpMath()
    be.prepare([(p, qs)])
    t0 = time.perf_counter()
    for q in qs:
        with contextlib.suppress(Unsupported):
            be.compute(q, p)
    return time.perf_counter() - t0


def cells(patterns: tuple[str, ...] = ("*",)) -> pd.DataFrame:
    """One row per case and quantity of the default selection (``large`` cases left out)."""
    rows = []
    for case in select(list(patterns)):
        whole = _in_run(case)
        for q in COMPUTED:
            if q in case.quantities:
                rows.append({**_cell(case, q), "in_run_s": whole})
    return pd.DataFrame(rows)


def run(patterns: tuple[str, ...] = ("*",)) -> pd.DataFrame:
    """One row per case: seconds per quantity, and the cells skipped with their reason."""
    out = []
    for name, g in cells(patterns).groupby("case", sort=False):
        row = {"case": name, "n": g.n.iloc[0], "m": g.m.iloc[0], "calls": g.calls.max(),
               "in_run_s": g.in_run_s.iloc[0], "evaluations": int(g.evaluations.sum()),
               "budget": BUDGET}  # fmt: skip
        for r in g.itertuples():
            if r.status == "ok":
                row[f"{r.quantity}_s"] = r.seconds
        row["skipped"] = "; ".join(f"{r.quantity}: {r.reason}" for r in g.itertuples()
                                   if r.status != "ok")  # fmt: skip
        out.append(row)
    return pd.DataFrame(out).reindex(columns=COLUMNS)


def write(df: pd.DataFrame, path=BENCH_DIR / "mp.csv"):
    return write_table(df, path)


if __name__ == "__main__":
    table = run()
    out = write(table)
    print(table[[f"{q}_s" for q in COMPUTED] + ["in_run_s"]].sum().to_string())
    print(table[table.skipped != ""][["case", "skipped"]].to_string(index=False))
    print(f"wrote {out}")
