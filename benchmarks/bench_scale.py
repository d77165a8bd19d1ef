"""Second order at scale: the HVP check of one case from n = 10^2 to 10^6 inputs.

The case couples neighbours (a tridiagonal Hessian) and stays O(n):
``l = sum log(1 + exp(x)) + sum tanh(x[1:] * x[:-1])``. For each n, each backend runs in its own
process (so that its peak memory is its own): inhouse, torch and jax compute the Hessian-vector
product H w, and fd, from values only, the curvature along the same direction,
w^T H w = d^2/dt^2 l(x + t w) at t = 0 (nested adaptive differences along w: a dense fd Hessian
is O(n^2) evaluations). The check: the HVPs agree with each other elementwise, and each
w . (H w) agrees with fd's curvature within its error estimate, under the float64 order-2
tolerances of harness.tolerances.

Memory: the peak resident set (VmHWM) while the check runs, minus the resident set just before
it (after the imports and a warm-up at n = 100): what the check itself needed. The peak is reset
first (/proc/self/clear_refs); ru_maxrss would not do, since a child starts with its parent's.
Dense Hessians are refused (runner: DENSE_LIMIT).

Run: ``python -m benchmarks.bench_scale`` (writes reports/bench/scale.csv);
``python -m benchmarks.bench_scale --child BACKEND N OUT`` is one measurement.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import BENCH_DIR, write_table

SIZES = (10**2, 10**3, 10**4, 10**5, 10**6)
HVP_BACKENDS = ("inhouse", "torch", "jax")
#: Columns of the curvature's evaluations per batched call: bounds fd's memory to a few n.
FD_CHUNK = 4
FD_INITIAL_STEP = 0.0625
COLUMNS = [
    "n", "backend", "seconds", "peak_rss_mb", "growth_mb", "bytes_per_input", "curvature",
    "curvature_error", "vs_fd_err", "vs_fd_tol", "max_abs_diff_vs_jax", "tol", "agrees",
]  # fmt: skip


def coupled_chain(xp: Any, x: Any) -> Any:
    """l = sum log(1 + exp(x)) + sum tanh(x[1:] * x[:-1]): tridiagonal Hessian, O(n)."""
    return xp.sum(xp.log(1 + xp.exp(x))) + xp.sum(xp.tanh(x[1:] * x[:-1]))


def scale_case(n: int) -> Any:
    """coupled_chain as a registry Case with n inputs in [-1, 1] (not registered: the default
    run stays small)."""
    from harness.registry import Case, array

    return Case(
        name="coupled_chain",
        fn=coupled_chain,
        family="scale",
        inputs={"x": array(n)},
        doc=(coupled_chain.__doc__ or "").strip(),
    )


def problem(n: int) -> Any:
    from harness.problem import make_problem

    return make_problem(scale_case(n), 0, "float64")


# -- one measurement, in its own process --------------------------------------------------------
def _status_mb(field: str) -> float:
    """VmRSS or VmHWM of this process, in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> float:
    """Reset the peak resident set to the current one; returns the current one (MiB)."""
    # On an older kernel or without permission the peak then includes the warm-up's.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def fd_curvature(p: Any) -> tuple[float, float]:
    """w^T H w = d^2/dt^2 s(x + t w) at t = 0, s = <u, f>, from values only, with scipy's error
    estimate; the case is evaluated FD_CHUNK points at a time (memory a few times n)."""
    from scipy import differentiate

    from harness.backends.fd_batch import Points

    pts, x0, w = Points(p), p.flatten(p.args), p.direction
    u = np.ravel(p.cotangent)

    def g(t: np.ndarray) -> np.ndarray:
        flat = np.ravel(t)
        out = np.empty(flat.shape)
        for i in range(0, flat.size, FD_CHUNK):
            ts = flat[i : i + FD_CHUNK]
            out[i : i + FD_CHUNK] = u @ pts.many(x0[:, None] + w[:, None] * ts[None, :])
        return out.reshape(np.shape(t))

    def dg(t: np.ndarray) -> np.ndarray:
        return differentiate.derivative(g, t, initial_step=FD_INITIAL_STEP).df

    r = differentiate.derivative(dg, np.zeros(()), initial_step=FD_INITIAL_STEP)
    return float(r.df), float(r.error)


