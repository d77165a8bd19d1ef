"""`harness.check(fn, *args)`: a function of torch tensors or jax arrays, judged the harness way.

The function's own derivatives (VJP, JVP, HVP, and for small inputs Jacobian and Hessian) are
computed with its framework's AD and judged against finite differences of the function itself
evaluated in float64 (at the very same inputs, whatever dtype the call is in), with the Taylor
slope of its gradient beside them. A reference implementation, when given, is judged against
the same differences: the function's forward is the definition, so a reference whose value
differs is blamed for it. The function and its references are under audit (they never vote):
a disagreement with the differences blames them, by name (``fn``, ``reference``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.backends import DEFAULT, get
from harness.backends.base import Backend
from harness.backends.fd import FiniteDifferences
from harness.check.bind import Bound, bind, framework_of
from harness.check.message import failure_text
from harness.check.ops import likely_op
from harness.check.subjects import SUBJECTS
from harness.errors import UsageError
from harness.report.metadata import run_metadata
from harness.report.report_set import write_report_set
from harness.results import RunResult, tidy, tidy_elements
from harness.runner import Runner
from harness.vocabulary import DTYPES, QUANTITIES, QUANTITY, REFERENCE_DTYPE, UNEXPECTED, exact_in

SUBJECT = "fn"
REFERENCE = "reference"


class CheckError(AssertionError):
    """harness.check found a derivative it cannot trust; the message says which and why."""

    def __init__(self, message: str, result: CheckResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class CheckResult:
    """What harness.check found: the report rows of the function (and of its reference)."""

    summary: pd.DataFrame
    elements: pd.DataFrame
    run: RunResult = field(repr=False)
    meta: dict = field(default_factory=dict, repr=False)
    bound: Bound | None = field(default=None, repr=False)
    #: For a failing function written against xp: the op whose own check fails too, in a
    #: sentence (or that each op passes on its own); empty otherwise.
    likely_op: str = ""

    @property
    def ok(self) -> bool:
        """No unexpected cell (fail, error, unexpected_pass)."""
        return not self.summary["verdict"].isin(UNEXPECTED).any()

    @property
    def failures(self) -> pd.DataFrame:
        return self.summary[self.summary["verdict"].isin(UNEXPECTED)]

    def assert_ok(self) -> CheckResult:
        """This result, or CheckError saying which checks broke, where and by how much."""
        if not self.ok:
            text = failure_text(self.failures, self.elements, self.bound)
            raise CheckError(f"{text}\n{self.likely_op}" if self.likely_op else text, self)
        return self

    def write(self, out: str | Path) -> list[Path]:
        """The usual report set (summary.csv, elements.csv, report.html, metadata.json)."""
        return write_report_set(Path(out), self.summary, self.elements, self.meta,
                                self.run.arrays)  # fmt: skip


class _Float64Oracle(FiniteDifferences):
    """fd of the function itself, in the reference dtype only (lower dtypes borrow it)."""

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        return dtype == REFERENCE_DTYPE


class _OnReference(Backend):
    """A built-in backend running a reference written against the namespace xp."""

    def __init__(self, inner: Backend, fn: Callable[..., Any], bound: Bound) -> None:
        self.inner, self.ref, self.bound = inner, fn, bound
        self.name = f"{REFERENCE}-{inner.name}"  # type: ignore[misc]
        self.votes, self.oracle = False, inner.oracle  # type: ignore[misc]
        self.reference_rank, self.exact_dtype = inner.reference_rank, inner.exact_dtype  # type: ignore[misc]

    def available(self) -> str | None:
        return self.inner.available()

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        return self.inner.applies(case, quantity, dtype)

    def compute(self, quantity: str, p: Any) -> Any:
        def on_reference(xp: Any, *values: Any) -> Any:
            return self.ref(xp, *self.bound.positional(values))

        q = type(p)(on_reference, p.args, p.wrt, p.dtype, p.cotangent, p.tangent, p.direction,
                    p.out_shape, p.case)  # fmt: skip
        return self.inner.compute(quantity, q)


def check(
    fn: Callable[..., Any],
    *args: Any,
    reference: Callable[..., Any] | None = None,
    order: int = 2,
    dtypes: Sequence[str] | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    seed: int = 0,
    raise_on_fail: bool = True,
    out: str | Path | None = None,
    xp: bool = False,
) -> CheckResult:
    """Check `fn(*args)`'s derivatives; raise CheckError (an AssertionError) on an unexpected
    cell, or return the result (``raise_on_fail=False``). ``xp=True``: `fn(xp, *args)` is
    written against the namespace and runs on every built-in backend, args as numpy arrays;
    when it fails, each vocabulary op it calls is checked on its own at the values it hands
    that op, and the message names the op whose own check fails too (``result.likely_op``)."""
    result = _check(fn, args, reference, order, dtypes, atol, rtol, seed, xp)
    if out is not None:
        result.write(out)
    if not result.ok and result.bound is not None and result.bound.framework == "xp":
        same = list(dtypes) if dtypes else result.bound.dtypes  # the function's own dtypes

        def alone(op: Callable[..., Any], values: Sequence[Any]) -> CheckResult:
            return _check(op, values, None, order, same, atol, rtol, seed, True)

        result.likely_op = likely_op(result.bound, result.failures, alone)
    return result.assert_ok() if raise_on_fail else result


def _check(
    fn: Callable[..., Any], args: Sequence[Any], reference: Callable[..., Any] | None,
    order: int, dtypes: Sequence[str] | None, atol: float | None, rtol: float | None,
    seed: int, xp: bool,
) -> CheckResult:  # fmt: skip
    """The checks of `fn(*args)`, judged, never raising CheckError."""
    if order not in (1, 2):
        raise UsageError(f"harness.check: order={order!r}; give 1 or 2")
    framework = framework_of(args, xp)
    bound = bind(fn, args, framework)
    wanted = _dtypes(dtypes, bound)
    quantities = [q for q in QUANTITIES if QUANTITY[q].order <= order]
    case = bound.case(quantities, _tol(atol, rtol))
    backends = _backends(bound, framework, reference, wanted)
    run_dtypes = list(dict.fromkeys([REFERENCE_DTYPE, *wanted]))
    runner = Runner(backends, seed=seed)
    rows, elems = runner.run_case(case, run_dtypes, quantities, inputs=_inputs(bound, wanted))
    result = _result(runner, rows, elems, backends, wanted, seed, case.name)
    result.bound = bound
    return result


def _dtypes(dtypes: Sequence[str] | None, bound: Bound) -> list[str]:
    wanted = list(dtypes) if dtypes else bound.dtypes
    unknown = [d for d in wanted if d not in DTYPES]
    if unknown:
        raise UsageError(f"harness.check: unknown dtypes {unknown}; choose from {list(DTYPES)}")
    return wanted


def _tol(atol: float | None, rtol: float | None) -> dict:
    given = {k: float(v) for k, v in (("atol", atol), ("rtol", rtol)) if v is not None}
    return {**given, "reason": "given to harness.check"} if given else {}


def _inputs(bound: Bound, dtypes: Sequence[str]) -> dict[str, np.ndarray]:
    """The user's inputs, rounded until exact in every dtype checked so that every dtype's cells
    (and the float64 oracles) see the very same point."""
    return {n: (exact_in(v, dtypes) if v.dtype.kind == "f" else v)
            for n, v in bound.values().items()}  # fmt: skip


def _backends(
    bound: Bound, framework: str, reference: Any, dtypes: Sequence[str]
) -> dict[str, Backend]:
    if framework == "xp":
        names = [n for n in DEFAULT if get(n).votes]
        return {n: get(n) for n in names}
    out: dict[str, Backend] = {SUBJECT: SUBJECTS[framework](bound, SUBJECT, tuple(dtypes), False)}
    out["fd"] = _Float64Oracle()
    if reference is not None:
        out.update(_reference(reference, bound, dtypes))
    return out


def _reference(reference: Any, bound: Bound, dtypes: Sequence[str]) -> dict[str, Backend]:
    """A reference of the same or another framework (same arguments), or an xp function (run
    on each built-in backend that votes and declares no discrepancy of its own)."""
    kind = _guess(reference, bound)
    if kind == "xp":
        probe = bound.case(QUANTITIES, {})
        inner = [get(n) for n in DEFAULT]
        trusted = [b for b in inner if b.votes and not b.oracle and not any(
            b.expectation(probe, q, REFERENCE_DTYPE) for q in QUANTITIES)]  # fmt: skip
        return {f"{REFERENCE}-{b.name}": _OnReference(b, reference, bound) for b in trusted}
    ref_bound = Bound(reference, kind, bound.arguments, bound.name, *_convert(kind, bound))
    return {REFERENCE: SUBJECTS[kind](ref_bound, REFERENCE, tuple(dtypes), False)}


def _guess(reference: Any, bound: Bound) -> str:
    """The reference's framework: 'xp' when it takes the namespace first (one parameter more
    than the arguments), else the framework whose arrays it accepts and returns (tried first:
    the function's own)."""
    try:
        n = len(inspect.signature(reference).parameters)
    except (TypeError, ValueError):
        n = len(bound.arguments)
    if n == len(bound.arguments) + 1:
        return "xp"
    for kind in dict.fromkeys([bound.framework, *SUBJECTS]):
        try:
            out = reference(*(_sample(kind, a) for a in bound.arguments))
        except Exception:
            continue
        if framework_of([out], xp=False) == kind:
            return kind
    raise UsageError(
        "harness.check: reference= accepts neither torch tensors nor jax arrays of the "
        "function's arguments; give a function of the same arguments, or one of (xp, *args)"
    )


def _convert(kind: str, bound: Bound) -> tuple[Any, Any]:
    if kind == bound.framework:
        return bound.to_framework, bound.to_numpy
    other = bind(lambda *a: None, [_sample(kind, a) for a in bound.arguments], kind)
    return other.to_framework, other.to_numpy


def _sample(kind: str, a: Any) -> Any:
    """An argument converted to framework `kind` (only to pick that framework's converters)."""
    if a.kind == "pass":
        return a.value
    if kind == "torch":
        import torch

        return torch.as_tensor(a.value)
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax.numpy.asarray(a.value)


def _result(
    runner: Runner, rows: list[dict], elems: list[dict], backends: dict, dtypes: Sequence[str],
    seed: int, name: str,
) -> CheckResult:  # fmt: skip
    summary = tidy(rows, backends)
    keep = summary["dtype"].isin(dtypes) & (
        summary["backend"] != "fd" if SUBJECT in backends else True
    )
    summary = summary[keep].reset_index(drop=True)
    elements = tidy_elements(elems, backends)
    elements = elements[elements["dtype"].isin(dtypes)].reset_index(drop=True)
    run = RunResult(summary, elements, {}, dict(runner.arrays))
    meta = run_metadata(
        summary=summary, seed=seed, dtypes=dtypes, backends=list(backends), cotangent="random",
        cases=1, quantities=sorted(set(summary["quantity"]), key=QUANTITIES.index), started=0.0,
        argv=["check", name], duration_s=0.0, cases_finished=1, timings={},
    )  # fmt: skip
    return CheckResult(summary, elements, run, meta)


__all__ = ["CheckError", "CheckResult", "check"]
