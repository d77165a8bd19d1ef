"""Third order along a direction (d3) and the self-checks (adjoint, symmetry), issue 16."""

import numpy as np
import pytest

from harness.backends.fd import FiniteDifferences
from harness.backends.inhouse import InHouse
from harness.execute import Outcome
from harness.judge.selfcheck import judge_self_checks, pair
from harness.library import load_cases
from harness.mutants import MUTANTS, installed
from harness.problem import make_problem
from harness.registry import Case, array, expect
from harness.runner import Runner
from harness.tolerances import Tol
from harness.vocabulary import ORDER, QUANTITY

MUTANT = {m.name: m for m in MUTANTS}
ALARMS = {"fail", "error", "unexpected_pass"}


def _sin_times_exp(xp, x, y):
    return xp.sin(x) * xp.exp(y)


CASE = Case(
    "sin_times_exp", _sin_times_exp, "test",
    {"x": array(3, low=-1.0, high=1.0), "y": array(3, low=-0.5, high=0.5)},
    "z = sin(x) exp(y)",
)  # fmt: skip


def closed_form_d3(p):
    """d³/dt³ Σ u sin(x + t a) exp(y + t b) at 0, by hand: with s = sin, c = cos and e = exp,
    (d/dt)³ [s(x + ta) e(y + tb)] = e·[-a³ c - 3a²b s + 3ab² c + b³ s]."""
    x, y = (p.args[n].astype(np.float64) for n in ("x", "y"))
    w = p.direction.astype(np.float64)
    a, b = w[:3], w[3:]
    s, c, e = np.sin(x), np.cos(x), np.exp(y)
    return float(np.sum(p.cotangent * e * (-(a**3) * c - 3 * a**2 * b * s + 3 * a * b**2 * c
                                           + b**3 * s)))  # fmt: skip


def rows_by(rows, key=("backend", "quantity", "dtype")):
    return {tuple(r[k] for k in key): r for r in rows}


# -- the table ------------------------------------------------------------------------------


def test_the_three_quantities_are_rows_of_the_table_with_their_orders():
    assert (QUANTITY["d3"].order, QUANTITY["d3"].shape, QUANTITY["d3"].self_check) == (3, (), False)
    assert QUANTITY["adjoint"].self_check and QUANTITY["symmetry"].self_check
    assert (ORDER["adjoint"], ORDER["symmetry"]) == (1, 2)
    for dtype in ("float64", "float32"):
        assert Tol.lookup(dtype, "d3").rtol > Tol.lookup(dtype, "hvp").rtol


# -- d3 on every backend against a closed form ----------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_d3_of_each_backend_matches_the_closed_form(dtype):
    p = make_problem(CASE, 3, dtype)
    want = closed_form_d3(p)
    tol = Tol.lookup(dtype, "d3")
    runner = Runner(["inhouse", "torch", "jax", "fd"])
    for name, be in runner.backends.items():
        if name in runner.missing or not be.applies(CASE, "d3", dtype):
            continue
        got = be.compute("d3", p)
        value = float(np.asarray(getattr(got, "value", got)))
        assert abs(value - want) <= tol.atol * max(1.0, abs(want)) + tol.rtol * abs(want), name
    rows = rows_by(runner.run_case(CASE, [dtype], ["d3"])[0])
    for name in ("inhouse", "torch", "jax"):
        if name not in runner.missing:
            assert rows[name, "d3", dtype]["verdict"] == "pass", rows[name, "d3", dtype]["reason"]


def test_fd_d3_carries_an_error_estimate_that_covers_its_error():
    p = make_problem(CASE, 1, "float64")
    got = FiniteDifferences().d3(p)
    assert abs(float(got.value) - closed_form_d3(p)) <= 10 * float(got.error) + 1e-12


def test_the_naive_backend_has_no_third_order_and_says_why():
    rows = rows_by(Runner(["inhouse", "inhouse-naive"]).run_case(CASE, ["float64"], ["d3"])[0])
    naive = rows["inhouse-naive", "d3", "float64"]
    assert naive["verdict"] == "skipped" and "second-order rule" in naive["reason"]


