"""One backend computing one quantity, isolated: every fault becomes an `error` Outcome.

Shape and dtype are checked here (against the quantity table), so the judge only ever sees
values that have the cell's shape and dtype.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from harness.backends.base import Backend, Estimate, Problem, Unsupported
from harness.backends.supervised import Supervised
from harness.errors import BackendFault, describe
from harness.interrupt import (
    DEFAULT_CELL_TIMEOUT,
    CellTimeout,
    CtrlC,
    call_with_timeout,
    real_interrupts,
)
from harness.vocabulary import DENSE_LIMIT, QUANTITY

T = TypeVar("T")


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

    @property
    def flat(self) -> Flat:
        """The value (and noise) as flat float64 arrays with what every comparison of a group
        reads from them, computed once: an ok outcome's value is not changed after it is made.
        (Kept by hand: functools.cached_property takes a lock per first use.)"""
        got = self.__dict__.get("_flat")
        if got is None:
            got = self.__dict__["_flat"] = Flat.of(self)
        return got

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_flat"}


@dataclass
class Flat:
    """An outcome's value as the judge reads it: flat float64 ``v``, ``|v|``, its largest
    element ``top`` (NaN when one is NaN; 0.0 when empty), whether every element is finite, and
    ``|noise|`` flat (None without an error estimate)."""

    v: np.ndarray
    mag: np.ndarray
    top: float
    finite: bool
    noise: np.ndarray | None

    @staticmethod
    def of(o: Outcome) -> Flat:
        v = np.asarray(o.value, dtype=np.float64).ravel()
        mag = np.abs(v)
        top = float(mag.max(initial=0.0))
        noise = None if o.noise is None else np.abs(np.asarray(o.noise, np.float64).ravel())
        return Flat(v, mag, top, math.isfinite(top), noise)


def run_cell(
    be: Backend, quantity: str, p: Problem, timeout: float | None = DEFAULT_CELL_TIMEOUT
) -> Outcome:
    """One backend computing one quantity; every fault (a hang past `timeout` seconds, a
    result that is no array, SystemExit or KeyboardInterrupt raised by the backend) becomes an
    error outcome. A real Ctrl-C still stops the run. A supervised backend (a plugin in its
    worker process) keeps the time limit itself."""
    dtype = p.dtype_name
    t0 = time.perf_counter()
    limit = None if isinstance(be, Supervised) else timeout
    try:
        with real_interrupts():
            value, noise = call_with_timeout(_arrays, limit, be, quantity, p)
    except Unsupported as e:
        return Outcome(be.name, dtype, "skipped", reason=str(e))
    except CellTimeout as e:
        return Outcome(be.name, dtype, "error", reason=str(e), seconds=e.seconds)
    except BackendFault as e:  # described by the backend's worker process (a kill: its time)
        return Outcome(be.name, dtype, "error", reason=str(e), seconds=time.perf_counter() - t0)
    except CtrlC:
        raise
    except (Exception, SystemExit, KeyboardInterrupt) as e:  # the backend's fault, recorded
        return Outcome(be.name, dtype, "error", reason=describe(e, type(be), p.fn))
    secs = time.perf_counter() - t0
    if isinstance(value, PerInput):  # one array per input: each part checked by its name
        value, wrong = value.joined(p)
        if wrong:
            return Outcome(be.name, dtype, "error", reason=wrong, seconds=secs)
    want = p.expected(quantity)
    if value.shape != want:
        return Outcome(be.name, dtype, "error", reason=f"returned shape {value.shape}, "
                       f"expected {want}{_layout(quantity, p)}", seconds=secs)  # fmt: skip
    if value.dtype.kind in "OSUb":  # objects, text, truth values: nothing to compare
        return Outcome(be.name, dtype, "error", reason=f"returned {value.dtype} values, not "
                       "numbers", seconds=secs)  # fmt: skip
    if value.dtype != p.dtype and be.exact_dtype:
        return Outcome(be.name, dtype, "error", reason=f"returned {value.dtype} in a "
                       f"{p.dtype} cell (silent cast)", seconds=secs)  # fmt: skip
    return Outcome(be.name, dtype, "ok", value, noise, seconds=secs)


def _arrays(be: Backend, quantity: str, p: Problem) -> tuple[np.ndarray, np.ndarray | None]:
    """The backend's result as numpy arrays: converting it is part of the cell (a ragged list,
    a tensor that requires grad or an ``__array__`` that raises is that cell's error)."""
    res = be.compute(quantity, p)
    if isinstance(res, Estimate):
        return np.asarray(res.value), np.asarray(res.error)
    if QUANTITY[quantity].shape == ("n",) and isinstance(res, dict | list | tuple) and len(
        res) == len(p.wrt) > 1:  # fmt: skip
        return PerInput(res, quantity), None  # type: ignore[return-value]
    return np.asarray(res), None


class PerInput:
    """A gradient (or HVP) given as one array per differentiable input, by name or in order."""

    def __init__(self, parts: dict | list | tuple, quantity: str) -> None:
        self.parts, self.quantity = parts, quantity

    def joined(self, p: Problem) -> tuple[np.ndarray, str]:
        """The flat array, or a reason naming the input whose part has the wrong shape."""
        named = (
            self.parts
            if isinstance(self.parts, dict)
            else dict(zip(p.wrt, self.parts, strict=True))
        )
        flat = []
        for name in p.wrt:
            if name not in named:
                return np.zeros(0), f"{self.quantity} has no part for input {name}"
            part = np.asarray(named[name])
            if part.shape != p.shapes[name]:
                return np.zeros(0), (f"{self.quantity} of {name} has shape {part.shape}, "
                                     f"expected {p.shapes[name]}")  # fmt: skip
            flat.append(part.ravel())
        return np.concatenate(flat), ""


def _layout(quantity: str, p: Problem) -> str:
    """What a flat result over the inputs is made of, when there is more than one input."""
    if QUANTITY[quantity].shape[-1:] != ("n",) or len(p.wrt) < 2:
        return ""
    return " (" + " then ".join(f"{n} {p.shapes[n]}" for n in p.wrt) + ", flattened)"


def guarded(fn: Callable[..., T], *args: Any) -> tuple[T | None, str | None]:
    """``(fn(*args), None)``, or ``(None, the fault in words)`` when the backend's method
    raises (SystemExit and KeyboardInterrupt too; a real Ctrl-C passes)."""
    try:
        with real_interrupts():
            return fn(*args), None
    except CtrlC:
        raise
    except (Exception, SystemExit, KeyboardInterrupt) as e:
        return None, describe(e)


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
