"""The core primitives: their numpy forward next to their derivative rules, one short line each.

Here: arithmetic, the elementwise functions, matmul, the shape ops, sum and mean (which the other
rules use); the other reductions are in reductions.py, the softmax family in softmax.py, einsum
in einsum.py, convolution and pooling in conv.py.

Rule arguments: ``g`` cotangent (vjp), ``t`` tangent (jvp), ``d`` naive second-order seed (d2),
``y`` the op's output, then the op's inputs and parameters. A unary elementwise op has one rule
``d(g, y, x) = g·f'(x)`` that is both its VJP and its JVP (see :func:`elementwise`). Rules use
only primitives and operators, so they run on raw arrays in a first-order pass and build a
differentiable graph on nodes (double backward gives second derivatives).

Each primitive is named as in the vocabulary (harness.vocabulary.OPS): ``sum``, ``max``,
``abs`` and ``pow`` here shadow Python's builtins on purpose, as numpy's do.

Subgradients at kinks: relu'(0) = 0 and abs'(0) = 0 (torch agrees, some frameworks do not);
maximum/minimum split the gradient evenly between tied inputs; clip passes it on inside its
bounds, the bounds included (as torch's clamp).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from harness.engine.graph import OPERATORS, ZERO, Primitive, val

# ---------------------------------------------------------------- shape helpers (constants)


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


def _kept(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """`shape` with the reduced axes kept as 1 (where a reduction's cotangent broadcasts)."""
    ax = _axes(axis, len(shape))
    return tuple(1 if i in ax else n for i, n in enumerate(shape))


def _like(x: Any, a: np.ndarray) -> np.ndarray:
    """A constant array in x's dtype (masks and weights never promote float32)."""
    return np.asarray(a, dtype=val(x).dtype)


def _gt(a: Any, b: Any) -> np.ndarray:
    """d maximum(a, b)/da: 1 where a > b, 1/2 on ties, else 0."""
    return _like(a, (val(a) > val(b)) + 0.5 * (val(a) == val(b)))


def _lt(a: Any, b: Any) -> np.ndarray:
    """d minimum(a, b)/da: 1 where a < b, 1/2 on ties, else 0."""
    return _like(a, (val(a) < val(b)) + 0.5 * (val(a) == val(b)))


def _inside(x: Any, lo: float | None, hi: float | None) -> np.ndarray:
    """d clip(x, lo, hi)/dx: 1 on [lo, hi], bounds included, else 0."""
    v = val(x)
    low = -np.inf if lo is None else lo
    return _like(x, (v >= low) & (v <= (np.inf if hi is None else hi)))


def _inverse(axes: Any) -> Any:
    return None if axes is None else tuple(int(i) for i in np.argsort(axes))


def _basic(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, int | np.integer | slice) for p in parts)


def _scatter_fwd(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    if _basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)  # repeated indices accumulate
    return out


def _slab(i: int, xs: tuple, axis: int) -> tuple:
    """The index of input i's block inside a concatenation along `axis`."""
    ax = axis % xs[0].ndim
    start = builtins.sum(x.shape[ax] for x in xs[:i])
    return (slice(None),) * ax + (slice(start, start + xs[i].shape[ax]),)


