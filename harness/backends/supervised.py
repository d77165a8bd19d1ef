"""A plugin backend run in a worker process of its own, supervised by the harness process.

A backend that is not one of the harness's own (a --backend-module file, an entry point) may die
(``os._exit``, a segfault), hang in native code where no signal reaches it, or change global
state (JAX's x64 flag, torch's default dtype, the working directory). Run in a spawned process
of its own, none of that reaches the other backends or the reports: a call that does not answer
within the cell's time limit (plus GRACE) has its process killed and the cell recorded as
``error`` ("hung in native code for 60 s; killed"); a process that dies makes its cell an
error; the next call starts a fresh one.

The cost: one process start per plugin per Runner (an interpreter, numpy, the plugin's
framework), and each call's arguments and result pickled through a pipe. A case travels by
reference (its module and name), rebuilt in the worker; one that cannot (a case defined at run
time by a lambda) is computed in the harness process instead, unsupervised.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import multiprocessing
import pickle
import signal
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.backends import plugins
from harness.backends.base import Backend, Estimate, Problem, Traits, Unsupported
from harness.errors import BackendFault, describe
from harness.interrupt import CellTimeout, call_with_timeout
from harness.registry import Case, registered

#: Seconds past the cell's limit before a silent worker is killed: the worker's own timer
#: (SIGALRM) ends a hang in Python code at the limit and answers; only native code stays mute.
GRACE = 1.0
#: Seconds a worker may take to start (imports, the backend's constructor) when cells have a
#: time limit; the start is not charged to the first cell.
START_LIMIT = 120.0
#: Class attributes read in the harness process (no call to the worker).
COPIED = ("install", "votes", "oracle", "reference_rank", "exact_dtype", "costly", "methods")


class _CannotShip(Exception):
    """An argument that the worker could not rebuild (a lambda, a case defined at run time)."""


class Supervised(Backend):
    """Backend `name` (class `cls`, found again in the worker by `source`: ``("file", path)``
    or ``("entry", name)``) in a supervised worker process; each call forwarded to it."""

    def __init__(self, name: str, cls: type[Backend], source: tuple[str, str],
                 timeout: float | None) -> None:  # fmt: skip
        self.name = name  # type: ignore[misc]
        for attr in COPIED:
            setattr(self, attr, getattr(cls, attr))
        self.cls, self.source = cls, source
        self.timeout = timeout if timeout and timeout > 0 else None
        self._proc: Any = None
        self._conn: Any = None
        self._local: Backend | None = None  # for calls whose arguments cannot be shipped
        self._fault: str | None = None  # the constructor's fault: every call answers with it
        self._answers: dict[tuple, Any] = {}  # applies() and expectation(), by case and cell
        self._start()  # the constructor's fault (BackendFault) shows at once

    # -- the Backend interface, forwarded -------------------------------------------------
    def available(self) -> str | None:
        return self._call("available")

    def traits(self) -> Traits:
        return self._call("traits")

    def expectation(self, case: Any, quantity: str, dtype: str) -> Any:
        return self._asked("expectation", case, quantity, dtype)

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        return self._asked("applies", case, quantity, dtype)

    def _asked(self, method: str, case: Any, quantity: str, dtype: str) -> Any:
        """A question about a cell, asked once: a backend's answer depends on the case, not
        on the moment (one round trip fewer per cell and question)."""
        key = (method, getattr(case, "name", id(case)), quantity, dtype)
        if key not in self._answers:
            self._answers[key] = self._call(method, case, quantity, dtype)
        return self._answers[key]

    def prepare(self, plan: Sequence[tuple[Problem, Sequence[str]]]) -> None:
        self._call("prepare", [(p, list(qs)) for p, qs in plan])

    def compute(self, quantity: str, p: Problem) -> np.ndarray | Estimate:
        """The cell, within the time limit (enforced here: run_cell sets no timer of its own)."""
        return self._call("compute", quantity, p, limit=self.timeout)

    def value(self, p: Problem) -> np.ndarray | Estimate:
        return self.compute("value", p)

    def grad(self, p: Problem) -> np.ndarray | Estimate:
        return self.compute("grad", p)

    @property
    def timings(self) -> dict[str, float]:
        try:
            return dict(self._call("timings"))
        except (BackendFault, CellTimeout, Unsupported):
            return {}

    def close(self) -> None:
        """Stop the worker (a later call starts another)."""
        self._kill()

    # -- the worker ----------------------------------------------------------------------
    def _call(self, method: str, *args: Any, limit: float | None = None) -> Any:
        if self._fault:
            raise BackendFault(self._fault)
        try:
            payload = _dumps((method, args, limit))
        except _CannotShip:
            return self._in_process(method, args, limit)
        if self._proc is None:
            self._start()
        status, value = self._exchange(payload, None if limit is None else limit + GRACE, limit)
        if status == "unshippable":
            return self._in_process(method, args, limit)
        return _answer(status, value)

    def _exchange(self, payload: bytes, wait: float | None, limit: float | None) -> tuple:
        try:
            self._conn.send_bytes(payload)
            if not self._conn.poll(wait):
                self._kill()
                return "fault", f"hung in native code for {limit:g} s; killed"
            return pickle.loads(self._conn.recv_bytes())
        except (EOFError, OSError):
            return "fault", self._died()
        except BaseException:  # interrupted (Ctrl-C, a timer) while it works: its state is lost
            self._kill()
            raise

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # never fork a process running torch or JAX
        self._conn, child = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(target=_serve, args=(child, self.name, self.source),
                                 name=f"harness-{self.name}", daemon=True)  # fmt: skip
        self._proc.start()
        child.close()
        wait = None if self.timeout is None else max(START_LIMIT, self.timeout)
        try:
            ready = self._conn.poll(wait)
            status, value = pickle.loads(self._conn.recv_bytes()) if ready else ("hung", wait)
        except (EOFError, OSError):
            status, value = "fault", self._died(starting=True)
        except BaseException:
            self._kill()
            raise
        if status == "hung":
            self._kill()
            raise BackendFault(f"its worker process did not start within {wait:g} s; killed")
        if status == "fault":  # the constructor raised: so will every call
            self._kill()
            self._fault = value
            raise BackendFault(value)

    def _died(self, starting: bool = False) -> str:
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            proc.join(5)
            code = proc.exitcode
        self._kill()
        if code is not None and code < 0:
            how = f"killed by {signal.Signals(-code).name}"
        else:
            how = f"exit status {code}" if code is not None else "no exit status"
        if starting:
            return f"{self.name} could not start: its worker process died ({how})"
        return f"its worker process died ({how}); the next cell starts another"

    def _kill(self) -> None:
        proc, conn, self._proc, self._conn = self._proc, self._conn, None, None
        if proc is not None and proc.is_alive():
            proc.kill()
        if proc is not None:
            proc.join(5)
        if conn is not None:
            conn.close()

    def _in_process(self, method: str, args: tuple, limit: float | None) -> Any:
        if self._local is None:
            self._local = self.cls()
        if method == "timings":
            return getattr(self._local, "timings", {})
        if method == "compute":
            return call_with_timeout(self._local.compute, limit, *args)
        return getattr(self._local, method)(*args)


def _answer(status: str, value: Any) -> Any:
    """The worker's reply as the in-process call would have ended: a value, or the exception."""
    if status == "ok":
        return value
    if status == "unsupported":
        raise Unsupported(value)
    if status == "timeout":
        raise CellTimeout(value)
    raise BackendFault(value)


