"""The op vocabulary (harness.vocabulary.OPS) on engine nodes.

An op whose primitive has the vocabulary's name and signature is that primitive, taken by name;
the methods written here are the ops whose call differs (argument order, axis lists, indices).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.engine import primitives as P
from harness.engine.graph import Node, constant, val
from harness.vocabulary import provide


def _axis(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, list) else axis


class Namespace:
    """What a case sees as ``xp`` on the in-house engine; `dtype` is the working dtype.

    Every function takes nodes, numpy arrays or python scalars; with no node among its
    arguments it is plain numpy.
    """

    def __init__(self, dtype: Any = np.float64) -> None:
        self.dtype = np.dtype(dtype)

    def asarray(self, a: Any) -> Any:
        """A constant node in the working dtype (a node is returned as it is)."""
        return a if isinstance(a, Node) else constant(a, dtype=self.dtype)

    @staticmethod
    def where(mask: Any, a: Any, b: Any) -> Any:
        return P.where(a, b, mask=np.asarray(val(mask), dtype=bool))

    @staticmethod
    def sum(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return P.sum(a, axis=_axis(axis), keepdims=keepdims)

    @staticmethod
    def mean(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return P.mean(a, axis=_axis(axis), keepdims=keepdims)

    @staticmethod
    def max(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return P.max(a, axis=_axis(axis), keepdims=keepdims)

    @staticmethod
    def reshape(a: Any, shape: Any) -> Any:
        return P.reshape(a, shape=tuple(shape) if isinstance(shape, list | tuple) else shape)

    @staticmethod
    def transpose(a: Any, axes: Any = None) -> Any:
        return P.transpose(a, axes=None if axes is None else tuple(axes))

    @staticmethod
    def take(a: Any, indices: Any, axis: int | None = None) -> Any:
        """np.take as indexing: a.ravel()[indices], or indices along `axis`."""
        idx = np.asarray(val(indices))
        if axis is None:
            return P.getitem(P.reshape(a, shape=(-1,)), index=idx)
        ax = axis % np.ndim(val(a))
        return P.getitem(a, index=(slice(None),) * ax + (idx,))

    @staticmethod
    def concatenate(arrays: Sequence[Any], axis: int = 0) -> Any:
        return P.concatenate(*arrays, axis=axis)

    @staticmethod
    def softmax(a: Any, axis: Any = -1) -> Any:
        return P.softmax(a, axis=_axis(axis))

    @staticmethod
    def log_softmax(a: Any, axis: Any = -1) -> Any:
        return P.log_softmax(a, axis=_axis(axis))

    @staticmethod
    def logsumexp(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return P.logsumexp(a, axis=_axis(axis), keepdims=keepdims)

    @staticmethod
    def cross_entropy(logits: Any, labels: Any) -> Any:
        return P.cross_entropy(logits, labels=np.asarray(val(labels)).astype(np.intp))


# Every other op is the engine primitive of the vocabulary name (add, pow, exp, abs, matmul, ...).
provide(Namespace, ("name", lambda name: staticmethod(getattr(P, name))))
