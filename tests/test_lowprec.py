"""float16 and bfloat16: one point shared by every dtype of a run, float64 oracles judging the
low-precision rows, the sensitivity term (tol_dtype), declared unrepresentable cases, and the
default run unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from harness.backends.base import Backend, Problem
from harness.backends.inhouse import InHouse
from harness.backends.torch_backend import Torch
from harness.cli import options
from harness.errors import RegistryError
from harness.execute import Outcome, run_cell
from harness.judge.compare import compare
from harness.library import load_cases, select
from harness.mutants import MUTANTS, installed
from harness.problem import make_problem
from harness.registry import Case, array, case
from harness.results import SUMMARY_COLUMNS
from harness.runner import Runner
from harness.tolerances import SENSITIVITY_FACTOR, TOLERANCES, Tol, perturbed, sensitivity
from harness.vocabulary import (
    COMPUTED,
    DEFAULT_DTYPES,
    DTYPE,
    DTYPES,
    LOW_PRECISION,
    ORDER,
    REFERENCE_DTYPE,
    UNEXPECTED,
    exact_in,
)

pytest.importorskip("torch")
pytest.importorskip("jax")

SUBJECTS = ("inhouse", "torch", "jax")
FRAMEWORKS = ["inhouse", "torch", "jax", "fd", "mp"]


@pytest.fixture(scope="module")
def softmax_and_chain_rule():
    """The issue's run: --dtypes float16 bfloat16 --family softmax chain_rule."""
    cases = select(families=["softmax", "chain_rule"])
    return Runner(FRAMEWORKS, seed=0).run(cases, LOW_PRECISION, ORDER).summary


def test_defaults_are_float64_and_float32_and_all_adds_the_low_precision_ones():
    assert options.dtype_names(None) == list(DEFAULT_DTYPES) == ["float64", "float32"]
    assert options.dtype_names(["all"]) == list(DTYPES)
    assert set(LOW_PRECISION) == {"float16", "bfloat16"} <= set(DTYPES)
    assert {DTYPE[d].unit_roundoff for d in LOW_PRECISION} == {2.0**-11, 2.0**-8}
    assert np.finfo(np.float16).eps == 2 * DTYPE["float16"].unit_roundoff  # eps = 2u
    for d in LOW_PRECISION:  # every order, third derivatives included
        assert all((d, k) in TOLERANCES for k in (0, 1, 2, 3))


