"""Backends: one module each, all behind harness.backends.base.Backend; plugins by name."""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Iterable

from harness.backends import plugins
from harness.backends.base import Backend, Estimate, Problem, Traits, Unsupported
from harness.backends.supervised import Supervised

# backend id -> "module:Class"; modules are imported only when the backend is used.
BUILTIN: dict[str, str] = {
    "inhouse": "harness.backends.inhouse:InHouse",
    "inhouse-naive": "harness.backends.inhouse:InHouseNaive",
    "torch": "harness.backends.torch_backend:Torch",
    "jax": "harness.backends.jax_backend:Jax",
    "fd": "harness.backends.fd:FiniteDifferences",
    "mp": "harness.backends.mp:MpMath",
    "seed-1-1": "harness.backends.seed:Seed11",
    "seed-1-3": "harness.backends.seed:Seed13",
    "seed-1-4": "harness.backends.seed:Seed14",
    "seed-2-9": "harness.backends.seed:Seed29",
    # GPU twins, added by --device cuda
    "torch-cuda": "harness.backends.torch_backend:TorchCuda",
    "jax-cuda": "harness.backends.jax_backend:JaxCuda",
}
#: --device cuda adds each selected backend's GPU twin.
GPU_TWINS: dict[str, str] = {"torch": "torch-cuda", "jax": "jax-cuda"}
DEFAULT: tuple[str, ...] = (
    "inhouse", "inhouse-naive", "torch", "jax", "fd", "mp",
    "seed-1-1", "seed-1-3", "seed-1-4", "seed-2-9",
)  # fmt: skip


def get(name: str) -> Backend:
    """Instantiate backend `name`, built in or a plugin (raises KeyError for an unknown id)."""
    if name not in BUILTIN:
        return plugins.backend_class(name)()
    module, cls = BUILTIN[name].split(":")
    return getattr(importlib.import_module(module), cls)()


def start(name: str, isolate: bool = True, timeout: float | None = None) -> Backend:
    """Backend `name` ready for a run: a built-in one in this process; a plugin in a
    supervised worker process of its own (`isolate`; killed when a call outlives `timeout`
    seconds) or, without isolation, here. ImportError when it cannot be loaded; any other
    exception is its constructor's."""
    if name in BUILTIN or not isolate:
        return get(name)
    return Supervised(name, plugins.backend_class(name), plugins.locate(name), timeout)


def names() -> list[str]:
    """Every selectable backend id: the built-in ones, then plugins (harness.plugins)."""
    return [*BUILTIN, *(n for n in plugins.names() if n not in BUILTIN)]


def engine_of(name: str) -> str | None:
    """The distribution a plugin backend wraps, for the run's metadata: its class's ``engine``
    when it names one, else the installed distribution its module belongs to (None for the
    built-in backends, whose frameworks the metadata lists anyway)."""
    if name in BUILTIN:
        return None
    try:
        cls = type(get(name))
    except Exception:
        return None
    declared = getattr(cls, "engine", None)
    if declared:
        return str(declared)
    top = cls.__module__.split(".")[0]
    dists = importlib.metadata.packages_distributions().get(top, [])
    return dists[0] if dists else None


def origin(name: str) -> str:
    """``built in``, ``file x.py`` or ``entry point module:Class``."""
    return "built in" if name in BUILTIN else plugins.source(name)


def load_module(path: str, taken: Iterable[str] = ()) -> list[str]:
    """Register the backends of a --backend-module file (none may reuse a built-in name)."""
    return plugins.load_module(path, taken={*BUILTIN, *taken})


__all__ = [
    "BUILTIN", "DEFAULT", "GPU_TWINS", "Backend", "Estimate", "Problem", "Supervised", "Traits",
    "Unsupported", "get", "load_module", "names", "origin", "start",
]  # fmt: skip
