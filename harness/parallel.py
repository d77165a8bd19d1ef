"""Cases in worker processes (--jobs N) or as Ray tasks (--executor ray), a deterministic shard
of the registry (--shard K/N), and `python -m harness merge` to join shard outputs.

A case is the unit of work: its cells are judged together (blame needs every backend), and its
backends' compiled functions are reused across its quantities and dtypes. Each worker builds its
own Runner once and runs whole cases; the parent puts their rows back in registry order, so the
reports are byte-identical to a serial run's.
"""

from __future__ import annotations

import argparse
import json
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.registry import Case

#: Environment every worker starts with: JAX in float64 on the CPU (unless --device says
#: otherwise), and one thread per framework, since the workers already share the cores.
WORKER_ENV: dict[str, str] = {
    "JAX_ENABLE_X64": "1",
    "HARNESS_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
#: Per-element error arrays of a shard (heatmaps), so that merge can draw them too.
ARRAYS_FILE = "arrays.npz"
EXECUTORS = ("process", "ray")


@dataclass(frozen=True)
class Config:
    """What a worker needs to build its Runner: plain values, so it pickles to any executor."""

    backends: tuple[str, ...]
    seed: int = 0
    cotangent: str = "random"
    cell_timeout: float | None = None
    backend_modules: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


@dataclass
class CaseResult:
    """One case's rows, worst elements, per-element arrays and seconds, from a worker."""

    name: str
    rows: list[dict]
    elements: list[dict]
    arrays: dict[tuple[str, str, str, str], np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)


# -- sharding ---------------------------------------------------------------------------------
def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 1 <= K <= N; ValueError with the expected form otherwise."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected K/N, e.g. 2/4") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def shard_index(name: str, count: int) -> int:
    """The shard (0-based) a case belongs to: a stable hash of its name, the same on every
    machine and Python (crc32, not hash(), which is salted per process)."""
    return zlib.crc32(name.encode()) % count


def select_shard(cases: Sequence[Case], k: int, n: int) -> list[Case]:
    """The cases of shard K of N (1-based), in registry order."""
    return [c for c in cases if shard_index(c.name, n) == k - 1]


# -- the worker side --------------------------------------------------------------------------
_RUNNERS: dict[Config, Any] = {}


def _runner(config: Config) -> Any:
    """This process's Runner for `config`, built once (a Ray worker serves many tasks)."""
    if config not in _RUNNERS:
        os.environ.update(dict(config.env))
        from harness import backends as backend_registry
        from harness import plugins
        from harness.runner import Runner

        for path in config.backend_modules:
            plugins.load_module(path, taken=backend_registry.BUILTIN)
        _RUNNERS[config] = Runner(
            list(config.backends), config.seed, config.cotangent, config.cell_timeout
        )
    return _RUNNERS[config]


def _init_worker() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt stops


def run_one(config: Config, name: str, dtypes: Sequence[str], quantities: Sequence[str]) -> Any:
    """Run case `name` in this process; what a worker (process or Ray task) returns."""
    from harness.registry import load_cases

    runner = _runner(config)
    before = runner.timing_breakdown()
    runner.arrays.clear()
    rows, elems = runner.run_case(load_cases()[name], dtypes, quantities)
    after = runner.timing_breakdown()
    spent = {k: v - before.get(k, 0.0) for k, v in after.items()}
    return CaseResult(name, rows, elems, dict(runner.arrays), spent)


# -- the parent side --------------------------------------------------------------------------
def worker_env(device: str = "cpu") -> tuple[tuple[str, str], ...]:
    """The environment for workers: WORKER_ENV, the device, and JAX's platform."""
    env = {**WORKER_ENV, "HARNESS_DEVICE": device}
    env["JAX_PLATFORMS"] = os.environ.get("JAX_PLATFORMS", "cpu" if device == "cpu" else "")
    return tuple(sorted(env.items()))


def _process_pool(jobs: int) -> ProcessPoolExecutor:
    import multiprocessing

    # spawn: a fresh interpreter per worker; fork after torch or JAX started threads is unsafe.
    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker)


