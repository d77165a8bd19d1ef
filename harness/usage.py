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


class _Tracked(np.ndarray):
    """An array that notes the vocabulary op behind each ufunc applied to it; `variable`: it
    depends on the case's inputs."""

    used: set[str]
    variable: bool

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kw: Any) -> Any:
        variable = _depends(inputs)
        if variable and ufunc.__name__ in _UFUNCS:
            self.used.add(_UFUNCS[ufunc.__name__])
        out = getattr(ufunc, method)(*_plain(inputs), **kw)
        return _track(out, self.used, variable)

    def __getitem__(self, key: Any) -> Any:
        if self.variable:
            self.used.add("take")
        return _track(np.asarray(self)[key], self.used, self.variable)


def _track(a: Any, used: set[str], variable: bool) -> Any:
    if isinstance(a, np.generic) and a.dtype.kind == "f":
        a = np.asarray(a)  # a 0-d result: still an array, so its operators are noted
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        t = a.view(_Tracked)
        t.used, t.variable = used, variable
        return t
    return a


def _depends(args: Any) -> bool:
    """Whether any argument (or member of a list or tuple of them) depends on the inputs."""
    if isinstance(args, _Tracked):
        return bool(args.variable)
    if isinstance(args, list | tuple):
        return any(_depends(a) for a in args)
    return False


class _Recorder:
    """The numpy namespace, noting each vocabulary function called on the inputs."""

    def __init__(self, used: set[str]) -> None:
        self._inner, self._used = NumpyNamespace(np.float64), used

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._inner, name)
        if name not in VOCABULARY or not callable(fn):
            return fn
        used = self._used

        def recorded(*args: Any, **kw: Any) -> Any:
            variable = _depends(args) or _depends(tuple(kw.values()))
            if variable:
                used.add(name)
            return _track(fn(*_plain(args), **_plain(kw)), used, variable)

        return recorded


def _plain(a: Any) -> Any:
    if isinstance(a, _Tracked):
        return np.asarray(a)
    if isinstance(a, list | tuple):
        return type(a)(_plain(x) for x in a)
    if isinstance(a, dict):
        return {k: _plain(v) for k, v in a.items()}
    return a


def ops_used(fn: Callable[..., Any], args: Sequence[Any]) -> tuple[str, ...]:
    """The vocabulary ops `fn(xp, *args)` applies to its float arguments (or to what it
    computed from them), in vocabulary order (a fault while running leaves what was seen until
    then)."""
    used: set[str] = set()
    tracked = [_track(np.asarray(a, dtype=np.float64), used, True)
               if np.asarray(a).dtype.kind == "f" else a for a in args]  # fmt: skip
    try:
        with np.errstate(all="ignore"):
            fn(_Recorder(used), *tracked)
    except Exception:
        pass  # the case's own faults are reported by its cells
    return tuple(n for n in VOCABULARY if n in used)
