"""Which vocabulary ops a case applies to its inputs, recorded while it runs (not written by
hand).

The case is evaluated on the numpy namespace through a proxy that notes every vocabulary
function it calls, with its inputs wrapped in an ndarray subclass that notes the operators
(``x * y`` is ``multiply``, ``a @ b`` is ``matmul``) numpy dispatches for them. Only ops with an
argument that depends on the inputs are noted: an op applied to constants alone (``xp.exp(2.0)``,
a scale computed from a shape) never enters a derivative, so no derivative bug can show through it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.namespace import NumpyNamespace
from harness.vocabulary import VOCABULARY

#: numpy ufuncs (what the array operators call) by vocabulary name
_UFUNCS = {
    "add": "add", "subtract": "subtract", "multiply": "multiply", "true_divide": "divide",
    "divide": "divide", "negative": "negative", "power": "pow", "matmul": "matmul",
    "absolute": "abs",
}  # fmt: skip


@dataclass
class OpCall:
    """One call of a vocabulary op on something that depends on the inputs: its arguments
    (numpy values) with, for each array among them, whether it depends on the inputs."""

    op: str
    args: tuple
    kwargs: dict
    variable: tuple  # the args' shape, with True / False at each float array
    key: Any = None  # the index of `x[key]` (op take, written as indexing)


@dataclass
class _Log:
    used: set[str] = field(default_factory=set)
    calls: list[OpCall] = field(default_factory=list)

    def note(self, op: str, args: tuple, kwargs: dict, key: Any = None) -> None:
        self.used.add(op)
        self.calls.append(OpCall(op, _plain(args), _plain(kwargs), _mask(args), key))


class _Tracked(np.ndarray):
    """An array that notes the vocabulary op behind each ufunc applied to it; `variable`: it
    depends on the case's inputs."""

    log: _Log
    variable: bool

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kw: Any) -> Any:
        variable = _depends(inputs)
        if variable and ufunc.__name__ in _UFUNCS and method == "__call__" and not kw:
            self.log.note(_UFUNCS[ufunc.__name__], inputs, {})
        out = getattr(ufunc, method)(*_plain(inputs), **kw)
        return _track(out, self.log, variable)

    def __getitem__(self, key: Any) -> Any:
        if self.variable:
            self.log.note("take", (self,), {}, key=key)
        return _track(np.asarray(self)[key], self.log, self.variable)


def _track(a: Any, log: _Log, variable: bool) -> Any:
    if isinstance(a, np.generic) and a.dtype.kind == "f":
        a = np.asarray(a)  # a 0-d result: still an array, so its operators are noted
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        t = a.view(_Tracked)
        t.log, t.variable = log, variable
        return t
    return a


def _mask(a: Any) -> Any:
    if isinstance(a, _Tracked):
        return bool(a.variable)
    if isinstance(a, list | tuple):
        return tuple(_mask(x) for x in a)
    if isinstance(a, dict):
        return {k: _mask(v) for k, v in a.items()}
    return None


def _depends(args: Any) -> bool:
    """Whether any argument (or member of a list or tuple of them) depends on the inputs."""
    if isinstance(args, _Tracked):
        return bool(args.variable)
    if isinstance(args, list | tuple):
        return any(_depends(a) for a in args)
    return False


class _Recorder:
    """The numpy namespace, noting each vocabulary function called on the inputs."""

    def __init__(self, log: _Log) -> None:
        self._inner, self._log = NumpyNamespace(np.float64), log

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._inner, name)
        if name not in VOCABULARY or not callable(fn):
            return fn
        log = self._log

        def recorded(*args: Any, **kw: Any) -> Any:
            variable = _depends(args) or _depends(tuple(kw.values()))
            if variable:
                log.note(name, args, kw)
            return _track(fn(*_plain(args), **_plain(kw)), log, variable)

        return recorded


def _plain(a: Any) -> Any:
    if isinstance(a, _Tracked):
        return np.asarray(a)
    if isinstance(a, list | tuple):
        return type(a)(_plain(x) for x in a)
    if isinstance(a, dict):
        return {k: _plain(v) for k, v in a.items()}
    return a


def _record(fn: Callable[..., Any], args: Sequence[Any]) -> _Log:
    log = _Log()
    tracked = [_track(np.asarray(a, dtype=np.float64), log, True)
               if np.asarray(a).dtype.kind == "f" else a for a in args]  # fmt: skip
    try:
        with np.errstate(all="ignore"):
            fn(_Recorder(log), *tracked)
    except Exception:
        pass  # the case's own faults are reported by its cells
    return log


def ops_used(fn: Callable[..., Any], args: Sequence[Any]) -> tuple[str, ...]:
    """The vocabulary ops `fn(xp, *args)` applies to its float arguments (or to what it
    computed from them), in vocabulary order (a fault while running leaves what was seen until
    then)."""
    used = _record(fn, args).used
    return tuple(n for n in VOCABULARY if n in used)


def op_calls(fn: Callable[..., Any], args: Sequence[Any]) -> list[OpCall]:
    """Every call of a vocabulary op `fn(xp, *args)` makes on its float arguments (or on what
    it computed from them), in the order made, with the values it passed."""
    return _record(fn, args).calls
