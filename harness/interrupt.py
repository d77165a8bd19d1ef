"""Stopping work cleanly: a per-cell time limit, and SIGINT/SIGTERM turned into an exception.

Both raise a ``BaseException`` subclass, like ``KeyboardInterrupt``, so that a backend's own
``except Exception`` cannot swallow them.

The time limit is a ``SIGALRM`` timer (``setitimer``) whose handler raises :class:`CellTimeout`
inside the hung call. The call is unwound where it stands, so nothing is left behind: no stray
thread still burning a core, no half-built graph still referenced, no child process to reap,
and no pickling of the case or re-importing of torch/JAX that a subprocess per cell would cost.
Its limit: a single C call that never returns to the interpreter is interrupted only when it
returns. Off the main thread, where Python cannot install signal handlers, the call runs in a
daemon thread that is abandoned on timeout (its cell is still recorded as an error).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

#: Seconds a backend may spend on one cell before the cell is recorded as an error.
DEFAULT_CELL_TIMEOUT = 60.0


class CellTimeout(BaseException):
    """One backend call ran past its time limit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {seconds:g} s (the per-cell limit, --cell-timeout)")
        self.seconds = seconds


class Interrupted(BaseException):
    """The run was stopped by a signal (SIGINT or SIGTERM)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signame = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signame}")

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


#: Inside :func:`armed`: the handlers are installed for the whole block, and each cell only
#: sets its timer (installing a handler per call costs more than a small cell itself).
_ARMED = [0]
_LIMIT = [0.0]


def _on_alarm(signum: int, frame: Any) -> None:
    raise CellTimeout(_LIMIT[0])


def _on_ctrl_c(signum: int, frame: Any) -> None:
    raise CtrlC()


@contextlib.contextmanager
def armed() -> Iterator[None]:
    """Install the cell timer's handler and, where SIGINT has Python's default handler, the
    Ctrl-C one (see :func:`real_interrupts`) once for a block of many cells (a case). Inside
    it, :func:`call_with_timeout` and :func:`real_interrupts` only set and clear the timer.
    Off the main thread, or nested, it changes nothing."""
    if _ARMED[0] or not (_main_thread() and hasattr(signal, "setitimer")):
        yield
        return
    old_alarm = signal.signal(signal.SIGALRM, _on_alarm)
    old_int = signal.getsignal(signal.SIGINT)
    if old_int is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_ctrl_c)
    _ARMED[0] += 1
    try:
        yield
    finally:
        _ARMED[0] -= 1
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_alarm)
        if old_int is signal.default_int_handler:
            signal.signal(signal.SIGINT, old_int)


def call_with_timeout(fn: Callable[..., T], seconds: float | None, *args: Any) -> T:
    """`fn(*args)`; :class:`CellTimeout` if it runs longer than `seconds` (None: no limit)."""
    if not seconds or seconds <= 0:
        return fn(*args)
    if _ARMED[0] and _main_thread():
        _LIMIT[0] = seconds
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    if not (_main_thread() and hasattr(signal, "setitimer")):
        return _in_thread(fn, seconds, *args)

    def alarm(signum: int, frame: Any) -> None:
        raise CellTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)  # disarm before the old handler comes back
        signal.signal(signal.SIGALRM, previous)


def _in_thread(fn: Callable[..., T], seconds: float, *args: Any) -> T:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # handed to the caller's thread below
            box["error"] = e

    worker = threading.Thread(target=target, name="harness-cell", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise CellTimeout(seconds)  # abandoned: a daemon thread never blocks the exit
    if "error" in box:
        raise box["error"]
    return box["value"]


class SignalGuard:
    """Turns SIGINT and SIGTERM into :class:`Interrupted` while active.

    Inside :meth:`deferred` a signal is only noted, and raised when the block ends: a set of
    report files is either all written or left as it was. After :meth:`hold` (the run's last
    case has ended: whatever comes, its reports get written) every signal is only noted until
    the guard exits; :attr:`pending` says which came first.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.pending: int | None = None
        self.held = False
        self._deferring = 0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self._deferring or self.held:
            self.pending = self.pending or signum
            return
        raise Interrupted(signum)

    def __enter__(self) -> SignalGuard:
        if _main_thread():
            for s in self.SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
            _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()
        if self in _ACTIVE:
            _ACTIVE.remove(self)

    def hold(self) -> None:
        """From now on only note signals, until the guard exits."""
        self.held = True

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold signals back until the block is done, then raise the first one that came
        (unless the guard is held: then it stays pending)."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        if self.pending is not None and not self._deferring and not self.held:
            raise Interrupted(self.pending)


#: The guards installed, innermost last (SIGINT/SIGTERM go to the last one's handler).
_ACTIVE: list[SignalGuard] = []


def hold_signals() -> None:
    """The work is done: from now on SIGINT/SIGTERM are only noted by the active guard (the
    command's), so that the reports of the finished work are written whatever comes;
    :func:`pending_signal` then says which came. Without a guard, nothing changes."""
    if _ACTIVE:
        _ACTIVE[-1].hold()


def pending_signal() -> int | None:
    """The first signal noted by the active guard while it deferred or held (None: none)."""
    return _ACTIVE[-1].pending if _ACTIVE else None


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT/SIGTERM held back during the block (writing a set of files), then raised; with
    a guard already active (the command's), that guard defers them."""
    if _ACTIVE and _ACTIVE[-1]._previous:
        with _ACTIVE[-1].deferred():
            yield
        return
    with SignalGuard() as guard, guard.deferred():
        yield


class CtrlC(KeyboardInterrupt):
    """A real SIGINT that arrived during a backend call (see :func:`real_interrupts`)."""


#: What :func:`real_interrupts` returns where there is nothing to change (inside :func:`armed`,
#: every cell): entering it costs a fraction of a generator-based context manager.
_UNCHANGED = contextlib.nullcontext()


def real_interrupts() -> contextlib.AbstractContextManager[None]:
    """Tell a real Ctrl-C from a KeyboardInterrupt a backend raises itself: where SIGINT has
    Python's default handler (a library or pytest run, no guard), a SIGINT during the block
    raises :class:`CtrlC` instead, which a cell never swallows. Under a guard a real SIGINT is
    :class:`Interrupted` anyway, and a worker ignores SIGINT: nothing to change there."""
    if _ARMED[0] or not (
        _main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    ):
        return _UNCHANGED
    return _ctrl_c_raised()


@contextlib.contextmanager
def _ctrl_c_raised() -> Iterator[None]:
    signal.signal(signal.SIGINT, _on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
