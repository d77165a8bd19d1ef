"""The op vocabulary a case may use, and its plain numpy implementation.

A case is written once as ``fn(xp, *inputs)``. Every backend hands it an ``xp`` with the functions
named in ``VOCABULARY`` and arrays that support the operators ``+ - * / ** @``, unary ``-``,
indexing with ints and slices, comparisons (giving masks for ``where``) and ``.shape``.
Array-API names are used where they exist.
"""

from __future__ import annotations

from typing import Any

import numpy as np

VOCABULARY: dict[str, str] = {
    "asarray": "a constant in the working dtype (never differentiated)",
    "add": "a + b, broadcast",
    "subtract": "a - b, broadcast",
    "multiply": "a * b, broadcast",
    "divide": "a / b, broadcast",
    "negative": "-a",
    "pow": "a ** b, with b a scalar or an array (broadcast)",
    "exp": "e ** a",
    "log": "natural log",
    "sqrt": "square root",
    "sin": "sine",
    "cos": "cosine",
    "tanh": "hyperbolic tangent",
    "sigmoid": "1 / (1 + exp(-a)), stable for large |a|",
    "relu": "max(a, 0)",
    "abs": "|a|",
    "maximum": "elementwise max, broadcast",
    "minimum": "elementwise min, broadcast",
    "where": "where(mask, a, b); the mask is a constant",
    "matmul": "a @ b for 1-D, 2-D and batched operands",
    "sum": "sum(a, axis=None, keepdims=False)",
    "mean": "mean(a, axis=None, keepdims=False)",
    "max": "max(a, axis=None, keepdims=False)",
    "reshape": "reshape(a, shape)",
    "transpose": "transpose(a, axes=None)",
    "take": "take(a, indices, axis=None) with constant integer indices",
    "concatenate": "concatenate(list_of_arrays, axis=0)",
    "softmax": "exp(a) / sum(exp(a)) along axis (default -1), stable",
    "log_softmax": "a - logsumexp(a) along axis (default -1), stable",
    "logsumexp": "log(sum(exp(a), axis, keepdims)), stable",
    "cross_entropy": "mean over rows of -log_softmax(logits)[row, label]; labels are integers",
}


class NumpyNamespace:
    """The vocabulary in plain numpy, computing in one dtype: the value oracle and fd's engine."""

    def __init__(self, dtype: Any = np.float64) -> None:
        self.dtype = np.dtype(dtype)

    def asarray(self, a: Any) -> np.ndarray:
        return np.asarray(a, dtype=self.dtype)

    add = staticmethod(np.add)
    subtract = staticmethod(np.subtract)
    multiply = staticmethod(np.multiply)
    divide = staticmethod(np.divide)
    negative = staticmethod(np.negative)
    pow = staticmethod(np.power)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sqrt = staticmethod(np.sqrt)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    tanh = staticmethod(np.tanh)
    abs = staticmethod(np.abs)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    matmul = staticmethod(np.matmul)
    reshape = staticmethod(np.reshape)
    transpose = staticmethod(np.transpose)
    concatenate = staticmethod(np.concatenate)

    def where(self, mask: Any, a: Any, b: Any) -> np.ndarray:
        return np.where(mask, a, b)

    def sigmoid(self, a: np.ndarray) -> np.ndarray:
        # exp of a non-positive number only: no overflow at |a| = 1e4.
        e = np.exp(-np.abs(a))
        return np.where(a >= 0, 1 / (1 + e), e / (1 + e))

    def relu(self, a: np.ndarray) -> np.ndarray:
        return np.maximum(a, 0)

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
