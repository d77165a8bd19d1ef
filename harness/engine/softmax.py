"""The softmax family, stable: softmax, log_softmax, logsumexp and cross_entropy.

Each is computed from ``x - max`` and its rules use only the (bounded) outputs, so values and
every derivative stay finite at inputs of ±1e4. The softmax VJP is the seed's formula (2-9),
``h * (g - <g, h>)`` along the axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.engine.graph import Primitive
from harness.engine.primitives import _kept, _like, _reshaped, exp, sum


def _onehot(z: Any, labels: np.ndarray) -> np.ndarray:
    return _like(z, labels[..., None] == np.arange(z.shape[-1]))


def _softmax_fwd(x: np.ndarray, axis: Any = -1) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _lse_fwd(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _log_softmax_fwd(x: np.ndarray, axis: Any = -1) -> np.ndarray:
    s = x - np.max(x, axis=axis, keepdims=True)  # exact; x - logsumexp(x) would cancel at 1e4
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _ce_fwd(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    lp = _log_softmax_fwd(z, axis=-1)
    return -np.mean(np.take_along_axis(lp, labels[..., None], axis=-1))


def _softmax_d2(d: Any, h: Any, x: Any, axis: Any = -1) -> Any:
    # sum_i d_i ∂²h_i/∂x_j² with ∂²h_i/∂x_j² = h_i[(δij − h_j)² − h_j(1 − h_j)]
    return h * (1 - 2 * h) * (d - sum(d * h, axis=axis, keepdims=True))


softmax = Primitive(
    "softmax", _softmax_fwd,
    vjp=lambda g, h, x, axis=-1: h * (g - sum(g * h, axis=axis, keepdims=True)),
    jvp=lambda t, h, x, axis=-1: h * (t - sum(t * h, axis=axis, keepdims=True)),
    d2=_softmax_d2,
)  # fmt: skip
log_softmax = Primitive(
    "log_softmax", _log_softmax_fwd,
    vjp=lambda g, y, x, axis=-1: g - exp(y) * sum(g, axis=axis, keepdims=True),
    jvp=lambda t, y, x, axis=-1: t - sum(exp(y) * t, axis=axis, keepdims=True),
    d2=lambda d, y, x, axis=-1: -exp(y) * (1 - exp(y)) * sum(d, axis=axis, keepdims=True),
)  # fmt: skip
logsumexp = Primitive(
    "logsumexp", _lse_fwd,
    vjp=lambda g, y, x, axis=None, keepdims=False: (
        _reshaped(g, _kept(x.shape, axis)) * softmax(x, axis=axis)),
    jvp=lambda t, y, x, axis=None, keepdims=False: sum(
        t * softmax(x, axis=axis), axis=axis, keepdims=keepdims),
    d2=lambda d, y, x, axis=None, keepdims=False: (
        _reshaped(d, _kept(x.shape, axis)) * softmax(x, axis=axis) * (1 - softmax(x, axis=axis))),
)  # fmt: skip
cross_entropy = Primitive(  # mean over rows of logsumexp(z) - z[label]
    "cross_entropy", _ce_fwd,
    vjp=lambda g, y, z, labels: g * (softmax(z) - _onehot(z, labels)) / labels.size,
    jvp=lambda t, y, z, labels: sum(t * (softmax(z) - _onehot(z, labels))) / labels.size,
    d2=lambda d, y, z, labels: d * softmax(z) * (1 - softmax(z)) / labels.size,
)  # fmt: skip
