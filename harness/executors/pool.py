"""Cases in worker processes (--jobs N) or as Ray tasks (--executor ray).

Each worker builds its own Runner once and runs whole cases; the parent puts their rows back
in registry order, so the reports are byte-identical to a serial run's.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from harness.executors.worker import CaseResult, Config, crashed, init_worker, run_one
from harness.interrupt import Interrupted
from harness.registry import Case
from harness.results import RunResult, tidy, tidy_elements

EXECUTORS = ("process", "ray")
RAY_HINT = "--executor ray needs ray; install it with: pip install 'harness[ray]'"


def _process_pool(jobs: int) -> ProcessPoolExecutor:
    # spawn: a fresh interpreter per worker; fork after torch or JAX started threads is unsafe.
    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=init_worker)


class _Processes:
    """Cases submitted to a pool of spawned worker processes."""

    def __init__(self, jobs: int, config: Config) -> None:
        self.pool, self.config = _process_pool(jobs), config

    def submit(self, name: str, dtypes: list[str], quantities: list[str]) -> Any:
        return self.pool.submit(run_one, self.config, name, dtypes, quantities)

    def wait(self, futures: list[Any]) -> list[Any]:
        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        return list(done)

    def result(self, fut: Any) -> CaseResult:
        return fut.result()

    def shutdown(self, cancel: bool) -> None:
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class _RayTasks:
    """Cases as Ray tasks. The workers get the environment through runtime_env (JAX's x64
    flag above all: without it JAX silently computes float64 cells in float32)."""

    def __init__(self, address: str | None, config: Config) -> None:
        try:
            import ray
        except ImportError:
            raise RuntimeError(RAY_HINT) from None
        self.ray, self.config = ray, config
        self.started = not ray.is_initialized()
        env = dict(config.env)
        if self.started:
            ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=False)
        self.task = ray.remote(run_one).options(runtime_env={"env_vars": env}, max_retries=0)

    def submit(self, name: str, dtypes: list[str], quantities: list[str]) -> Any:
        return self.task.remote(self.config, name, dtypes, quantities)

    def wait(self, futures: list[Any]) -> list[Any]:
        done, _ = self.ray.wait(futures, num_returns=1)
        return done

    def result(self, fut: Any) -> CaseResult:
        return self.ray.get(fut)

    def shutdown(self, cancel: bool) -> None:
        if self.started:
            self.ray.shutdown()


def run_cases(
    config: Config,
    cases: Sequence[Case],
    dtypes: Sequence[str],
    quantities: Sequence[str],
    jobs: int = 2,
    executor: str = "process",
    address: str | None = None,
    progress: Callable[[Case], None] | None = None,
) -> RunResult:
    """Run `cases` in parallel and assemble one RunResult, rows in the serial run's order."""
    t0 = time.perf_counter()
    by_name = {c.name: c for c in cases}
    got: dict[str, CaseResult] = {}
    stopped_by = None
    ex = _RayTasks(address, config) if executor == "ray" else _Processes(jobs, config)
    pending: dict[Any, str] = {}
    broken: list[str] = []  # cases whose worker process died: rerun one by one below

    def finished(res: CaseResult) -> None:
        got[res.name] = res
        if progress:
            progress(by_name[res.name])

    try:
        pending = {ex.submit(c.name, list(dtypes), list(quantities)): c.name for c in cases}
        while pending:
            for fut in ex.wait(list(pending)):
                name = pending.pop(fut)
                try:
                    finished(ex.result(fut))
                except BrokenProcessPool:
                    broken.append(name)
                except Exception as e:  # the task itself failed: that case's cells only
                    why = f"the worker running this case failed: {type(e).__name__}: {e}"
                    finished(crashed(config, by_name[name], dtypes, quantities, why))
        for name in broken:  # a dead worker takes every pending case with it: isolate each
            finished(_isolated(config, by_name[name], dtypes, quantities))
    except Interrupted as stop:  # keep the finished cases, each one complete
        stopped_by = stop.signame
    finally:
        ex.shutdown(bool(pending))
    return _assemble(config, [got[c.name] for c in cases if c.name in got], t0, stopped_by)


def _assemble(
    config: Config, ordered: list[CaseResult], t0: float, stopped_by: str | None
) -> RunResult:
    timings: dict[str, float] = {"run_seconds": time.perf_counter() - t0}
    for r in ordered:
        for k, v in r.timings.items():
            timings[k] = round(timings.get(k, 0.0) + v, 3)
    return RunResult(
        tidy([row for r in ordered for row in r.rows], config.backends),
        tidy_elements([e for r in ordered for e in r.elements], config.backends),
        timings,
        {k: v for r in ordered for k, v in r.arrays.items()},
        stopped_by,
        len(ordered),
    )


def _isolated(
    config: Config, case: Case, dtypes: Sequence[str], quantities: Sequence[str]
) -> CaseResult:
    """Run one case alone in a fresh worker: the case that kills its worker is found out and
    gets error rows; the others, lost only because they shared the dead pool, complete."""
    pool = _process_pool(1)
    try:
        return pool.submit(run_one, config, case.name, list(dtypes), list(quantities)).result()
    except BrokenProcessPool:
        why = "the worker process running this case died (a crash in native code, or killed)"
    except Exception as e:
        why = f"the worker running this case failed: {type(e).__name__}: {e}"
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return crashed(config, case, dtypes, quantities, why)


class Pool:
    """Runner.run's signature over worker processes or Ray tasks (what validate calls)."""

    def __init__(self, config: Config, jobs: int, executor: str = "process", address: Any = None):
        self.config, self.jobs, self.executor, self.address = config, jobs, executor, address

    def run(
        self,
        cases: Sequence[Case],
        dtypes: Iterable[str],
        quantities: Iterable[str],
        progress: Callable[[Case], None] | None = None,
    ) -> RunResult:
        return run_cases(
            self.config, cases, list(dtypes), list(quantities), self.jobs, self.executor,
            self.address, progress,
        )  # fmt: skip
