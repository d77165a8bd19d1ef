"""The op vocabulary (harness.vocabulary.OPS) on engine nodes.

An op whose primitive in primitives.py has the vocabulary's name and signature is that
primitive, taken by name; the methods written here are the ops whose call differs (argument
order, axis lists, indices, pairs) or whose primitive lives in reductions, softmax, einsum or conv.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.engine import conv as C
from harness.engine import primitives as P
from harness.engine import reductions as R
from harness.engine import softmax as S
from harness.engine.einsum import einsum
from harness.engine.graph import Node, constant, val
from harness.namespace import einsum_subscripts, pair, pool_args
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
        return R.max(a, axis=_axis(axis), keepdims=keepdims)

    @staticmethod
    def min(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return R.min(a, axis=_axis(axis), keepdims=keepdims)

    @staticmethod
    def prod(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return R.prod(a, axis=_axis(axis), keepdims=keepdims)

    @staticmethod
    def var(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return R.var(a, axis=_axis(axis), keepdims=keepdims)

    @staticmethod
    def std(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return R.std(a, axis=_axis(axis), keepdims=keepdims)

    @staticmethod
    def cumsum(a: Any, axis: int | None = None) -> Any:
        return (
            R.cumsum(P.reshape(a, shape=(-1,)), axis=0) if axis is None else R.cumsum(a, axis=axis)
        )

    @staticmethod
    def clip(a: Any, lo: float | None, hi: float | None) -> Any:
        return P.clip(a, lo=lo, hi=hi)

    @staticmethod
    def reshape(a: Any, shape: Any) -> Any:
        return P.reshape(a, shape=tuple(shape) if isinstance(shape, list | tuple) else shape)

    @staticmethod
    def transpose(a: Any, axes: Any = None) -> Any:
        return P.transpose(a, axes=None if axes is None else tuple(axes))

    @staticmethod
    def broadcast_to(a: Any, shape: Any) -> Any:
        return P.broadcast_to(
            a, shape=tuple(shape) if isinstance(shape, list | tuple) else (shape,)
        )

    @staticmethod
    def expand_dims(a: Any, axis: Any) -> Any:
        return P.expand_dims(a, axis=_axis(axis))

    @staticmethod
    def squeeze(a: Any, axis: Any = None) -> Any:
        if axis is None:  # the primitive is told which axes, so that its VJP can put them back
            axis = tuple(i for i, n in enumerate(np.shape(val(a))) if n == 1)
        return P.squeeze(a, axis=_axis(axis))

    @staticmethod
    def einsum(subscripts: str, *operands: Any) -> Any:
        ins, out = einsum_subscripts(subscripts, len(operands))  # explicit, for the rules
        return einsum(*operands, subscripts=",".join(ins) + "->" + out)

    @staticmethod
    def conv2d(x: Any, w: Any, stride: Any = 1, padding: Any = 0) -> Any:
        return C.conv2d(x, w, stride=pair(stride), padding=pair(padding))

    @staticmethod
    def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Any:
        kernel, stride, padding = pool_args(kernel_size, stride, padding)
        return C.max_pool2d(x, kernel=kernel, stride=stride, padding=padding)

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
        return S.softmax(a, axis=_axis(axis))

    @staticmethod
    def log_softmax(a: Any, axis: Any = -1) -> Any:
        return S.log_softmax(a, axis=_axis(axis))

    @staticmethod
    def logsumexp(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return S.logsumexp(a, axis=_axis(axis), keepdims=keepdims)

    @staticmethod
    def cross_entropy(logits: Any, labels: Any) -> Any:
        return S.cross_entropy(logits, labels=np.asarray(val(labels)).astype(np.intp))


# Every other op is the engine primitive of the vocabulary name (add, pow, exp, abs, matmul, ...).
provide(Namespace, ("name", lambda name: staticmethod(getattr(P, name))))