def run_cases(
    config: Config,
    cases: Sequence[Case],
    dtypes: Sequence[str],
    quantities: Sequence[str],
    jobs: int = 2,
    executor: str = "process",
    address: str | None = None,
    progress: Callable[[Case], None] | None = None,
) -> Any:
    """Run `cases` in parallel and assemble one RunResult, rows in the serial run's order."""
    import time

    from harness.interrupt import Interrupted
    from harness.results import RunResult, tidy, tidy_elements

    t0 = time.perf_counter()
    by_name = {c.name: c for c in cases}
    got: dict[str, CaseResult] = {}
    stopped_by = None
    submit, shutdown = _executor(executor, jobs, address, config)
    pending: dict[Any, str] = {}
    broken: list[str] = []  # cases whose worker process died: rerun one by one below
    try:
        pending = {submit(c.name, list(dtypes), list(quantities)): c.name for c in cases}
        while pending:
            done = _wait(executor, list(pending))
            for fut in done:
                name = pending.pop(fut)
                try:
                    res = _result(executor, fut)
                except BrokenProcessPool:
                    broken.append(name)
                    continue
                except Exception as e:  # the task itself failed: that case's cells only
                    why = f"the worker running this case failed: {type(e).__name__}: {e}"
                    res = crashed(config, by_name[name], dtypes, quantities, why)
                got[res.name] = res
                if progress:
                    progress(by_name[res.name])
        for name in broken:  # a dead worker takes every pending case with it: isolate each
            got[name] = _isolated(config, by_name[name], dtypes, quantities)
            if progress:
                progress(by_name[name])
    except Interrupted as stop:  # keep the finished cases, each one complete
        stopped_by = stop.signame
    finally:
        shutdown(bool(pending))
    ordered = [got[c.name] for c in cases if c.name in got]
    timings: dict[str, float] = {"run_seconds": time.perf_counter() - t0}
    for r in ordered:
        for k, v in r.timings.items():
            timings[k] = round(timings.get(k, 0.0) + v, 3)
    arrays = {k: v for r in ordered for k, v in r.arrays.items()}
    return RunResult(
        tidy([row for r in ordered for row in r.rows], config.backends),
        tidy_elements([e for r in ordered for e in r.elements], config.backends),
        timings,
        arrays,
        stopped_by,
        len(ordered),
    )


def crashed(
    config: Config, case: Case, dtypes: Sequence[str], quantities: Sequence[str], why: str
) -> CaseResult:
    """`error` rows for every cell of a case whose worker could not report it."""
    from harness.registry import DTYPES, QUANTITIES
    from harness.results import make_row

    dts = [d for d in DTYPES if d in dtypes and d in case.dtypes]
    qs = [q for q in QUANTITIES if q in quantities and q in case.quantities]
    rows = [
        make_row(case, q, d, b, "error", reason=why)
        for d in dts
        for q in qs
        for b in config.backends
    ]
    return CaseResult(case.name, rows, [], {})


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


def _executor(
    kind: str, jobs: int, address: str | None, config: Config
) -> tuple[Callable[..., Any], Callable[[bool], None]]:
    """(submit(name, dtypes, quantities) -> future, shutdown(cancel)) for `kind`."""
    if kind == "ray":
        return _ray_executor(address, config)
    pool = _process_pool(jobs)

    def submit(name: str, dtypes: list[str], quantities: list[str]) -> Future:
        return pool.submit(run_one, config, name, dtypes, quantities)

    def shutdown(cancel: bool) -> None:
        pool.shutdown(wait=not cancel, cancel_futures=cancel)

    return submit, shutdown


def _wait(kind: str, futures: list[Any]) -> list[Any]:
    if kind == "ray":
        import ray

        done, _ = ray.wait(futures, num_returns=1)
        return done
    done, _ = wait(futures, return_when=FIRST_COMPLETED)
    return list(done)


def _result(kind: str, fut: Any) -> CaseResult:
    if kind == "ray":
        import ray

        return ray.get(fut)
    return fut.result()


