"""The worker side: a process's Runner, built once per configuration, running whole cases.

A case is the unit of work: its cells are judged together (blame needs every backend), and its
backends' compiled functions are reused across its quantities and dtypes.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import cache
from harness.backends import load_module
from harness.library import load_case_module, load_cases
from harness.registry import Case
from harness.results import ArrayKey, make_row
from harness.runner import Runner
from harness.vocabulary import DTYPES, QUANTITIES

#: Environment every worker starts with: JAX in float64 on the CPU (unless --device says
#: otherwise), and one thread per framework, since the workers already share the cores.
WORKER_ENV: dict[str, str] = {
    "JAX_ENABLE_X64": "1",
    "HARNESS_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "HARNESS_JAX_TWIN": "0",  # no second JAX process per worker (harness.backends.jax_twin)
}


@dataclass(frozen=True)
class Config:
    """What a worker needs to build its Runner: plain values, so it pickles to any executor."""

    backends: tuple[str, ...]
    seed: int = 0
    cotangent: str = "random"
    cell_timeout: float | None = None
    backend_modules: tuple[str, ...] = ()
    case_modules: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    #: plugin backends in supervised worker processes of their own (harness.backends.start)
    isolate: bool = True


@dataclass
class CaseResult:
    """One case's rows, worst elements, per-element arrays and seconds, from a worker."""

    name: str
    rows: list[dict]
    elements: list[dict]
    arrays: dict[ArrayKey, np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)


_RUNNERS: dict[Config, Runner] = {}


def _runner(config: Config) -> Runner:
    """This process's Runner for `config`, built once (a Ray worker serves many tasks)."""
    if config not in _RUNNERS:
        os.environ.update(dict(config.env))
        for path in config.backend_modules:
            load_module(path)
        for path in config.case_modules:
            load_case_module(path)
        _RUNNERS[config] = Runner(
            list(config.backends), config.seed, config.cotangent, config.cell_timeout,
            isolate=config.isolate,
        )  # fmt: skip
    return _RUNNERS[config]


def init_worker() -> None:
    """A worker ignores SIGINT: the parent decides what an interrupt stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt stops


def run_one(config: Config, name: str, dtypes: Sequence[str], quantities: Sequence[str]) -> Any:
    """Run case `name` in this process; what a worker (process or Ray task) returns."""

    runner = _runner(config)
    before = runner.timing_breakdown()
    runner.arrays.clear()
    rows, elems = runner.run_case(load_cases()[name], dtypes, quantities)
    after = runner.timing_breakdown()
    spent = {k: v - before.get(k, 0.0) for k, v in after.items()}
    return CaseResult(name, rows, elems, dict(runner.arrays), spent)


def crashed(
    config: Config, case: Case, dtypes: Sequence[str], quantities: Sequence[str], why: str
) -> CaseResult:
    """`error` rows for every cell of a case whose worker could not report it."""
    dts = [d for d in DTYPES if d in dtypes and d in case.dtypes]
    qs = [q for q in QUANTITIES if q in quantities and q in case.quantities]
    rows = [
        make_row(case, q, d, b, "error", reason=why)
        for d in dts
        for q in qs
        for b in config.backends
    ]
    return CaseResult(case.name, rows, [], {})


def worker_env(device: str = "cpu") -> tuple[tuple[str, str], ...]:
    """The environment for workers: WORKER_ENV, the device, JAX's platform, and the project
    cache folder, absolute (a Ray worker starts in a folder of its own)."""
    env = {**WORKER_ENV, "HARNESS_DEVICE": device, cache.ENV: str(cache.root() or cache.OFF[0])}
    env["JAX_PLATFORMS"] = os.environ.get("JAX_PLATFORMS", "cpu" if device == "cpu" else "")
    return tuple(sorted(env.items()))