# -- the self-check judge, from hand-made outcomes ------------------------------------------


def test_a_residual_within_the_bound_passes_and_one_past_it_blames_that_backend_alone():
    p = make_problem(CASE, 0, "float64")
    rtol = Tol.lookup("float64", "adjoint").rtol
    good = pair([1.0, 2.0], [3.0, -1.0], [1.0], [1.0 + rtol / 10])  # <.,.> = 1 both ways
    bad = pair([1.0, 2.0], [3.0, -1.0], [1.0], [1.5])
    tol = Tol.lookup("float64", "adjoint")
    assert bad.scale == 5 and bad.floor == 3 * 3  # Σ|u a|; Σ|u| max(1, max |a|)
    outcomes = {
        "a": Outcome("a", "float64", "ok", np.asarray(good.residual)),
        "b": Outcome("b", "float64", "ok", np.asarray(bad.residual)),
        "c": Outcome("c", "float64", "skipped", reason="adjoint needs c's jvp"),
    }
    rows = rows_by(judge_self_checks(CASE, "adjoint", p, outcomes, {"a": good, "b": bad}, {}),
                   ("backend",))  # fmt: skip
    assert rows[("a",)]["verdict"] == "pass" and rows[("a",)]["blame"] == "none"
    b = rows[("b",)]
    assert b["verdict"] == "fail" and b["blame"] == "b" and b["reference"] == "b"
    # residual |1 - 1.5| relative to the terms' magnitude max(3 + 2, 1.5)
    assert b["max_rel_err"] == pytest.approx(0.5 / 5) and b["tol_rel"] == 0
    assert b["tol_abs"] == pytest.approx(tol.rtol * 5 + tol.atol * 9)
    assert "<u, J v> from its JVP is 1" in b["reason"] and "1.5" in b["reason"]
    assert rows[("c",)]["verdict"] == "skipped" and rows[("c",)]["blame"] == "none"


def test_a_declared_self_check_failure_is_expected_and_its_reason_kept():
    p = make_problem(CASE, 0, "float64")
    bad = pair([1.0], [1.0], [1.0], [2.0])
    declared = {"a": expect("a", "symmetry", reason="known asymmetric")}
    rows = judge_self_checks(CASE, "symmetry", p, {"a": Outcome("a", "float64", "ok",
                             np.asarray(bad.residual))}, {"a": bad}, declared)  # fmt: skip
    assert rows[0]["verdict"] == "expected_fail" and rows[0]["reason"].startswith("known")


def test_the_residual_is_relative_to_the_terms_so_cancellation_is_no_failure():
    # <u, a> = 1e8 - 1e8 + 1: a sum that cancels; a difference of 1e-8 is its rounding
    got = pair([1.0, 1.0, 1.0], [1e8, -1e8, 1.0], [1.0], [1.0 + 1e-8])
    assert got.residual < 1e-15
    assert abs(got.lhs - got.rhs) <= got.bound(Tol.lookup("float64", "adjoint"))


def test_tiny_values_are_held_to_the_tables_absolute_tolerance_per_element():
    # a saturated derivative: both sides ~1e-11 differing by rounding of 1 (2e-16)
    got = pair([1.0], [9.5750e-12], [1.0], [9.5750e-12 + 3e-16])
    assert got.residual > 1e-7  # relative to the terms it looks large,
    assert abs(got.lhs - got.rhs) <= got.bound(Tol.lookup("float64", "adjoint"))  # it is not


# -- planted bugs, caught without any oracle ------------------------------------------------


def test_a_wrong_jvp_rule_is_failed_by_adjoint_on_its_own_backend_with_no_oracle():
    case = load_cases()["quotient"]
    with installed(MUTANT["divide_jvp_sign_b"]):
        rows = rows_by(Runner(["inhouse"]).run_case(case, ["float64", "float32"], ["adjoint"])[0])
    for dtype in ("float64", "float32"):
        row = rows["inhouse", "adjoint", dtype]
        assert row["verdict"] == "fail" and row["blame"] == "inhouse", row
    clean = rows_by(Runner(["inhouse"]).run_case(case, ["float64", "float32"], ["adjoint"])[0])
    assert {r["verdict"] for r in clean.values()} == {"pass"}