def child(backend: str, n: int, out: Path) -> dict[str, Any]:
    """Import and warm up `backend` at n = 100, then time its second-order quantity at n."""
    from harness import backends

    be = None if backend == "fd" else backends.get(backend)
    if be is not None and (why := be.available()):
        return {"backend": backend, "n": n, "skipped": why}

    def quantity(p: Any) -> Any:
        return fd_curvature(p) if be is None else be.compute("hvp", p)

    quantity(problem(100))
    base = _reset_peak()
    p = problem(n)
    before = dict(getattr(be, "timings", {}))
    t0 = time.perf_counter()
    got = quantity(p)
    secs = time.perf_counter() - t0
    rec: dict[str, Any] = {"backend": backend, "n": n, "seconds": secs}
    for k, v in getattr(be, "timings", {}).items():  # jax: trace and compile, inside `seconds`
        if k.endswith("_s"):
            rec[k.replace("_s", "_seconds")] = v - before.get(k, 0.0)
    if be is None:
        rec["curvature"], rec["curvature_error"] = got
    else:
        hv = np.asarray(got, dtype=np.float64)
        np.save(out / f"{backend}-{n}.npy", hv)
        rec["curvature"] = float(p.direction @ hv)
    rec["peak_rss_mb"] = _status_mb("VmHWM")
    rec["growth_mb"] = max(rec["peak_rss_mb"] - base, 0.0)
    return rec


def _run_child(backend: str, n: int, out: Path, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.bench_scale", "--child", backend, str(n), str(out)]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"backend": backend, "n": n, "skipped": f"over {timeout:g} s"}
    if done.returncode != 0:
        return {"backend": backend, "n": n, "skipped": done.stderr.strip()[-300:]}
    rec = json.loads(done.stdout.strip().splitlines()[-1])
    rec["process_s"] = time.perf_counter() - t0
    return rec


# -- the table ---------------------------------------------------------------------------------
def judge(recs: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """Add the agreement columns to one n's records: HVPs against jax's, curvatures against fd."""
    from harness.tolerances import Tol

    tol = Tol.lookup("float64", "hvp")
    by = {r["backend"]: r for r in recs if "seconds" in r}
    n = recs[0]["n"]
    ref_path = out / f"jax-{n}.npy"
    ref = np.load(ref_path) if ref_path.exists() else None
    fd = by.get("fd")
    for r in recs:
        r["bytes_per_input"] = r.get("growth_mb", np.nan) * 2**20 / n
        checks = []
        if ref is not None and r["backend"] in HVP_BACKENDS and "seconds" in r:
            hv = np.load(out / f"{r['backend']}-{n}.npy")
            scale = max(1.0, float(np.max(np.abs(ref))))
            diff = np.abs(hv - ref)
            r["max_abs_diff_vs_jax"] = float(np.max(diff))
            r["tol"] = tol.atol * scale
            checks.append(bool(np.all(diff <= tol.atol * scale + tol.rtol * np.abs(ref))))
        if fd is not None and "curvature" in r and r is not fd:
            c = fd["curvature"]
            r["vs_fd_err"] = abs(r["curvature"] - c)
            r["vs_fd_tol"] = tol.atol * max(1.0, abs(c)) + tol.rtol * abs(c)
            r["vs_fd_tol"] += 10 * fd["curvature_error"]
            checks.append(r["vs_fd_err"] <= r["vs_fd_tol"])
        r["agrees"] = all(checks) if checks else np.nan
    return recs


def run(sizes: tuple[int, ...] = SIZES, timeout: float = 300.0) -> pd.DataFrame:
    """One row per n and backend, and a `check` row per n: the whole check's seconds (the sum of
    the backends' compute times) and the largest growth in memory."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for n in sizes:
            recs = [_run_child(b, n, out, timeout) for b in (*HVP_BACKENDS, "fd")]
            recs = judge(recs, out)
            rows += recs
            done = [r for r in recs if "seconds" in r]
            rows.append({
                "n": n, "backend": "check (all)",
                "seconds": sum(r["seconds"] for r in done),
                "growth_mb": max((r["growth_mb"] for r in done), default=np.nan),
                "agrees": all(bool(r.get("agrees", True)) for r in done) and len(done) == 4,
            })  # fmt: skip
            for f in out.glob("*.npy"):
                f.unlink()
    df = pd.DataFrame(rows)
    extra = [c for c in df.columns if c not in COLUMNS]
    return df.reindex(columns=[*COLUMNS, *extra])


def write(df: pd.DataFrame, path: Path = BENCH_DIR / "scale.csv") -> Path:
    return write_table(df, path)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))))
    else:
        table = run()
        path = write(table)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        print(f"wrote {path}")
