"""Unit tests of the in-house engine: graph mechanics against analytic formulas, every op's
derivatives (VJP, JVP, Jacobian, HVP, Hessian) against torch.func, and the naive rule of
seed problem 1b against its formula (1-4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from harness import engine as E
from harness.backends.base import Problem
from harness.backends.inhouse import InHouse, InHouseNaive, bind
from harness.namespace import NumpyNamespace
from harness.registry import Input, array, labels, scalar

# One table, keyed by dtype: analytic and torch references agree to rounding.
TOL = {
    "float64": {"rtol": 1e-9, "atol": 1e-11},
    "float32": {"rtol": 2e-3, "atol": 2e-4},
}


def close(got, want, what: str, dtype: str = "float64") -> None:
    np.testing.assert_allclose(got, want, err_msg=what, **TOL[dtype])


xp = E.Namespace(np.float64)


# ---------------------------------------------------------------- graph mechanics


def test_value_feeding_two_paths_accumulates():
    """Seed 1a: l = f(g(x), h(x)), g = sin, h = exp, f = y*z + y**3; x.grad = yl g' + zl h'."""
    x0 = 0.7
    x = E.variable(x0)
    y, z = xp.sin(x), xp.exp(x)
    E.backward(y * z + y**3)
    yl, zl = np.exp(x0) + 3 * np.sin(x0) ** 2, np.sin(x0)
    close(y.grad, yl, "y.grad = ∂f/∂y")
    close(z.grad, zl, "z.grad = ∂f/∂z")
    close(x.grad, yl * np.cos(x0) + zl * np.exp(x0), "x.grad (1-2)")


def test_many_paths_and_diamonds():
    x0 = np.array([0.3, -1.2])
    x = E.variable(x0)
    E.backward(xp.sum(x * x * x * x * x))
    close(x.grad, 5 * x0**4, "x used by five factors")
    # 40 stacked diamonds a -> (a, 1*a) -> a + 1*a: gradient 2**40, visited once per node.
    x = E.variable(1.5)
    a = x
    for _ in range(40):
        a = a + 1.0 * a
    E.backward(a)
    close(x.grad, 2.0**40, "stacked diamonds")


def test_deep_chain_has_no_recursion_limit():
    x = E.variable(0.5)
    a = x
    for _ in range(5000):
        a = a + 0.0 * a
    E.backward(a)
    close(x.grad, 1.0, "chain of 5000 adds")


def test_backward_resets_gradients():
    x = E.variable(np.array([1.0, 2.0]))
    y = xp.sum(xp.exp(x))
    E.backward(y)
    E.backward(y)
    close(x.grad, np.exp([1.0, 2.0]), "second backward does not add to the first")


def test_constants_get_no_gradient():
    x = E.variable(np.array([1.0, 2.0, 3.0]))
    c = xp.asarray([2.0, -1.0, 0.5])
    k = E.constant(np.array(4.0))
    E.backward(xp.sum(c * x * k + c))
    assert c.grad is None and k.grad is None
    close(x.grad, 4.0 * np.array([2.0, -1.0, 0.5]), "grad of sum(c x k)")


def test_leaf_gradients_are_writeable_arrays():
    x, s = E.variable(np.ones((2, 3))), E.variable(2.0)
    E.backward(xp.sum(x) * s)
    for leaf in (x, s):
        assert isinstance(leaf.grad, np.ndarray) and leaf.grad.flags.writeable
    close(x.grad, np.full((2, 3), 2.0), "grad of sum(x) s")
    close(s.grad, 6.0, "grad of sum(x) s in s")


def test_broadcasting_sums_gradient_back():
    x0, y0 = np.arange(3.0).reshape(3, 1), np.array([1.0, -2.0, 0.5, 3.0])
    x, y = E.variable(x0), E.variable(y0)
    z = x * y  # (3, 4)
    E.backward(xp.sum(z))
    assert x.grad.shape == (3, 1) and y.grad.shape == (4,)
    close(x.grad, np.full((3, 1), y0.sum()), "x.grad summed over the broadcast axis")
    close(y.grad, np.full(4, x0.sum()), "y.grad summed over the broadcast axis")


def test_softmax_backward_is_the_seed_formula():
    """Seed (2-9): dl/dz = h * (g - <g, h>) along the axis."""
    rng = np.random.default_rng(0)
    z0, g = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    for axis in (-1, 0):
        z = E.variable(z0)
        h = xp.softmax(z, axis=axis)
        E.backward(h, g)
        want = h.value * (g - np.sum(g * h.value, axis=axis, keepdims=True))
        close(z.grad, want, f"softmax vjp along axis {axis}")


def test_getitem_scatters_and_accumulates_repeats():
    x = E.variable(np.arange(4.0))
    E.backward(xp.sum(x[[0, 0, 2]]) + xp.sum(x[1:3]))
    close(x.grad, [2.0, 1.0, 2.0, 0.0], "getitem vjp")


def test_comparisons_give_numpy_masks():
    x = E.variable(np.array([-1.0, 0.0, 2.0]))
    for mask in (x > 0, x < 0, x >= 0, x <= 0, x == 0, x != 0):
        assert isinstance(mask, np.ndarray) and mask.dtype == bool


def test_reflected_operators_with_numpy_operands():
    x0, c = np.array([[0.5, 2.0], [1.5, -1.0]]), np.array([[1.0, -2.0], [3.0, 0.5]])
    x = E.variable(x0)
    out = xp.sum(c @ x + c * x - c / x + np.abs(c) ** x + (1.0 - x))
    assert isinstance(out, E.Node)
    E.backward(out)
    want = c.sum(axis=0)[:, None] + c + c / x0**2 + np.abs(c) ** x0 * np.log(np.abs(c)) - 1
    close(x.grad, want, "reflected operators")


def test_subgradients_at_kinks():
    """relu'(0) = 0, abs'(0) = 0, ties split evenly for max and maximum (docs/engine.md)."""
    x = E.variable(np.array([0.0, 1.0, -1.0]))
    E.backward(xp.sum(xp.relu(x)) + xp.sum(xp.abs(x)))
    close(x.grad, [0.0, 2.0, -1.0], "relu' + abs'")
    x = E.variable(np.array([2.0, 1.0, 2.0]))
    E.backward(xp.max(x))
    close(x.grad, [0.5, 0.0, 0.5], "max splits among ties")
    a, b = E.variable(np.array([1.0, 3.0])), E.variable(np.array([1.0, 2.0]))
    E.backward(xp.sum(xp.maximum(a, b)))
    close(a.grad, [0.5, 1.0], "maximum: a")
    close(b.grad, [0.5, 0.0], "maximum: b")


def test_pow_exponent_derivative_at_zero_base_is_the_limit():
    """d(x**y)/dy = x**y log x -> 0 as x -> 0 (for y > 0), not 0 * (-inf) = NaN."""
    x, y = E.variable(np.array([0.0, 0.0, 2.0])), E.variable(np.array([2.0, 3.0, 3.0]))
    E.backward(xp.sum(x**y))
    close(y.grad, [0.0, 0.0, 8.0 * np.log(2.0)], "d/dy x**y")
    close(x.grad, [0.0, 0.0, 12.0], "d/dx x**y")


def test_log_softmax_keeps_float32_precision_at_1e4():
    x = np.array([-1e4, -1e4 + 0.5, -1e4 - 1.0], dtype=np.float32)
    s = x.astype(np.float64) - x.max()
    want = s - np.log(np.sum(np.exp(s)))
    got = E.evaluate(E.Namespace(np.float32).log_softmax, [x])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, err_msg="no cancellation in x - lse(x)")


def test_shape_mismatch_names_op_and_shapes():
    a, b = E.variable(np.ones((2, 3))), E.variable(np.ones(4))
    with pytest.raises(ValueError, match=r"add: .*\(2, 3\) and \(4,\)"):
        a + b
    with pytest.raises(ValueError, match=r"matmul: .*\(2, 3\) and \(4,\)"):
        a @ b
    with pytest.raises(ValueError, match=r"concatenate: .*\(2, 3\) and \(4,\)"):
        xp.concatenate([a, b])


@pytest.mark.parametrize("big", [1e4, -1e4])
def test_stable_at_large_inputs(big):
    x0 = np.array([big, -big, 0.0, 1.0])
    funcs = {
        "softmax": lambda x: xp.softmax(x),
        "log_softmax": lambda x: xp.log_softmax(x),
        "logsumexp": lambda x: xp.logsumexp(x),
        "sigmoid": lambda x: xp.sigmoid(x),
        "cross_entropy": lambda x: xp.cross_entropy(xp.reshape(x, (1, 4)), np.array([1])),
    }
    for name, f in funcs.items():
        v, (g,) = E.vjp(f, [x0])
        _, t = E.jvp(f, [x0], [np.ones(4)])
        (hv,) = E.hvp(f, [x0], [np.ones(4)])
        for q, a in {"value": v, "grad": g, "jvp": t, "hvp": hv}.items():
            assert np.all(np.isfinite(a)), f"{name} {q} at {big}: {a}"
    p = np.array([1.0, 0.0, 0.0, 0.0]) if big > 0 else np.array([0.0, 1.0, 0.0, 0.0])
    close(E.evaluate(funcs["softmax"], [x0]), p, "softmax saturates", "float32")
    close(E.evaluate(funcs["logsumexp"], [x0]), abs(big), "logsumexp = max", "float32")


def test_float32_stays_float32_inside():
    xf = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    xp32 = E.Namespace(np.float32)

    def f(x):
        h = xp32.tanh(x @ xp32.asarray(np.ones((3, 3))) * 0.5 + 1) ** 2 / 3.0
        m = xp32.mean(h, axis=0) - xp32.max(h) + xp32.logsumexp(h)
        return xp32.sum(xp32.softmax(xp32.sigmoid(m)) * xp.sqrt(2.0 + m))

    _, g = E.gradient_graph(f, [xf])
    nodes = E.toposort(g)
    assert nodes and all(n.dtype == np.float32 for n in nodes), {str(n.dtype) for n in nodes}
    x = E.variable(xf)
    out = f(x)
    E.backward(out)
    grads = {str(n.grad.dtype) for n in E.toposort(out)}
    assert grads == {"float32"}, grads


# ---------------------------------------------------------------- naive rule (seed 1b)


def two_paths(xp, x):
    """l = f(g(x), h(x)) with g = sin, h = exp, f(y, z) = y*z + y**3."""
    y, z = xp.sin(x), xp.exp(x)
    return y * z + y**3


def test_naive_rule_reproduces_1_4():
    x0 = np.array([0.7, -1.3, 2.0])
    d2 = E.naive_diagonal(lambda x: xp.sum(two_paths(xp, x)), [x0])[0]
    y = np.sin(x0)
    f_yy, f_zz, g2, h2 = 6 * y, 0.0, -np.sin(x0), np.exp(x0)
    close(d2, f_yy * g2 + f_zz * h2, "naive rule vs (1-4)")
    exact = np.diag(E.hessian(lambda x: xp.sum(two_paths(xp, x)), [x0]))
    assert np.all(np.abs(exact - d2) > 1e-3), "naive must differ from (1-3) here"


def test_naive_rule_is_exact_for_one_elementwise_op():
    rng = np.random.default_rng(1)
    x0, u = rng.normal(size=5), rng.normal(size=5)
    close(E.naive_hessian(lambda x: xp.sum(u * xp.exp(x)), [x0]), np.diag(u * np.exp(x0)), "sum")
    close(E.naive_hessian(xp.exp, [x0], u), np.diag(u * np.exp(x0)), "cotangent as seed")
    close(E.naive_hessian(xp.exp, [x0], u), E.hessian(xp.exp, [x0], u), "naive = exact")


# ---------------------------------------------------------------- every op against torch.func


@dataclass
class Op:
    """One op under test: fn(xp, *inputs), written once for the engine and torch."""

    name: str
    fn: Callable
    inputs: dict[str, Input] = field(default_factory=dict)


def op(name: str, fn: Callable, **inputs: Input) -> Op:
    """An Op; without inputs, one (2, 3) array named `a`."""
    return Op(name, fn, inputs or {"a": array(2, 3)})


pos, m23 = array(2, 3, low=0.5, high=2.0), array(2, 3)
classes = labels(4, classes=3)
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
    op("two_paths", two_paths, x=scalar(-2, 2)),
    op("mlp", lambda xp, x, w: xp.tanh(x @ w) @ xp.transpose(w), x=array(2, 3), w=array(3, 2)),
]


def numpy_problem(spec: Op, dtype: str, seed: int = 0) -> Problem:
    """The Problem the runner would build: inputs, and seeded cotangent, tangent and direction."""
    rng = np.random.default_rng(seed)
    args = {n: i.draw(rng) for n, i in spec.inputs.items()}
    wrt = tuple(n for n, i in spec.inputs.items() if i.kind == "float")
    out_shape = np.shape(spec.fn(NumpyNamespace(), *args.values()))
    n = sum(int(np.prod(np.shape(args[k]))) for k in wrt)
    probes = [rng.standard_normal(out_shape), rng.standard_normal(n), rng.standard_normal(n)]
    return Problem(spec.fn, args, wrt, np.dtype(dtype), *probes, out_shape=out_shape)


class TorchXP:
    """The vocabulary on torch tensors: the independent reference (kept apart from the backend)."""

    def __init__(self, torch):
        self.t, t = torch, torch
        for name in ("add", "subtract", "multiply", "divide", "negative", "pow", "exp", "log"):
            setattr(self, name, getattr(t, name))
        for name in ("sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "matmul"):
            setattr(self, name, getattr(t, name))

    def _t(self, a):
        return a if isinstance(a, self.t.Tensor) else self.t.as_tensor(a, dtype=self.t.float64)

    def _dims(self, a, axis):
        return tuple(range(a.ndim)) if axis is None else axis

    def asarray(self, a):
        return self._t(np.asarray(a))

    def maximum(self, a, b):
        return self.t.maximum(self._t(a), self._t(b))

    def minimum(self, a, b):
        return self.t.minimum(self._t(a), self._t(b))

    def where(self, mask, a, b):
        return self.t.where(self.t.as_tensor(mask), self._t(a), self._t(b))

    def sum(self, a, axis=None, keepdims=False):
        return self.t.sum(a, dim=self._dims(a, axis), keepdim=keepdims)

    def mean(self, a, axis=None, keepdims=False):
        return self.t.mean(a, dim=self._dims(a, axis), keepdim=keepdims)

    def max(self, a, axis=None, keepdims=False):
        return self.t.amax(a, dim=self._dims(a, axis), keepdim=keepdims)

    def logsumexp(self, a, axis=None, keepdims=False):
        return self.t.logsumexp(a, dim=self._dims(a, axis), keepdim=keepdims)

    def reshape(self, a, shape):
        return self.t.reshape(a, shape)

    def transpose(self, a, axes=None):
        return a.permute(*(axes or reversed(range(a.ndim))))

    def take(self, a, indices, axis=None):
        idx = self.t.as_tensor(np.asarray(indices))
        if axis is None:
            return a.reshape(-1)[idx]
        return self.t.index_select(a, axis, idx.reshape(-1)).reshape(
            a.shape[:axis] + idx.shape + a.shape[axis + 1 :]
        )

    def concatenate(self, arrays, axis=0):
        return self.t.cat(list(arrays), dim=axis)

    def softmax(self, a, axis=-1):
        return self.t.softmax(a, dim=axis)

    def log_softmax(self, a, axis=-1):
        return self.t.log_softmax(a, dim=axis)

    def cross_entropy(self, logits, labels):
        return self.t.nn.functional.cross_entropy(logits, self.t.as_tensor(labels).long())


def torch_reference(p: Problem) -> dict[str, np.ndarray]:
    """value, grad, jvp, jacobian, hvp and hessian of p by torch.func, over the flat inputs."""
    torch = pytest.importorskip("torch")
    from torch.func import hessian, jacfwd, jvp, vjp

    txp = TorchXP(torch)
    as_t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731

    def f(v):
        i, vals = 0, {}
        for n in p.names:
            if n in p.wrt:
                k = int(np.prod(p.shapes[n], dtype=int))
                vals[n], i = v[i : i + k].reshape(p.shapes[n]), i + k
            else:
                vals[n] = p.args[n]
        return p.fn(txp, *vals.values())

    v, u = as_t(p.flatten(p.args)), as_t(p.cotangent)
    value, pull = vjp(f, v)
    hess = hessian(lambda v: (u * f(v)).sum())(v)
    out = {
        "value": value,
        "grad": pull(u)[0],
        "jvp": jvp(f, (v,), (as_t(p.tangent),))[1],
        "jacobian": jacfwd(f)(v).reshape(-1, v.numel()),
        "hvp": hess @ as_t(p.direction),
        "hessian": hess,
    }
    return {k: t.detach().numpy() for k, t in out.items()}


def squared(spec: Op) -> Op:
    """fn(x)**2: makes the second backward pass run through the op's own VJP graph."""

    def fn(xp, *a):
        y = spec.fn(xp, *a)
        return y * y

    return Op(spec.name + "**2", fn, spec.inputs)


