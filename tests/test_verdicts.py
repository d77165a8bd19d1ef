"""Verdicts you can trust: blame across backends, the seed audit, the second-order diagnosis,
vacuous checks and the Taylor-remainder evidence."""

import numpy as np
import pytest

from harness import backends as backend_registry
from harness.backends.jax_backend import Jax
from harness.execute import Outcome
from harness.judge.consensus import blame, triangulate
from harness.judge.diagnosis import NAIVE_TERMS, TRUE_TERMS, analyse, describe, fit
from harness.judge.taylor import supports_gradient, taylor_slope
from harness.library import load_cases
from harness.problem import make_problem
from harness.runner import Runner
from harness.tolerances import Tol

pytest.importorskip("torch")
pytest.importorskip("jax")


class WrongJax(Jax):
    """JAX with a planted error in its Hessian-vector products."""

    def compute(self, quantity, p):
        out = super().compute(quantity, p)
        return out * np.asarray(1.5, dtype=out.dtype) if quantity == "hvp" else out


def run(backends, cases, quantities=("value", "grad", "hvp", "hessian"), **kw):
    reg = load_cases()
    runner = Runner(backends, seed=0, **kw)
    return runner.run([reg[c] for c in cases], ["float64", "float32"], quantities).summary


def cells(df, **where):
    for k, v in where.items():
        df = df[df[k] == v]
    return df


def test_torch_jax_disagreement_is_resolved_by_fd_and_mp(monkeypatch):
    monkeypatch.setitem(backend_registry.BUILTIN, "jax", "tests.test_verdicts:WrongJax")
    s = run(["torch", "jax", "fd", "mp"], ["two_paths", "seed_composite"], ("hvp",))
    jax64 = cells(s, backend="jax", dtype="float64")
    assert len(jax64) == 2 and set(jax64.verdict) == {"fail"} and set(jax64.blame) == {"jax"}
    assert set(cells(s, backend="torch").verdict) == {"pass"}
    assert all("jax" in r and "HVP (forward over reverse), order 2" in r for r in jax64.reason)


def test_the_seed_audit_shows_which_formulas_hold():
    s = run(
        ["torch", "fd", "mp", "seed-1-1", "seed-1-3", "seed-1-4", "seed-2-9"],
        ["seed_composite", "seed_composite_separable", "softmax_batched_axis0"],
    )
    assert set(cells(s, backend="seed-1-1").verdict) == {"pass"}
    assert set(cells(s, backend="seed-2-9").verdict) == {"pass"}
    assert set(cells(s, backend="seed-1-4").verdict) == {"expected_fail"}
    nonsep = cells(s, backend="seed-1-3", case="seed_composite")
    assert set(nonsep.verdict) == {"expected_fail"}
    assert all("missing 2·f_yz·g'·h'" in r and "f_y·g''" not in r for r in nonsep.reason)
    assert set(cells(s, backend="seed-1-3", case="seed_composite_separable").verdict) == {"pass"}
    # The audit formulas are judged, never trusted: a wrong formula never drags torch down.
    assert set(cells(s, backend="torch").verdict) <= {"pass", "skipped"}
    assert set(cells(s, backend="torch").blame) == {"none"}


def test_naive_backprop_is_expected_fail_with_the_naive_signature():
    s = run(["inhouse", "inhouse-naive", "torch", "fd", "mp"], ["seed_composite"])
    naive2 = s[(s.backend == "inhouse-naive") & (s.order == 2)]
    assert len(naive2) and set(naive2.verdict) == {"expected_fail"}
    assert all("the naive signature" in r for r in naive2.reason)
    assert set(s[(s.backend == "inhouse-naive") & (s.order < 2)].verdict) == {"pass"}
    assert set(cells(s, backend="inhouse").verdict) == {"pass"}


