"""2-D convolution and max pooling, NCHW, with stride and padding as torch.nn.functional
defines them, built on the windows of the input.

``patches(x)`` (N, C, kh, kw, Ho, Wo) is linear; its VJP ``unpatches`` adds every window back
where it came from (overlapping windows accumulate). conv2d is the einsum of the windows with
the kernel, so its VJPs are einsums too: dx = unpatches(g·w), dw = g·patches(x). max_pool2d
sends each window's cotangent to its max, split evenly among ties; padding never wins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness import namespace
from harness.engine.einsum import einsum
from harness.engine.graph import ZERO, Primitive, val
from harness.engine.primitives import _like, expand_dims, sum

Pair = tuple[int, int]


def _unpatches_fwd(cols: np.ndarray, kernel: Pair, stride: Pair, padding: Pair,
                   shape: tuple[int, ...]) -> np.ndarray:  # fmt: skip
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = shape
    ho, wo = cols.shape[-2:]
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for k in range(kh):
        for m in range(kw):
            out[:, :, k : k + sh * ho : sh, m : m + sw * wo : sw] += cols[:, :, k, m]
    return out[:, :, ph : ph + h, pw : pw + w]


patches = Primitive(
    "patches", lambda x, kernel, stride, padding: namespace.windows(x, kernel, stride, padding),
    linear=True,
    vjp=lambda g, y, x, kernel, stride, padding: unpatches(
        g, kernel=kernel, stride=stride, padding=padding, shape=x.shape),
    jvp=lambda t, y, x, kernel, stride, padding: patches(
        t, kernel=kernel, stride=stride, padding=padding),
)  # fmt: skip
unpatches = Primitive(  # the transpose of patches
    "unpatches", _unpatches_fwd, linear=True,
    vjp=lambda g, y, cols, kernel, stride, padding, shape: patches(
        g, kernel=kernel, stride=stride, padding=padding),
    jvp=lambda t, y, cols, kernel, stride, padding, shape: unpatches(
        t, kernel=kernel, stride=stride, padding=padding, shape=shape),
)  # fmt: skip


def _conv_vjp_x(g: Any, y: Any, x: Any, w: Any, stride: Pair, padding: Pair) -> Any:
    cols = einsum(g, w, subscripts="nouv,ockl->nckluv")
    return unpatches(cols, kernel=w.shape[2:], stride=stride, padding=padding, shape=x.shape)


def _conv_vjp_w(g: Any, y: Any, x: Any, w: Any, stride: Pair, padding: Pair) -> Any:
    cols = patches(x, kernel=w.shape[2:], stride=stride, padding=padding)
    return einsum(g, cols, subscripts="nouv,nckluv->ockl")


conv2d = Primitive(
    "conv2d", namespace.conv2d, linear=lambda diff: len(diff) == 1,
    vjp=(_conv_vjp_x, _conv_vjp_w),
    jvp=(lambda t, y, x, w, stride, padding: conv2d(t, w, stride=stride, padding=padding),
         lambda t, y, x, w, stride, padding: conv2d(x, t, stride=stride, padding=padding)),
    d2=(ZERO, ZERO),  # bilinear
)  # fmt: skip


def _pool_fwd(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair) -> np.ndarray:
    return np.max(namespace.windows(x, kernel, stride, padding, fill=-np.inf), axis=(2, 3))


def _pool_weights(x: Any, y: Any, kernel: Pair, stride: Pair, padding: Pair) -> np.ndarray:
    """(N, C, kh, kw, Ho, Wo): 1 where a window's element is its max, split among ties."""
    cols = namespace.windows(val(x), kernel, stride, padding, fill=-np.inf)
    hit = cols == val(y)[:, :, None, None]
    return _like(x, hit / np.sum(hit, axis=(2, 3), keepdims=True))


max_pool2d = Primitive(
    "max_pool2d", _pool_fwd,
    vjp=lambda g, y, x, kernel, stride, padding: unpatches(
        expand_dims(g, axis=(2, 3)) * _pool_weights(x, y, kernel, stride, padding),
        kernel=kernel, stride=stride, padding=padding, shape=x.shape),
    jvp=lambda t, y, x, kernel, stride, padding: sum(
        patches(t, kernel=kernel, stride=stride, padding=padding)
        * _pool_weights(x, y, kernel, stride, padding), axis=(2, 3)),
    d2=ZERO,  # piecewise linear
)  # fmt: skip
