"""compare: the tolerance table, elementwise agreement, triangulation, blame, verdicts."""

import numpy as np
import pytest

from harness import backends
from harness.execute import Outcome
from harness.judge.compare import agreeing_pairs, compare
from harness.judge.consensus import blame, pick_reference, ranking, triangulate, verdict
from harness.tolerances import TOLERANCES, Tol

#: The built-in backends' own traits: the judge asks these, never a name.
TRAITS = {n: backends.get(n).traits() for n in ("mp", "fd", "torch", "jax", "inhouse")}


def ok(name, values, noise=None):
    return Outcome(name, "float64", "ok", np.asarray(values, float), noise)


def test_tolerances_loosen_with_order_and_lower_precision():
    for order in (0, 1, 2):
        a64, r64 = TOLERANCES[("float64", order)]
        a32, r32 = TOLERANCES[("float32", order)]
        assert a32 > a64 and r32 > r64
    for dt in ("float64", "float32"):
        assert TOLERANCES[(dt, 2)][1] >= TOLERANCES[(dt, 1)][1] >= TOLERANCES[(dt, 0)][1]


def test_case_override_only_loosens():
    base = Tol.lookup("float64", "grad")
    assert Tol.lookup("float64", "grad", {"rtol": 1e-3, "reason": "r"}).rtol == 1e-3
    assert Tol.lookup("float64", "grad", {"rtol": 1e-20, "reason": "r"}).rtol == base.rtol


def test_compare_detects_a_difference_beyond_tolerance():
    tol = Tol.lookup("float64", "grad")
    r = ok("fd", [1.0, 2.0, 3.0])
    assert compare(ok("a", [1.0, 2.0, 3.0]), r, tol).agrees
    near = 3.0 * (1 + tol.rtol / 10)
    assert compare(ok("a", [1.0, 2.0, near]), r, tol).agrees
    c = compare(ok("a", [1.0, 2.0, 3.0 * (1 + 100 * tol.rtol)]), r, tol)
    assert not c.agrees and c.worst == 2
    assert c.max_abs == pytest.approx(300 * tol.rtol)


def test_noise_floor_of_the_oracle_widens_the_bound():
    tol = Tol.lookup("float64", "grad")
    a = ok("torch", [1.0 + 1e-5])
    assert not compare(a, ok("fd", [1.0]), tol).agrees
    assert compare(a, ok("fd", [1.0], noise=np.array([1e-5])), tol).agrees


def test_one_wrong_backend_is_blamed():
    tol = Tol.lookup("float64", "grad")
    res = [ok(n, [1.0, -2.0]) for n in ("mp", "fd", "torch", "jax")] + [ok("inhouse", [1.0, 2.0])]
    j = triangulate(res, tol)
    assert j.majority and j.consensus == {"mp", "fd", "torch", "jax"}
    assert blame("inhouse", False, j) == "inhouse"
    assert blame("torch", True, j) == "none"


def test_torch_jax_disagreement_is_resolved_by_the_oracles():
    tol = Tol.lookup("float64", "hvp")
    res = [ok("torch", [0.5]), ok("jax", [0.7]), ok("fd", [0.7]), ok("mp", [0.7])]
    j = triangulate(res, tol, rank=ranking(TRAITS))
    assert blame("torch", False, j) == "torch"
    assert pick_reference("torch", {o.backend: o for o in res}, j).backend == "mp"


def test_split_vote_is_ambiguous():
    tol = Tol.lookup("float64", "grad")
    res = [ok("torch", [1.0]), ok("inhouse", [1.0]), ok("jax", [2.0]), ok("fd", [2.0])]
    assert blame("torch", False, triangulate(res, tol)) == "ambiguous"


def test_a_non_voter_never_votes():
    tol = Tol.lookup("float64", "hvp")
    res = [ok("inhouse-naive", [3.0]), ok("inhouse", [3.0]), ok("torch", [1.0]), ok("fd", [1.0])]
    j = triangulate(res, tol, non_voters={"inhouse-naive"})
    assert j.consensus == {"torch", "fd"} and j.majority
    assert blame("inhouse", False, j) == "inhouse"


@pytest.mark.parametrize(
    ("agrees", "expected", "want"),
    [
        (True, False, "pass"),
        (False, False, "fail"),
        (False, True, "expected_fail"),
        (True, True, "unexpected_pass"),
    ],
)
def test_verdicts(agrees, expected, want):
    assert verdict(agrees, expected) == want


def test_all_pairs_at_once_agree_exactly_where_compare_does():
    """agreeing_pairs (the consensus's broadcast over pairs) is compare(...).agrees per pair:
    near the bound, with noise on one side, both or neither, NaN, inf and other shapes."""
    rng = np.random.default_rng(0)
    tol = Tol.lookup("float32", "hvp")
    for trial in range(200):
        base = rng.standard_normal(5) * 10.0 ** rng.integers(-3, 4)
        results = []
        for k in range(rng.integers(2, 7)):
            v = base + rng.standard_normal(5) * 10.0 ** rng.integers(-9, 0) * np.abs(base)
            if rng.random() < 0.1:
                v[rng.integers(5)] = rng.choice([np.nan, np.inf])
            if rng.random() < 0.1:
                v = v[:3]
            noise = np.abs(rng.standard_normal(v.shape)) * 1e-4 if rng.random() < 0.4 else None
            results.append(ok(f"b{k}", v, noise))
        expected = [(i, j) for i in range(len(results)) for j in range(i + 1, len(results))
                    if results[i].value.shape == results[j].value.shape
                    and compare(results[i], results[j], tol).agrees]  # fmt: skip
        assert agreeing_pairs(results, tol) == expected, trial
