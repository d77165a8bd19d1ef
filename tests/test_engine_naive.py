"""The naive second-order rule of seed problem 1b (inhouse-naive): its formula (1-4), exact for
one primitive on the leaves, linear ops passing the seed on like the gradient."""

from __future__ import annotations

import numpy as np
import pytest

from harness import engine as E
from harness.backends.inhouse import InHouse, InHouseNaive
from harness.registry import array
from harness.tolerances import Tol
from tests.test_engine_ops import BY_NAME, Op, close, op, problem, two_paths

xp = E.Namespace(np.float64)


def test_naive_rule_reproduces_1_4():
    x0 = np.array([0.7, -1.3, 2.0])
    d2 = E.naive_diagonal(lambda x: xp.sum(two_paths(xp, x)), [x0])[0]
    y = np.sin(x0)
    f_yy, f_zz, g2, h2 = 6 * y, 0.0, -np.sin(x0), np.exp(x0)
    close(d2, f_yy * g2 + f_zz * h2, "naive rule vs (1-4)", "hessian")
    exact = np.diag(E.hessian(lambda x: xp.sum(two_paths(xp, x)), [x0]))
    tol = Tol.lookup("float64", "hessian")
    apart = np.abs(exact - d2) > tol.atol + tol.rtol * np.abs(exact)
    assert apart.all(), f"naive must differ from (1-3) at every x here: {exact} vs {d2}"


def test_naive_rule_is_exact_for_one_elementwise_op():
    rng = np.random.default_rng(1)
    x0, u = rng.normal(size=5), rng.normal(size=5)
    want = np.diag(u * np.exp(x0))
    close(E.naive_hessian(lambda x: xp.sum(u * xp.exp(x)), [x0]), want, "sum", "hessian")
    close(E.naive_hessian(xp.exp, [x0], u), want, "cotangent as seed", "hessian")
    close(E.naive_hessian(xp.exp, [x0], u), E.hessian(xp.exp, [x0], u), "naive = exact", "hessian")


# One primitive applied to the leaves: there the naive rule's d2 is exactly the diagonal of the
# Hessian of <u, f(x)>, sum_i u_i ∂²f_i/∂x_j², which checks every op's own naive d2 rule.
ONE_PRIMITIVE = [BY_NAME[name] for name in (
    "multiply", "divide", "rdiv_scalar", "pow_int", "pow_frac",
    "pow_elementwise", "rpow", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "matmul_2d",
    "matmul_mv", "matmul_vm", "matmul_vv", "matmul_batched", "matmul_bcast", "softmax",
    "softmax_axis0", "log_softmax", "logsumexp_all", "cross_entropy", "logaddexp", "erf",
    "softplus", "prod_all", "var_all", "std_all", "einsum_matmul", "einsum_three", "conv2d",
    "conv2d_stride_pad", "max_pool2d", "max_pool2d_overlap",
)] + [
    op("clip_only", lambda xp, a: xp.clip(a, -0.5, 0.5)),
    op("min_only", lambda xp, a: xp.min(a, axis=1)),
    op("prod_only", lambda xp, a: xp.prod(a, axis=0), a=array(2, 3, low=0.5, high=2.0)),
    op("var_only", lambda xp, a: xp.var(a, axis=1, keepdims=True)),
    op("std_only", lambda xp, a: xp.std(a, axis=0)),
    op("relu_only", lambda xp, a: xp.relu(a)),
    op("abs_only", lambda xp, a: xp.abs(a)),
    op("max_only", lambda xp, a: xp.max(a, axis=0)),
    op("maximum_only", lambda xp, a, b: xp.maximum(a, b), a=array(2, 3), b=array(3)),
    op("logsumexp_keep", lambda xp, a: xp.logsumexp(a, axis=0, keepdims=True)),
]  # fmt: skip
# Ops linear in their inputs pass the seed on exactly like the gradient: d2 = J^T u.
LINEAR = [BY_NAME[name] for name in ("add", "radd_scalar", "subtract")] + [
    op("mul_by_constant", lambda xp, a: a * np.array([1.0, -2.0, 3.0])),
    op("concatenate_only", lambda xp, a, b: xp.concatenate([a, b]), a=array(2, 3), b=array(1, 3)),
    op("sum_only", lambda xp, a: xp.sum(a, axis=1)),
    op("take_only", lambda xp, a: xp.take(a, [1, 1, 0], axis=1)),
    op("mean_reshape_T", lambda xp, a: xp.transpose(xp.reshape(xp.mean(a, axis=0), (3, 1)))),
    op(
        "getitem_where",
        lambda xp, a, b: xp.where(a > 0, a, b)[1:, [0, 0]],
        a=array(2, 3),
        b=array(3),
    ),
    op("div_by_constant", lambda xp, a: -a / np.array([1.0, -2.0, 3.0])),
    op("cumsum_only", lambda xp, a: xp.cumsum(a, axis=0)),
    op(
        "shapes_only", lambda xp, a: xp.squeeze(xp.broadcast_to(xp.expand_dims(a, 0), (1, 3, 2, 3)))
    ),
    op("einsum_one", lambda xp, a: xp.einsum("ij->ji", a) + xp.einsum("ii->i", a[:, :2])[0]),
    op(
        "conv2d_fixed_kernel",
        lambda xp, x: xp.conv2d(x, np.ones((2, 1, 2, 2)), padding=1),
        x=array(1, 1, 3, 3),
    ),
]


@pytest.mark.parametrize("spec", ONE_PRIMITIVE, ids=lambda s: s.name)
def test_naive_rule_is_hessian_diagonal_for_one_primitive(spec: Op):
    p = problem(spec, "float64")
    naive, exact = np.diag(InHouseNaive().hessian(p)), np.diag(InHouse().hessian(p))
    close(naive, exact, f"{spec.name}: naive d2 vs diag of the exact Hessian", "hessian")


@pytest.mark.parametrize("spec", LINEAR, ids=lambda s: s.name)
def test_naive_rule_passes_linear_ops_like_the_gradient(spec: Op):
    p = problem(spec, "float64")
    d2 = np.diag(InHouseNaive().hessian(p))
    close(d2, InHouse().grad(p), f"{spec.name}: d2 vs J^T u", "hessian")


def test_naive_backend_is_diag_of_d2():
    p = problem(Op("two_paths", two_paths, {"x": array(3)}), "float64")
    d2 = E.naive_diagonal(lambda x: two_paths(xp, x), [p.args["x"]], p.cotangent)[0]
    naive = InHouseNaive()
    close(naive.hessian(p), np.diag(d2), "naive hessian = diag(d2)", "hessian")
    close(naive.hvp(p), d2 * p.direction, "naive hvp = d2 ⊙ w", "hvp")
    close(naive.grad(p), InHouse().grad(p), "naive first order is the exact engine's")