@pytest.mark.parametrize("spec", OPS + [squared(s) for s in OPS], ids=lambda s: s.name)
def test_op_matches_torch(spec: Op):
    p = numpy_problem(spec, "float64")
    want = torch_reference(p)
    be = InHouse()
    for q in ("value", "grad", "jvp", "jacobian", "hvp", "hessian"):
        got = be.compute(q, p)
        assert got.dtype == np.float64 and got.shape == want[q].shape, (spec.name, q, got.shape)
        close(got, want[q], f"{spec.name}: {q} (inhouse vs torch.func)")


# One primitive applied to the leaves: there the naive rule's d2 is exactly the diagonal of the
# Hessian of <u, f(x)>, sum_i u_i ∂²f_i/∂x_j², which checks every op's own naive d2 rule.
ONE_PRIMITIVE = [s for s in OPS if s.name in {
    "multiply", "divide", "rdiv_scalar", "pow_int", "pow_frac",
    "pow_elementwise", "rpow", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "matmul_2d",
    "matmul_mv", "matmul_vm", "matmul_vv", "matmul_batched", "matmul_bcast", "softmax",
    "softmax_axis0", "log_softmax", "logsumexp_all", "cross_entropy",
}] + [
    op("relu_only", lambda xp, a: xp.relu(a)),
    op("abs_only", lambda xp, a: xp.abs(a)),
    op("max_only", lambda xp, a: xp.max(a, axis=0)),
    op("maximum_only", lambda xp, a, b: xp.maximum(a, b), a=array(2, 3), b=array(3)),
    op("logsumexp_keep", lambda xp, a: xp.logsumexp(a, axis=0, keepdims=True)),
]  # fmt: skip
# Ops linear in their inputs pass the seed on exactly like the gradient: d2 = J^T u.
LINEAR: list[Op] = [s for s in OPS if s.name in {"add", "radd_scalar", "subtract"}] + [
    op("mul_by_constant", lambda xp, a: a * np.array([1.0, -2.0, 3.0])),
    op("concatenate_only", lambda xp, a, b: xp.concatenate([a, b]), a=array(2, 3), b=array(1, 3)),
    op("sum_only", lambda xp, a: xp.sum(a, axis=1)),
    op("take_only", lambda xp, a: xp.take(a, [1, 1, 0], axis=1)),
    op("mean_reshape_T", lambda xp, a: xp.transpose(xp.reshape(xp.mean(a, axis=0), (3, 1)))),
    op("getitem_where", lambda xp, a, b: xp.where(a > 0, a, b)[1:, [0, 0]], a=m23, b=array(3)),
    op("div_by_constant", lambda xp, a: -a / np.array([1.0, -2.0, 3.0])),
]