def test_every_frameworks_rows_exist_in_both_dtypes_with_no_unexpected_cell(
    softmax_and_chain_rule,
):
    s = softmax_and_chain_rule
    assert list(s.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    assert not s.verdict.isin(UNEXPECTED).any(), s[s.verdict.isin(UNEXPECTED)].reason.tolist()
    for b in SUBJECTS:
        mine = s[s.backend == b]
        assert set(mine.dtype) == set(LOW_PRECISION), b
        judged = mine[(mine.verdict == "pass") & mine.quantity.isin(COMPUTED)]  # self-checks: own
        # judged against the float64 oracles, borrowed at the very same point (where one
        # computes the quantity: fd's Hessian stops at 16 inputs, as for float32 rows)
        by_oracle = judged[judged.reference.isin(["fd", "mp"])]
        assert set(by_oracle.reference_dtype) == {REFERENCE_DTYPE}
        assert len(by_oracle) > 0.9 * len(judged)
    assert not set(s.backend) & {"fd", "mp"} - set(s[s.dtype == REFERENCE_DTYPE].backend)


def test_the_sensitivity_term_is_positive_shown_and_part_of_tol_abs(softmax_and_chain_rule):
    s = softmax_and_chain_rule
    rows = s[s.backend.isin(SUBJECTS) & (s.verdict == "pass") & s.quantity.isin(COMPUTED)]
    assert (rows.tol_dtype > 0).mean() > 0.9  # zero only where every result is constant
    assert (rows.tol_abs >= rows.tol_dtype).all()
    # bfloat16 rounds 8 times coarser than float16: so does the term, case by case
    both = rows.pivot_table(index=["case", "quantity", "backend"], columns="dtype",
                            values="tol_dtype").dropna()  # fmt: skip
    assert (both["bfloat16"] > both["float16"]).mean() > 0.9


def test_a_planted_wrong_softmax_backward_fails_in_float16_and_bfloat16():
    mutant = next(m for m in MUTANTS if m.name == "softmax_vjp_no_h")
    cases = [load_cases()[n] for n in ("softmax_1d", "softmax_batched_axis1")]
    with installed(mutant):
        s = Runner(FRAMEWORKS, seed=0).run(cases, LOW_PRECISION, ["grad"]).summary
    ours = s[s.backend == "inhouse"]
    assert set(ours.dtype) == set(LOW_PRECISION)
    assert set(ours.verdict) == {"fail"} and set(ours.blame) == {"inhouse"}
    assert (ours.max_abs_err > ours.tol_abs).all()  # the dtype term did not swallow it
    others = s[s.backend.isin(["torch", "jax"])]
    assert set(others.verdict) == {"pass"}


def test_inputs_and_probes_of_a_low_precision_run_are_exact_in_every_dtype():
    c = load_cases()["softmax_temperature"]
    grid = c.grid(DTYPES)
    assert grid == LOW_PRECISION
    ref = make_problem(c, 0, REFERENCE_DTYPE, grid=grid)
    for d in DTYPES:
        p = make_problem(c, 0, d, grid=grid)
        assert str(p.dtype) == d
        for a, b in [*((p.args[n], ref.args[n]) for n in c.wrt),
                     (p.cotangent, ref.cotangent), (p.tangent, ref.tangent)]:  # fmt: skip
            assert np.array_equal(np.asarray(a, np.float64), b), d  # the very same point
            for other in DTYPES:  # exact in each: a round trip changes nothing
                assert np.array_equal(b.astype(DTYPE[other].numpy).astype(np.float64), b)


def test_the_default_run_draws_what_it_always_drew():
    c = load_cases()["softmax_temperature"]
    assert c.grid(DEFAULT_DTYPES) == ()
    raw = c.draw(0)
    p = make_problem(c, 0, "float32", grid=c.grid(DEFAULT_DTYPES))
    for n in c.wrt:  # float32-exact uniform draws, untouched
        assert np.array_equal(p.args[n].astype(np.float64), raw[n])
    assert not np.array_equal(exact_in(raw["x"], LOW_PRECISION), raw["x"])  # rounding does bite


def test_exact_in_rounds_to_the_coarsest_grid_and_overflows_to_inf():
    x = np.array([1 + 2.0**-9, 1 + 2.0**-7, 70000.0, 1e-9])
    got = exact_in(x, ["float16", "bfloat16"])
    assert got[0] == 1.0  # 9 bits: below bfloat16's 8
    assert got[1] == 1 + 2.0**-7
    assert np.isinf(got[2])  # past float16's 65504
    assert got[3] == 0.0  # below float16's smallest subnormal (6e-8)


def test_a_silent_upcast_in_a_low_precision_cell_is_an_error():
    class Upcasts(Backend):
        name = "upcasts"

        def value(self, p: Problem):
            return np.asarray(p.args["x"], dtype=np.float32)

    c = load_cases()["softmax_1d"]
    for d in LOW_PRECISION:
        o = run_cell(Upcasts(), "value", make_problem(c, 0, d, grid=(d,)))
        assert o.status == "error" and "silent cast" in o.reason and d in o.reason


@pytest.mark.parametrize("dtype", LOW_PRECISION)
def test_the_engine_keeps_the_dtype_through_every_primitive_and_order(dtype):
    """The registry uses every op of the vocabulary (test_cases); the in-house engine must
    give each quantity in the cell's dtype (the backend never casts its results back)."""
    be = InHouse()
    for c in select():
        if dtype not in c.grid([dtype]):
            continue
        p = make_problem(c, 0, dtype, grid=(dtype,))
        for q in ("value", "grad", "jvp", "hvp"):
            if q in c.quantities:
                assert be.compute(q, p).dtype == p.dtype, (c.name, q)


def test_the_sensitivity_of_a_linear_map_is_its_slope_times_one_roundoff():
    x = np.array([0.5, -2.0, 3.0])
    for d in LOW_PRECISION:
        u = DTYPE[d].unit_roundoff
        moved = perturbed(x, d, [0])
        assert all(np.allclose(np.abs(m - x), u * np.abs(x), rtol=1e-12, atol=0) for m in moved)
        term = sensitivity(3 * x, [3 * m for m in moved])  # f(x) = 3x moves by 3·u·|x|
        assert np.allclose(term, SENSITIVITY_FACTOR * 3 * u * np.abs(x), rtol=1e-9)


def test_the_term_widens_the_bound_element_by_element_and_is_reported():
    r = Outcome("a", "bfloat16", "ok", np.array([1.0, 1.0]))
    a = Outcome("b", "bfloat16", "ok", np.array([1.0, 1.5]))
    tol = Tol.lookup("bfloat16", "grad")
    assert not compare(a, r, tol).agrees
    wide = compare(a, r, tol.with_dtype_term(np.array([0.0, 0.6])))
    assert wide.agrees and wide.tol_dtype == 0.6
    assert not compare(a, r, tol.with_dtype_term(np.array([0.6, 0.0]))).agrees  # per element


def test_a_declared_unrepresentable_dtype_skips_its_cells_with_the_reason():
    c = load_cases()["softmax_large_logits"]
    assert set(c.unrepresentable) == set(LOW_PRECISION)
    s = Runner(["inhouse", "torch", "fd"], seed=0).run([c], DTYPES, ["value", "grad"]).summary
    low = s[s.dtype.isin(LOW_PRECISION)]
    assert set(low.verdict) == {"skipped"} and set(low.backend) == {"inhouse", "torch"}
    assert all("not representable in" in r and "apart" in r for r in low.reason)
    assert set(s[s.dtype == "float64"].verdict) == {"pass"}


def test_a_quantity_declared_unrepresentable_in_a_dtype_skips_that_quantity_alone():
    c = load_cases()["sqrt_near_zero"]
    assert ("float16", "d3") in c.unrepresentable
    s = Runner(["inhouse", "torch", "fd", "mp"], seed=0).run(
        [c], ["float64", "float16"], ["grad", "hvp", "d3"]).summary  # fmt: skip
    d3 = s[(s.dtype == "float16") & (s.quantity == "d3")]
    assert set(d3.verdict) == {"skipped"} and set(d3.backend) == {"inhouse", "torch"}
    assert all("not representable in float16" in r and "65504" in r for r in d3.reason)
    rest = s[(s.dtype == "float16") & (s.quantity != "d3")]
    assert set(rest.verdict) == {"pass"} and set(rest.quantity) == {"grad", "hvp"}
    assert set(s[(s.dtype == "float64") & (s.quantity == "d3")].verdict) == {"pass"}


def test_an_unrepresentable_declaration_needs_a_known_dtype_and_a_reason():
    def f(xp, x):
        """y = x."""
        return x

    with pytest.raises(RegistryError, match="unknown dtype 'float8'"):
        Case("bad", f, "mine", {"x": array(2)}, "y = x", unrepresentable={"float8": "why"})
    with pytest.raises(RegistryError, match="needs a reason"):
        case(family="mine", inputs=array(2), unrepresentable={"float16": " "}, name="bad2")(f)
    with pytest.raises(RegistryError, match="quantity 'd4', which the case does not compute"):
        Case("bad3", f, "mine", {"x": array(2)}, "y = x",
             unrepresentable={("float16", "d4"): "why"})  # fmt: skip


def test_a_dtype_torch_has_no_kernel_for_is_skipped_not_an_error(monkeypatch):
    def missing(self, p):
        raise RuntimeError("\"softmax_lastdim_kernel_impl\" not implemented for 'Half'")

    monkeypatch.setattr(Torch, "grad", missing)
    p = make_problem(load_cases()["softmax_1d"], 0, "float16", grid=("float16",))
    be = Torch()
    assert be.available() is None
    o = run_cell(be, "grad", p)
    assert o.status == "skipped" and "not implemented for 'Half'" in o.reason
