"""A second process that computes some of a case's JAX programs beside the harness process.

A case's first check in JAX is mostly Python: tracing and lowering one program per dtype
(jax_backend). XLA compiles a program on a thread of its own, but two traces cannot run at once
in one interpreter, so the second dtype's program starts compiling only after both are traced,
and that chain (trace, trace, compile) is most of a small case's first check. The twin is a
process of its own with JAX loaded: the harness process hands it every program of a case but
the first (the float32 one of a float64 + float32 run), which it traces, compiles and runs while
the harness process traces the first and computes the other backends. It runs the very code of
the harness process (the same backend class, JAX and options), so its results are the same
arrays, bit for bit; only where its work is done differs.

It is used where it can help and is safe, and the program is computed in the harness process
otherwise: on the CPU with at least two cores; for the harness's own JAX backend with none of
its functions replaced (a test's monkeypatch, a subclass elsewhere); for the harness's own
cases (a user's case module, imported again there, might hold other module-level state); once
the twin has started (its first seconds go to importing JAX: a run's first case is here).
A twin that dies, or a program it cannot rebuild or run, is computed here as if there were no
twin: a fault is then the harness process's own, with its usual text. HARNESS_JAX_TWIN=0 turns
it off (the parallel executors do: their workers already share the cores).

It is started with ``python -c`` rather than multiprocessing's spawn, which would import the
user's ``__main__`` module again (a script without a main guard would run twice). It reads its
orders from a pipe and stops when the pipe closes: when the harness process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import hashlib
import operator
import os
import pickle
import signal
import subprocess
import sys
import threading
import types
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness import cache
from harness.backends.base import Problem
from harness.backends.supervised import _CannotShip, _dumps, _function_ref
from harness.errors import describe

ENV = "HARNESS_JAX_TWIN"
#: The modules whose functions the twin runs as they are in the package: one replaced in the
#: harness process (a test's monkeypatch) keeps that backend's programs here.
MODULES = (
    "harness.backends.jax_backend", "harness.backends.jax_programs",
    "harness.backends.jax_namespace",
)  # fmt: skip


def fingerprint() -> str:
    """What a program depends on besides the case and the code: JAX's settings, the harness's
    variables that the JAX backend reads and the project cache's folder. An order goes to the
    twin only while this process's is the twin's own (a plugin that changed a JAX setting
    here, a test that moved the cache: the programs are then computed here)."""
    import jax

    values = jax.config.values
    now = (tuple(values.values()), tuple(os.environ.get(k) for k in READ), str(cache.root()))
    kept = _fingerprints.get(len(values))
    if kept is not None and kept[0][1:] == now[1:] and all(map(operator.is_, kept[0][0], now[0])):
        return kept[1]  # nothing changed (a setting changed is a new object)
    settings = sorted((k, repr(v)) for k, v in values.items() if k not in _IGNORED)
    digest = hashlib.sha256(repr((settings, now[1:])).encode()).hexdigest()
    _fingerprints[len(values)] = (now, digest)
    return digest


#: the variables the JAX backend reads while it traces and compiles (the folder: cache.root)
READ = ("HARNESS_JAX_FAST_COMPILE", "HARNESS_MATMUL_PRECISION", "HARNESS_DEVICE", "XLA_FLAGS")
_fingerprints: dict[int, tuple[tuple, str]] = {}
#: settings that do not change a CPU program's results: where JAX's own cache is (set once per
#: process) and the setting jax_programs changes while it compiles; the platforms JAX was
#: imported for (the twin computes on the CPU alone)
_IGNORED = frozenset({
    "jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs", "jax_platforms",
})  # fmt: skip


def travels(fn: Any) -> bool:
    """Whether a case's function goes to the twin: one of the harness's own cases (a module
    of the package, found by its name). A user's case module stays here: importing it again
    in the twin could give it other module-level state (weights drawn unseeded at import), and
    its programs would then compute another function. (The twin is started only for such a
    case: harness.check's closures never get there.)"""
    return (isinstance(fn, types.FunctionType) and fn.__module__.startswith(TRAVELLING)
            and _function_ref(fn) is not None)  # fmt: skip


#: the modules whose cases go to the twin (the package's; a test adds its own)
TRAVELLING: tuple[str, ...] = ("harness.",)


def wanted() -> bool:
    """Whether this process may use a twin: not turned off, and a second core to run it on
    (of those this process may run on, where the system says)."""
    if os.environ.get(ENV, "1") == "0":
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) >= 2


def pristine(cls: type) -> bool:
    """`cls` and every function the twin would run are the package's own (none replaced)."""
    spaces = [vars(k) for k in cls.__mro__] + [vars(sys.modules[m]) for m in MODULES
                                               if m in sys.modules]  # fmt: skip
    seen = _checked.get(cls)
    if (seen is not None and len(seen) == len(spaces)  # as checked: every entry still there
            and all(len(ns) == n and all(ns.get(k) is v for k, v in kept)
                    for ns, (n, kept) in zip(spaces, seen, strict=True))):  # fmt: skip
        return True
    ok = cls.__module__.startswith("harness.") and all(_own(ns.values()) for ns in spaces)
    if ok:
        _checked[cls] = [(len(ns), list(ns.items())) for ns in spaces]
    return ok