def _ray_executor(
    address: str | None, config: Config
) -> tuple[Callable[..., Any], Callable[[bool], None]]:
    """Cases as Ray tasks. The workers get the environment through runtime_env (JAX's x64
    flag above all: without it JAX silently computes float64 cells in float32)."""
    try:
        import ray
    except ImportError:
        raise RuntimeError(
            "--executor ray needs ray; install it with: pip install '.[ray]'"
        ) from None
    started = not ray.is_initialized()
    env = dict(config.env)
    if started:
        ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=False)
    task = ray.remote(run_one).options(runtime_env={"env_vars": env}, max_retries=0)

    def submit(name: str, dtypes: list[str], quantities: list[str]) -> Any:
        return task.remote(config, name, dtypes, quantities)

    def shutdown(cancel: bool) -> None:
        if started:
            ray.shutdown()

    return submit, shutdown


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
    ) -> Any:
        return run_cases(
            self.config, cases, list(dtypes), list(quantities), self.jobs, self.executor,
            self.address, progress,
        )  # fmt: skip


# -- command line -------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    """validate's options for parallel, sharded and distributed runs, and the device."""
    p.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="run cases in N worker processes"
    )
    p.add_argument(
        "--shard", metavar="K/N", help="run only shard K of N (a stable hash of case names)"
    )
    p.add_argument(
        "--executor", choices=EXECUTORS, default="process", help="process (default) or ray"
    )
    p.add_argument("--address", help="the Ray cluster to join (default: start a local one)")
    p.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="cuda: also run torch and jax on the GPU, judged against their CPU results",
    )


def wanted(args: argparse.Namespace) -> bool:
    """Whether validate runs through this module (more than one job, or Ray)."""
    return getattr(args, "jobs", 1) > 1 or getattr(args, "executor", "process") == "ray"


def shard_cases(args: argparse.Namespace, cases: list[Case]) -> list[Case]:
    """The selected cases, restricted to --shard K/N when given."""
    if not getattr(args, "shard", None):
        return cases
    from harness.cli import UsageError

    try:
        k, n = parse_shard(args.shard)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return select_shard(cases, k, n)


def check_args(args: argparse.Namespace) -> None:
    """One-sentence usage errors for option combinations that cannot work."""
    from harness.cli import UsageError

    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: give a number of worker processes, at least 1")
    if wanted(args) and (getattr(args, "random", None) or getattr(args, "replay", None)):
        raise UsageError("--random and --replay run in one process: drop --jobs/--executor")
    if args.address and args.executor != "ray":
        raise UsageError("--address names a Ray cluster: add --executor ray")
    if args.executor == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise UsageError("--executor ray needs ray; install it with: pip install '.[ray]'")


def config_from_args(args: argparse.Namespace, backends: Sequence[str]) -> Config:
    return Config(
        backends=tuple(backends),
        seed=args.seed,
        cotangent=args.cotangent,
        cell_timeout=args.cell_timeout,
        backend_modules=tuple(str(Path(m).resolve()) for m in args.backend_module or ()),
        env=worker_env(getattr(args, "device", "cpu")),
    )


def device_backends(device: str, names: Sequence[str]) -> list[str]:
    """--device cuda: the GPU twins of the torch and jax backends selected (judged against the
    CPU consensus, never voting), with JAX told to bring up its GPU platform too."""
    if device == "cpu":
        return []
    os.environ["HARNESS_DEVICE"] = device
    return [f"{b}-cuda" for b in ("torch", "jax") if b in names and f"{b}-cuda" not in names]


def pool_from_args(args: argparse.Namespace, backends: Sequence[str]) -> Pool:
    return Pool(config_from_args(args, backends), args.jobs, args.executor, args.address)


def save_arrays(arrays: dict[tuple[str, str, str, str], np.ndarray], out: Path) -> Path:
    """The per-element arrays of a run (heatmaps), for merge to draw them."""
    path = Path(out) / ARRAYS_FILE
    np.savez_compressed(path, **{"|".join(k): np.asarray(v) for k, v in arrays.items()})
    return path


def _load_arrays(folder: Path) -> dict[tuple[str, ...], np.ndarray]:
    path = folder / ARRAYS_FILE
    if not path.exists():
        return {}
    with np.load(path) as z:
        return {tuple(k.split("|")): z[k] for k in z.files}


