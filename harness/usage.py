"""Which vocabulary ops a case uses, recorded while it runs (not written by hand).

The case is evaluated on the numpy namespace through a proxy that notes every vocabulary
function it looks up, with its inputs wrapped in an ndarray subclass that notes the operators
(``x * y`` is ``multiply``, ``a @ b`` is ``matmul``) numpy dispatches for them.
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
    """An array that notes the vocabulary op behind each ufunc applied to it."""

    used: set[str]

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kw: Any) -> Any:
        for a in inputs:
            if isinstance(a, _Tracked) and ufunc.__name__ in _UFUNCS:
                a.used.add(_UFUNCS[ufunc.__name__])
        raw = [np.asarray(a) if isinstance(a, _Tracked) else a for a in inputs]
        out = getattr(ufunc, method)(*raw, **kw)
        return _track(out, self.used)

    def __getitem__(self, key: Any) -> Any:
        self.used.add("take")
        return _track(np.asarray(self)[key], self.used)


def _track(a: Any, used: set[str]) -> Any:
    if isinstance(a, np.generic) and a.dtype.kind == "f":
        a = np.asarray(a)  # a 0-d result: still an array, so its operators are noted
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        t = a.view(_Tracked)
        t.used = used
        return t
    return a


class _Recorder:
    """The numpy namespace, noting each vocabulary function looked up on it."""

    def __init__(self, used: set[str]) -> None:
        self._inner, self._used = NumpyNamespace(np.float64), used

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._inner, name)
        if name not in VOCABULARY or not callable(fn):
            return fn
        self._used.add(name)
        used = self._used

        def recorded(*args: Any, **kw: Any) -> Any:
            plain = [_plain(a) for a in args]
            return _track(fn(*plain, **kw), used)

        return recorded


def _plain(a: Any) -> Any:
    if isinstance(a, _Tracked):
        return np.asarray(a)
    if isinstance(a, list | tuple):
        return type(a)(_plain(x) for x in a)
    return a


def ops_used(fn: Callable[..., Any], args: Sequence[Any]) -> tuple[str, ...]:
    """The vocabulary ops `fn(xp, *args)` uses, in vocabulary order (a fault while running
    leaves what was seen until then)."""
    used: set[str] = set()
    tracked = [_track(np.asarray(a, dtype=np.float64), used) if np.asarray(a).dtype.kind == "f"
               else a for a in args]  # fmt: skip
    try:
        with np.errstate(all="ignore"):
            fn(_Recorder(used), *tracked)
    except Exception:
        pass  # the case's own faults are reported by its cells
    return tuple(n for n in VOCABULARY if n in used)
