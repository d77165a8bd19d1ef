"""Graph mechanics against analytic formulas: accumulation over paths, resets, constants,
broadcasting, indexing, operators, subgradients at kinks, stability at ±1e4 and float32."""

from __future__ import annotations

import numpy as np
import pytest

from harness import engine as E
from tests.test_engine_ops import close

xp = E.Namespace(np.float64)


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
    masks = {">": x > 0, "<": x < 0, ">=": x >= 0, "<=": x <= 0, "==": x == 0, "!=": x != 0}
    for name, mask in masks.items():
        assert isinstance(mask, np.ndarray) and mask.dtype == bool, name
    want = {">": [0, 0, 1], "<": [1, 0, 0], ">=": [0, 1, 1], "<=": [1, 1, 0], "==": [0, 1, 0]}
    for name, w in {**want, "!=": [1, 0, 1]}.items():
        assert masks[name].tolist() == [bool(v) for v in w], name


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
    # x - logsumexp(x) would be off by ~4e-4 here, outside float32's value tolerance.
    close(got, want, "no cancellation in x - lse(x)", "value", "float32")


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
    close(E.evaluate(funcs["softmax"], [x0]), p, "softmax saturates", "value")
    close(E.evaluate(funcs["logsumexp"], [x0]), abs(big), "logsumexp = max", "value")


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
