"""The op vocabulary a case may use (harness.vocabulary.OPS), and its plain numpy implementation.

A case is written once as ``fn(xp, *inputs)``. Every backend hands it an ``xp`` with the functions
named in ``VOCABULARY`` and arrays that support the operators ``+ - * / ** @``, unary ``-``,
indexing with ints and slices, comparisons (giving masks for ``where``) and ``.shape``.
Array-API names are used where they exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import special

from harness.vocabulary import OPS, VOCABULARY, provide


class NumpyNamespace:
    """The vocabulary in plain numpy, computing in one dtype: the value oracle and fd's engine."""

    def __init__(self, dtype: Any = np.float64) -> None:
        self.dtype = np.dtype(dtype)

    def asarray(self, a: Any) -> np.ndarray:
        return np.asarray(a, dtype=self.dtype)

    def sigmoid(self, a: np.ndarray) -> np.ndarray:
        # exp of a non-positive number only: no overflow at |a| = 1e4.
        e = np.exp(-np.abs(a))
        return np.where(a >= 0, 1 / (1 + e), e / (1 + e))

    def relu(self, a: np.ndarray) -> np.ndarray:
        return np.maximum(a, 0)

    def softplus(self, a: np.ndarray) -> np.ndarray:
        return np.logaddexp(0, a)

    def erf(self, a: np.ndarray) -> np.ndarray:
        return special.erf(a)

    def sum(self, a: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        return np.sum(a, axis=axis, keepdims=keepdims)

    def mean(self, a: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        return np.mean(a, axis=axis, keepdims=keepdims)

    def max(self, a: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        return np.max(a, axis=axis, keepdims=keepdims)

    def take(self, a: np.ndarray, indices: Any, axis: int | None = None) -> np.ndarray:
        return np.take(a, np.asarray(indices), axis=axis)

    def logsumexp(self, a: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        m = np.max(a, axis=axis, keepdims=True)
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis=axis)

    def log_softmax(self, a: np.ndarray, axis: int = -1) -> np.ndarray:
        # (a - max) first: a - logsumexp(a) cancels at |a| ~ 1e4 in float32.
        shifted = a - np.max(a, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    def softmax(self, a: np.ndarray, axis: int = -1) -> np.ndarray:
        e = np.exp(a - np.max(a, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    def cross_entropy(self, logits: np.ndarray, labels: Any) -> np.ndarray:
        lab = np.asarray(labels)
        lp = self.log_softmax(logits, axis=-1)
        picked = np.take_along_axis(lp, lab[..., None], axis=-1)[..., 0]
        return -np.mean(picked)

    def conv2d(self, x: np.ndarray, w: np.ndarray, stride: Any = 1, padding: Any = 0) -> np.ndarray:
        return conv2d(x, w, stride, padding)

    def max_pool2d(
        self, x: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0
    ) -> np.ndarray:
        return max_pool2d(x, kernel_size, stride, padding)


# -- the arguments of einsum, conv2d and max_pool2d, for every namespace that needs them ------


def einsum_subscripts(subscripts: str, count: int) -> tuple[list[str], str]:
    """numpy's einsum subscripts (no ellipsis) for `count` operands: one string per operand and
    the output, an implicit output (the letters occurring once, sorted) made explicit."""
    s = subscripts.replace(" ", "")
    if "." in s:
        raise ValueError(f"einsum {subscripts!r}: ellipsis is not in the vocabulary")
    lhs, arrow, out = s.partition("->")
    ins = lhs.split(",")
    if len(ins) != count:
        raise ValueError(f"einsum {subscripts!r} names {len(ins)} operands, {count} given")
    if not arrow:
        letters = "".join(ins)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return ins, out


def pair(v: int | Sequence[int]) -> tuple[int, int]:
    """A kernel size, stride or padding given as an int or an (h, w) pair, as a pair."""
    return (int(v), int(v)) if np.ndim(v) == 0 else (int(v[0]), int(v[1]))  # type: ignore[index]


def pool_args(kernel_size: Any, stride: Any, padding: Any) -> tuple[tuple[int, int], ...]:
    """max_pool2d's (kernel, stride, padding) as pairs; the stride defaults to the kernel."""
    k = pair(kernel_size)
    return k, k if stride is None else pair(stride), pair(padding)


def windows(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
    fill: float = 0,
) -> np.ndarray:  # fmt: skip
    """The windows of x (N, C, H, W) padded with `fill`: (N, C, kh, kw, Ho, Wo), where window
    (u, v) starts at row sh·u, column sw·v of the padded x (a view; object arrays too)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    view = sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return np.moveaxis(view, (4, 5), (2, 3))


def conv2d(x: np.ndarray, w: np.ndarray, stride: Any = 1, padding: Any = 0) -> np.ndarray:
    """y[n, o, u, v] = sum over c, k, l of w[o, c, k, l] · padded x[n, c, sh·u + k, sw·v + l]."""
    cols = windows(x, pair(w.shape[2:]), pair(stride), pair(padding))
    return np.einsum("nckluv,ockl->nouv", *widened(cols, w), optimize=True)


def widened(*xs: np.ndarray) -> tuple[np.ndarray, ...]:
    """bfloat16 operands as float32 for numpy functions that reject them (einsum): every
    bfloat16 value is a float32 one; the caller rounds the result back to bfloat16."""
    return tuple(x.astype(np.float32) if x.dtype.name == "bfloat16" else x for x in xs)


def max_pool2d(x: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0) -> np.ndarray:
    """y[n, c, u, v] = the max of window (u, v) of x padded with -inf."""
    return np.max(windows(x, *pool_args(kernel_size, stride, padding), fill=-np.inf), axis=(2, 3))


# Every op that numpy computes with the same call (add, exp, matmul, ...), from the table.
provide(NumpyNamespace, ("numpy", lambda f: staticmethod(getattr(np, f))))

__all__ = ["OPS", "VOCABULARY", "NumpyNamespace", "provide"]