class SkewHvp(InHouse):
    """A plugin-style backend whose HVP adds a skew-symmetric part: (H + A) w, A = -Aᵀ."""

    name = "skew"

    def hvp(self, p):
        n = p.n
        skew = np.triu(np.ones((n, n)), 1)
        return super().hvp(p) + ((skew - skew.T) @ p.direction).astype(p.dtype)


def test_symmetry_catches_an_asymmetric_hvp_and_blames_that_backend():
    case = load_cases()["cross_inputs"]
    rows = rows_by(Runner({"skew": SkewHvp(), "inhouse": InHouse()}).run_case(
        case, ["float64"], ["symmetry"])[0])  # fmt: skip
    assert rows["skew", "symmetry", "float64"]["verdict"] == "fail"
    assert rows["skew", "symmetry", "float64"]["blame"] == "skew"
    assert rows["inhouse", "symmetry", "float64"]["verdict"] == "pass"


def test_self_checks_skip_with_the_reason_where_an_input_is_missing():
    class NoJvp(InHouse):
        name = "nojvp"

        def jvp(self, p):
            raise NotImplementedError("no forward mode")

    case = load_cases()["quotient"]
    rows = rows_by(Runner({"nojvp": NoJvp()}).run_case(case, ["float64"], ["adjoint"])[0])
    row = rows["nojvp", "adjoint", "float64"]
    assert row["verdict"] == "skipped" and "jvp is error" in row["reason"]


def test_oracles_get_no_self_check_rows():
    rows = Runner(["inhouse", "fd"]).run_case(load_cases()["quotient"], ["float64"],
                                              ["adjoint", "symmetry"])[0]  # fmt: skip
    assert {r["backend"] for r in rows} == {"inhouse"}


# -- the mutants that only these quantities kill --------------------------------------------


def alarms(mutant, cases, backends=("inhouse", "torch", "jax")):
    """The quantities whose in-house cells alarm under `mutant` but not on the real engine."""

    def run():
        runner = Runner(list(backends))
        found = set()
        for name in cases:
            rows, _ = runner.run_case(load_cases()[name], ["float64", "float32"],
                                      list(QUANTITY))  # fmt: skip
            found |= {(name, r["quantity"], r["dtype"]) for r in rows
                      if r["backend"] == "inhouse" and r["verdict"] in ALARMS}  # fmt: skip
        return found

    clean = run()
    with installed(MUTANT[mutant]):
        return {q for _, q, _ in run() - clean}


@pytest.mark.parametrize("mutant", ["d3_hvp_pass_detached", "d3_stale_leaf_grads"])
def test_a_third_order_mutant_is_killed_by_d3_and_by_nothing_of_order_two_or_less(mutant):
    pytest.importorskip("torch")
    assert alarms(mutant, ["two_paths", "matmul_mat_vec", "exp_elementwise"]) == {"d3"}


def test_the_wrong_jvp_rule_of_divide_is_killed_by_adjoint():
    pytest.importorskip("torch")
    found = alarms("divide_jvp_sign_b", ["quotient"])
    assert "adjoint" in found and not found & {"grad", "hvp", "hessian"}


def test_the_detached_multiply_factor_is_killed_by_symmetry():
    pytest.importorskip("torch")
    assert "symmetry" in alarms("multiply_vjp_detached_factor", ["cross_inputs"])


def test_jax_folds_the_symmetry_hvp_and_d3_into_the_cases_one_program():
    pytest.importorskip("jax")
    runner = Runner(["jax", "inhouse"])
    rows, _ = runner.run_case(
        CASE, ["float64"], ["grad", "jvp", "hvp", "d3", "adjoint", "symmetry"]
    )
    assert runner.backends["jax"].timings["programs"] == 1
    jax_rows = {r["quantity"]: r["verdict"] for r in rows if r["backend"] == "jax"}
    assert jax_rows == dict.fromkeys(("grad", "jvp", "hvp", "d3", "adjoint", "symmetry"), "pass")
