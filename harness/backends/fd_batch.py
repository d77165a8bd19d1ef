"""A case evaluated at many points in one numpy call, for fd: the vocabulary on a leading axis.

scipy.differentiate asks for the function at hundreds of points per step, and a nested second
difference at tens of thousands; looping over them in Python costs far more than the arithmetic.
``BatchedNamespace`` runs the case, written for one point, once on arrays with an extra leading
axis (one row per point), mapping axes and broadcasting so that every row means what the case
says. ``many`` spot-checks rows of a batched call (once per batch size) against the case
evaluated at that point alone, and falls back to the point-by-point loop for good (for that
problem) on any exception or difference: a case that uses something batching cannot express
costs speed, never correctness.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness.backends.base import Problem
from harness.namespace import NumpyNamespace, einsum_subscripts, max_pool2d, pair, windows

#: A batched row may differ from the point's own evaluation by summation order only.
SPOT_RTOL = 256
#: Input elements per batched call (32 MB in float64): more points are done in chunks, so that
#: memory stays a few times n however many points scipy asks for.
MAX_ELEMENTS = 1 << 22


class Rows(np.ndarray):
    """An array whose leading axis holds the points; indexing addresses one point's axes."""

    def __getitem__(self, key: Any) -> Any:
        key = key if isinstance(key, tuple) else (key,)
        return np.ndarray.__getitem__(self, (slice(None), *key))

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kw: Any) -> Any:
        if method != "__call__" or "out" in kw:
            return NotImplemented
        if ufunc is np.matmul:
            return BatchedNamespace.matmul(*inputs)
        return _wrap(ufunc(*_align(inputs), **kw))


def _raw(a: Any) -> Any:
    return a.view(np.ndarray) if isinstance(a, Rows) else a


def _wrap(a: Any) -> Rows:
    return np.asarray(a).view(Rows)


def _ndim(a: Any) -> int:
    """The number of axes one point sees."""
    return np.ndim(a) - 1 if isinstance(a, Rows) else np.ndim(a)


def _align(args: Sequence[Any]) -> list[Any]:
    """Raw arrays that broadcast row by row: batched ones get unit axes after the rows axis up
    to the largest point rank (unbatched ones broadcast from the left by themselves)."""
    rank = max((_ndim(a) for a in args), default=0)
    out = []
    for a in args:
        if isinstance(a, Rows) and _ndim(a) < rank:
            r = _raw(a)
            a = r.reshape((r.shape[0], *([1] * (rank - _ndim(a))), *r.shape[1:]))
        out.append(_raw(a))
    return out


def _rows(a: Rows) -> int:
    return _raw(a).shape[0]


def _per_image(f: Callable[..., Any], x: Any, *args: Any) -> Any:
    """f over images (N, C, H, W), for x (N, C, H, W) or Rows of them: rows and images as one
    batch, f's output shaped back into rows (a constant x is f(x) itself)."""
    if not isinstance(x, Rows):
        return f(x, *args)
    r = _raw(x)
    out = f(r.reshape((-1, *r.shape[2:])), *args)
    return _wrap(out.reshape((*r.shape[:2], *out.shape[1:])))


def _axis(axis: Any, a: Any) -> Any:
    """A point's axis (None: all of them) as an axis of the batched array."""
    if axis is None:
        return tuple(range(1, np.ndim(a)))
    if isinstance(axis, tuple | list):
        return tuple(_axis(int(x), a) for x in axis)
    return axis + 1 if axis >= 0 else axis


