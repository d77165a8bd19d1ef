"""The case library itself: size, families, docstrings, domains, declarations, and that every op
of the vocabulary is exercised by some case with first and second derivatives."""

from __future__ import annotations

import inspect
import re
from collections import defaultdict

import numpy as np
import pytest

from harness import backends as backend_registry
from harness.library import OPT_IN_TAGS, load_cases, select
from harness.namespace import VOCABULARY, NumpyNamespace
from harness.registry import DENSE_LIMIT, QUANTITIES
from harness.tolerances import Tol
from harness.vocabulary import DEFAULT_DTYPES

CASES = load_cases()
#: What a run selects by default: the `large` (benchmark-sized) cases left out.
DEFAULT = {c.name: c for c in select()}
FAMILIES = {"chain_rule", "second_order", "softmax", "elementwise", "reductions", "linear",
            "networks", "edge", "objectives"}  # fmt: skip
SEED_CASES = {"two_paths", "two_paths_vector", "two_paths_reduced", "seed_composite",
              "seed_composite_separable", "softmax_1d", "softmax_batched_axis0",
              "softmax_batched_axis1"}  # fmt: skip
#: Quantities an op must be exercised with by at least one case.
COVERAGE = ("value", "grad", "jvp", "hvp", "hessian")
#: The fd oracle's dense Hessian stops at 16 inputs: most cases stay within it.
FD_HESSIAN_LIMIT = 16


class Recorder(NumpyNamespace):
    """The numpy namespace, noting which vocabulary functions a case calls itself (calls that
    one namespace function makes to another, e.g. log_softmax to logsumexp, do not count)."""

    def __init__(self) -> None:
        super().__init__(np.float64)
        self.used: set[str] = set()
        self.depth = 0

    def __getattribute__(self, name: str):
        attr = super().__getattribute__(name)
        if name not in VOCABULARY or not callable(attr):
            return attr

        def recorded(*args, **kwargs):
            if self.depth == 0:
                self.used.add(name)
            self.depth += 1
            try:
                return attr(*args, **kwargs)
            finally:
                self.depth -= 1

        return recorded


def ops_of(case) -> set[str]:
    xp = Recorder()
    case.fn(xp, *case.draw(0).values())
    return xp.used


def test_the_library_is_large_and_spread_over_families():
    assert len(CASES) >= 60, f"only {len(CASES)} cases"
    fams = {c.family for c in CASES.values()}
    assert len(fams) >= 7 and fams >= FAMILIES, f"families: {sorted(fams)}"


def test_each_family_lives_in_its_own_module():
    """harness/cases/<family>.py, or <family>_<part>.py for a family in several files."""
    home = {n: rf"harness\.cases\.{c.family}(_[a-z0-9]+)?" for n, c in CASES.items()}
    wrong = [n for n, c in CASES.items() if not re.fullmatch(home[n], c.fn.__module__)]
    assert not wrong, f"cases outside harness/cases/<family>[_part].py: {wrong}"


def test_the_seed_cases_are_kept_and_tagged():
    assert set(CASES) >= SEED_CASES
    untagged = [n for n in SEED_CASES if "seed" not in CASES[n].tags]
    assert not untagged, f"seed cases without the seed tag: {untagged}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_case_has_a_one_line_docstring_with_math(name):
    doc = inspect.getdoc(CASES[name].fn) or ""
    assert doc and "\n" not in doc, f"{name}: the docstring must be one line"
    assert "=" in doc, f"{name}: the docstring should state the math (an equation)"


def test_every_vocabulary_op_is_used_with_first_and_second_derivatives():
    covered: dict[str, set[str]] = defaultdict(set)
    for case in CASES.values():
        for op in ops_of(case):
            covered[op] |= set(case.quantities)
    missing = {op: sorted(set(COVERAGE) - covered[op]) for op in VOCABULARY}
    missing = {op: qs for op, qs in missing.items() if qs}
    assert not missing, f"ops not exercised with these quantities by any case: {missing}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_inputs_are_inside_the_domain_and_the_function_is_finite_there(name):
    case = CASES[name]
    corners = {
        "low": {n: np.full(s.shape, s.low, dtype=float) for n, s in case.inputs.items()},
        "high": {n: np.full(s.shape, s.high, dtype=float) for n, s in case.inputs.items()},
    }
    for seed in range(3):
        draw = case.draw(seed)
        for n, spec in case.inputs.items():
            a = draw[n]
            assert a.shape == spec.shape, f"{name}: {n} has shape {a.shape}, not {spec.shape}"
            if spec.values is None and spec.kind == "float":
                assert np.all((a >= spec.low) & (a <= spec.high)), f"{name}: {n} out of domain"
        corners[f"seed {seed}"] = draw
    for where, inputs in corners.items():
        for n, spec in case.inputs.items():  # labels and fixed values stay what they are
            if spec.kind == "int" or spec.values is not None:
                inputs[n] = case.draw(0)[n]
        with np.errstate(all="raise"):
            # the default dtypes: float16 and bfloat16 are judged by running them (their
            # inputs are rounded first; test_lowprec), and numpy has no bfloat16 einsum
            for dt in (d for d in case.dtypes if d in DEFAULT_DTYPES):
                xp = NumpyNamespace(dt)
                args = [
                    a.astype(dt) if case.inputs[n].kind == "float" else a for n, a in inputs.items()
                ]
                out = np.asarray(case.fn(xp, *args))
                assert np.all(np.isfinite(out)), f"{name}: not finite at {where} in {dt}"