def _sigmoid_fwd(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # exp of a non-positive number only: no overflow at |x| = 1e4
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# ---------------------------------------------------------------- arithmetic (broadcasting)

add = Primitive(
    "add", np.add, broadcast=True, linear=True,
    vjp=(lambda g, y, a, b: g, lambda g, y, a, b: g),
    jvp=(lambda t, y, a, b: t, lambda t, y, a, b: t),
)  # fmt: skip
subtract = Primitive(
    "subtract", np.subtract, broadcast=True, linear=True,
    vjp=(lambda g, y, a, b: g, lambda g, y, a, b: -g),
    jvp=(lambda t, y, a, b: t, lambda t, y, a, b: -t),
)  # fmt: skip
multiply = Primitive(
    "multiply", np.multiply, broadcast=True, linear=lambda diff: len(diff) == 1,
    vjp=(lambda g, y, a, b: g * b, lambda g, y, a, b: g * a),
    jvp=(lambda t, y, a, b: t * b, lambda t, y, a, b: a * t),
    d2=(ZERO, ZERO),  # bilinear: d²(ab)/da² = 0
)  # fmt: skip
divide = Primitive(
    "divide", np.divide, broadcast=True, linear=lambda diff: diff == [0],
    vjp=(lambda g, y, a, b: g / b, lambda g, y, a, b: -g * y / b),
    jvp=(lambda t, y, a, b: t / b, lambda t, y, a, b: -t * y / b),
    d2=(ZERO, lambda d, y, a, b: 2 * d * y / (b * b)),  # d²(a/b)/db² = 2a/b³
)  # fmt: skip
pow = Primitive(
    "pow", np.power, broadcast=True,
    vjp=(lambda g, y, a, b: g * b * a ** (b - 1), lambda g, y, a, b: g * y * _log0(a)),
    jvp=(lambda t, y, a, b: t * b * a ** (b - 1), lambda t, y, a, b: t * y * _log0(a)),
    d2=(lambda d, y, a, b: d * b * (b - 1) * a ** (b - 2),
        lambda d, y, a, b: d * y * _log0(a) ** 2),
)  # fmt: skip
maximum = Primitive(
    "maximum", np.maximum, broadcast=True,
    vjp=(lambda g, y, a, b: g * _gt(a, b), lambda g, y, a, b: g * _gt(b, a)),
    jvp=(lambda t, y, a, b: t * _gt(a, b), lambda t, y, a, b: t * _gt(b, a)),
    d2=(ZERO, ZERO),  # piecewise linear
)  # fmt: skip
minimum = Primitive(
    "minimum", np.minimum, broadcast=True,
    vjp=(lambda g, y, a, b: g * _lt(a, b), lambda g, y, a, b: g * _lt(b, a)),
    jvp=(lambda t, y, a, b: t * _lt(a, b), lambda t, y, a, b: t * _lt(b, a)),
    d2=(ZERO, ZERO),
)  # fmt: skip
logaddexp = Primitive(  # d/da log(e^a + e^b) = e^(a - y), at most 1
    "logaddexp", np.logaddexp, broadcast=True,
    vjp=(lambda g, y, a, b: g * exp(a - y), lambda g, y, a, b: g * exp(b - y)),
    jvp=(lambda t, y, a, b: t * exp(a - y), lambda t, y, a, b: t * exp(b - y)),
    d2=(lambda d, y, a, b: d * exp(a - y) * (1 - exp(a - y)),
        lambda d, y, a, b: d * exp(b - y) * (1 - exp(b - y))),
)  # fmt: skip
where = Primitive(
    "where", lambda a, b, mask: np.where(mask, a, b), broadcast=True, linear=True,
    vjp=(lambda g, y, a, b, mask: g * mask, lambda g, y, a, b, mask: g * ~mask),
    jvp=(lambda t, y, a, b, mask: t * mask, lambda t, y, a, b, mask: t * ~mask),
)  # fmt: skip

# ---------------------------------------------------------------- elementwise functions


_ERF_SLOPE = 2 / math.sqrt(math.pi)  # erf'(x) = 2/sqrt(pi) exp(-x²)


def elementwise(
    name: str,
    fwd: Callable[..., Any],
    d: Callable[..., Any],
    d2: Callable[..., Any] | None = None,
    *,
    linear: bool = False,
) -> Primitive:
    """A unary elementwise op y = f(x) from one rule d(g, y, x) = g·f'(x), its VJP and its JVP
    both: the Jacobian is diag f'(x), its own transpose. ``d2(d, y, x)`` is d·f''(x)."""
    return Primitive(name, fwd, vjp=d, jvp=d, d2=d2, linear=linear)


negative = elementwise("negative", np.negative, d=lambda g, y, x: -g, linear=True)
exp = elementwise("exp", np.exp, d=lambda g, y, x: g * y, d2=lambda d, y, x: d * y)
log = elementwise("log", np.log, d=lambda g, y, x: g / x, d2=lambda d, y, x: -d / (x * x))
sqrt = elementwise("sqrt", np.sqrt, d=lambda g, y, x: 0.5 * g / y,
                   d2=lambda d, y, x: -0.25 * d / (x * y))  # fmt: skip
sin = elementwise("sin", np.sin, d=lambda g, y, x: g * cos(x), d2=lambda d, y, x: -d * y)
cos = elementwise("cos", np.cos, d=lambda g, y, x: -g * sin(x), d2=lambda d, y, x: -d * y)
tanh = elementwise("tanh", np.tanh, d=lambda g, y, x: g * (1 - y * y),
                   d2=lambda d, y, x: -2 * d * y * (1 - y * y))  # fmt: skip
arctan = elementwise("arctan", np.arctan, d=lambda g, y, x: g / (1 + x * x),
                     d2=lambda d, y, x: -2 * d * x / ((1 + x * x) * (1 + x * x)))  # fmt: skip
sigmoid = elementwise("sigmoid", _sigmoid_fwd, d=lambda g, y, x: g * y * (1 - y),
                      d2=lambda d, y, x: d * y * (1 - y) * (1 - 2 * y))  # fmt: skip
relu = elementwise("relu", lambda x: np.maximum(x, 0), d=lambda g, y, x: g * (x > 0), d2=ZERO)
abs = elementwise("abs", np.abs, d=lambda g, y, x: g * np.sign(val(x)), d2=ZERO)
erf = elementwise("erf", special.erf, d=lambda g, y, x: g * _ERF_SLOPE * exp(-x * x),
                  d2=lambda d, y, x: -2 * d * x * _ERF_SLOPE * exp(-x * x))  # fmt: skip
softplus = elementwise("softplus", lambda x: np.logaddexp(0, x), d=lambda g, y, x: g * sigmoid(x),
                       d2=lambda d, y, x: d * sigmoid(x) * (1 - sigmoid(x)))  # fmt: skip
clip = Primitive(  # clip(x, lo, hi): bounds are constants, never differentiated
    "clip", lambda x, lo=None, hi=None: np.clip(x, lo, hi),
    vjp=lambda g, y, x, lo=None, hi=None: g * _inside(x, lo, hi),
    jvp=lambda t, y, x, lo=None, hi=None: t * _inside(x, lo, hi),
    d2=ZERO,  # piecewise linear
)  # fmt: skip

# ---------------------------------------------------------------- linear algebra


def _log0(a: Any) -> Any:
    """log a, but 0 where a = 0: d(a**b)/db = a**b log a has the limit 0 there, not 0·(-inf)."""
    return log(where(1.0, a, mask=val(a) == 0))


def _mT(x: Any) -> Any:
    return transpose(x, axes=(*range(x.ndim - 2), x.ndim - 1, x.ndim - 2))


def _as_matrices(g: Any, a: Any, b: Any) -> tuple[Any, Any, Any]:
    """Promote 1-D operands to matrices (numpy's matmul rule) and g to the matrix product shape."""
    a2 = a if a.ndim > 1 else reshape(a, shape=(1, a.shape[0]))
    b2 = b if b.ndim > 1 else reshape(b, shape=(b.shape[0], 1))
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    g2 = _reshaped(g, (*batch, a2.shape[-2], b2.shape[-1]))
    return g2, a2, b2


def _matmul_vjp_a(g: Any, y: Any, a: Any, b: Any) -> Any:
    g2, a2, b2 = _as_matrices(g, a, b)
    return _reshaped(sum_to(matmul(g2, _mT(b2)), a2.shape), a.shape)  # dA = G Bᵀ


def _matmul_vjp_b(g: Any, y: Any, a: Any, b: Any) -> Any:
    g2, a2, b2 = _as_matrices(g, a, b)
    return _reshaped(sum_to(matmul(_mT(a2), g2), b2.shape), b.shape)  # dB = Aᵀ G


matmul = Primitive(
    "matmul", np.matmul, linear=lambda diff: len(diff) == 1,
    vjp=(_matmul_vjp_a, _matmul_vjp_b),
    jvp=(lambda t, y, a, b: matmul(t, b), lambda t, y, a, b: matmul(a, t)),
    d2=(ZERO, ZERO),  # bilinear
)  # fmt: skip

# ---------------------------------------------------------------- shape (all linear)

reshape = Primitive(
    "reshape", lambda x, shape: np.reshape(x, shape), linear=True,
    vjp=lambda g, y, x, shape: reshape(g, shape=x.shape),
    jvp=lambda t, y, x, shape: reshape(t, shape=shape),
)  # fmt: skip
transpose = Primitive(
    "transpose", lambda x, axes=None: np.transpose(x, axes), linear=True,
    vjp=lambda g, y, x, axes=None: transpose(g, axes=_inverse(axes)),
    jvp=lambda t, y, x, axes=None: transpose(t, axes=axes),
)  # fmt: skip
broadcast_to = Primitive(
    "broadcast_to", lambda x, shape: np.broadcast_to(x, shape), linear=True,
    vjp=lambda g, y, x, shape: sum_to(g, x.shape),
    jvp=lambda t, y, x, shape: broadcast_to(t, shape=shape),
)  # fmt: skip
expand_dims = Primitive(
    "expand_dims", lambda x, axis: np.expand_dims(x, axis), linear=True,
    vjp=lambda g, y, x, axis: squeeze(g, axis=axis),
    jvp=lambda t, y, x, axis: expand_dims(t, axis=axis),
)  # fmt: skip
squeeze = Primitive(  # axis: the unit axes removed, always given (xp.squeeze names them)
    "squeeze", lambda x, axis: np.squeeze(x, axis), linear=True,
    vjp=lambda g, y, x, axis: expand_dims(g, axis=axis),
    jvp=lambda t, y, x, axis: squeeze(t, axis=axis),
)  # fmt: skip
getitem = Primitive(
    "getitem", lambda x, index: x[index], linear=True,
    vjp=lambda g, y, x, index: scatter(g, index=index, shape=x.shape),
    jvp=lambda t, y, x, index: getitem(t, index=index),
)  # fmt: skip
scatter = Primitive(  # zeros(shape) with g added at index: the transpose of getitem
    "scatter", _scatter_fwd, linear=True,
    vjp=lambda g, y, x, index, shape: getitem(g, index=index),
    jvp=lambda t, y, x, index, shape: scatter(t, index=index, shape=shape),
)  # fmt: skip
concatenate = Primitive(
    "concatenate", lambda *xs, axis=0: np.concatenate(xs, axis=axis), linear=True,
    vjp_argnum=lambda i, g, y, *xs, axis=0: getitem(g, index=_slab(i, xs, axis)),
    jvp_argnum=lambda i, t, y, *xs, axis=0: scatter(t, index=_slab(i, xs, axis), shape=y.shape),
)  # fmt: skip

# ---------------------------------------------------------------- reductions


def _spread(g: Any, x: Any, axis: Any) -> Any:
    """A reduction's cotangent broadcast back over the reduced axes of x."""
    return broadcast_to(_reshaped(g, _kept(x.shape, axis)), shape=x.shape)


sum = Primitive(
    "sum", lambda x, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims),
    linear=True,
    vjp=lambda g, y, x, axis=None, keepdims=False: _spread(g, x, axis),
    jvp=lambda t, y, x, axis=None, keepdims=False: sum(t, axis=axis, keepdims=keepdims),
)  # fmt: skip
mean = Primitive(
    "mean", lambda x, axis=None, keepdims=False: np.mean(x, axis=axis, keepdims=keepdims),
    linear=True,
    vjp=lambda g, y, x, axis=None, keepdims=False: _spread(g * (y.size / x.size), x, axis),
    jvp=lambda t, y, x, axis=None, keepdims=False: mean(t, axis=axis, keepdims=keepdims),
)  # fmt: skip
# ---------------------------------------------------------------- helpers built on primitives


def _reshaped(x: Any, shape: tuple[int, ...]) -> Any:
    return x if x.shape == shape else reshape(x, shape=shape)


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum a broadcast cotangent back to `shape` (the VJP of numpy broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    stretched = (lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return _reshaped(sum(g, axis=(*range(lead), *stretched)), shape)


# The primitives behind Node's operators (graph.py reads them here: it cannot import this module).
OPERATORS.update(
    add=add, subtract=subtract, multiply=multiply, divide=divide, pow=pow, matmul=matmul,
    negative=negative, abs=abs, getitem=getitem, transpose=transpose,
)  # fmt: skip
