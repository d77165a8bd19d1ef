"""Explanations: who is blamed for an error, where and at which input, with the digits that
show the difference; the vacuous check's noise floor; the Taylor tie-break's winner."""

import numpy as np

from harness.backends.base import Backend, Traits
from harness.backends.mp import composition_terms
from harness.execute import Outcome, run_cell
from harness.judge import diagnosis
from harness.judge.group import CASE_BLAME, Evidence, judge_group
from harness.judge.taylor import STEPS
from harness.judge.text import digits, number
from harness.library import load_cases
from harness.problem import make_problem
from harness.registry import Case, array


def _cube(xp, x):
    return x * x * x


CASE = Case("cube", _cube, "test", {"x": array(4, low=-2.0, high=2.0)}, "y = x³")


def ok(name, value, noise=None, dtype="float64"):
    v = np.asarray(value, dtype=dtype)
    return Outcome(name, dtype, "ok", v, None if noise is None else np.asarray(noise))


def judge(p, outcomes, q="grad", **evidence):
    outs = {o.backend: o for o in outcomes}
    traits = {k: Traits() for k in outs}
    return judge_group(CASE, q, p, outs, {}, Evidence(traits=traits, **evidence))


def rows(judged):
    return {r["backend"]: r for r in judged.rows}


def test_a_backends_own_error_blames_it():
    p = make_problem(CASE, 0, "float64")
    g = 3 * p.cotangent * p.args["x"] ** 2
    broken = Outcome("c", "float64", "error", reason="ValueError: boom")
    got = rows(judge(p, [ok("a", g), ok("b", g), broken]))
    assert got["c"]["verdict"] == "error" and got["c"]["blame"] == "c"
    skipped = Outcome("d", "float64", "skipped", reason="no hvp")
    assert rows(judge(p, [ok("a", g), ok("b", g), skipped]))["d"]["blame"] == "none"


def test_a_cases_fault_blames_the_case():
    p = make_problem(CASE, 0, "float64")
    nan = np.full(p.n, np.nan)
    assert {r["blame"] for r in judge(p, [ok("a", nan), ok("b", nan)]).rows} == {CASE_BLAME}


def test_the_worst_elements_input_value_is_in_the_reason_and_the_elements():
    p = make_problem(CASE, 0, "float64")
    x = p.args["x"]
    g = 3 * p.cotangent * x**2
    bad = np.where(x < 0, -g, g)  # wrong only where the input is negative
    judged = judge(p, [ok("a", g), ok("b", g), ok("c", bad)])
    row = rows(judged)["c"]
    worst = int(row["worst_index"][2:-1])
    assert x[worst] < 0 and row["input_at_worst"] == x[worst]
    assert f"(input {x[worst]:.6g})" in row["reason"]
    mine = [e for e in judged.elements if e["backend"] == "c"]
    assert all(e["input_value"] == x[int(e["index"][2:-1])] for e in mine)


def test_values_get_the_digits_their_difference_needs():
    v, r = -21.0000000354, -21.0
    n = digits(v, r)
    assert number(v, n) != number(r, n) and float(number(v, n)) == v
    assert digits(1.5, 1.5) == 9


def test_the_check_is_named_with_how_the_backend_computed_it():
    p = make_problem(CASE, 0, "float64")
    hv = np.ones(p.n)
    judged = judge(p, [ok("a", hv), ok("b", hv), ok("c", 2 * hv)], q="hvp",
                   methods={"c": "reverse over reverse"})  # fmt: skip
    assert rows(judged)["c"]["reason"].startswith("cube HVP (reverse over reverse), order 2")


def test_an_oracles_noise_floor_counts_as_zero_in_the_vacuous_check():
    p = make_problem(CASE, 0, "float64")
    near_zero = np.full(p.n, 4.4e-6)  # fd's near-zero values: its error estimate
    outs = [ok("fd", near_zero, noise=np.full(p.n, 1e-6)), ok("t", np.zeros(p.n)),
            ok("j", np.zeros(p.n))]  # fmt: skip
    probes = {k: ok(k, np.ones(p.n)) for k in ("fd", "t", "j")}
    got = rows(judge(p, outs, probes=probes))
    assert got["t"]["verdict"] == "vacuous" and "float64" in got["t"]["reason"]


def test_the_taylor_winner_of_a_two_voter_tie_is_not_marked_failed():
    p = make_problem(CASE, 0, "float64")
    g = 3 * p.cotangent * p.args["x"] ** 2
    right = np.stack([STEPS, STEPS**2, np.ones_like(STEPS)])  # remainders shrinking like h²
    wrong = np.stack([STEPS, STEPS, np.ones_like(STEPS)])  # like h: not the gradient
    got = rows(judge(p, [ok("a", g), ok("b", 1.5 * g)], taylor={"a": right, "b": wrong}))
    assert got["a"]["verdict"] == "pass" and "Taylor test backs it" in got["a"]["reason"]
    assert got["b"]["verdict"] == "fail" and got["b"]["blame"] == "b"
    assert "slope near 2" in got["b"]["reason"]  # the test's blind spot, stated


def test_a_float32_row_right_in_float64_is_a_precision_problem():
    case = load_cases()["seed_composite"]
    xs = np.linspace(-1.2, 1.3, diagnosis.POINTS)
    exact = [(x, float(sum(f(composition_terms(case.composition, x))
                           for f in diagnosis.TRUE_TERMS.values()))) for x in xs]  # fmt: skip
    text = diagnosis.diagnose(exact, case.composition, "float32")
    assert text == "diagnosis (float64): right in float64: a precision problem in float32"
    wrong = [(x, 2 * v) for x, v in exact]
    assert "precision" not in diagnosis.diagnose(wrong, case.composition, "float32")


def _engine_backward(g):
    return np.dot(g, np.ones((3, 3)))  # a shape bug deep in an engine's backward


class _Broken(Backend):
    name = "broken"

    def grad(self, p):
        return _engine_backward(np.ones(p.n))

    def value(self, p):
        raise_in_case = p.fn(_Raising(), *p.args.values())
        return raise_in_case


class _Raising:
    def __getattr__(self, name):
        raise RuntimeError(f"no {name} here")


def test_where_it_broke_names_the_engines_frame_and_the_pass():
    p = make_problem(load_cases()["two_paths_vector"], 0, "float64")
    backward = run_cell(_Broken(), "grad", p)
    assert backward.status == "error" and "at _engine_backward, line" in backward.reason
    assert "in the backward pass" in backward.reason and "_wrapfunc" not in backward.reason
    forward = run_cell(_Broken(), "value", p)
    assert "in the forward pass" in forward.reason


class _PerInput(Backend):
    name = "per-input"

    def grad(self, p):
        parts = {n: np.zeros(p.shapes[n]) for n in p.wrt}
        parts[p.wrt[0]] = np.zeros(p.shapes[p.wrt[0]][:1])  # the first input's part is wrong
        return parts


def test_a_wrong_shape_names_the_input_whose_part_is_wrong():
    p = make_problem(load_cases()["affine_tanh"], 0, "float64")
    out = run_cell(_PerInput(), "grad", p)
    name = p.wrt[0]
    want = f"grad of {name} has shape {p.shapes[name][:1]}, expected {p.shapes[name]}"
    assert out.status == "error" and out.reason == want
    flat = run_cell(_Flat(), "grad", p)
    assert all(f"{n} {p.shapes[n]}" in flat.reason for n in p.wrt)


class _Flat(Backend):
    name = "flat"

    def grad(self, p):
        return np.zeros(p.n - 1)