class BatchedNamespace(NumpyNamespace):
    """The vocabulary on Rows: every function maps a point's axes past the leading rows axis."""

    def where(self, mask: Any, a: Any, b: Any) -> Any:
        if not any(isinstance(v, Rows) for v in (mask, a, b)):
            return np.where(mask, a, b)
        return _wrap(np.where(*_align([mask, a, b])))

    def sigmoid(self, a: Any) -> Any:
        e = np.exp(-np.abs(a))
        return self.where(a >= 0, 1 / (1 + e), e / (1 + e))

    def _reduce(self, name: str, a: Any, axis: Any, **kw: Any) -> Any:
        f = getattr(super(), name)  # the point's own function, over the mapped axes
        if not isinstance(a, Rows):
            return f(a, axis, **kw)
        return _wrap(f(_raw(a), _axis(axis, a), **kw))

    def sum(self, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return self._reduce("sum", a, axis, keepdims=keepdims)

    def mean(self, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return self._reduce("mean", a, axis, keepdims=keepdims)

    def max(self, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return self._reduce("max", a, axis, keepdims=keepdims)

    def min(self, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return self._reduce("min", a, axis, keepdims=keepdims)

    def prod(self, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return self._reduce("prod", a, axis, keepdims=keepdims)

    def var(self, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return self._reduce("var", a, axis, keepdims=keepdims)

    def std(self, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return self._reduce("std", a, axis, keepdims=keepdims)

    def logsumexp(self, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return self._reduce("logsumexp", a, axis, keepdims=keepdims)

    def cumsum(self, a: Any, axis: int | None = None) -> Any:
        if not isinstance(a, Rows):
            return np.cumsum(a, axis=axis)
        r = _raw(a)
        if axis is None:
            return _wrap(np.cumsum(r.reshape(r.shape[0], -1), axis=1))
        return _wrap(np.cumsum(r, axis=_axis(axis, a)))

    def softmax(self, a: Any, axis: int = -1) -> Any:
        return self._reduce("softmax", a, axis)

    def log_softmax(self, a: Any, axis: int = -1) -> Any:
        return self._reduce("log_softmax", a, axis)

    def take(self, a: Any, indices: Any, axis: int | None = None) -> Any:
        if not isinstance(a, Rows):
            return np.take(a, np.asarray(indices), axis=axis)
        r = _raw(a)
        if axis is None:
            return _wrap(np.take(r.reshape(r.shape[0], -1), np.asarray(indices), axis=1))
        return _wrap(np.take(r, np.asarray(indices), axis=_axis(axis, a)))

    def reshape(self, a: Any, shape: Any) -> Any:
        if not isinstance(a, Rows):
            return np.reshape(a, shape)
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return _wrap(_raw(a).reshape((a.view(np.ndarray).shape[0], *shape)))

    def transpose(self, a: Any, axes: Any = None) -> Any:
        if not isinstance(a, Rows):
            return np.transpose(a, axes)
        k = _ndim(a)
        order = reversed(range(k)) if axes is None else (int(x) % k for x in axes)
        return _wrap(np.transpose(_raw(a), (0, *(i + 1 for i in order))))

    def broadcast_to(self, a: Any, shape: Any) -> Any:
        if not isinstance(a, Rows):
            return np.broadcast_to(a, shape)
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return _wrap(np.broadcast_to(_align([a, np.empty(shape)])[0], (_rows(a), *shape)))

    def expand_dims(self, a: Any, axis: Any) -> Any:
        if not isinstance(a, Rows):
            return np.expand_dims(a, axis)
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        ndim = _ndim(a) + len(axes)
        return _wrap(np.expand_dims(_raw(a), tuple(x % ndim + 1 for x in axes)))

    def squeeze(self, a: Any, axis: Any = None) -> Any:
        if not isinstance(a, Rows):
            return np.squeeze(a, axis)
        point = _raw(a).shape[1:]
        axes = tuple(i for i, n in enumerate(point) if n == 1) if axis is None else axis
        axes = (axes,) if isinstance(axes, int) else axes
        return _wrap(np.squeeze(_raw(a), tuple(x % len(point) + 1 for x in axes)))

    def einsum(self, subscripts: str, *operands: Any) -> Any:
        if not any(isinstance(a, Rows) for a in operands):
            return np.einsum(subscripts, *operands, optimize=len(operands) > 1)
        ins, out = einsum_subscripts(subscripts, len(operands))
        row = next(c for c in string.ascii_letters if c not in subscripts)  # the rows' letter
        ins = [row + s if isinstance(a, Rows) else s for s, a in zip(ins, operands, strict=True)]
        spec = ",".join(ins) + "->" + row + out
        return _wrap(np.einsum(spec, *map(_raw, operands), optimize=len(operands) > 1))

    def conv2d(self, x: Any, w: Any, stride: Any = 1, padding: Any = 0) -> Any:
        if not (isinstance(x, Rows) or isinstance(w, Rows)):
            return super().conv2d(x, w, stride, padding)
        kernel = pair(np.shape(w)[-2:])
        cols = _per_image(windows, x, kernel, pair(stride), pair(padding))
        lx, lw = ("b" if isinstance(x, Rows) else ""), ("b" if isinstance(w, Rows) else "")
        spec = f"{lx}nckluv,{lw}ockl->bnouv"
        return _wrap(np.einsum(spec, _raw(cols), _raw(w), optimize=True))

    def max_pool2d(self, x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Any:
        if not isinstance(x, Rows):
            return super().max_pool2d(x, kernel_size, stride, padding)
        return _per_image(max_pool2d, x, kernel_size, stride, padding)

    def concatenate(self, arrays: Sequence[Any], axis: int = 0) -> Any:
        rows = [a for a in arrays if isinstance(a, Rows)]
        if not rows:
            return np.concatenate(arrays, axis=axis)
        b = _raw(rows[0]).shape[0]
        parts = [
            _raw(a) if isinstance(a, Rows) else np.broadcast_to(a, (b, *np.shape(a)))
            for a in arrays
        ]
        return _wrap(np.concatenate(parts, axis=axis + 1 if axis >= 0 else axis))

    @staticmethod
    def matmul(a: Any, b: Any) -> Any:
        if not (isinstance(a, Rows) or isinstance(b, Rows)):
            return np.matmul(a, b)
        va, vb = _ndim(a) == 1, _ndim(b) == 1
        # Vectors as matrices, then batched operands padded to the same stack rank, so that the
        # rows axis never lines up with a stack axis of the other operand.
        ea = _raw(a)[..., None, :] if va else _raw(a)
        eb = _raw(b)[..., :, None] if vb else _raw(b)
        ka, kb = _ndim(a) + va, _ndim(b) + vb
        rank = max(ka, kb)
        if isinstance(a, Rows):
            ea = ea.reshape((ea.shape[0], *([1] * (rank - ka)), *ea.shape[1:]))
        if isinstance(b, Rows):
            eb = eb.reshape((eb.shape[0], *([1] * (rank - kb)), *eb.shape[1:]))
        out = np.matmul(ea, eb)
        if va:
            out = out[..., 0, :]
        if vb:
            out = out[..., 0]
        return _wrap(out)

    def cross_entropy(self, logits: Any, labels: Any) -> Any:
        if not isinstance(logits, Rows):
            return super().cross_entropy(logits, labels)
        r = _raw(logits)
        lp = NumpyNamespace.log_softmax(self, r, axis=-1)
        lab = np.broadcast_to(np.asarray(labels)[..., None], (*r.shape[:-1], 1))
        picked = np.take_along_axis(lp, lab, axis=-1)[..., 0]
        return _wrap(-np.mean(picked, axis=tuple(range(1, picked.ndim))))


class Points:
    """The case as a function of flat inputs: ``one(x)`` at a point, ``many(X)`` at the columns
    of X (n, M) in one batched call when the spot check allows, else point by point."""

    def __init__(self, p: Problem) -> None:
        self.p = p
        self.xp = NumpyNamespace(p.dtype)
        self.bxp = BatchedNamespace(p.dtype)
        self.consts = {n: a for n, a in p.args.items() if n not in p.wrt}
        self.batched = True  # until a batched call disagrees with the point-by-point one
        self.checked: set[int] = set()  # batch sizes already spot-checked

    def one(self, x: np.ndarray) -> np.ndarray:
        """The case's output, flat, at the flat input x (n,)."""
        p = self.p
        vals = dict(self.consts)
        vals.update({n: a.astype(p.dtype) for n, a in p.split(x).items()})
        return np.ravel(np.asarray(p.call(self.xp, vals), dtype=p.dtype))

    def _loop(self, x: np.ndarray) -> np.ndarray:
        return np.stack([self.one(x[:, k]) for k in range(x.shape[1])], axis=-1)

    def _batched(self, x: np.ndarray) -> np.ndarray:
        p, count = self.p, x.shape[1]
        vals: dict[str, Any] = dict(self.consts)
        i = 0
        for n in p.wrt:
            k = int(np.prod(p.shapes[n], dtype=int))
            vals[n] = _wrap(x[i : i + k].T.reshape((count, *p.shapes[n])).astype(p.dtype))
            i += k
        out = np.asarray(_raw(p.call(self.bxp, vals)), dtype=p.dtype)
        if out.shape != (count, *p.out_shape):
            out = np.broadcast_to(out, (count, *p.out_shape))  # raises when it cannot
        return out.reshape(count, -1).T

    def many(self, x: np.ndarray) -> np.ndarray:
        """The case's flat output (m, M) at the M columns of x (n, M)."""
        step = max(1, MAX_ELEMENTS // max(1, x.shape[0]))
        if x.shape[1] > step:
            return np.concatenate(
                [self.many(x[:, i : i + step]) for i in range(0, x.shape[1], step)], axis=1
            )
        if self.batched and x.shape[1] > 2:
            try:
                with np.errstate(all="ignore"):
                    out = self._batched(x)
                # Each new batch size is spot-checked once: a case that reads x.shape, say,
                # goes wrong for some sizes only.
                if x.shape[1] in self.checked or self._spot_check(x, out):
                    self.checked.add(x.shape[1])
                    return out
            except Exception:  # anything batching cannot express: the loop is always right
                pass
            self.batched = False
        return self._loop(x)

    def _spot_check(self, x: np.ndarray, out: np.ndarray) -> bool:
        eps = float(np.finfo(self.p.dtype).eps)
        for k in sorted({0, x.shape[1] // 2, x.shape[1] - 1}):
            want = self.one(x[:, k])
            got = out[:, k]
            scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
            same_nan = np.isnan(want) == np.isnan(got)
            close = np.abs(got - want) <= SPOT_RTOL * eps * scale
            if not np.all(same_nan & (close | np.isnan(want))):
                return False
        return True


def lift(g: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """g: (k, M) -> (r, M) in the (k, ...) -> (r, ...) form scipy.differentiate calls."""

    def lifted(x: np.ndarray) -> np.ndarray:
        k, batch = x.shape[0], x.shape[1:]
        out = g(x.reshape(k, -1))
        return out.reshape((out.shape[0], *batch))

    return lifted