# -- shipping arguments: functions and cases by reference ---------------------------------
def _function_ref(fn: types.FunctionType) -> tuple[str, str | None, str] | None:
    """(module, its file, qualified name) of a function the worker can import again."""
    qual, module = fn.__qualname__, sys.modules.get(fn.__module__)
    if "<" in qual or module is None:
        return None
    found: Any = module
    for part in qual.split("."):
        found = getattr(found, part, None)
    return (fn.__module__, getattr(module, "__file__", None), qual) if found is fn else None


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Case):
            ref = _function_ref(obj.fn) if isinstance(obj.fn, types.FunctionType) else None
            if ref is None or registered().get(obj.name) is not obj:
                raise _CannotShip(obj.name)
            return _case, (obj.name, ref)
        if isinstance(obj, types.FunctionType) and obj not in (_function, _case):
            ref = _function_ref(obj)
            if ref is None:
                raise _CannotShip(obj.__qualname__)
            return _function, ref
        return NotImplemented


def _dumps(obj: Any) -> bytes:
    buf = io.BytesIO()
    try:
        _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise _CannotShip(str(e)) from None
    return buf.getvalue()


def _function(module: str, file: str | None, qualname: str) -> Any:
    """In the worker: the function `qualname` of `module`, imported (or loaded from `file`
    under the same name, as a case module given by path is)."""
    if module not in sys.modules:
        try:
            importlib.import_module(module)
        except ImportError:
            if not file:
                raise
            spec = importlib.util.spec_from_file_location(module, Path(file))
            if spec is None or spec.loader is None:
                raise
            mod = importlib.util.module_from_spec(spec)
            sys.modules[module] = mod
            spec.loader.exec_module(mod)
    found: Any = sys.modules[module]
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _case(name: str, fn_ref: tuple[str, str | None, str]) -> Case:
    """In the worker: the registered case `name`, after importing the module that defines it."""
    _function(*fn_ref)
    return registered()[name]


# -- the worker process ---------------------------------------------------------------------
def _serve(conn: Any, name: str, source: tuple[str, str]) -> None:
    """The worker's loop: build the backend, then answer each call until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the harness process's to handle
    try:
        be = _backend(name, source)
    except BaseException as e:
        conn.send_bytes(pickle.dumps(("fault", f"{name} could not start: {describe(e)}")))
        return
    conn.send_bytes(pickle.dumps(("ready", None)))
    while True:
        try:
            raw = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            method, args, limit = pickle.loads(raw)
        except Exception as e:
            reply: tuple = ("unshippable", describe(e))
        else:
            reply = _run(be, method, args, limit)
        try:
            out = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            out = pickle.dumps(("fault", f"its {method}() returned what cannot be sent back: "
                                         f"{describe(e)}"))  # fmt: skip
        conn.send_bytes(out)


def _backend(name: str, source: tuple[str, str]) -> Backend:
    kind, where = source
    if kind == "file":
        plugins.load_module(where)
    return plugins.backend_class(name)()


def _run(be: Backend, method: str, args: tuple, limit: float | None) -> tuple[str, Any]:
    """One call in the worker, every fault turned into a reply."""
    try:
        if method == "timings":
            return "ok", dict(getattr(be, "timings", {}))
        if method == "compute":
            return "ok", _arrays(call_with_timeout(be.compute, limit, *args))
        return "ok", getattr(be, method)(*args)
    except Unsupported as e:
        return "unsupported", str(e)
    except CellTimeout as e:
        return "timeout", e.seconds
    except BaseException as e:  # SystemExit, KeyboardInterrupt too: the backend's own doing
        case_fn = getattr(args[1], "fn", None) if method == "compute" else None
        return "fault", describe(e, type(be), case_fn)


def _arrays(res: Any) -> np.ndarray | Estimate:
    """A result as plain numpy arrays (converted here, inside the call's fault handling)."""
    if isinstance(res, Estimate):
        return Estimate(np.asarray(res.value), np.asarray(res.error))
    return np.asarray(res)