# -- merge -------------------------------------------------------------------------------------
def merge_tables(frames: Iterable[pd.DataFrame], backend_order: Sequence[str]) -> pd.DataFrame:
    """Rows of several shards' CSVs, as text, in the order one run writes them."""
    from harness.results import in_report_order

    return in_report_order(pd.concat(list(frames), ignore_index=True), backend_order)


def _read_text_csv(path: Path) -> pd.DataFrame:
    # Every field as the exact text a run wrote: the merged file repeats it byte for byte.
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def merge(folders: Sequence[Path], out: Path) -> list[Path]:
    """Join the report sets of shard runs into one, as an unsharded run would have written it:
    summary.csv and elements.csv byte-identical, metadata.json and report.html rebuilt."""
    from harness.cli import UsageError
    from harness.report.files import atomic_write
    from harness.report.html import write_html

    metas, summaries, elements, arrays = [], [], [], {}
    for f in map(Path, folders):
        if not (f / "summary.csv").exists():
            raise UsageError(f"{f} holds no summary.csv: give the --out folders of shard runs")
        metas.append(json.loads((f / "metadata.json").read_text()))
        summaries.append(_read_text_csv(f / "summary.csv"))
        elements.append(_read_text_csv(f / "elements.csv"))
        arrays.update(_load_arrays(f))
    _check_compatible(metas, folders)
    backends = metas[0]["backends"].split(",")
    summary = merge_tables(summaries, backends)
    elems = merge_tables(elements, backends)
    dup = summary.duplicated([c for c in ("case", "quantity", "dtype", "backend", "draw")
                              if c in summary.columns])  # fmt: skip
    if dup.any():
        raise UsageError(f"case {summary.loc[dup, 'case'].iloc[0]} is in more than one shard")
    out.mkdir(parents=True, exist_ok=True)
    s_path, e_path = out / "summary.csv", out / "elements.csv"
    atomic_write(s_path, summary.to_csv(index=False, lineterminator="\n"))
    atomic_write(e_path, elems.to_csv(index=False, lineterminator="\n"))
    meta = _merged_meta(metas, summary, folders)
    numeric_s, numeric_e = pd.read_csv(s_path, keep_default_na=False), pd.read_csv(e_path)
    html = write_html(numeric_s, numeric_e, meta, out / "report.html", arrays)
    m_path = atomic_write(out / "metadata.json", json.dumps(meta, indent=2) + "\n")
    return [s_path, e_path, html, m_path]


def _check_compatible(metas: list[dict], folders: Sequence[Path]) -> None:
    from harness.cli import UsageError

    for key in ("seed", "backends", "dtypes", "quantities", "cotangent"):
        seen = {str(m.get(key)) for m in metas}
        if len(seen) > 1:
            raise UsageError(
                f"the shards differ in {key} ({', '.join(sorted(seen))}): merge only shards of "
                "one run"
            )


def _merged_meta(metas: list[dict], summary: pd.DataFrame, folders: Sequence[Path]) -> dict:
    meta = dict(metas[0])
    meta.update(
        cases=int(sum(int(m.get("cases", 0)) for m in metas)),
        cases_finished=int(sum(int(m.get("cases_finished", 0)) for m in metas)),
        complete=all(m.get("complete", True) for m in metas),
        duration_s=round(sum(float(m.get("duration_s", 0.0)) for m in metas), 2),
        shards=[str(f) for f in folders],
        command="python -m harness merge " + " ".join(str(f) for f in folders),
        counts={v: int(n) for v, n in summary["verdict"].value_counts().sort_index().items()},
    )
    meta.pop("shard", None)
    meta.pop("timings", None)
    return meta


def cmd_merge(args: argparse.Namespace) -> int:
    """`python -m harness merge DIR... --out DIR`."""
    for p in merge([Path(d) for d in args.folders], Path(args.out)):
        print(f"wrote {p}")
    return 0


def add_merge_command(sub: Any) -> None:
    p = sub.add_parser("merge", help="join the report folders of shard runs into one")
    p.add_argument("folders", nargs="+", metavar="DIR", help="the --out folders of the shards")
    p.add_argument("--out", default="reports", help="where to write the merged reports")
    p.set_defaults(func=cmd_merge)
