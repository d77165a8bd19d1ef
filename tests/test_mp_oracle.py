"""mp, mpmath at 50 digits, as an oracle for every case: its stencils against mpmath.diff and
against closed forms (in mp, to 1e-30, before rounding), its rows on vector, matrix and conv
cases, its budget and its missing ops as skipped cells with their reason, and the project cache
sparing a second run every evaluation."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from harness import cache
from harness.backends import mp as mpmod
from harness.backends.base import Unsupported
from harness.backends.mp import MpMath, _Bound, context, second, stencil
from harness.library import load_cases
from harness.namespace import NumpyNamespace
from harness.problem import Problem, make_problem
from harness.registry import Case, array
from harness.runner import Runner
from harness.vocabulary import COMPUTED, QUANTITIES
from tests.test_engine_ops import OPS, Op, op, problem

TIGHT = mpmath.mpf("1e-30")


def _problem(fn, **inputs) -> Problem:
    """A Problem of fn at seeded inputs (float32-exact), with seeded probes."""
    rng = np.random.default_rng(7)
    args = {k: rng.uniform(-1, 1, shape).astype(np.float32).astype(np.float64)
            for k, shape in inputs.items()}  # fmt: skip
    out = np.shape(fn(NumpyNamespace(), *args.values()))
    n = sum(a.size for a in args.values())
    probes = [rng.standard_normal(s).astype(np.float32).astype(np.float64) for s in (out, n, n)]
    if not out:  # a scalar output's cotangent is 1, as make_problem draws it
        probes[0] = np.ones(())
    return Problem(fn, args, tuple(args), np.dtype("float64"), *probes, out_shape=out)


def _mp(a) -> np.ndarray:
    return np.frompyfunc(context().mpf, 1, 1)(np.asarray(a, dtype=np.float64).astype(object))


def _worst(a, b) -> mpmath.mpf:
    d = np.asarray(a, dtype=object) - np.asarray(b, dtype=object)
    return max((abs(v) for v in np.ravel(d)), default=mpmath.mpf(0))


# -- the stencils -----------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3])
def test_the_central_stencil_is_mpmath_diffs_own(n):
    ctx = context()
    x0 = ctx.mpf("0.375")

    def g(x):
        return ctx.exp(ctx.sin(x)) / (2 + x * x)

    mine = stencil(ctx, lambda t: g(x0 + t), n)
    assert abs(mine - ctx.diff(g, x0, n)) < mpmath.mpf("1e-45")


def test_the_directed_second_stencil_is_mpmath_diffs_direction_1():
    ctx = context()
    x0, y0 = ctx.mpf("0.375"), ctx.mpf("-1.25")

    def g(x, y):
        return ctx.exp(x * y) + ctx.sin(x) * y**3

    got = second(ctx, lambda moves, h: g(x0 + sum(k * h for i, k in moves if i == 0),
                                         y0 + sum(k * h for i, k in moves if i == 1)),
                 [(0, 0), (1, 0), (1, 1)])  # fmt: skip
    exact = {(0, 0): y0**2 * ctx.exp(x0 * y0) - ctx.sin(x0) * y0**3,
             (1, 0): ctx.exp(x0 * y0) * (1 + x0 * y0) + 3 * ctx.cos(x0) * y0**2,
             (1, 1): x0**2 * ctx.exp(x0 * y0) + 6 * ctx.sin(x0) * y0}  # fmt: skip
    for k, v in exact.items():
        assert abs(got[k] - v) < mpmath.mpf("1e-45"), k
    assert abs(got[0, 0] - ctx.diff(lambda x: g(x, y0), x0, 2, direction=1)) < mpmath.mpf("1e-45")


# -- closed forms, in mp ------------------------------------------------------------------------
A = np.array([[2.0, -1.0, 0.5], [0.25, 1.0, -3.0], [1.5, 0.0, 0.75]])


def test_the_hessian_of_a_quadratic_is_a_plus_a_transpose():
    p = _problem(lambda xp, x: x @ xp.asarray(A) @ x, x=(3,))
    be = MpMath()
    got = be._hessian(_Bound(be, p))
    assert _worst(got, _mp(A + A.T)) < TIGHT
    assert _worst(be._d3(_Bound(be, p)), [0]) < TIGHT  # a quadratic's third derivative


def test_the_softmax_jacobian_is_diag_h_minus_h_h_transpose():
    p = _problem(lambda xp, x: xp.softmax(x), x=(5,))
    be = MpMath()
    b = _Bound(be, p)
    h = b.xp.softmax(b.x0)
    want = np.diag(h) - np.outer(h, h)
    assert _worst(be._jacobian(b), want) < TIGHT
    assert _worst(be._grad(b), want.T @ b.u) < TIGHT  # Jᵀu from the same columns
    v = b.probe("tangent")
    assert _worst(be._jvp(b), want @ v) < TIGHT


def test_hvp_and_d3_of_an_exponential_sum():
    # s = <u, exp(x) * x>: d²s/dx_i² = u_i e^x_i (x_i + 2), d³/dt³ s(x + t w) = Σ u w³ e^x (x + 3)
    p = _problem(lambda xp, x: xp.exp(x) * x, x=(4,))
    be = MpMath()
    b = _Bound(be, p)
    w, e = b.probe("direction"), b.xp.exp(b.x0)
    assert _worst(be._hvp(b), b.u * e * (b.x0 + 2) * w) < TIGHT
    assert _worst([be._d3(b)], [np.sum(b.u * w**3 * e * (b.x0 + 3))]) < TIGHT
    got = be.d3(p)
    assert got.shape == () and got.dtype == np.float64
    assert got == float(np.sum(b.u * w**3 * e * (b.x0 + 3)))


def test_a_matrix_input_hessian_matches_its_closed_form():
    # s = <u, tanh(W x)>: ∂²s/∂W_ij∂x_k = u_i (t'_i δ_jk + t''_i W_ik x_j), t = tanh(W x)
    p = _problem(lambda xp, w, x: xp.tanh(w @ x), w=(2, 3), x=(3,))
    be = MpMath()
    b = _Bound(be, p)
    w, x = b.x0[:6].reshape(2, 3), b.x0[6:]
    t = b.xp.tanh(w @ x)
    d1, d2 = 1 - t * t, -2 * t * (1 - t * t)
    jac = np.concatenate([(d1[:, None, None] * np.eye(2)[:, :, None] * x[None, None, :]
                           ).reshape(2, 6), d1[:, None] * w], axis=1)  # fmt: skip
    hess = np.zeros((9, 9), dtype=object)
    for i in range(2):
        hess += b.u[i] * d2[i] * np.outer(jac[i] / d1[i], jac[i] / d1[i])
        for j in range(3):  # d²(W x)_i / dW_ij dx_j = 1
            hess[3 * i + j, 6 + j] += b.u[i] * d1[i]
            hess[6 + j, 3 * i + j] += b.u[i] * d1[i]
    assert _worst(be._jacobian(b), jac) < TIGHT
    assert _worst(be._hessian(b), hess) < TIGHT


# -- rows in a run ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["softmax_1d", "matmul_mat_mat", "conv2d_stride_padding"])
def test_mp_rows_exist_and_pass_for_vector_matrix_and_conv_cases(name, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, "off")
    cache.root.cache_clear()
    try:
        res = Runner(["mp", "inhouse", "fd"], seed=0).run(
            [load_cases()[name]], ["float64", "float32"], QUANTITIES
        )
    finally:
        cache.root.cache_clear()
    s = res.summary
    mp = s[s.backend == "mp"]
    # every computed quantity; the self-checks judge backends under test, not oracles
    assert set(mp.quantity) == set(load_cases()[name].quantities) & set(COMPUTED)
    assert set(mp.dtype) == {"float64"} and set(mp.verdict) == {"pass"}
    # the float32 groups borrow mp's float64 rows as their reference
    f32 = s[(s.dtype == "float32") & (s.backend == "inhouse") & s.quantity.isin(COMPUTED)]
    assert set(f32.reference) == {"mp"} and set(f32.reference_dtype) == {"float64"}


def test_a_cell_over_the_budget_is_skipped_with_a_reason_naming_it(monkeypatch):
    monkeypatch.setattr(mpmod, "BUDGET", 400)
    p = make_problem(load_cases()["softmax_1d"], 0, "float64")
    be = MpMath()
    be.compute("value", p)  # within: one evaluation of a few dozen calls
    named = r"over the budget of 400 \(harness\.backends\.mp\.BUDGET\)"
    with pytest.raises(Unsupported, match=r"mp hessian needs ~28 evaluations of a case of \d+ "
                       r"Python calls .*" + named):  # fmt: skip
        be.compute("hessian", p)
    before = be.evaluations
    with pytest.raises(Unsupported, match="BUDGET"):
        be.compute("grad", p)
    assert be.evaluations == before  # refused before computing
    monkeypatch.setattr(mpmod, "BUDGET", 10)
    with pytest.raises(Unsupported, match=r"over the budget of 10 \(harness.backends.mp.BUDGET\)"):
        MpMath().compute("value", p)


def test_a_large_case_is_refused_before_it_is_evaluated():
    p = make_problem(load_cases()["lse_100000"], 0, "float64")
    be = MpMath()
    with pytest.raises(Unsupported, match=r"elements .*harness\.backends\.mp\.BUDGET"):
        be.compute("grad", p)
    assert be.evaluations == 0


def test_the_budget_skips_the_same_cells_in_every_process():
    p = make_problem(load_cases()["lstm_l2_b2_c3"], 0, "float64")
    first, again = MpMath(), MpMath()
    first.compute("value", p)
    again.compute("value", p)
    calls = [next(v[1] for k, v in be._memo.items() if k[0] == "value") for be in (first, again)]
    assert calls[0] == calls[1] > 100


def test_the_default_registry_skips_only_what_its_budget_names():
    """Every cell of the default registry within the dense limit is computed except the
    Hessians the budget names (this is the budget's statement in the README)."""
    over = []
    for case in load_cases().values():
        if "large" in case.tags or "hessian" not in case.quantities:
            continue
        p = make_problem(case, 0, "float64")
        be = MpMath()
        be.compute("value", p)
        calls = next(v[1] for k, v in be._memo.items() if k[0] == "value")
        if p.n <= 64 and mpmod.evaluations("hessian", p.n) * calls > mpmod.BUDGET:
            over.append(case.name)
    assert sorted(over) == ["conv2d_channels", "gmm_d2_k5"]


def _reads_dtype(xp, x):
    """y = x + eps: reads the namespace's dtype, which is not in the vocabulary."""
    return x + float(np.finfo(xp.dtype).eps)


def test_a_case_calling_an_op_mp_lacks_is_skipped_with_the_reason():
    case = Case("reads_dtype", _reads_dtype, "t", {"x": array(3)}, "y = x + eps.")
    s = Runner(["mp", "fd"], seed=0).run([case], ["float64"], ("value", "grad")).summary
    mp = s[s.backend == "mp"]
    assert set(mp.verdict) == {"skipped"} and len(mp) == 2
    assert all("mp's namespace has no 'dtype'" in r for r in mp.reason)


# -- the project cache --------------------------------------------------------------------------
def _run(cases, quantities=QUANTITIES):
    runner = Runner(["mp", "inhouse"], seed=0)
    res = runner.run([load_cases()[c] for c in cases], ["float64"], quantities)
    return res.summary, runner.backends["mp"]


def test_a_second_run_takes_every_mp_cell_from_the_cache(cache_folder):
    cold, be = _run(["softmax_1d", "lstm_l2_b2_c3"])
    assert be.evaluations > 100
    runner = Runner(["mp", "inhouse"], seed=0)
    warm = runner.run([load_cases()[c] for c in ["softmax_1d", "lstm_l2_b2_c3"]], ["float64"],
                      QUANTITIES).summary  # fmt: skip
    assert runner.backends["mp"].evaluations == 0  # harness.memo recalled every cell
    assert runner.memo.recalled["mp"] == len(cold[cold.backend == "mp"])
    cols = ["case", "quantity", "verdict", "max_abs_err", "reason"]
    assert cold[cols].equals(warm[cols])


def test_skipped_cells_are_kept_too_and_a_damaged_entry_is_recomputed(cache_folder, monkeypatch):
    monkeypatch.setattr(mpmod, "BUDGET", 400)
    cold, _ = _run(["softmax_1d"], ("value", "hessian"))
    assert "BUDGET" in cold[(cold.backend == "mp") & (cold.quantity == "hessian")].reason.item()
    _, be = _run(["softmax_1d"], ("value", "hessian"))
    assert be.evaluations == 0
    for entry in cache_folder.rglob("*"):
        if entry.is_file():
            entry.write_bytes(b"not a result")
    again, be = _run(["softmax_1d"], ("value", "hessian"))
    assert be.evaluations > 0
    assert again.reason.tolist() == cold.reason.tolist()


def test_a_case_outside_the_package_is_not_kept(cache_folder):
    case = Case("outside", lambda xp, x: xp.sin(x), "t", {"x": array(3)}, "y = sin(x)")
    for _ in range(2):
        runner = Runner(["mp"], seed=0)
        runner.run([case], ["float64"], ("value", "grad"))
        assert runner.backends["mp"].evaluations > 0
    assert not [f for f in cache_folder.rglob("*/oracles/*") if f.is_file()]


# -- the namespace ------------------------------------------------------------------------------
#: Vocabulary ops the engine-op table does not call by name.
EXTRA = [
    op("arctan", lambda xp, a: xp.arctan(a) * a, a=array(2, 3, low=-3, high=3)),
    op("pow_op", lambda xp, a, b: xp.pow(a, b), a=array(2, 3, low=0.5, high=2), b=array(3)),
]


@pytest.mark.parametrize("spec", OPS + EXTRA, ids=lambda s: s.name)
def test_every_op_on_mpmath_arrays_is_numpys_float64_value(spec: Op):
    p = problem(spec, "float64")
    be = MpMath()
    got = be.compute("value", p)
    want = spec.fn(NumpyNamespace(), *p.args.values())
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14, err_msg=spec.name)


