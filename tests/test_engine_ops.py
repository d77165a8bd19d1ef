"""Every op's derivatives (value, VJP, JVP, Jacobian, HVP, Hessian) on the engine against
torch.func, and in float32. The table of ops (each one line written once against the
vocabulary) and the tolerance check are shared with the other engine tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from harness import backends
from harness import engine as E
from harness.backends.inhouse import InHouse, bind
from harness.namespace import NumpyNamespace
from harness.problem import Problem
from harness.registry import Input, array, labels, scalar
from harness.tolerances import Tol

# torch.func falls back to a loop for take: slower, not wrong.
pytestmark = pytest.mark.filterwarnings("ignore:There is a performance drop")


def close(got, want, what: str, quantity: str = "grad", dtype: str = "float64") -> None:
    """got ≈ want within the harness's tolerance for `quantity` in `dtype`."""
    tol = Tol.lookup(dtype, quantity)
    np.testing.assert_allclose(got, want, rtol=tol.rtol, atol=tol.atol, err_msg=what)


@dataclass
class Op:
    """One op under test: fn(xp, *inputs), written once for the engine and its reference."""

    name: str
    fn: Callable
    inputs: dict[str, Input] = field(default_factory=dict)


def op(name: str, fn: Callable, **inputs: Input) -> Op:
    """An Op; without inputs, one (2, 3) array named `a`."""
    return Op(name, fn, inputs or {"a": array(2, 3)})


def two_paths(xp, x):
    """l = f(g(x), h(x)) with g = sin, h = exp, f(y, z) = y*z + y**3 (seed problem 1)."""
    y, z = xp.sin(x), xp.exp(x)
    return y * z + y**3


