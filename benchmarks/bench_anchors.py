"""The harness's full check of a case against what users run today, side by side, one process.

Anchors (defaults): ``torch.autograd.gradcheck`` + ``gradgradcheck`` in float64, and
``jax.test_util.check_grads(order=2)`` (forward and reverse modes) in float64. Harness:
``Runner.run_case`` over every default backend, value/grad/jvp/hvp, float64 and float32, with
verdicts and blame. Both sides see the same registry case at the same seeded inputs.

Two figures per case:
  first check   the first time the case is checked in the process: JAX's caches are cleared
                and the harness gets a fresh Runner, so both sides pay their compilation (the
                anchors' eager JAX compiles op by op, the harness one program per dtype, compiled
                on a thread of its own while its other backends compute; the float32 one is
                traced, compiled and run in the JAX twin process, harness.backends.jax_twin,
                whose Python is not this one's: the twin gets a fresh backend for a fresh
                Runner, so it traces and compiles too)
  steady state  the same check again, caches warm (a rerun under pytest): compiled programs
                are reused, and the oracles' cells (fd, mp) are recalled rather than computed
                (harness.memo: they do not depend on the engine under test)
  new seed      the same check at another seed, in the same process: programs reused, every
                cell computed afresh (the anchors' side reruns its own check, as it has no
                seed: its cost does not depend on the inputs)
Library start-up (imports, torch's and JAX's first-call set-up, the JAX twin's start) is paid
once, on a warm-up case that is not measured. Rounds alternate the order of the two sides;
figures are medians. The project cache is off (HARNESS_CACHE_DIR=off, unless set): a first
check compiles on both sides, rather than loading what an earlier run compiled (the warm
``make validate`` is bench_validate's).
torch runs on one intra-op thread on both sides (HARNESS_THREADS=1, as a harness command).

Run: ``python -m benchmarks.bench_anchors`` (writes reports/bench/anchors.csv).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import BENCH_DIR, write_table

QUANTITIES = ("value", "grad", "jvp", "hvp")
DTYPES = ("float64", "float32")
#: The seed cases and a few from other families: smooth at their inputs (the anchors' checks
#: assume differentiability), scalar to 20 inputs, with and without integer labels.
CASES = (
    "two_paths", "two_paths_vector", "two_paths_reduced", "seed_composite",
    "seed_composite_separable", "softmax_1d", "softmax_batched_axis0", "softmax_batched_axis1",
    "logsumexp_rows", "cross_entropy_batch", "mlp_tanh_cross_entropy", "attention",
    "matmul_chain", "residual_layernorm", "rosenbrock",
)  # fmt: skip
WARMUP_CASE = "variance"
COLUMNS = [
    "case", "inputs", "harness_cells", "anchors_first_s", "torch_first_s", "jax_first_s",
    "harness_first_s", "harness_jax_trace_s", "harness_jax_compile_s", "ratio_first",
    "anchors_steady_s", "harness_steady_s", "ratio_steady", "harness_new_seed_s",
    "ratio_new_seed", "anchors_ok", "rounds",
]  # fmt: skip


def _jax() -> Any:
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def torch_anchor(case: Any, raw: dict[str, np.ndarray]) -> Callable[[], bool]:
    """gradcheck + gradgradcheck with their defaults, float64, every float input."""
    import torch

    from harness.backends.torch_backend import TorchNamespace

    xp = TorchNamespace(torch, torch.float64)
    args = tuple(
        torch.tensor(a, dtype=torch.float64, requires_grad=True)
        if case.inputs[n].kind == "float"
        else torch.as_tensor(a)
        for n, a in raw.items()
    )

    def f(*a: Any) -> Any:
        return case.fn(xp, *a)

    def check() -> bool:
        return bool(torch.autograd.gradcheck(f, args) and torch.autograd.gradgradcheck(f, args))

    return check


def jax_anchor(case: Any, raw: dict[str, np.ndarray]) -> Callable[[], bool]:
    """check_grads(order=2) with its defaults (modes fwd and rev), float64, float inputs."""
    jax = _jax()
    from jax.test_util import check_grads

    from harness.backends.jax_namespace import JaxNamespace

    xp = JaxNamespace(jax, np.float64)
    floats = [n for n in raw if case.inputs[n].kind == "float"]
    fixed = {n: jax.numpy.asarray(a) for n, a in raw.items() if n not in floats}

    def f(*a: Any) -> Any:
        vals = {**fixed, **dict(zip(floats, a, strict=True))}
        return case.fn(xp, *(vals[n] for n in raw))

    args = tuple(jax.numpy.asarray(raw[n], dtype=np.float64) for n in floats)

    def check() -> bool:
        check_grads(f, args, order=2)
        return True

    return check


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    try:
        out = fn()
    except Exception as e:  # an anchor that rejects a case still cost its time
        out = e
    return time.perf_counter() - t0, out


def _harness(runner: Any, case: Any) -> tuple[float, int, dict[str, float]]:
    before = dict(runner.backends["jax"].timings) if "jax" in runner.backends else {}
    secs, out = _timed(lambda: runner.run_case(case, DTYPES, QUANTITIES))
    if isinstance(out, Exception):
        raise out
    after = dict(runner.backends["jax"].timings) if "jax" in runner.backends else {}
    jax_spent = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in ("trace_s", "compile_s")}
    return secs, len(out[0]), jax_spent


def _anchors(case: Any, raw: dict[str, np.ndarray]) -> tuple[float, float, bool]:
    t_torch, ok_t = _timed(torch_anchor(case, raw))
    t_jax, ok_j = _timed(jax_anchor(case, raw))
    return t_torch, t_jax, ok_t is True and ok_j is True


def measure(case: Any, rounds: int) -> dict[str, Any]:
    """One case: `rounds` first checks and steady-state checks of each side, medians."""
    from harness import backends
    from harness.runner import Runner

    jax = _jax()
    raw = case.draw(0)
    rec: dict[str, list[float]] = {}
    ok, cells = True, 0
    for r in range(rounds):
        runner = Runner(list(backends.DEFAULT), seed=0)
        sides = ["anchors", "harness"] if r % 2 == 0 else ["harness", "anchors"]
        for side in sides:
            jax.clear_caches()
            if side == "anchors":
                tt, tj, good = _anchors(case, raw)
                ok &= good
                rec.setdefault("torch_first_s", []).append(tt)
                rec.setdefault("jax_first_s", []).append(tj)
                rec.setdefault("anchors_first_s", []).append(tt + tj)
                tt, tj, _ = _anchors(case, raw)
                rec.setdefault("anchors_steady_s", []).append(tt + tj)
            else:
                secs, cells, spent = _harness(runner, case)
                rec.setdefault("harness_first_s", []).append(secs)
                rec.setdefault("harness_jax_trace_s", []).append(spent["trace_s"])
                rec.setdefault("harness_jax_compile_s", []).append(spent["compile_s"])
                rec.setdefault("harness_steady_s", []).append(_harness(runner, case)[0])
                runner.seed = 1 + r  # new inputs and probes: nothing to recall
                rec.setdefault("harness_new_seed_s", []).append(_harness(runner, case)[0])
    med = {k: statistics.median(v) for k, v in rec.items()}
    return {
        "case": case.name,
        "inputs": case.n_wrt,
        "harness_cells": cells,
        **med,
        "ratio_first": med["anchors_first_s"] / med["harness_first_s"],
        "ratio_steady": med["anchors_steady_s"] / med["harness_steady_s"],
        "ratio_new_seed": med["anchors_steady_s"] / med["harness_new_seed_s"],
        "anchors_ok": ok,
        "rounds": rounds,
    }


def warm_up() -> None:
    """Library start-up, paid once and not measured: imports, torch's lazy modules, JAX's
    backend, the harness's backends, the JAX twin (waited for: a run's later cases get it)."""
    from harness.backends import jax_twin
    from harness.backends.jax_backend import Jax
    from harness.library import load_cases

    case = load_cases()[WARMUP_CASE]
    measure(case, 1)
    twin, waited = jax_twin.get(Jax), 0.0
    while twin is not None and not twin.ready() and not twin.dead and waited < 60:
        time.sleep(0.05)
        waited += 0.05


def run(cases: tuple[str, ...] = CASES, rounds: int = 3) -> pd.DataFrame:
    """Per-case rows, then an `overall` row: total times over all cases, and their ratios."""
    from harness.library import load_cases

    os.environ.setdefault("HARNESS_CACHE_DIR", "off")
    # torch on one thread, as a harness command runs it: process-wide, so both sides share it
    os.environ.setdefault("HARNESS_THREADS", "1")
    warm_up()
    reg = load_cases()
    rows = [measure(reg[name], rounds) for name in cases if name in reg]
    df = pd.DataFrame(rows, columns=COLUMNS)
    total = {c: df[c].sum() for c in COLUMNS if c.endswith("_s") or c == "harness_cells"}
    total.update(
        case="overall (sum)",
        inputs=int(df["inputs"].sum()),
        ratio_first=total["anchors_first_s"] / total["harness_first_s"],
        ratio_steady=total["anchors_steady_s"] / total["harness_steady_s"],
        ratio_new_seed=total["anchors_steady_s"] / total["harness_new_seed_s"],
        anchors_ok=bool(df["anchors_ok"].all()),
        rounds=rounds,
    )
    geo = {
        "case": "overall (geometric mean of ratios)",
        "ratio_first": float(np.exp(np.log(df["ratio_first"]).mean())),
        "ratio_steady": float(np.exp(np.log(df["ratio_steady"]).mean())),
        "ratio_new_seed": float(np.exp(np.log(df["ratio_new_seed"]).mean())),
    }
    return pd.concat([df, pd.DataFrame([total, geo])], ignore_index=True)[COLUMNS]


def write(df: pd.DataFrame, path: Path = BENCH_DIR / "anchors.csv") -> Path:
    return write_table(df, path)


if __name__ == "__main__":
    table = run()
    out = write(table)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"wrote {out}")
