"""Which op of a function written against ``xp`` is the likely culprit when its check fails.

One function has no passing cases to contrast its failing cells with, so each vocabulary op it
calls on its inputs (recorded while it runs: harness.usage) is checked on its own, at the very
values the function hands it, in the dtypes and orders of the failing cells, by the same
backends. An op whose own check fails on the backend blamed for the function is named; when
every op passes on its own, the sentence says so: the fault is in how they combine (or outside
the vocabulary), not in one op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from harness.check.bind import Bound
from harness.usage import OpCall, op_calls

#: Distinct ops checked on their own (the first call of each), at most.
MAX_OPS = 12


def _rebuild(template: Any, mask: Any, values: Any, xp: Any) -> Any:
    """An argument of the recorded call with the next input values where it had variables,
    the recorded constants (as the namespace's arrays) elsewhere."""
    if mask is True:
        return next(values)
    if isinstance(mask, tuple):
        return type(template)(_rebuild(t, m, values, xp) for t, m in zip(template, mask,
                                                                          strict=True))  # fmt: skip
    if isinstance(template, np.ndarray) and template.dtype.kind == "f":
        return xp.asarray(template)
    return template


def _inputs(call: OpCall) -> list[np.ndarray]:
    out: list[np.ndarray] = []

    def walk(t: Any, m: Any) -> None:
        if m is True:
            out.append(np.asarray(t, dtype=np.float64))
        elif isinstance(m, tuple):
            for a, b in zip(t, m, strict=True):
                walk(a, b)

    walk(call.args, call.variable)
    return out


def one_op(call: OpCall) -> Callable[..., Any]:
    """The call as a function of its variable arguments, written against xp."""

    def op(xp: Any, *values: Any) -> Any:
        it = iter(values)
        args = _rebuild(call.args, call.variable, it, xp)
        if call.op == "take" and call.key is not None:
            return args[0][call.key]
        return getattr(xp, call.op)(*args, **call.kwargs)

    op.__name__ = call.op
    return op


def first_calls(bound: Bound) -> list[OpCall]:
    """The first call of each op the function makes on its inputs, in the order made."""

    def fn(xp: Any, *values: Any) -> Any:
        return bound.fn(xp, *bound.positional(values))

    seen: dict[str, OpCall] = {}
    for call in op_calls(fn, list(bound.values().values())):
        seen.setdefault(call.op, call)
    return list(seen.values())[:MAX_OPS]


def likely_op(
    bound: Bound, failures: pd.DataFrame, run: Callable[[Callable[..., Any], Sequence[Any]], Any]
) -> str:
    """A sentence naming the op(s) whose own check fails where the function's did (on the
    backend blamed for it), or saying that each op passes on its own; empty when the function
    calls no vocabulary op on its inputs. `run(fn, args)` checks one op (a CheckResult)."""
    calls = first_calls(bound)
    if not calls:
        return ""
    blamed = set(failures["blame"]) & set(failures["backend"])
    guilty: list[tuple[str, list[str]]] = []
    for call in calls:
        try:
            result = run(one_op(call), _inputs(call))
        except Exception:  # an op the harness cannot check on its own there: says nothing
            continue
        bad = result.failures
        bad = bad[bad["blame"].isin(blamed)] if blamed else bad
        if not bad.empty:
            where = sorted({f"{r.backend} {r.quantity} {r.dtype}" for r in bad.itertuples()})
            guilty.append((call.op, where))
    names = ", ".join(c.op for c in calls)
    if not guilty:
        return (f"likely op: none found: each of the {len(calls)} ops {bound.name} calls on "
                f"its inputs ({names}) passes its own check at the values it hands them; the "
                "fault is in how they combine, or outside the vocabulary")  # fmt: skip
    found = "; ".join(f"{op} (its own check fails: {', '.join(w[:3])}"
                      f"{', ...' if len(w) > 3 else ''})" for op, w in guilty)  # fmt: skip
    rest = [c.op for c in calls if c.op not in {g for g, _ in guilty}]
    others = f"; the other ops ({', '.join(rest)}) pass on their own" if rest else ""
    return (f"likely op: {found}, checked alone at the values {bound.name} hands it"
            f"{others}")  # fmt: skip
