"""The pure judge, fed hand-made outcomes: no backend is called anywhere in this file."""

import numpy as np
import pytest

from harness.backends.base import Traits
from harness.execute import Outcome
from harness.judge.group import Evidence, judge_group
from harness.problem import make_problem
from harness.registry import Case, array, expect
from harness.tolerances import Tol


def _square(xp, x):
    return x * x


CASE = Case("square", _square, "test", {"x": array(3, low=0.5, high=2.0)}, "y = x²")
VOTER, NON_VOTER = Traits(), Traits(votes=False)
ORACLE = Traits(oracle=True, reference_rank=0)


def problem(dtype="float64"):
    return make_problem(CASE, 0, dtype)


def right(p, q="grad"):
    """The true quantity, computed by hand: grad of <u, x²> is 2·u·x."""
    x = p.args["x"].astype(np.float64)
    return {"value": x * x, "grad": 2 * p.cotangent * x}[q]


def ok(name, value, dtype="float64"):
    return Outcome(name, dtype, "ok", np.asarray(value, dtype=dtype))


def judge(p, outcomes, q="grad", borrowed=(), **evidence):
    outs = {o.backend: o for o in outcomes}
    borrowed = {o.backend: o for o in borrowed}
    given = evidence.pop("traits", {})
    traits = {k: given.get(k, VOTER) for k in [*outs, *borrowed]}
    return judge_group(CASE, q, p, outs, borrowed, Evidence(traits=traits, **evidence))


def by_backend(judged):
    return {r["backend"]: r for r in judged.rows}


def test_the_backend_outside_the_consensus_is_blamed_with_the_values_in_its_reason():
    p = problem()
    good = right(p)
    bad = good.copy()
    bad[1] *= 1.5
    rows = by_backend(judge(p, [ok("a", good), ok("b", good), ok("c", bad)]))
    assert {b: r["verdict"] for b, r in rows.items()} == {"a": "pass", "b": "pass", "c": "fail"}
    assert rows["c"]["blame"] == "c" and rows["a"]["blame"] == "none"
    reason = rows["c"]["reason"]
    assert "x[1]" in reason and f"{bad[1]:.9g}" in reason and f"{good[1]:.9g}" in reason
    assert rows["c"]["worst_index"] == "x[1]"
    bound = Tol.lookup("float64", "grad")
    assert rows["c"]["max_abs_err"] > bound.atol


def test_worst_elements_are_recorded_for_a_failing_cell_only():
    p = problem()
    good = right(p)
    judged = judge(p, [ok("a", good), ok("b", good), ok("c", -good)])
    assert {e["backend"] for e in judged.elements} == {"c"}
    assert len(judged.elements) == p.n  # every element is wrong; fewer than the cap of five


def test_a_declared_backend_is_judged_not_trusted():
    p = problem()
    good = right(p)
    declared = {"c": expect("c", "grad", "known to differ")}
    outs = [ok("a", good), ok("b", good), ok("c", 2 * good), ok("d", 2 * good), ok("e", 2 * good)]
    declared.update(d=declared["c"], e=declared["c"])
    rows = by_backend(judge(p, outs, declared=declared))
    assert rows["c"]["verdict"] == "expected_fail" and rows["c"]["blame"] == "c"
    assert rows["c"]["reason"].startswith("known to differ")
    # three declared backends agreeing among themselves did not outvote the two others
    assert rows["a"]["verdict"] == "pass" and rows["a"]["reference"] == "b"


def test_a_non_voter_cannot_outvote_the_consensus():
    p = problem()
    good = right(p)
    traits = {"n1": NON_VOTER, "n2": NON_VOTER}
    outs = [ok("a", good), ok("b", good), ok("n1", 3 * good), ok("n2", 3 * good)]
    outs.append(ok("n3", 3 * good))
    traits["n3"] = NON_VOTER
    rows = by_backend(judge(p, outs, traits=traits))
    assert rows["a"]["verdict"] == "pass"
    assert rows["n1"]["verdict"] == "fail" and rows["n1"]["blame"] == "n1"


def test_a_lower_dtype_row_is_judged_against_the_borrowed_oracle():
    p32 = problem("float32")
    good = right(p32)
    borrowed = [ok("fd@float64", good, "float64")]
    traits = {"fd@float64": ORACLE}
    rows = by_backend(judge(p32, [ok("t", good, "float32")], borrowed=borrowed, traits=traits))
    assert rows["t"]["verdict"] == "pass"
    assert rows["t"]["reference"] == "fd" and rows["t"]["reference_dtype"] == "float64"
    assert "fd@float64" not in rows  # borrowed results get no row of their own


def test_an_element_no_backend_gives_finite_is_the_cases_fault():
    p = problem()
    nan = np.full(p.n, np.nan)
    rows = judge(p, [ok("a", nan), ok("b", nan)]).rows
    assert {r["verdict"] for r in rows} == {"error"}
    assert all("not differentiable at its inputs" in r["reason"] for r in rows)


def test_non_finite_where_the_reference_is_finite_is_an_error():
    p = problem()
    good = right(p)
    bad = good.copy()
    bad[0] = np.inf
    rows = by_backend(judge(p, [ok("a", good), ok("b", good), ok("c", bad)]))
    assert rows["c"]["verdict"] == "error" and "non-finite" in rows["c"]["reason"]


def test_a_lone_backend_has_nothing_to_compare_with():
    rows = judge(problem(), [ok("a", right(problem()))]).rows
    assert rows[0]["verdict"] == "skipped"


@pytest.mark.parametrize("probe_value", [0.0, 1.0])
def test_the_vacuous_check_needs_a_nonzero_probe(probe_value):
    p = problem()
    zero = np.zeros(p.n)
    probes = {k: ok(k, np.full(p.n, probe_value)) for k in "ab"}
    rows = by_backend(judge(p, [ok("a", zero), ok("b", zero)], probes=probes))
    want = "vacuous" if probe_value else "pass"
    assert rows["b"]["verdict"] == want


def test_failed_outcomes_keep_their_own_status_and_reason():
    p = problem()
    good = right(p)
    broken = Outcome("c", "float64", "error", reason="ValueError: boom")
    rows = by_backend(judge(p, [ok("a", good), ok("b", good), broken]))
    assert rows["c"]["verdict"] == "error" and rows["c"]["reason"] == "ValueError: boom"
