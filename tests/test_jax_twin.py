"""The JAX twin (harness.backends.jax_twin): a second process computing every program of a case
but the first. Its results are the harness process's own, bit for bit; whatever it cannot do
(a case that does not travel, a function replaced here, a death, an order it cannot rebuild)
is computed here as if there were no twin."""

from __future__ import annotations

import sys
import time
import types

import numpy as np
import pytest

from harness.backends import get, jax_backend, jax_twin
from harness.library import load_cases
from harness.problem import make_problem
from harness.registry import Case, array, scalar
from harness.runner import Runner
from tests.rows import assert_same_rows

pytest.importorskip("jax")

DTYPES = ("float64", "float32")
QUANTITIES = ("value", "grad", "jvp", "hvp")
CASES = ("two_paths", "softmax_batched_axis1", "mlp_tanh_cross_entropy", "attention")


@pytest.fixture
def twin(cache_folder, monkeypatch):
    """A twin of this test's own, started and ready (the process's own one is left alone),
    with an empty project cache: every program is traced and compiled."""
    monkeypatch.delenv(jax_twin.ENV, raising=False)
    tw = jax_twin.Twin()
    tw.start(jax_backend.Jax)
    deadline = time.monotonic() + 120
    while not tw.ready():
        assert tw.dead is None, tw.dead
        assert time.monotonic() < deadline, "the twin did not start within 120 s"
        time.sleep(0.05)
    monkeypatch.setattr(jax_twin, "_twin", [tw])
    yield tw
    tw.close()


def _run(case, dtypes=DTYPES, quantities=QUANTITIES, **backends):
    backends = backends or {"jax": get("jax"), "fd": get("fd")}
    runner = Runner(backends, seed=0)
    rows, elems = runner.run_case(case, dtypes, quantities)
    return runner, rows, elems


@pytest.mark.parametrize("name", CASES)
def test_the_twin_computes_the_second_dtype_and_every_result_is_the_same(twin, monkeypatch, name):
    case = load_cases()[name]
    runner, rows, elems = _run(case)
    jax = runner.backends["jax"]
    assert jax.timings["twin"] == 1  # the float32 program was the twin's
    again = runner.run_case(case, DTYPES, QUANTITIES)
    assert jax.timings["twin"] == 2  # and stays the twin's
    assert twin.dead is None
    monkeypatch.setenv(jax_twin.ENV, "0")
    alone, rows_here, elems_here = _run(case)
    assert "twin" not in alone.backends["jax"].timings
    assert_same_rows(rows, rows_here)
    assert_same_rows(again[0], rows_here)
    assert_same_rows(elems, elems_here)


@pytest.mark.parametrize("name", CASES)
def test_the_twins_arrays_are_this_processs_bit_for_bit(twin, name):
    case = load_cases()[name]
    problems = [make_problem(case, 0, d) for d in DTYPES]
    plan = [(p, list(QUANTITIES)) for p in problems]
    there, here = get("jax"), jax_backend.Jax()
    here._twin_started = lambda: None
    there.prepare(plan)
    here.prepare(plan)
    for p in problems:
        for q in QUANTITIES:
            np.testing.assert_array_equal(there.compute(q, p), here.compute(q, p), strict=True)
    assert there.timings["twin"] == 1 and "twin" not in here.timings
    assert twin.dead is None


def test_low_precision_problems_and_their_perturbed_inputs_travel_together(twin, monkeypatch):
    """Every dtype's program but the first is the twin's (with the moved inputs of the
    sensitivity term, where they run one): the same rows as without it."""
    case = load_cases()["softmax_1d"]
    dtypes = ("float64", "float32", "float16", "bfloat16")
    runner, rows, _ = _run(case, dtypes)
    assert runner.backends["jax"].timings["twin"] >= len(dtypes) - 1
    assert twin.dead is None
    monkeypatch.setenv(jax_twin.ENV, "0")
    assert_same_rows(rows, _run(case, dtypes)[1])


def _refuses_f32(xp, x):
    if type(xp).__name__ == "JaxNamespace" and np.dtype(xp.dtype) == np.float32:
        raise ValueError("this case refuses jax in float32")
    return xp.sin(x) * x


@pytest.fixture
def travelling(monkeypatch):
    """This module's cases go to the twin too (it imports this module by name)."""
    monkeypatch.setattr(jax_twin, "TRAVELLING", ("harness.", "tests."))


def test_a_users_case_module_stays_here(twin):
    """Imported again in the twin, a user's module could hold other module-level state."""
    case = Case(name="twin_users", fn=_refuses_f32, family="t", inputs={"x": scalar()},
                doc="x sin x, which jax may not trace in float32.")  # fmt: skip
    runner, rows, _ = _run(case)
    assert "twin" not in runner.backends["jax"].timings
    assert {r["verdict"] for r in rows if r["dtype"] == "float64"} == {"pass"}
    assert twin.dead is None


