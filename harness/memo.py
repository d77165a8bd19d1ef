"""Oracle results kept: an oracle's cell is computed once per problem, then recalled.

An oracle (the ``oracle`` trait: finite differences, mpmath) does not depend on the engine under
test: its result for a cell is a function of the case, the inputs and probes, the dtype and the
oracle's own code alone. The runner therefore computes it once and recalls it:

- in the process, for every case (a rerun of the same check, a second backend plugged in);
- across runs, in the project cache (harness.cache), for the registry's own cases: a case and an
  oracle defined in the harness package, whose sources the cache's digest covers, with the
  versions of numpy, scipy and mpmath and the host in the key. A warm ``make validate`` then
  recomputes only the backends under test.

Only results are kept (``ok`` and ``skipped``); an error or a timeout is computed again next
time. A backend whose method for the quantity was replaced from outside the package (a test's
monkeypatch, a subclass elsewhere) is never recalled. What is recalled is the very array that
was computed, so a warm run's reports are byte-identical to a cold one's.
"""

from __future__ import annotations

import functools
import pickle
import platform
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from harness import cache
from harness.backends.base import Backend, Problem
from harness.backends.supervised import Supervised
from harness.execute import Outcome

KIND = "oracles"
KEPT = ("ok", "skipped")
#: How many derived values (OracleMemo.derived) a process keeps, the oldest forgotten first.
DERIVED_KEPT = 512

T = TypeVar("T")


@functools.lru_cache(maxsize=1024)
def _in_package(obj: Any) -> bool:
    return cache.defined_in_package(obj)


def _own_method(cls: type, quantity: str) -> bool:
    """The class, its ``compute`` and its method for `quantity` are all the package's."""
    fns = [getattr(cls, "compute", None), getattr(cls, quantity, None)]
    return _in_package(cls) and all(f is not None and _in_package(f) for f in fns)


def _module_level(fn: Callable) -> bool:
    module = sys.modules.get(getattr(fn, "__module__", ""), None)
    return getattr(module, getattr(fn, "__name__", ""), None) is fn


def problem_digest(quantity: str, p: Problem) -> str:
    """What a cell's result depends on besides the case and the backend: quantity, dtype,
    inputs and probes, exactly."""
    return f"{quantity}|{p.dtype_name}|{p.wrt}|{p.out_shape}|{p.digest()}"


@functools.cache
def _versions() -> tuple[str, ...]:
    import scipy

    try:
        import mpmath

        mp = mpmath.__version__
    except ImportError:  # pragma: no cover - mpmath is a dependency
        mp = ""
    return (np.__version__, scipy.__version__, mp, platform.machine(), platform.python_version())


class OracleMemo:
    """The runner's store of oracle outcomes, by (backend, case) and problem digest."""

    def __init__(self) -> None:
        self._cells: dict[tuple[str, Any], dict[str, tuple]] = {}
        self._disk: dict[tuple[str, Any], str | None] = {}
        self._dirty: set[tuple[str, Any]] = set()
        #: outcomes recalled rather than computed, per backend (metadata.json: timings)
        self.recalled: dict[str, int] = {}
        self._derived: dict[Any, Any] = {}

    def derived(self, key: Any, make: Callable[[], T]) -> T:
        """``make()``, kept in the process under `key` (the most recent DERIVED_KEPT): for what
        a case yields at a point in numpy alone, whatever the backends (the Taylor test's line),
        so a check of the same case again recalls it. `key` must name everything it depends on
        (the case's function and the problem's digest)."""
        if key in self._derived:
            return self._derived[key]
        got = self._derived[key] = make()
        if len(self._derived) > DERIVED_KEPT:
            del self._derived[next(iter(self._derived))]
        return got

    def usable(self, be: Backend, oracle: bool, quantity: str) -> bool:
        """Whether `be`'s cells of `quantity` are kept: an oracle whose code is the package's
        (never a plugin's, which runs in a supervised process of its own)."""
        return oracle and not isinstance(be, Supervised) and _own_method(type(be), quantity)

    def _group(self, name: str, be: Backend, fn: Callable) -> dict[str, tuple]:
        key = (name, fn)
        if key not in self._cells:
            file = None
            if _module_level(fn) and _in_package(fn) and cache.root() is not None:
                file = cache.key(KIND, name, type(be).__module__, type(be).__qualname__,
                                 fn.__module__, fn.__qualname__, _versions())  # fmt: skip
            self._disk[key] = file
            self._cells[key] = _load(file) if file else {}
        return self._cells[key]

    def recall(self, name: str, be: Backend, quantity: str, p: Problem) -> Outcome | None:
        """The outcome kept for this cell, or None."""
        got = self._group(name, be, p.fn).get(problem_digest(quantity, p))
        if got is None:
            return None
        status, value, noise, reason = got
        self.recalled[name] = self.recalled.get(name, 0) + 1
        return Outcome(name, p.dtype_name, status, value, noise, reason)

    def keep(self, name: str, be: Backend, quantity: str, p: Problem, o: Outcome) -> None:
        if o.status not in KEPT:
            return
        self._group(name, be, p.fn)[problem_digest(quantity, p)] = (
            o.status, o.value, o.noise, o.reason)  # fmt: skip
        self._dirty.add((name, p.fn))

    def flush(self) -> None:
        """Write the groups that gained outcomes to the project cache (best effort)."""
        for key in self._dirty:
            file = self._disk.get(key)
            if file:
                cache.write(KIND, file, pickle.dumps(self._cells[key], protocol=5))
        self._dirty.clear()


def _load(file: str) -> dict[str, tuple]:
    blob = cache.read(KIND, file)
    if blob is None:
        return {}
    try:
        got = pickle.loads(blob)
    except Exception:  # a damaged entry: computed afresh (and overwritten)
        return {}
    return got if isinstance(got, dict) else {}
