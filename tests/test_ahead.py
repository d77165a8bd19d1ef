"""Backends that prepare ahead: jax compiles a case's programs (one per dtype) on a thread of
its own while the other backends compute, and the runner asks for its cells last; the reports
keep backend order, and a program that fails costs only its own cells."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from harness.backends import get, jax_programs
from harness.backends.inhouse import InHouse
from harness.library import load_cases
from harness.registry import Case, scalar
from harness.runner import Runner

DTYPES = ("float64", "float32")
QUANTITIES = ("value", "grad", "jvp", "hvp")


class Logged(InHouse):
    """The in-house engine, writing each cell it computes into a shared log."""

    log: list[str]

    def compute(self, quantity, p):
        self.log.append(self.name)
        return super().compute(quantity, p)


def _logged(name: str, log: list[str], ahead: bool) -> InHouse:
    cls = type(name, (Logged,), {"name": name, "prepares_ahead": ahead, "log": log})
    return cls()


def test_a_backend_that_prepares_ahead_is_asked_last_and_rows_keep_backend_order():
    log: list[str] = []
    backends = {"ahead": _logged("ahead", log, True), "early": _logged("early", log, False),
                "fd": get("fd")}  # fmt: skip
    rows, _ = Runner(backends, seed=0).run_case(load_cases()["two_paths"], DTYPES, QUANTITIES)
    assert log.count("ahead") == log.count("early") == len(DTYPES) * len(QUANTITIES)
    assert log.index("ahead") > max(i for i, name in enumerate(log) if name == "early")
    groups: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        groups.setdefault((r["quantity"], r["dtype"]), []).append(r["backend"])
    assert set(groups) == {(q, d) for q in QUANTITIES for d in DTYPES}
    # fd computes in float64 only (its results are borrowed by the float32 groups)
    want = {"float64": ["ahead", "early", "fd"], "float32": ["ahead", "early"]}
    assert all(names == want[d] for (_, d), names in groups.items()), groups
    assert {r["verdict"] for r in rows} == {"pass"}


@pytest.fixture
def jax_backend():
    pytest.importorskip("jax")
    return get("jax")


def test_jax_compiles_a_program_per_dtype_on_a_thread_of_its_own(
    jax_backend, cache_folder, monkeypatch
):
    threads: list[str] = []
    compile_and_keep = jax_programs.compile_and_keep

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return compile_and_keep(*args, **kwargs)

    monkeypatch.setattr(jax_programs, "compile_and_keep", spy)
    runner = Runner({"jax": jax_backend, "fd": get("fd")}, seed=0)
    rows, _ = runner.run_case(load_cases()["softmax_1d"], DTYPES, QUANTITIES)
    # one program per dtype (every quantity in it), none compiled on the caller's thread
    assert threads == ["harness-jax-compile"] * len(DTYPES)
    assert jax_backend.timings["programs"] == len(DTYPES)
    assert {r["verdict"] for r in rows if r["backend"] == "jax"} == {"pass"}
    again, _ = runner.run_case(load_cases()["softmax_1d"], DTYPES, QUANTITIES)
    assert len(threads) == len(DTYPES)  # reused: nothing compiled again
    assert [r["verdict"] for r in again] == [r["verdict"] for r in rows]


def _jax_float32_refuses(xp, x):
    if type(xp).__name__ == "JaxNamespace" and np.dtype(xp.dtype) == np.float32:
        raise ValueError("this case refuses jax in float32")
    return xp.sin(x) * x


def test_a_dtype_the_program_cannot_trace_fails_only_its_own_cells(jax_backend, cache_folder):
    doc = "x sin x, which jax may not trace in float32."
    case = Case(name="refuses_f32", fn=_jax_float32_refuses, family="t",
                inputs={"x": scalar()}, doc=doc)  # fmt: skip
    rows, _ = Runner({"jax": jax_backend, "fd": get("fd")}, seed=0).run_case(
        case, DTYPES, QUANTITIES
    )
    mine = {(r["quantity"], r["dtype"]): r for r in rows if r["backend"] == "jax"}
    assert len(mine) == len(DTYPES) * len(QUANTITIES)
    for (q, d), r in mine.items():
        if d == "float64":
            assert r["verdict"] == "pass", (q, r["reason"])
        else:
            assert r["verdict"] == "error" and "refuses jax in float32" in r["reason"], (q, r)


def test_a_compilation_past_the_cell_limit_times_out_one_cell_and_the_next_waits_for_it(
    jax_backend, cache_folder, monkeypatch
):
    """The first float64 cell times out waiting; the compilation, held until then, is not
    started again: the next cell waits for the same one and every later cell passes."""
    from harness.interrupt import CellTimeout

    timed_out = threading.Event()
    compiled: list[str] = []
    compile_and_keep = jax_programs.compile_and_keep

    def held(*args, **kwargs):
        compiled.append(threading.current_thread().name)
        assert timed_out.wait(30)
        return compile_and_keep(*args, **kwargs)

    compute = type(jax_backend).compute

    def noting(self, quantity, p):
        try:
            return compute(self, quantity, p)
        except CellTimeout:
            timed_out.set()
            raise

    monkeypatch.setattr(jax_programs, "compile_and_keep", held)
    monkeypatch.setattr(type(jax_backend), "compute", noting)
    runner = Runner({"jax": jax_backend, "fd": get("fd")}, seed=0, cell_timeout=1.0)
    rows, _ = runner.run_case(load_cases()["two_paths"], DTYPES, QUANTITIES)
    mine = {(r["quantity"], r["dtype"]): r for r in rows if r["backend"] == "jax"}
    assert compiled == ["harness-jax-compile"] * len(DTYPES)
    first = mine.pop(("value", "float64"))
    assert first["verdict"] == "error" and "timed out after 1 s" in first["reason"]
    assert {r["verdict"] for r in mine.values()} == {"pass"}, mine