pos, classes = array(2, 3, low=0.5, high=2.0), labels(4, classes=3)
wide, mat42 = array(2, 3, low=-3.0, high=3.0), array(4, 2)
OPS = [
    op("add", lambda xp, a, b: xp.add(a, b), a=array(3, 1), b=array(4)),
    op("radd_scalar", lambda xp, a: 1.5 + a),
    op("subtract", lambda xp, a, b: a - b, a=array(2, 3), b=array(3)),
    op("rsub_scalar", lambda xp, a: 2.0 - xp.subtract(a, 1)),
    op("multiply", lambda xp, a, b: xp.multiply(a, b), a=array(2, 3), b=array(1, 3)),
    op("mul_scalar", lambda xp, a: a * 3.0 * a),
    op("divide", lambda xp, a, b: xp.divide(a, b), a=array(2, 3), b=pos),
    op("rdiv_scalar", lambda xp, b: 1.0 / b, b=pos),
    op("negative", lambda xp, a: xp.negative(a) * a),
    op("pow_int", lambda xp, a: a**3),
    op("pow_frac", lambda xp, a: xp.pow(a, 1.5), a=pos),
    op("pow_elementwise", lambda xp, a, b: xp.pow(a, b), a=pos, b=array(2, 3, high=2.0)),
    op("rpow", lambda xp, a: 2.0**a),
    op("exp", lambda xp, a: xp.exp(a)),
    op("log", lambda xp, a: xp.log(a), a=pos),
    op("sqrt", lambda xp, a: xp.sqrt(a), a=pos),
    op("sin", lambda xp, a: xp.sin(a)),
    op("cos", lambda xp, a: xp.cos(a)),
    op("tanh", lambda xp, a: xp.tanh(a)),
    op("sigmoid", lambda xp, a: xp.sigmoid(a), a=array(2, 3, low=-3.0, high=3.0)),
    op("relu", lambda xp, a: xp.relu(a) * a),
    op("abs", lambda xp, a: xp.abs(a) * a),
    op("maximum", lambda xp, a, b: xp.maximum(a, b) * a, a=array(2, 3), b=array(3)),
    op("minimum", lambda xp, a: xp.minimum(a, 0.2) * a),
    op("where", lambda xp, a, b: xp.where(a > 0, a * a, xp.sin(b)), a=array(2, 3), b=array(3)),
    op("matmul_2d", lambda xp, a, b: xp.matmul(a, b), a=array(3, 4), b=array(4, 2)),
    op("matmul_mv", lambda xp, a, b: a @ b, a=array(3, 4), b=array(4)),
    op("matmul_vm", lambda xp, a, b: a @ b, a=array(4), b=array(4, 3)),
    op("matmul_vv", lambda xp, a, b: a @ b, a=array(4), b=array(4)),
    op("matmul_batched", lambda xp, a, b: a @ b, a=array(2, 3, 2), b=array(2, 2, 3)),
    op("matmul_bcast", lambda xp, a, b: a @ b, a=array(3, 2), b=array(2, 2, 2)),
    op("matmul_const", lambda xp, a: xp.asarray([[1.0, 2.0], [0.5, -1.0]]) @ a @ a, a=array(2, 2)),
    op("sum_all", lambda xp, a: xp.sum(xp.sin(a))),
    op("sum_axis", lambda xp, a: xp.sum(a, axis=0) ** 2),
    op("sum_keepdims", lambda xp, a: xp.sum(a, axis=(0, 2), keepdims=True) * a, a=array(2, 2, 3)),
    op("mean_axis", lambda xp, a: xp.mean(a, axis=1) ** 2),
    op("max_all", lambda xp, a: xp.max(a) * a),
    op("max_axis", lambda xp, a: xp.max(a, axis=1, keepdims=True) ** 2),
    op("reshape", lambda xp, a: xp.reshape(a, (3, 2)) @ a),
    op("transpose", lambda xp, a: xp.transpose(a) @ a),
    op("transpose_axes", lambda xp, a: xp.transpose(a, (1, 0, 2)) ** 3, a=array(2, 3, 2)),
    op("transpose_cyclic", lambda xp, a: xp.transpose(a, (1, 2, 0)) ** 3, a=array(2, 3, 2)),
    op("take_flat", lambda xp, a: xp.take(a, [0, 4, 4, 1]) ** 2),
    op("take_axis", lambda xp, a: xp.take(a, [2, 0, 2], axis=1) ** 2),
    op("getitem_slice", lambda xp, a: a[1:, ::2] ** 3),
    op("getitem_int", lambda xp, a: a[1] * a[0]),
    op("getitem_fancy", lambda xp, a: a[[0, 0, 1]] ** 2),
    op("concatenate", lambda xp, a, b: xp.concatenate([a, b]) ** 2, a=array(2, 3), b=array(1, 3)),
    op("concat_axis1", lambda xp, a: xp.concatenate([xp.sin(a), a * a], axis=1)),
    op("softmax", lambda xp, a: xp.softmax(a), a=array(2, 4)),
    op("softmax_axis0", lambda xp, a: xp.softmax(a, axis=0), a=array(3, 2)),
    op("log_softmax", lambda xp, a: xp.log_softmax(a), a=array(2, 4)),
    op("logsumexp_all", lambda xp, a: xp.logsumexp(a)),
    op("logsumexp_axis", lambda xp, a: xp.logsumexp(a, axis=1, keepdims=True) * a),
    op("cross_entropy", lambda xp, z, y: xp.cross_entropy(z, y), z=array(4, 3), y=classes),
    op("asarray", lambda xp, a: xp.asarray([1.0, -2.0, 3.0]) * xp.exp(a)),
    op("clip", lambda xp, a: xp.clip(a, -0.5, 0.6) * a),
    op("clip_one_side", lambda xp, a: xp.clip(a, None, 0.3) ** 2),
    op("logaddexp", lambda xp, a, b: xp.logaddexp(a, b), a=wide, b=array(3, low=-3, high=3)),
    op("logaddexp_scalar", lambda xp, a: xp.logaddexp(a, 0.5) * a),
    op("erf", lambda xp, a: xp.erf(a), a=array(2, 3, low=-2, high=2)),
    op("softplus", lambda xp, a: xp.softplus(a), a=wide),
    op("min_all", lambda xp, a: xp.min(a) * a),
    op("min_axis", lambda xp, a: xp.min(a, axis=0, keepdims=True) ** 2),
    op("prod_all", lambda xp, a: xp.prod(a), a=pos),
    op("prod_axis", lambda xp, a: xp.prod(a, axis=1) ** 2, a=pos),
    op("prod_axes", lambda xp, a: xp.prod(a, axis=(0, 2), keepdims=True) * a, a=array(2, 2, 3)),
    op("var_all", lambda xp, a: xp.var(a)),
    op("var_axis", lambda xp, a: xp.var(a, axis=1, keepdims=True) * a),
    op("std_all", lambda xp, a: xp.std(a)),
    op("std_axis", lambda xp, a: xp.std(a, axis=0) * xp.sum(a, axis=0)),
    op("cumsum_flat", lambda xp, a: xp.cumsum(a) ** 2),
    op("cumsum_axis", lambda xp, a: xp.cumsum(a, axis=1) * a),
    op("broadcast_to", lambda xp, a: xp.broadcast_to(a, (4, 2, 3)) * xp.sin(a)),
    op("broadcast_to_unit", lambda xp, a: xp.broadcast_to(a, (2, 3, 4)) ** 2, a=array(2, 3, 1)),
    op("expand_dims", lambda xp, a: xp.expand_dims(a, 1) * xp.expand_dims(a, 0)),
    op("expand_dims_axes", lambda xp, a: xp.expand_dims(a, (0, -1)) ** 3),
    op("squeeze", lambda xp, a: xp.squeeze(a) ** 3, a=array(2, 1, 3, 1)),
    op("squeeze_axis", lambda xp, a: xp.squeeze(a, 1) @ xp.transpose(xp.squeeze(a, 1)),
       a=array(2, 1, 3)),
    op("einsum_matmul", lambda xp, a, b: xp.einsum("ij,jk->ik", a, b), a=array(3, 4), b=mat42),
    op("einsum_implicit", lambda xp, a, b: xp.einsum("ij,kj", a, b), a=array(3, 4), b=array(2, 4)),
    op("einsum_three", lambda xp, a, b, c: xp.einsum("i,ij,j->", a, b, c),
       a=array(3), b=array(3, 4), c=array(4)),
    op("einsum_summed_in_one", lambda xp, a, b: xp.einsum("ijk,k->i", a, b),
       a=array(2, 3, 2), b=array(2)),
    op("einsum_trace", lambda xp, a: xp.einsum("ii->", a) * xp.einsum("ij,ij->", a, a),
       a=array(3, 3)),
    op("einsum_diagonal", lambda xp, a: xp.einsum("ii->i", a) ** 2, a=array(3, 3)),
    op("einsum_same_operand", lambda xp, a: xp.einsum("i,i->", a, a), a=array(4)),
    op("conv2d", lambda xp, x, w: xp.conv2d(x, w), x=array(1, 2, 4, 4), w=array(3, 2, 2, 2)),
    op("conv2d_stride_pad", lambda xp, x, w: xp.conv2d(x, w, stride=2, padding=1),
       x=array(2, 1, 5, 4), w=array(2, 1, 3, 3)),
    op("conv2d_pairs", lambda xp, x, w: xp.conv2d(x, w, stride=(1, 2), padding=(0, 1)),
       x=array(1, 2, 4, 5), w=array(2, 2, 2, 3)),
    op("max_pool2d", lambda xp, x: xp.max_pool2d(x, 2), x=array(1, 2, 4, 4)),
    op("max_pool2d_overlap", lambda xp, x: xp.max_pool2d(x, 3, stride=1, padding=1),
       x=array(1, 1, 4, 4)),
    op("max_pool2d_pairs", lambda xp, x: xp.max_pool2d(x, (2, 3), stride=(2, 1)) ** 2,
       x=array(2, 1, 4, 5)),
    op("two_paths", two_paths, x=scalar(-2, 2)),
    op("mlp", lambda xp, x, w: xp.tanh(x @ w) @ xp.transpose(w), x=array(2, 3), w=array(3, 2)),
]  # fmt: skip
BY_NAME = {s.name: s for s in OPS}