def test_inputs_stay_small_enough_for_dense_matrices():
    """By default; the benchmark-sized cases (tagged large, left out unless asked for) go past
    the dense limit, and their dense quantities are refused with the reason."""
    big = {n: c.n_wrt for n, c in DEFAULT.items() if c.n_wrt > DENSE_LIMIT}
    assert not big, f"more than {DENSE_LIMIT} differentiable inputs: {big}"
    over = [n for n, c in DEFAULT.items() if c.n_wrt > FD_HESSIAN_LIMIT]
    assert len(over) <= len(DEFAULT) // 10, f"too many cases past fd's dense Hessian: {over}"
    untagged = [n for n, c in CASES.items() if c.n_wrt > DENSE_LIMIT and not c.tags & OPT_IN_TAGS]
    assert not untagged, (
        f"past the dense limit without an opt-in tag {set(OPT_IN_TAGS)}: {untagged}"
    )


def test_every_declaration_has_a_reason_and_names_real_backends_and_quantities():
    known = set(backend_registry.names())  # built-in and installed plugins (autograd)
    for name, case in CASES.items():
        for e in case.expects:
            assert len(e.reason) > 20, f"{name}: the reason {e.reason!r} explains nothing"
            assert e.backends <= known, f"{name}: unknown backends {set(e.backends) - known}"
            dead = e.quantities - set(case.quantities)
            assert not dead, f"{name}: declares {sorted(dead)}, which the case does not compute"
        if case.tol:
            assert case.tol.get("reason"), f"{name}: a tolerance override needs a reason"
        assert set(case.quantities) <= set(QUANTITIES)


def test_restricted_quantities_always_keep_value_and_grad():
    for name, case in CASES.items():
        assert {"value", "grad"} <= set(case.quantities), f"{name} drops value or grad"


def test_naive_exact_cases_are_not_declared_against_inhouse_naive():
    for name, case in CASES.items():
        if case.naive_exact:
            assert not any("inhouse-naive" in e.backends for e in case.expects), name
            assert case.expectation("inhouse-naive", "hvp", "float64") is None, name


@pytest.mark.parametrize("name", sorted(n for n, c in DEFAULT.items() if "hvp" in c.quantities))
def test_naive_exact_is_declared_exactly_where_the_naive_rule_is_exact(name):
    """naive_exact=True if and only if the engine's naive HVP equals its true one (two seeds)."""
    from harness.problem import make_problem

    case = CASES[name]
    exact, naive = backend_registry.get("inhouse"), backend_registry.get("inhouse-naive")
    same = []
    for seed in (0, 1):
        p = make_problem(case, seed, "float64")
        want, got = exact.compute("hvp", p), naive.compute("hvp", p)
        scale = max(1.0, float(np.max(np.abs(want))))
        tol = Tol.lookup("float64", "hvp")
        same.append(bool(np.allclose(got, want, rtol=tol.rtol, atol=tol.atol * scale)))
    assert all(same) == case.naive_exact and any(same) == case.naive_exact, (
        f"{name}: naive_exact={case.naive_exact}, but the naive HVP "
        f"{'matches' if all(same) else 'differs from'} the true one"
    )


def test_large_cases_run_only_when_asked_for():
    """Tagged large: left out of every selection unless --tag large or the exact name asks."""
    large = {n for n, c in CASES.items() if "large" in c.tags}
    assert large and not large & set(DEFAULT), "the default run has benchmark-sized cases"
    assert {c.name for c in select(tags=["large"])} == large
    one = sorted(large)[0]
    assert [c.name for c in select([one])] == [one]
    assert not large & {c.name for c in select([one[:3] + "*"])}, "a glob is not asking"
    assert {c.name for c in select(opt_in=True)} == set(CASES)