def test_diagnosis_names_a_single_dropped_term():
    comp = load_cases()["seed_composite"].composition
    from harness.backends.mp import composition_terms

    xs = np.linspace(-1.2, 1.3, 9)
    terms = [composition_terms(comp, x) for x in xs]
    truth = np.array([float(sum(fn(t) for fn in TRUE_TERMS.values())) for t in terms])
    dropped = truth - np.array([float(TRUE_TERMS["f_y·g''"](t)) for t in terms])
    assert describe(fit(xs, dropped, comp)).startswith("missing f_y·g''")
    extra = truth + np.array([float(NAIVE_TERMS["f_yy·g''"](t)) for t in terms])
    assert describe(fit(xs, extra, comp)).startswith("extra f_yy·g''")
    assert describe(fit(xs, truth, comp)).startswith("no missing or extra terms")


def test_the_diagnosis_shows_small_coefficients_and_what_they_leave_unexplained():
    comp = load_cases()["seed_composite"].composition
    from harness.backends.mp import composition_terms

    xs = np.linspace(-1.2, 1.3, 9)
    terms = [composition_terms(comp, x) for x in xs]
    truth = np.array([float(sum(fn(t) for fn in TRUE_TERMS.values())) for t in terms])
    scaled = analyse(xs, truth * 1.001, comp)
    text = describe(scaled.coef, scaled.residual)
    assert "2·f_yz·g'·h' ×+0.001" in text and "no missing" not in text
    noise = analyse(xs, truth + 0.01 * np.cos(37 * xs), comp)
    assert "not explained by these terms (residual" in describe(noise.coef, noise.residual)


def test_all_ones_cotangents_make_softmax_vjps_vacuous():
    s = run(["torch", "jax", "fd"], ["softmax_1d", "two_paths_vector"], ("grad",),
            cotangent="ones")  # fmt: skip
    soft = cells(s, case="softmax_1d")
    assert set(soft.verdict) == {"vacuous"} and all("identically zero" in r for r in soft.reason)
    assert "vacuous" not in set(cells(s, case="two_paths_vector").verdict)


def test_random_cotangents_never_give_a_vacuous_cell():
    reg = load_cases()
    s = run(["torch", "jax", "fd"], [c for c in reg if c.startswith("softmax")], ("grad", "hvp"))
    assert "vacuous" not in set(s.verdict)


def test_taylor_slope_separates_right_from_wrong_gradients():
    case = load_cases()["two_paths_vector"]
    p = make_problem(case, 0, "float64")
    g = backend_registry.get("torch").compute("grad", p)
    right = taylor_slope(p, g)
    wrong = taylor_slope(p, g * 1.05)
    assert abs(right - 2) < 0.2 and supports_gradient(right)
    assert abs(wrong - 1) < 0.3 and supports_gradient(wrong) is False


def test_taylor_evidence_breaks_a_two_two_tie():
    tol = Tol.lookup("float64", "grad")
    res = [Outcome(n, "float64", "ok", np.array([v])) for n, v in
           [("torch", 1.0), ("inhouse", 1.0), ("jax", 2.0), ("fd", 2.0)]]  # fmt: skip
    assert not triangulate(res, tol).majority
    ev = {"torch": True, "inhouse": True, "jax": False, "fd": False}
    j = triangulate(res, tol, evidence=ev)
    assert j.majority and j.by_evidence and j.consensus == {"torch", "inhouse"}
    assert blame("jax", False, j) == "jax"


def test_a_wrong_gradient_keeps_its_taylor_curve_with_slope_one(planted):
    name = planted("sign")
    reg = load_cases()
    res = Runner(["torch", "fd", name], seed=0).run(
        [reg["two_paths_vector"]], ["float64"], ["grad"]
    )
    row = cells(res.summary, backend=name).iloc[0]
    assert row.verdict == "fail" and abs(row.taylor_slope - 1) < 0.3
    hs, rs = res.arrays[("two_paths_vector", "taylor", "float64", name)]
    assert np.all(np.diff(hs) < 0) and rs[0] > rs[-1]
    assert abs(cells(res.summary, backend="torch").iloc[0].taylor_slope - 2) < 0.2
