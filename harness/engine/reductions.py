"""Reductions besides sum and mean (which the other rules use, in primitives.py): max and min,
prod, the population var and std (ddof 0), and the running sum cumsum.

max and min send the gradient to the extreme element, split evenly among ties (as torch does for
max over an axis); prod's rule divides by x, so it needs inputs away from 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.engine.graph import ZERO, Primitive, val
from harness.engine.primitives import _kept, _like, _spread, getitem, mean, sum


def _argmax_weights(x: Any, y: Any, axis: Any) -> np.ndarray:
    hit = val(x) == np.reshape(val(y), _kept(x.shape, axis))
    return _like(x, hit / np.sum(hit, axis=axis, keepdims=True))


def _argmin_weights(x: Any, y: Any, axis: Any) -> np.ndarray:
    """1 where x equals its minimum y along axis, split evenly among ties (the argmax rule)."""
    return _argmax_weights(x, y, axis)


def _n(x: Any, y: Any) -> int:
    """How many elements of x each element of the reduction y reduces over."""
    return x.size // y.size


def _centred(x: Any, axis: Any) -> Any:
    return x - mean(x, axis=axis, keepdims=True)


def _flip(a: Any, axis: int) -> Any:
    return getitem(a, index=(slice(None),) * (axis % a.ndim) + (slice(None, None, -1),))


def _std_d2(d: Any, s: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    # ∂²s/∂x_j² = (1 - 1/n)/(n s) - (x_j - m)²/(n² s³), with z = (x_j - m)/s
    n = _n(x, s)
    z = _centred(x, axis) / _spread(s, x, axis)
    return _spread(d / s, x, axis) * ((1 - 1 / n) / n - (z / n) * (z / n))


max = Primitive(
    "max", lambda x, axis=None, keepdims=False: np.max(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, y, x, axis=None, keepdims=False: (
        _spread(g, x, axis) * _argmax_weights(x, y, axis)),
    jvp=lambda t, y, x, axis=None, keepdims=False: sum(
        t * _argmax_weights(x, y, axis), axis=axis, keepdims=keepdims),
    d2=ZERO,  # piecewise linear
)  # fmt: skip
min = Primitive(
    "min", lambda x, axis=None, keepdims=False: np.min(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, y, x, axis=None, keepdims=False: (
        _spread(g, x, axis) * _argmin_weights(x, y, axis)),
    jvp=lambda t, y, x, axis=None, keepdims=False: sum(
        t * _argmin_weights(x, y, axis), axis=axis, keepdims=keepdims),
    d2=ZERO,  # piecewise linear
)  # fmt: skip
prod = Primitive(  # dy/dx_j = y / x_j, the product of the others (x_j ≠ 0)
    "prod", lambda x, axis=None, keepdims=False: np.prod(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, y, x, axis=None, keepdims=False: _spread(g * y, x, axis) / x,
    jvp=lambda t, y, x, axis=None, keepdims=False: y * sum(t / x, axis=axis, keepdims=keepdims),
    d2=ZERO,  # linear in each element on its own: ∂²y/∂x_j² = 0
)  # fmt: skip
var = Primitive(  # dv/dx_j = 2 (x_j - m) / n
    "var", lambda x, axis=None, keepdims=False: np.var(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, y, x, axis=None, keepdims=False: (
        _spread(g, x, axis) * _centred(x, axis) * (2 / _n(x, y))),
    jvp=lambda t, y, x, axis=None, keepdims=False: 2 * mean(
        t * _centred(x, axis), axis=axis, keepdims=keepdims),
    d2=lambda d, y, x, axis=None, keepdims=False: (
        _spread(d, x, axis) * (2 / _n(x, y) * (1 - 1 / _n(x, y)))),
)  # fmt: skip
std = Primitive(  # ds/dx_j = (x_j - m) / (n s)
    "std", lambda x, axis=None, keepdims=False: np.std(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, y, x, axis=None, keepdims=False: (
        _spread(g / y, x, axis) * _centred(x, axis) / _n(x, y)),
    jvp=lambda t, y, x, axis=None, keepdims=False: mean(
        t * _centred(x, axis), axis=axis, keepdims=keepdims) / y,
    d2=_std_d2,
)  # fmt: skip
cumsum = Primitive(  # y_i = sum of x_k for k <= i; the VJP sums g from the end
    "cumsum", lambda x, axis: np.cumsum(x, axis=axis), linear=True,
    vjp=lambda g, y, x, axis: _flip(cumsum(_flip(g, axis), axis=axis), axis),
    jvp=lambda t, y, x, axis: cumsum(t, axis=axis),
)  # fmt: skip