def problem(spec: Op, dtype: str, seed: int = 0) -> Problem:
    """The Problem the runner would build: inputs, and seeded cotangent, tangent and direction."""
    rng = np.random.default_rng(seed)
    args = {n: i.draw(rng) for n, i in spec.inputs.items()}
    wrt = tuple(n for n, i in spec.inputs.items() if i.kind == "float")
    out_shape = np.shape(spec.fn(NumpyNamespace(), *args.values()))
    n = sum(int(np.prod(np.shape(args[k]))) for k in wrt)
    probes = [rng.standard_normal(out_shape), rng.standard_normal(n), rng.standard_normal(n)]
    return Problem(spec.fn, args, wrt, np.dtype(dtype), *probes, out_shape=out_shape)


QUANTITIES = ("value", "grad", "jvp", "jacobian", "hvp", "hessian")


@pytest.fixture(scope="module")
def torch_func():
    """The torch backend (torch.func over torch's own functions; no code shared with the
    engine), or a skip naming the install."""
    be = backends.get("torch")
    why = be.available()
    if why:
        pytest.skip(why)
    return be


def squared(spec: Op) -> Op:
    """fn(x)**2: makes the second backward pass run through the op's own VJP graph."""

    def fn(xp, *a):
        y = spec.fn(xp, *a)
        return y * y

    return Op(spec.name + "**2", fn, spec.inputs)


@pytest.mark.parametrize("spec", OPS + [squared(s) for s in OPS], ids=lambda s: s.name)
def test_op_matches_torch(spec: Op, torch_func):
    p = problem(spec, "float64")
    be = InHouse()
    for q in QUANTITIES:
        got, want = be.compute(q, p), torch_func.compute(q, p)
        assert got.dtype == np.float64 and got.shape == want.shape, (spec.name, q, got.shape)
        close(got, want, f"{spec.name}: {q} (inhouse vs torch.func)", q)


@pytest.mark.parametrize("spec", OPS, ids=lambda s: s.name)
def test_hvp_reverse_over_reverse_equals_forward_over_reverse(spec: Op):
    """Tangents pushed through the gradient graph (forward-over-reverse) give H w as well."""
    p = problem(spec, "float64")
    fn, primals = bind(p)
    xs, g = E.gradient_graph(fn, primals, p.cotangent)
    for x, w in zip(xs, (p.split(p.direction)[n] for n in p.wrt), strict=True):
        x.tangent = w
    got = E.push_tangents(E.toposort(g), g)
    close(got, InHouse().hvp(p), f"{spec.name}: hvp two ways", "hvp")


@pytest.mark.parametrize("spec", OPS, ids=lambda s: s.name)
def test_op_float32(spec: Op):
    """float32 end to end: every quantity comes back float32 and near the float64 result."""
    p32, p64 = problem(spec, "float32"), problem(spec, "float64")
    be = InHouse()
    for q in QUANTITIES:
        got, want = be.compute(q, p32), be.compute(q, p64)
        assert got.dtype == np.float32, (spec.name, q, got.dtype)
        close(got, want, f"{spec.name}: {q} float32 vs float64", q, "float32")
