"""One backend computing one quantity, isolated: every fault becomes an `error` Outcome.

Shape and dtype are checked here (against the quantity table), so the judge only ever sees
values that have the cell's shape and dtype.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass

import numpy as np

from harness.backends.base import Backend, Estimate, Problem, Unsupported
from harness.interrupt import DEFAULT_CELL_TIMEOUT, CellTimeout, call_with_timeout
from harness.vocabulary import DENSE_LIMIT, QUANTITY


@dataclass
class Outcome:
    """One backend's result for a cell, before judgement."""

    backend: str
    dtype: str
    status: str  # "ok", "error", "skipped"
    value: np.ndarray | None = None
    noise: np.ndarray | None = None  # per-element error estimate (oracles)
    reason: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def key(self) -> str:
        return self.backend


def run_cell(
    be: Backend, quantity: str, p: Problem, timeout: float | None = DEFAULT_CELL_TIMEOUT
) -> Outcome:
    """One backend computing one quantity; every fault (a hang past `timeout` seconds too)
    becomes an error outcome."""
    dtype = str(p.dtype)
    t0 = time.perf_counter()
    try:
        res = call_with_timeout(be.compute, timeout, quantity, p)
    except Unsupported as e:
        return Outcome(be.name, dtype, "skipped", reason=str(e))
    except CellTimeout as e:
        return Outcome(be.name, dtype, "error", reason=str(e), seconds=e.seconds)
    except Exception as e:  # a backend fault is recorded, never raised
        where = traceback.extract_tb(e.__traceback__)[-1]
        return Outcome(
            be.name, dtype, "error",
            reason=f"{type(e).__name__}: {e} (at {where.name}, line {where.lineno})",
        )  # fmt: skip
    secs = time.perf_counter() - t0
    value, noise = (res.value, res.error) if isinstance(res, Estimate) else (res, None)
    value = np.asarray(value)
    want = p.expected(quantity)
    if value.shape != want:
        return Outcome(be.name, dtype, "error", reason=f"returned shape {value.shape}, "
                       f"expected {want}", seconds=secs)  # fmt: skip
    if value.dtype != p.dtype and be.exact_dtype:
        return Outcome(be.name, dtype, "error", reason=f"returned {value.dtype} in a "
                       f"{p.dtype} cell (silent cast)", seconds=secs)  # fmt: skip
    return Outcome(be.name, dtype, "ok", value, noise, seconds=secs)


def dense_refusal(q: str, p: Problem) -> str:
    """Why a dense `q` (jacobian, hessian) is not formed for `p`, naming the limit, or ''."""
    if not QUANTITY[q].dense:
        return ""
    rows, cols = p.expected(q)
    if max(rows, cols) <= DENSE_LIMIT:
        return ""
    size = rows * cols * p.dtype.itemsize
    return (f"{q} needs {rows} x {cols} ({_bytes(size)} in {p.dtype}); dense matrices are "
            f"limited to {DENSE_LIMIT} per side (harness.registry.DENSE_LIMIT): matrix-free "
            f"only (grad, jvp, hvp)")  # fmt: skip


def _bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return ""