def test_the_op_tables_cover_the_vocabulary():
    from harness.conformance import _Recorder
    from harness.vocabulary import VOCABULARY

    used: set[str] = set()
    for spec in OPS + EXTRA:
        rec = _Recorder(NumpyNamespace())
        spec.fn(rec, *problem(spec, "float64").args.values())
        used |= rec.used
    assert set(VOCABULARY) - used == set()


def test_a_quantity_mp_does_not_know_is_skipped_not_an_error():
    p = make_problem(load_cases()["softmax_1d"], 0, "float64")
    with pytest.raises(Unsupported, match="mp does not compute d4"):
        MpMath().compute("d4", p)


def test_the_benchmark_table_has_seconds_per_quantity_and_the_skipped_with_their_reason():
    from benchmarks import bench_mp

    df = bench_mp.run(("softmax_1d", "conv2d_channels"))
    assert list(df.columns) == bench_mp.COLUMNS
    rows = {r["case"]: r for r in df.to_dict("records")}
    soft, conv = rows["softmax_1d"], rows["conv2d_channels"]
    assert all(soft[f"{q}_s"] > 0 for q in COMPUTED) and soft["skipped"] == ""
    assert conv["hessian_s"] != conv["hessian_s"]  # NaN: not computed
    assert conv["skipped"].startswith("hessian: mp hessian needs ~1891 evaluations")
    assert "harness.backends.mp.BUDGET" in conv["skipped"]
    assert conv["calls"] > 1000 and conv["in_run_s"] > 0