#: the namespaces of a class found pristine, as they were then (a cheap check next time)
_checked: dict[type, list[tuple[int, list[tuple[str, Any]]]]] = {}


def _own(attrs: Any) -> bool:
    """No function among `attrs` comes from outside the package."""
    for attr in attrs:
        fn = getattr(attr, "__func__", attr)
        if isinstance(fn, types.FunctionType) and not fn.__module__.startswith("harness"):
            return False
    return True


class Twin:
    """The harness process's side: orders out, results in (see the module docstring)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._out: Connection | None = None  # orders to the twin
        self._in: Connection | None = None  # its replies
        self._ready = False
        self._fingerprint = ""  # the twin's (fingerprint), sent when it is ready
        self.dead: str | None = None  # why it stopped, once it has
        self._next = 0  # the next order's ticket
        self._open: set[int] = set()  # tickets whose results are still wanted
        self._got: dict[tuple[int, int], tuple] = {}  # results read before they were asked for
        self.pid = os.getpid()  # the process it serves (a fork starts a twin of its own)
        self._lock = threading.RLock()  # one order or read at a time (a drop may come from gc)

    # -- starting and stopping ---------------------------------------------------------
    def start(self, cls: type) -> None:
        """Start the process, for backends of class `cls` (without waiting for it: it says
        when it is ready)."""
        if self._proc is not None or self.dead:
            return
        child_reads, parent_writes = os.pipe()  # orders
        parent_reads, child_writes = os.pipe()  # replies
        package_parent = str(Path(__file__).resolve().parents[2])
        code = (
            f"import sys; sys.path.insert(0, {package_parent!r}); "
            f"from harness.backends.jax_twin import serve; serve({child_reads}, {child_writes})"
        )
        env = {**os.environ, ENV: "0", "JAX_PLATFORMS": "cpu"}  # it computes on the CPU only
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", code], pass_fds=(child_reads, child_writes), env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        except (OSError, ValueError) as e:  # (no pass_fds where there are no fork and exec)
            self.dead = f"the JAX twin could not start: {describe(e)}"
            for fd in (child_reads, parent_writes, parent_reads, child_writes):
                os.close(fd)
            return
        os.close(child_reads)
        os.close(child_writes)
        self._out = Connection(parent_writes, readable=False)
        self._in = Connection(parent_reads, writable=False)
        try:
            self._out.send_bytes(pickle.dumps(("hello", list(sys.path), pickle.dumps(cls))))
        except OSError:
            self._stop("the JAX twin died as it started")

    def ready(self) -> bool:
        """Whether it has started and is alive (never waits)."""
        if self._ready or self.dead or self._in is None:
            return self._ready and not self.dead
        with self._lock:
            try:
                if not self._in.poll(0):
                    return False
                status, what = pickle.loads(self._in.recv_bytes())
            except (EOFError, OSError):
                status, what = "fault", "it exited as it started"
            if status != "ready":
                self._stop(f"the JAX twin could not start: {what}")
                return False
            self._ready, self._fingerprint = True, what
        return True

    def _stop(self, why: str) -> None:
        self.dead = why
        self._ready = False
        proc, self._proc = self._proc, None
        for conn in (self._out, self._in):
            if conn is not None:
                conn.close()
        self._out = self._in = None
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):  # a kill is not refused
                proc.wait(5)

    def close(self) -> None:
        """Stop the process (this process's programs are then all computed here); in a fork
        of the process it serves, nothing (it is not the fork's)."""
        if self._proc is not None and os.getpid() == self.pid:
            self._stop("closed")

    # -- orders ------------------------------------------------------------------------
    def submit(self, client: int, cls: type, plan: Sequence[tuple[Problem, Sequence[str]]]
               ) -> int | None:  # fmt: skip
        """Hand `plan` (problems and their quantities) to the twin's instance of `cls` for
        `client`; a ticket for the results, or None (not ready, or it cannot travel)."""
        if not plan or not self.ready() or not pristine(cls):
            return None
        if not all(travels(p.fn) for p, _ in plan):
            return None
        if fingerprint() != self._fingerprint:
            return None
        try:
            payload = _dumps((cls, [(_bare(p), list(q)) for p, q in plan]))
        except _CannotShip:
            return None
        with self._lock:
            ticket, self._next = self._next, self._next + 1
            try:
                assert self._out is not None
                self._out.send_bytes(pickle.dumps(("run", ticket, client, payload)))
            except (OSError, AssertionError):
                self._stop("the JAX twin died (its pipe closed)")
                return None
            self._open.add(ticket)
        return ticket

    def result(self, ticket: int, index: int) -> tuple[str, Any, dict[str, float]]:
        """The result of problem `index` of order `ticket`: ("ok", {quantity: array}) or
        ("fault", why), and the seconds the twin spent on it. Waits for it; a cell's timer
        (SIGALRM) may interrupt the wait, and a later call waits again."""
        key, whole = (ticket, index), (ticket, -1)
        while key not in self._got and whole not in self._got:
            if self.dead or self._in is None:
                return "fault", self.dead or "no twin", {}
            with self._lock:
                self._read()
        return self._got.pop(key) if key in self._got else self._got[whole]

    def _read(self) -> None:
        """One reply read (an interruption while it is read loses the twin, not the run)."""
        assert self._in is not None
        conn = self._in
        try:
            conn.poll(None)  # an interruption here loses nothing
        except (EOFError, OSError):
            self._stop(self._why_dead())
            return
        try:
            raw = conn.recv_bytes()
        except (EOFError, OSError):
            self._stop(self._why_dead())
            return
        except BaseException:
            self._stop("interrupted while its reply was read")
            raise
        ticket, index, status, value, spent = pickle.loads(raw)
        if ticket in self._open:
            self._got[ticket, index] = (status, value, spent)

    def _why_dead(self) -> str:
        proc = self._proc
        code = None if proc is None else proc.poll()
        if code is None and proc is not None:
            try:
                code = proc.wait(5)
            except subprocess.TimeoutExpired:
                code = None
        how = f"killed by {signal.Signals(-code).name}" if code and code < 0 else f"exit {code}"
        return f"the JAX twin died ({how})"

    def forget(self, tickets: Sequence[int]) -> None:
        """Results of these orders are no longer wanted (dropped as they arrive)."""
        self._open.difference_update(tickets)
        for key in [k for k in self._got if k[0] in tickets]:
            del self._got[key]

    def drop(self, client: int) -> None:
        """The twin forgets `client`'s programs (its backend was collected)."""
        if self.dead or self._out is None:
            return
        with self._lock:
            try:
                self._out.send_bytes(pickle.dumps(("drop", client)))
            except OSError:
                self._stop("the JAX twin died (its pipe closed)")


def _bare(p: Problem) -> Problem:
    """`p` without its registry case (a program needs the case's function alone), so that a
    case made at run time travels too, when its function is a module's."""
    if p.case is None:
        return p
    bare = copy.copy(p)
    object.__setattr__(bare, "case", None)
    return bare


_twin: list[Twin] = []


def get(cls: type) -> Twin | None:
    """This process's twin, started at the first call for backends of class `cls` (None where
    it is not wanted)."""
    if not wanted():
        return None
    if _twin and _twin[0].pid != os.getpid():  # inherited by a fork: its pipes are the parent's
        _twin.clear()
    if not _twin:
        _twin.append(Twin())
        _twin[0].start(cls)
        atexit.register(_twin[0].close)
    return _twin[0]


# -- the twin process ---------------------------------------------------------------------
def serve(rfd: int, wfd: int) -> None:  # pragma: no cover - runs in the twin process
    """The twin's loop: each order's problems prepared, then run one by one, each result
    sent as it is done; ends when the harness process closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the harness process's to handle
    orders, replies = Connection(rfd, writable=False), Connection(wfd, readable=False)
    try:
        _, path, cls = pickle.loads(orders.recv_bytes())
        sys.path[:] = path + [p for p in sys.path if p not in path]
        pickle.loads(cls)()._import()  # JAX imported and set up as in the harness process
    except BaseException as e:
        replies.send_bytes(pickle.dumps(("fault", describe(e))))
        return
    replies.send_bytes(pickle.dumps(("ready", fingerprint())))
    clients: dict[int, Any] = {}
    while True:
        try:
            raw = orders.recv_bytes()
        except (EOFError, OSError):
            return
        order = pickle.loads(raw)
        if order[0] == "drop":
            clients.pop(order[1], None)
            continue
        _, ticket, client, payload = order
        try:
            cls, plan = pickle.loads(payload)
            be = clients.get(client)
            if be is None or type(be) is not cls:
                be = clients[client] = cls()
        except BaseException as e:  # a case that cannot be rebuilt here: computed there
            replies.send_bytes(pickle.dumps((ticket, -1, "fault", describe(e), {})))
            continue
        _run(be, ticket, plan, replies)


def _run(be: Any, ticket: int, plan: list, replies: Connection) -> None:  # pragma: no cover
    """One order: prepared together (programs traced, compiled in the background), then each
    problem's program run and its result sent."""
    before = dict(be.timings)
    with contextlib.suppress(BaseException):  # each problem then finds out, running its own
        be.prepare(plan)
    for index, (p, qs) in enumerate(plan):
        try:
            value: Any = be.bundle_results(p, tuple(qs))
            status = "ok"
        except BaseException as e:
            status, value = "fault", describe(e)
        after = dict(be.timings)
        spent = {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}
        before = after
        try:
            out = pickle.dumps((ticket, index, status, value, spent), protocol=5)
        except Exception as e:
            out = pickle.dumps((ticket, index, "fault", describe(e), spent), protocol=5)
        replies.send_bytes(out)
