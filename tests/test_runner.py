"""The runner end to end on the seed cases, with planted faults isolated to their own cells."""

import numpy as np
import pytest

from harness.library import load_cases
from harness.problem import make_problem
from harness.results import SUMMARY_COLUMNS
from harness.runner import Runner

pytest.importorskip("torch")


def run(backends, cases=("two_paths", "softmax_1d"), quantities=("value", "grad", "hvp")):
    reg = load_cases()
    return Runner(backends, seed=0).run([reg[c] for c in cases], ["float64"], quantities)


def test_inputs_and_probes_are_seeded_and_float32_exact():
    case = load_cases()["softmax_batched_axis0"]
    a = make_problem(case, 3, "float64")
    b = make_problem(case, 3, "float64")
    c = make_problem(case, 4, "float64")
    assert np.array_equal(a.args["x"], b.args["x"]) and np.array_equal(a.cotangent, b.cotangent)
    assert not np.array_equal(a.args["x"], c.args["x"])
    assert np.array_equal(a.args["x"].astype(np.float32).astype(np.float64), a.args["x"])
    assert make_problem(case, 3, "float32").args["x"].dtype == np.float32


def test_a_planted_sign_error_is_failed_and_blamed(planted):
    name = planted("sign")
    res = run(["torch", "jax", "fd", "mp", name]).summary
    assert list(res.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    grad = res[(res.backend == name) & (res.quantity == "grad")]
    assert set(grad.verdict) == {"fail"} and set(grad.blame) == {name}
    assert all(name in r and "VJP" in r for r in grad.reason)
    others = res[(res.backend != name)]
    assert set(others.verdict) <= {"pass", "skipped"}
    assert set(res[(res.backend == name) & (res.quantity != "grad")].verdict) == {"pass"}


def test_a_missing_backend_is_skipped_with_a_reason(monkeypatch):
    from harness import backends

    monkeypatch.setitem(backends.BUILTIN, "ghost", "harness.backends.no_such_module:Ghost")
    res = run(["torch", "fd", "ghost"]).summary
    ghost = res[res.backend == "ghost"]
    assert len(ghost) and set(ghost.verdict) == {"skipped"}
    assert set(res[res.backend != "ghost"].verdict) <= {"pass", "skipped"}
