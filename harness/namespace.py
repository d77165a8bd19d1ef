"""The op vocabulary a case may use (harness.vocabulary.OPS), and its plain numpy implementation.

A case is written once as ``fn(xp, *inputs)``. Every backend hands it an ``xp`` with the functions
named in ``VOCABULARY`` and arrays that support the operators ``+ - * / ** @``, unary ``-``,
indexing with ints and slices, comparisons (giving masks for ``where``) and ``.shape``.
Array-API names are used where they exist.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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


# Every op that numpy computes with the same call (add, exp, matmul, ...), from the table.
provide(NumpyNamespace, ("numpy", lambda f: staticmethod(getattr(np, f))))

__all__ = ["OPS", "VOCABULARY", "NumpyNamespace", "provide"]
