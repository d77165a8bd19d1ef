"""Compiled JAX programs kept in the project cache (harness.cache), so that a warm run neither
traces, lowers nor compiles them again.

A program is stored only where the harness's source digest covers everything it was traced
from: a case defined in the harness package (the registry's own library), run by a backend
class of the package, on the CPU. A user's case module, a test's lambda or a subclass built
elsewhere is traced every time (JAX's own persistent cache still spares its compilation, keyed
on the program itself). The executable loaded is the very binary a cold run compiled, so its
results are bit-for-bit those of a cold run. Such a program is compiled afresh, never taken from
JAX's cache, which then keeps none of them: an executable that JAX's cache loaded serialises
into one whose kernels are missing when it is loaded again ("Function ... not found").
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import numpy as np

from harness import cache

KIND = "jax"
_MIN_SECONDS = "jax_persistent_cache_min_compile_time_secs"
#: programs JAX's persistent cache gave, counted by its monitoring events in the thread that
#: compiled them (programs compile on several threads at once)
_hits = threading.local()
#: how many compilations want JAX's cache to write nothing, and the setting they replaced
_quiet = {"users": 0, "saved": 0.0}
_quiet_lock = threading.Lock()


@functools.cache
def configure(jax: Any) -> None:
    """JAX's persistent compilation cache in the project cache folder, every program kept
    (once per process: JAX reads the folder at its first compilation)."""
    folder = cache.jax_compilation_cache()
    if folder is None:
        return
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update(_MIN_SECONDS, 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.monitoring.register_event_listener(_count_hit)


def _count_hit(event: str, **_: Any) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        _hits.n = getattr(_hits, "n", 0) + 1


@contextlib.contextmanager
def _jax_cache_writes_nothing(jax: Any) -> Iterator[None]:
    """JAX's persistent cache keeps no program while any such compilation runs (the setting
    is process-wide: the first to start sets it, the last to end restores it)."""
    with _quiet_lock:
        if _quiet["users"] == 0:
            _quiet["saved"] = getattr(jax.config, _MIN_SECONDS)
            jax.config.update(_MIN_SECONDS, float("inf"))
        _quiet["users"] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet["users"] -= 1
            if _quiet["users"] == 0:
                jax.config.update(_MIN_SECONDS, _quiet["saved"])


def compile_and_keep(jax: Any, lowered: Any, options: dict | None, name: str | None) -> Any:
    """Compile `lowered` (safe on several threads at once); with a `name`, afresh (JAX's
    cache neither gives nor keeps it) and stored under that name."""
    if name is None:
        return lowered.compile(compiler_options=options) if options else lowered.compile()
    before = getattr(_hits, "n", 0)
    with _jax_cache_writes_nothing(jax):
        compiled = lowered.compile(compiler_options=options) if options else lowered.compile()
    if getattr(_hits, "n", 0) == before:  # an entry an older harness left in JAX's cache
        store(name, compiled)  # is not kept
    return compiled


def cacheable(backend: Any, fn: Callable) -> bool:
    """Whether the digest of the harness's sources covers every input of this trace."""
    if cache.root() is None or backend.platform != "cpu":
        return False
    module = sys.modules.get(getattr(fn, "__module__", ""), None)
    if getattr(module, getattr(fn, "__name__", ""), None) is not fn:
        return False  # not a module-level function (a lambda, a closure, a replaced one)
    return cache.defined_in_package(type(backend)) and cache.defined_in_package(fn)


@functools.cache
def _host() -> str:
    """The CPU's feature flags: XLA compiles for the host it runs on."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln for ln in f if ln.startswith("flags")), platform.processor())
    except OSError:
        return platform.processor()


def program_key(jax: Any, what: tuple, fn: Callable, args: tuple, options: dict | None) -> str:
    """The file name of a program: what it computes, for which case and argument shapes, with
    which JAX, options and host."""
    leaves, tree = jax.tree_util.tree_flatten(args)
    device = jax.devices("cpu")[0]
    return cache.key(
        what, fn.__module__, fn.__qualname__, str(tree),
        [(tuple(np.shape(a)), str(a.dtype)) for a in leaves],
        sorted((options or {}).items()), jax.__version__, _jaxlib_version(),
        jax.config.jax_enable_x64, jax.config.jax_default_matmul_precision,
        os.environ.get("XLA_FLAGS", ""), device.device_kind, device.client.platform_version,
        _host(),
    )  # fmt: skip


def _jaxlib_version() -> str:
    import jaxlib

    return jaxlib.__version__


def read(name: str) -> bytes | None:
    """The compiled program stored under `name`, as stored (None: absent)."""
    return cache.read(KIND, name)


def from_blob(jax: Any, blob: bytes, args: tuple, out_tree: Any) -> Callable | None:
    """A stored program loaded for `args`, or None (it would not load)."""
    from jax.experimental import serialize_executable

    in_tree = jax.tree_util.tree_structure((args, {}))
    try:
        return serialize_executable.deserialize_and_load(blob, in_tree, out_tree)
    except Exception:  # a damaged or foreign entry: compile afresh (and overwrite it)
        return None


def store(name: str, compiled: Any) -> None:
    """Keep a compiled program under `name` (quietly not, where it cannot be serialised)."""
    from jax.experimental import serialize_executable

    try:
        blob = serialize_executable.serialize(compiled)[0]
    except Exception:
        return
    cache.write(KIND, name, blob)


def in_background(work: Callable[[], Any]) -> Future:
    """`work()` on a daemon thread (a run that stops never waits for a compilation): an idle
    one kept from earlier work, else a new one, so that every program compiles at once
    (starting a thread waits for it to be scheduled: about a millisecond on a busy machine)."""
    done: Future = Future()
    _jobs.put((work, done))
    with _idle_lock:
        if _idle[0]:
            _idle[0] -= 1  # that thread takes it (or another idle one: the count is the same)
            return done
    threading.Thread(target=_compiler, name="harness-jax-compile", daemon=True).start()
    return done


_jobs: queue.SimpleQueue = queue.SimpleQueue()
_idle = [0]  # threads waiting for work, each already promised to the next job
_idle_lock = threading.Lock()


def _compiler() -> None:
    while True:
        work, done = _jobs.get()
        done.set_running_or_notify_cancel()
        try:
            done.set_result(work())
        except BaseException as e:  # handed to the cell that waits for it
            done.set_exception(e)
        del work, done  # a finished program is its backend's, not this thread's
        with _idle_lock:
            _idle[0] += 1
