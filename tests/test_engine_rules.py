"""The unary elementwise rules against derivatives written by hand, and the engine's names: the
namespace and Node's operators are the primitives named as in the vocabulary."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from harness import engine as E
from harness.engine import primitives as P
from harness.vocabulary import VOCABULARY
from tests.test_engine_ops import close


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


ERF_SLOPE = 2 / np.sqrt(np.pi)


# f, f' and f'' by hand: each op's one rule d(g, y, x) = g·f'(x) gives its VJP and its JVP.
UNARY = {
    "negative": (np.negative, lambda x: -np.ones_like(x), np.zeros_like),
    "exp": (np.exp, np.exp, np.exp),
    "log": (np.log, lambda x: 1 / x, lambda x: -1 / x**2),
    "sqrt": (np.sqrt, lambda x: 0.5 / np.sqrt(x), lambda x: -0.25 / x**1.5),
    "sin": (np.sin, np.cos, lambda x: -np.sin(x)),
    "cos": (np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x)),
    "tanh": (np.tanh, lambda x: 1 / np.cosh(x) ** 2, lambda x: -2 * np.tanh(x) / np.cosh(x) ** 2),
    "sigmoid": (
        _sigmoid,
        lambda x: _sigmoid(x) * _sigmoid(-x),
        lambda x: _sigmoid(x) * _sigmoid(-x) * (1 - 2 * _sigmoid(x)),
    ),
    "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0, np.zeros_like),
    "erf": (
        special.erf,
        lambda x: ERF_SLOPE * np.exp(-(x**2)),
        lambda x: -2 * x * ERF_SLOPE * np.exp(-(x**2)),
    ),
    "softplus": (lambda x: np.log1p(np.exp(x)), _sigmoid, lambda x: _sigmoid(x) * _sigmoid(-x)),
    "abs": (np.abs, np.sign, np.zeros_like),
}
POSITIVE = {"log", "sqrt"}  # their domain


def point(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (both signs, kinks excluded, unless the op needs x > 0), and two probes u, t."""
    rng = np.random.default_rng(3)
    x = np.array([-2.1, -0.7, 0.4, 1.3, 2.6])
    return (np.abs(x) if name in POSITIVE else x), rng.normal(size=5), rng.normal(size=5)


@pytest.mark.parametrize("name", UNARY)
def test_unary_rule_matches_hand_written_derivatives(name):
    f, df, d2f = UNARY[name]
    prim = getattr(E.Namespace(), name)
    x, u, t = point(name)
    value, (vjp,) = E.vjp(prim, [x], u)
    close(value, f(x), f"{name}: value", "value")
    close(vjp, u * df(x), f"{name}: VJP = u f'(x)")
    close(E.jvp(prim, [x], [t])[1], df(x) * t, f"{name}: JVP = f'(x) t", "jvp")
    close(E.hessian(prim, [x], u), np.diag(u * d2f(x)), f"{name}: Hessian of <u, f>", "hessian")
    (hv,) = E.hvp(prim, [x], [t], u)
    close(hv, u * d2f(x) * t, f"{name}: HVP of <u, f>", "hvp")
    # One primitive on the leaves: the naive rule is exact there (for a linear op through its VJP).
    (d2,) = E.naive_diagonal(prim, [x], u)
    close(d2, u * df(x) if name == "negative" else u * d2f(x), f"{name}: naive d2", "hessian")


def test_the_namespace_has_every_vocabulary_op():
    xp = E.Namespace(np.float64)
    missing = [name for name in VOCABULARY if not callable(getattr(xp, name, None))]
    assert not missing, missing


@pytest.mark.parametrize("name", [n for n in UNARY] + ["add", "pow", "maximum", "matmul"])
def test_namespace_ops_record_the_primitive_of_their_name(name):
    xp = E.Namespace(np.float64)
    a, b = E.variable(np.array([[0.5, 1.5]])), E.variable(np.array([[2.0], [1.0]]))
    out = getattr(xp, name)(a) if name in UNARY else getattr(xp, name)(a, b)
    assert out.op is getattr(P, name) and out.op.name == name


OPERATORS = {
    "add": (lambda a, b: a + b, lambda a, b: b + a),
    "subtract": (lambda a, b: a - b, lambda a, b: b - a),
    "multiply": (lambda a, b: a * b, lambda a, b: b * a),
    "divide": (lambda a, b: a / b, lambda a, b: b / a),
    "pow": (lambda a, b: a**b, lambda a, b: b**a),
    "matmul": (lambda a, b: a @ b, lambda a, b: b @ a),
}


@pytest.mark.parametrize("name", OPERATORS)
def test_operators_are_the_vocabulary_primitives(name):
    """a + b is add(a, b), and array + node is add(array, node): a Node, not a numpy ufunc."""
    a, c = E.variable(np.array([[0.5, 2.0], [1.5, 3.0]])), np.array([[1.0, 2.0], [0.5, 1.5]])
    want = getattr(np, {"pow": "power"}.get(name, name))
    for f, operands in zip(OPERATORS[name], ((a.value, c), (c, a.value)), strict=True):
        out = f(a, c)
        assert isinstance(out, E.Node) and out.op is getattr(P, name) and name in VOCABULARY
        close(out.value, want(*operands), f"{name}: value", "value")


def test_unary_operators_indexing_and_T():
    a = E.variable(np.array([[-0.5, 2.0, 1.0], [1.5, -3.0, 0.0]]))
    for out, prim in (
        (-a, P.negative),
        (abs(a), P.abs),
        (a.T, P.transpose),
        (a[1, ::2], P.getitem),
    ):
        assert isinstance(out, E.Node) and out.op is prim, (out, prim)
    assert +a is a
    close(a[1, ::2].value, [1.5, 0.0], "getitem value", "value")
    close(a.T.value, a.value.T, "T value", "value")
