"""Oracle results are computed once per problem and recalled (harness.memo): in the process for
every case, across runs for the registry's own; never for a backend under test, a replaced
method, or an error."""

from __future__ import annotations

import numpy as np
import pandas as pd

import harness.runner as runner_module
from harness import cache, memo
from harness.backends.fd import FiniteDifferences
from harness.library import load_cases
from harness.registry import Case, scalar
from harness.runner import Runner

DTYPES = ("float64", "float32")
QS = ("value", "grad", "jvp", "hvp")


def _run(backends=("inhouse", "fd", "mp"), case: str = "softmax_1d"):
    r = Runner(list(backends), seed=0)
    rows, _ = r.run_case(load_cases()[case], DTYPES, QS)
    return r, rows


def test_a_second_runner_recalls_every_oracle_cell_and_judges_the_same(cache_folder):
    first, rows1 = _run()
    fd_cells = sum(1 for row in rows1 if row["backend"] == "fd")
    assert fd_cells > 0 and not first.memo.recalled
    second, rows2 = _run()
    # every fd cell came from the cache, none was computed; the engine under test was
    assert second.memo.recalled["fd"] == fd_cells
    assert "fd" not in second.timings and second.timings["inhouse"] > 0
    assert pd.DataFrame(rows1).equals(pd.DataFrame(rows2))  # NaN slopes equal too


def test_within_a_process_a_rerun_recalls_without_the_project_cache(monkeypatch):
    monkeypatch.setenv(cache.ENV, "off")
    cache.root.cache_clear()
    try:
        r = Runner(["inhouse", "fd"], seed=0)
        case = load_cases()["two_paths"]
        r.run_case(case, DTYPES, QS)
        computed = r.timings["fd"]
        r.run_case(case, DTYPES, QS)
        assert r.memo.recalled["fd"] > 0 and r.timings["fd"] == computed
    finally:
        cache.root.cache_clear()


def test_a_replaced_oracle_method_is_computed_not_recalled(cache_folder, monkeypatch):
    _run()  # warm: fd's right gradients are in the cache
    monkeypatch.setattr(FiniteDifferences, "grad", lambda self, p: np.full(p.n, 7.0))
    r, rows = _run()
    grad = next(row for row in rows if row["backend"] == "fd" and row["quantity"] == "grad")
    assert grad["verdict"] == "fail" and grad["blame"] == "fd"
    assert r.memo.recalled["fd"] > 0  # its other quantities still were


def _quadratic(xp, x):
    return xp.sum(x * x)


def test_a_case_outside_the_package_is_recalled_in_the_process_only(cache_folder):
    case = Case("memo_quadratic", _quadratic, "tests", {"x": scalar(0.5, 1.5)}, "sum(x * x)")
    r = Runner(["inhouse", "fd"], seed=0)
    r.run_case(case, ["float64"], ["grad"])
    r.run_case(case, ["float64"], ["grad"])
    assert r.memo.recalled["fd"] == 1
    assert not any(path.is_file() for path in cache_folder.rglob("*"))  # nothing on disk for it
    again = Runner(["inhouse", "fd"], seed=0)
    again.run_case(case, ["float64"], ["grad"])
    assert not again.memo.recalled


def test_errors_are_not_kept_and_other_inputs_miss(cache_folder):
    from harness.execute import Outcome
    from harness.memo import OracleMemo
    from harness.problem import make_problem

    case = load_cases()["two_paths"]
    fd, memo = FiniteDifferences(), OracleMemo()
    p = make_problem(case, 0, "float64")
    memo.keep("fd", fd, "grad", p, Outcome("fd", "float64", "error", reason="it raised"))
    assert memo.recall("fd", fd, "grad", p) is None
    memo.keep("fd", fd, "grad", p, Outcome("fd", "float64", "ok", np.ones(1)))
    assert memo.recall("fd", fd, "grad", p).value.tolist() == [1.0]
    assert memo.recall("fd", fd, "grad", make_problem(case, 1, "float64")) is None
    assert memo.recall("fd", fd, "jvp", p) is None


def test_backends_under_test_are_never_recalled(cache_folder):
    _run()
    second, _ = _run()
    assert set(second.memo.recalled) <= {"fd", "mp"}
    assert second.timings["inhouse"] > 0


def test_the_taylor_line_is_computed_once_per_point_and_the_same_when_recalled(monkeypatch):
    calls = []
    real = runner_module.taylor_line
    monkeypatch.setattr(runner_module, "taylor_line", lambda p: calls.append(p) or real(p))
    r = Runner(["inhouse", "torch"], seed=0)
    case = load_cases()["two_paths"]
    first, _ = r.run_case(case, ["float64"], ["grad"])
    assert len(calls) == 1
    again, _ = r.run_case(case, ["float64"], ["grad"])  # the same point: recalled
    assert len(calls) == 1
    assert pd.DataFrame(first).equals(pd.DataFrame(again))
    r.seed = 1
    r.run_case(case, ["float64"], ["grad"])
    assert len(calls) == 2  # another seed, another point: computed
    r.seed = 0
    r.run_case(case, ["float32"], ["grad"])  # float32 inputs: their own line
    assert len(calls) == 3


def test_derived_values_are_kept_up_to_their_limit_oldest_forgotten_first(monkeypatch):
    monkeypatch.setattr(memo, "DERIVED_KEPT", 2)
    m = memo.OracleMemo()
    made = []
    for key in ("a", "b", "a", "c", "b", "a"):
        m.derived(key, lambda k=key: made.append(k) or k.upper())
    # a, b made; a recalled; c made and a forgotten (the oldest); b recalled; a made again
    assert made == ["a", "b", "c", "a"]
    assert m.derived("c", lambda: "new") == "C"
