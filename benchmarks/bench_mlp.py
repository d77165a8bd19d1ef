"""Forward + backward of a 2-layer MLP with softmax cross-entropy: engine vs numpy vs torch.

Batch 256, 512 -> 512 -> 10, float64, relu or tanh hidden layer; the gradient of the mean loss
with respect to W1, b1, W2, b2 (the inputs X are constants). The same step is written three
ways: on the in-house engine, by hand in numpy, and in torch eager on the CPU with as many
threads as numpy's BLAS uses. Timings are medians over repeats, run interleaved (one step of
each implementation per round, in a shuffled order) so that drifting clock speeds and the
neighbours' leftover threads hit all three alike.

Run: ``python -m benchmarks.bench_mlp`` (writes reports/bench/mlp.csv and prints it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import BENCH_DIR, write_table
from harness import engine as E

BATCH, D_IN, D_HIDDEN, D_OUT = 256, 512, 512, 10
COLUMNS = [
    "activation", "implementation", "threads", "repeats", "median_ms", "p25_ms", "p75_ms",
    "ratio_to_numpy", "ratio_to_torch", "max_abs_grad_diff_vs_numpy",
]  # fmt: skip
Grads = tuple[np.ndarray, ...]


def make_data(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "X": rng.standard_normal((BATCH, D_IN)),
        "y": rng.integers(0, D_OUT, BATCH),
        "W1": rng.standard_normal((D_IN, D_HIDDEN)) / np.sqrt(D_IN),
        "b1": np.zeros(D_HIDDEN),
        "W2": rng.standard_normal((D_HIDDEN, D_OUT)) / np.sqrt(D_HIDDEN),
        "b2": np.zeros(D_OUT),
    }


def numpy_step(d: dict[str, np.ndarray], activation: str) -> Callable[[], Grads]:
    """The step written by hand in numpy."""
    X, y, W1, b1, W2, b2 = (d[k] for k in ("X", "y", "W1", "b1", "W2", "b2"))
    rows = np.arange(len(y))

    def step() -> Grads:
        a = X @ W1 + b1
        h = np.maximum(a, 0) if activation == "relu" else np.tanh(a)
        z = h @ W2 + b2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        _loss = -np.mean(np.log(p[rows, y]))
        dz = p
        dz[rows, y] -= 1
        dz /= len(y)
        dh = dz @ W2.T
        da = dh * (a > 0) if activation == "relu" else dh * (1 - h * h)
        return X.T @ da, da.sum(axis=0), h.T @ dz, dz.sum(axis=0)

    return step


def engine_step(d: dict[str, np.ndarray], activation: str) -> Callable[[], Grads]:
    """The step on the in-house engine: parameters are leaves, X a constant."""
    xp = E.Namespace(np.float64)
    X, y = E.constant(d["X"]), d["y"]
    params = [E.variable(d[k]) for k in ("W1", "b1", "W2", "b2")]
    act = xp.relu if activation == "relu" else xp.tanh

    def step() -> Grads:
        W1, b1, W2, b2 = params
        loss = xp.cross_entropy(act(X @ W1 + b1) @ W2 + b2, y)
        E.backward(loss)
        return tuple(p.grad for p in params)

    return step


def torch_step(d: dict[str, np.ndarray], activation: str) -> Callable[[], Grads] | None:
    """The step in torch eager (CPU, autograd); None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    X, y = torch.from_numpy(d["X"]), torch.from_numpy(d["y"])
    params = [torch.tensor(d[k], requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    act = torch.relu if activation == "relu" else torch.tanh

    def step() -> Grads:
        W1, b1, W2, b2 = params
        for p in params:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(act(X @ W1 + b1) @ W2 + b2, y)
        loss.backward()
        return tuple(p.grad.numpy() for p in params)

    return step


def blas_threads() -> int:
    """Threads numpy's BLAS uses: threadpoolctl when installed, else the usual variables."""
    try:
        from threadpoolctl import threadpool_info

        blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        if blas:
            return int(blas[0])
    except ImportError:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return os.cpu_count() or 1


def _time_rounds(steps: dict[str, Callable[[], Grads]], repeats: int) -> dict[str, np.ndarray]:
    for step in steps.values():  # warm-up: allocator, BLAS buffers, lazy imports
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    rng = np.random.default_rng(0)
    for _ in range(repeats):
        # A fresh order each round: whoever runs right after torch meets its spinning OpenMP
        # threads, and a fixed order would always hand that cost to the same implementation.
        for name in rng.permutation(list(steps)):
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: np.asarray(t) * 1e3 for name, t in times.items()}


def run(repeats: int = 50, activations: tuple[str, ...] = ("relu", "tanh")) -> pd.DataFrame:
    """Median step times (ms) per activation and implementation, with ratios; one row each."""
    threads = blas_threads()
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    d = make_data()
    rows = [row for act in activations for row in _measure(d, act, repeats, threads)]
    return pd.DataFrame(rows, columns=COLUMNS)


def _measure(d: dict[str, np.ndarray], act: str, repeats: int, threads: int) -> list[dict]:
    steps = {"numpy": numpy_step(d, act), "engine": engine_step(d, act)}
    if (ts := torch_step(d, act)) is not None:
        steps["torch"] = ts
    ref = steps["numpy"]()
    ms = _time_rounds(steps, repeats)
    med = {name: float(np.median(t)) for name, t in ms.items()}
    rows = []
    for name, t in ms.items():
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(steps[name](), ref, strict=True))
        rows.append({
            "activation": act, "implementation": name, "threads": threads, "repeats": repeats,
            "median_ms": med[name],
            "p25_ms": float(np.percentile(t, 25)), "p75_ms": float(np.percentile(t, 75)),
            "ratio_to_numpy": med[name] / med["numpy"],
            "ratio_to_torch": med[name] / med["torch"] if "torch" in med else np.nan,
            "max_abs_grad_diff_vs_numpy": diff,
        })  # fmt: skip
    return rows


def write(df: pd.DataFrame, path: Path = BENCH_DIR / "mlp.csv") -> Path:
    return write_table(df, path, float_format=None)


if __name__ == "__main__":
    table = run()
    out = write(table)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"wrote {out}")