def test_a_program_the_twin_cannot_trace_is_computed_here_with_its_own_fault(
    twin, travelling, monkeypatch
):
    case = Case(name="twin_refuses_f32", fn=_refuses_f32, family="t", inputs={"x": scalar()},
                doc="x sin x, which jax may not trace in float32.")  # fmt: skip
    runner, rows, _ = _run(case)
    assert runner.backends["jax"].timings["twin"] == 1  # it was asked, and failed
    mine = {(r["quantity"], r["dtype"]): r for r in rows if r["backend"] == "jax"}
    for (q, d), r in mine.items():
        if d == "float64":
            assert r["verdict"] == "pass", (q, r["reason"])
        else:
            assert r["verdict"] == "error" and "refuses jax in float32" in r["reason"], (q, r)
    monkeypatch.setenv(jax_twin.ENV, "0")
    assert_same_rows(rows, _run(case)[1])


def test_a_case_made_by_a_lambda_stays_here(twin):
    case = Case(name="twin_lambda", fn=lambda xp, x: xp.sum(xp.tanh(x) * x), family="t",
                inputs={"x": array(3)}, doc="sum of x tanh x")  # fmt: skip
    runner, rows, _ = _run(case)
    assert "twin" not in runner.backends["jax"].timings
    assert {r["verdict"] for r in rows} == {"pass"}


def test_a_replaced_function_keeps_the_programs_here(twin, monkeypatch):
    """A monkeypatched helper is what runs: the twin, which would run the original, is not
    asked."""
    lowered: list[str] = []
    lower = jax_backend.lower_inlined

    def spy(jax, fn, args):
        lowered.append(str(args[0].dtype))
        return lower(jax, fn, args)

    monkeypatch.setattr(jax_backend, "lower_inlined", spy)
    runner, rows, _ = _run(load_cases()["two_paths"])
    assert sorted(lowered) == sorted(DTYPES)
    assert "twin" not in runner.backends["jax"].timings
    assert {r["verdict"] for r in rows} == {"pass"}


def test_a_twin_that_dies_with_an_order_out_costs_nothing_but_time(twin, monkeypatch):
    case = load_cases()["softmax_batched_axis1"]
    submit = twin.submit

    def then_die(*args, **kwargs):
        ticket = submit(*args, **kwargs)
        twin._proc.kill()
        return ticket

    monkeypatch.setattr(twin, "submit", then_die)
    runner, rows, _ = _run(case)
    assert twin.dead and "died" in twin.dead and "SIGKILL" in twin.dead
    jax = runner.backends["jax"]
    assert jax.timings["programs"] == len(DTYPES)  # both compiled here in the end
    again = runner.run_case(case, DTYPES, QUANTITIES)[0]  # and afterwards, no twin at all
    monkeypatch.setenv(jax_twin.ENV, "0")
    rows_here = _run(case)[1]
    assert_same_rows(rows, rows_here)
    assert_same_rows(again, rows_here)


def test_an_order_the_twin_cannot_rebuild_is_computed_here(twin, travelling):
    """A function of a module that exists only in this process travels by reference, and the
    twin, unable to import it, says so: the program is then computed here."""
    ghost = types.ModuleType("tests.ghost_of_a_module")
    exec("def f(xp, x):\n    return xp.sum(xp.exp(x) * x)\n", ghost.__dict__)
    sys.modules[ghost.__name__] = ghost
    try:
        case = Case(name="twin_ghost", fn=ghost.f, family="t", inputs={"x": array(3)},
                    doc="sum of x exp x")  # fmt: skip
        problems = [make_problem(case, 0, d) for d in DTYPES]
        be = get("jax")
        plan = [(p, list(QUANTITIES)) for p in problems]
        be.prepare(plan)
        got = {(p.dtype_name, q): be.compute(q, p) for p in problems for q in QUANTITIES}
        assert be.timings["twin"] == 1
        assert be.timings["programs"] == len(DTYPES)  # the twin's one failed: compiled here
        alone = jax_backend.Jax()
        alone._twin_started = lambda: None
        alone.prepare(plan)
        for p in problems:
            for q in QUANTITIES:
                np.testing.assert_array_equal(got[p.dtype_name, q], alone.compute(q, p),
                                              strict=True)  # fmt: skip
    finally:
        del sys.modules[ghost.__name__]


def test_the_twin_is_off_where_it_is_not_wanted(monkeypatch):
    monkeypatch.setenv(jax_twin.ENV, "0")
    assert jax_twin.get(jax_backend.Jax) is None
    monkeypatch.delenv(jax_twin.ENV)
    monkeypatch.setattr(jax_twin.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(jax_twin.os, "cpu_count", lambda: 1)
    assert not jax_twin.wanted()  # one core to run on: no twin


def test_the_parallel_executors_workers_start_no_twin():
    from harness.executors import WORKER_ENV

    assert WORKER_ENV[jax_twin.ENV] == "0"


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # the fork never touches JAX
def test_a_fork_starts_a_twin_of_its_own_and_leaves_its_parents_alone(twin):
    import os
    import select
    import signal

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the fork: a new twin for itself, and the parent's untouched at its exit
        try:
            os.close(read)
            mine = jax_twin.get(jax_backend.Jax)
            os.write(write, b"1" if mine is not twin and mine.pid == os.getpid() else b"0")
            mine.close()
        finally:
            os._exit(0)
    os.close(write)
    if not select.select([read], [], [], 60)[0]:  # a fork that hangs fails, never blocks
        os.kill(pid, signal.SIGKILL)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    os.close(read)
    assert not twin.dead and twin._proc.poll() is None
    runner, _, _ = _run(load_cases()["two_paths"])
    assert runner.backends["jax"].timings["twin"] == 1
