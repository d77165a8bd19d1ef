"""Scale, correctness only (timings live in benchmarks/): second order through HVPs and fd's
curvature along a direction, dense quantities refused with their limit named, and fd's batched
evaluation equal to the point-by-point one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_scale
from harness import backends
from harness.backends import fd_batch
from harness.backends.base import Unsupported
from harness.backends.fd import VECTOR_LIMIT, FiniteDifferences
from harness.library import load_cases
from harness.problem import make_problem
from harness.registry import DENSE_LIMIT
from harness.runner import Runner
from harness.tolerances import Tol

pytest.importorskip("torch")
pytest.importorskip("jax")


def test_hvps_agree_and_match_fd_curvature_along_the_direction():
    p = bench_scale.problem(2000)
    tol = Tol.lookup("float64", "hvp")
    hv = {b: np.asarray(backends.get(b).compute("hvp", p)) for b in bench_scale.HVP_BACKENDS}
    ref = hv["jax"]
    for b, v in hv.items():
        assert v.shape == (2000,) and v.dtype == np.float64, b
        np.testing.assert_allclose(v, ref, rtol=tol.rtol, atol=tol.atol, err_msg=b)
    curvature, error = bench_scale.fd_curvature(p)
    assert 0 < error < tol.rtol * abs(curvature)
    for b, v in hv.items():
        assert abs(p.direction @ v - curvature) <= tol.rtol * abs(curvature) + 10 * error, b


def test_the_scale_table_judges_a_wrong_hvp(tmp_path):
    p = bench_scale.problem(300)
    good = np.asarray(backends.get("jax").compute("hvp", p))
    np.save(tmp_path / "jax-300.npy", good)
    np.save(tmp_path / "torch-300.npy", good * (1 + 1e-3))
    curvature, error = bench_scale.fd_curvature(p)
    recs = [
        {"backend": "jax", "n": 300, "seconds": 0, "curvature": float(p.direction @ good)},
        {"backend": "torch", "n": 300, "seconds": 0, "curvature": float(p.direction @ good)},
        {"backend": "fd", "n": 300, "seconds": 0, "curvature": curvature,
         "curvature_error": error},
    ]  # fmt: skip
    judged = {r["backend"]: r for r in bench_scale.judge(recs, tmp_path)}
    assert judged["jax"]["agrees"] is True
    assert judged["torch"]["agrees"] is False


@pytest.mark.parametrize("q", ["hessian", "jacobian"])
def test_dense_quantities_above_the_limit_are_refused_naming_it(q):
    case = bench_scale.scale_case(DENSE_LIMIT + 1)
    rows, _ = Runner(["inhouse", "jax", "fd"]).run_case(case, ["float64"], [q])
    assert rows and {r["verdict"] for r in rows} == {"skipped"}
    rows_of = 1 if q == "jacobian" else DENSE_LIMIT + 1  # the case has one output
    for r in rows:
        assert f"limited to {DENSE_LIMIT} per side" in r["reason"], r["reason"]
        assert f"needs {rows_of} x {DENSE_LIMIT + 1}" in r["reason"]
        assert "DENSE_LIMIT" in r["reason"]


def test_fd_refuses_vector_quantities_it_cannot_afford():
    p = bench_scale.problem(VECTOR_LIMIT + 1)
    for q in ("grad", "hvp", "jacobian"):
        with pytest.raises(Unsupported, match=f"limited to {VECTOR_LIMIT} inputs"):
            FiniteDifferences().compute(q, p)
    assert FiniteDifferences().compute("jvp", p).value.shape == ()


def test_one_scale_measurement_in_its_own_process(tmp_path):
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "benchmarks.bench_scale", "--child", "inhouse", "1000",
           str(tmp_path)]  # fmt: skip
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rec = json.loads(done.stdout.strip().splitlines()[-1])
    assert rec["seconds"] > 0 and rec["growth_mb"] >= 0 and rec["peak_rss_mb"] > 0
    assert np.load(tmp_path / "inhouse-1000.npy").shape == (1000,)


# -- fd's batched evaluation: every registry case, batched, equals the point-by-point loop --
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batched_evaluation_equals_the_loop_on_every_case(dtype):
    rng = np.random.default_rng(0)
    fell_back = []
    for case in load_cases().values():
        if dtype not in case.dtypes:
            continue
        p = make_problem(case, 0, dtype)
        pts = fd_batch.Points(p)
        x = p.flatten(p.args)[:, None] + 1e-3 * rng.standard_normal((p.n, 7)).astype(dtype)
        x = x.astype(dtype)
        with np.errstate(all="ignore"):  # some edge cases leave their domain: NaN on both sides
            got = pts.many(x)
            loop = np.stack([pts.one(x[:, k]) for k in range(7)], axis=-1)
        tol = Tol.lookup(dtype, "value")
        np.testing.assert_allclose(got, loop, rtol=tol.rtol, atol=0, err_msg=case.name)
        if not pts.batched:
            fell_back.append(case.name)
    assert not fell_back, f"cases the batched namespace cannot express: {fell_back}"


def test_a_case_batching_gets_wrong_falls_back_to_the_loop():
    case = load_cases()["two_paths_vector"]
    p = make_problem(case, 0, "float64")

    def reads_its_shape(xp, x):  # x.shape is the batch's shape when batched: wrong rows
        return x * x.shape[0]

    p.fn = reads_its_shape
    pts = fd_batch.Points(p)
    x = np.random.default_rng(1).standard_normal((p.n, 9))
    np.testing.assert_array_equal(pts.many(x), x * p.n)
    assert not pts.batched


def test_many_points_are_evaluated_in_chunks(monkeypatch):
    p = make_problem(load_cases()["softmax_batched_axis1"], 0, "float64")
    x = np.random.default_rng(2).standard_normal((p.n, 50))
    whole = fd_batch.Points(p).many(x)
    monkeypatch.setattr(fd_batch, "MAX_ELEMENTS", 3 * p.n)
    tol = Tol.lookup("float64", "value")
    np.testing.assert_allclose(fd_batch.Points(p).many(x), whole, rtol=tol.rtol)


def test_the_objectives_table_has_a_row_per_case_with_the_time_per_backend():
    from benchmarks import bench_objectives

    df = bench_objectives.run(("kmeans_k3_d2",))
    assert list(df.columns) == bench_objectives.COLUMNS
    (row,) = df.to_dict("records")
    assert row["case"] == "kmeans_k3_d2" and row["unexpected"] == 0
    assert row["first_s"] > 0 and row["inhouse_s"] > 0 and row["jax_s"] > 0
    assert row["dense"] != "refused" and "pass" in row["fd_grad_hvp"]  # 6 inputs: all formed