@pytest.mark.parametrize("spec", ONE_PRIMITIVE, ids=lambda s: s.name)
def test_naive_rule_is_hessian_diagonal_for_one_primitive(spec: Op):
    p = numpy_problem(spec, "float64")
    close(
        np.diag(InHouseNaive().hessian(p)),
        np.diag(InHouse().hessian(p)),
        f"{spec.name}: naive d2 vs diag of the exact Hessian",
    )


@pytest.mark.parametrize("spec", LINEAR, ids=lambda s: s.name)
def test_naive_rule_passes_linear_ops_like_the_gradient(spec: Op):
    p = numpy_problem(spec, "float64")
    close(np.diag(InHouseNaive().hessian(p)), InHouse().grad(p), f"{spec.name}: d2 vs J^T u")


@pytest.mark.parametrize("spec", OPS, ids=lambda s: s.name)
def test_hvp_reverse_over_reverse_equals_forward_over_reverse(spec: Op):
    """Tangents pushed through the gradient graph (forward-over-reverse) give H w as well."""
    p = numpy_problem(spec, "float64")
    fn, primals = bind(p)
    xs, g = E.gradient_graph(fn, primals, p.cotangent)
    for x, w in zip(xs, (p.split(p.direction)[n] for n in p.wrt), strict=True):
        x.tangent = w
    close(E.push_tangents(E.toposort(g), g), InHouse().hvp(p), f"{spec.name}: hvp two ways")


@pytest.mark.parametrize("spec", OPS, ids=lambda s: s.name)
def test_op_float32(spec: Op):
    """float32 end to end: every quantity comes back float32 and near the float64 result."""
    p32, p64 = numpy_problem(spec, "float32"), numpy_problem(spec, "float64")
    be = InHouse()
    for q in ("value", "grad", "jvp", "hvp", "hessian"):
        got, want = be.compute(q, p32), be.compute(q, p64)
        assert got.dtype == np.float32, (spec.name, q, got.dtype)
        close(got, want, f"{spec.name}: {q} float32 vs float64", "float32")


def test_naive_backend_is_diag_of_d2():
    p = numpy_problem(Op("two_paths", two_paths, {"x": array(3)}), "float64")
    d2 = E.naive_diagonal(lambda x: two_paths(xp, x), [p.args["x"]], p.cotangent)[0]
    naive = InHouseNaive()
    close(naive.hessian(p), np.diag(d2), "naive hessian = diag(d2)")
    close(naive.hvp(p), d2 * p.direction, "naive hvp = d2 ⊙ w")
    close(naive.grad(p), InHouse().grad(p), "naive first order is the exact engine's")
