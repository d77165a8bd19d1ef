"""mpmath at 50 significant digits, for cases with one scalar input: a ground truth no float
framework shares."""

from __future__ import annotations

import functools
import operator
from typing import Any

import numpy as np

from harness.backends.base import Backend, Problem, Unsupported
from harness.namespace import conv2d, max_pool2d
from harness.vocabulary import provide

DIGITS = 50


class MpNamespace:
    """The vocabulary on mpmath numbers (object arrays of mpf for array-valued steps); numpy's
    functions on object arrays where they work elementwise or by + and *."""

    def __init__(self, mp: Any) -> None:
        self.mp = mp
        provide(
            self,
            ("mpmath", lambda f: np.frompyfunc(getattr(mp, f), 1, 1)),
            ("operator", lambda f: getattr(operator, f)),
        )

    def asarray(self, a: Any) -> Any:
        return np.frompyfunc(self.mp.mpf, 1, 1)(np.asarray(a, dtype=object))

    def sigmoid(self, a):
        return 1 / (1 + self.exp(-a))

    def relu(self, a):
        return self.maximum(a, 0)

    def maximum(self, a, b):
        return np.where(np.asarray(a >= b, dtype=bool), a, b)

    def minimum(self, a, b):
        return np.where(np.asarray(a <= b, dtype=bool), a, b)

    def where(self, mask, a, b):
        return np.where(np.asarray(mask, dtype=bool), a, b)

    def matmul(self, a, b):
        return np.dot(a, b)

    def sum(self, a, axis=None, keepdims=False):
        return np.sum(np.asarray(a, dtype=object), axis=axis, keepdims=keepdims)

    def mean(self, a, axis=None, keepdims=False):
        a = np.asarray(a, dtype=object)
        n = a.size if axis is None else np.prod([a.shape[i] for i in np.atleast_1d(axis)])
        return self.sum(a, axis, keepdims) / int(n)

    def max(self, a, axis=None, keepdims=False):
        return np.max(np.asarray(a, dtype=object), axis=axis, keepdims=keepdims)

    def min(self, a, axis=None, keepdims=False):
        return np.min(np.asarray(a, dtype=object), axis=axis, keepdims=keepdims)

    def prod(self, a, axis=None, keepdims=False):
        return np.prod(np.asarray(a, dtype=object), axis=axis, keepdims=keepdims)

    def var(self, a, axis=None, keepdims=False):
        c = a - self.mean(a, axis=axis, keepdims=True)
        return self.mean(c * c, axis=axis, keepdims=keepdims)

    def std(self, a, axis=None, keepdims=False):
        return self.sqrt(self.var(a, axis=axis, keepdims=keepdims))

    def cumsum(self, a, axis=None):
        return np.cumsum(np.asarray(a, dtype=object), axis=axis)

    def clip(self, a, lo, hi):
        a = a if lo is None else self.maximum(a, lo)
        return a if hi is None else self.minimum(a, hi)

    def logaddexp(self, a, b):
        m = self.maximum(a, b)
        return m + self.log(self.exp(a - m) + self.exp(b - m))

    def softplus(self, a):
        return self.logaddexp(0, a)

    def broadcast_to(self, a, shape):
        return np.broadcast_to(np.asarray(a, dtype=object), shape)

    def expand_dims(self, a, axis):
        return np.expand_dims(np.asarray(a, dtype=object), axis)

    def squeeze(self, a, axis=None):
        return np.squeeze(np.asarray(a, dtype=object), axis)

    def einsum(self, subscripts, *operands):
        return np.einsum(subscripts, *(np.asarray(a, dtype=object) for a in operands))

    def conv2d(self, x, w, stride=1, padding=0):
        return conv2d(np.asarray(x, dtype=object), np.asarray(w, dtype=object), stride, padding)

    def max_pool2d(self, x, kernel_size, stride=None, padding=0):
        return max_pool2d(np.asarray(x, dtype=object), kernel_size, stride, padding)

    def reshape(self, a, shape):
        return np.reshape(np.asarray(a, dtype=object), shape)

    def transpose(self, a, axes=None):
        return np.transpose(np.asarray(a, dtype=object), axes)

    def take(self, a, indices, axis=None):
        return np.take(np.asarray(a, dtype=object), np.asarray(indices), axis=axis)

    def concatenate(self, arrays, axis=0):
        return np.concatenate([np.asarray(a, dtype=object) for a in arrays], axis=axis)

    def logsumexp(self, a, axis=None, keepdims=False):
        m = self.max(a, axis=axis, keepdims=True)
        out = self.log(self.sum(self.exp(a - m), axis=axis, keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis=axis)

    def log_softmax(self, a, axis=-1):
        return a - self.logsumexp(a, axis=axis, keepdims=True)

    def softmax(self, a, axis=-1):
        e = self.exp(a - self.max(a, axis=axis, keepdims=True))
        return e / self.sum(e, axis=axis, keepdims=True)

    def cross_entropy(self, logits, labels):
        lp = self.log_softmax(logits, axis=-1)
        lab = np.asarray(labels)
        return -self.mean(np.take_along_axis(lp, lab[..., None], axis=-1)[..., 0])


@functools.cache
def context() -> Any:
    """The process's one mpmath context at DIGITS digits (a new one costs about 2 ms of set-up,
    more than most cells; nothing here changes its precision)."""
    import mpmath

    ctx = mpmath.mp.clone()
    ctx.dps = DIGITS
    return ctx


class MpMath(Backend):
    """Derivatives by mpmath.diff at DIGITS significant digits; scalar-input cases only."""

    name = "mp"
    oracle = True
    reference_rank = 0
    exact_dtype = False  # computes at DIGITS digits; its float64 is the reference

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        # One scalar input only; it works at DIGITS digits, so float32 groups borrow its
        # float64 result instead of having a row of their own.
        return case.is_scalar and dtype == "float64"

    def _setup(self, p: Problem) -> tuple[Any, Any]:
        if p.n != 1 or len(p.args) != 1:
            raise Unsupported("mp handles cases with one scalar input only")
        ctx = context()
        xp = MpNamespace(ctx)
        name = p.wrt[0]
        u = xp.asarray(p.cotangent)
        x0 = ctx.mpf(float(p.flatten(p.args)[0]))

        def f(x: Any) -> Any:
            return np.asarray(p.call(xp, {name: x}), dtype=object)

        def s(x: Any) -> Any:
            return np.sum(f(x) * u)

        return ctx, (f, s, x0)

    def _out(self, a: Any, p: Problem) -> np.ndarray:
        return np.asarray(np.vectorize(float, otypes=[float])(a), dtype=p.dtype)

    def value(self, p: Problem) -> np.ndarray:
        _, (f, _, x0) = self._setup(p)
        return self._out(f(x0), p).reshape(p.out_shape)

    def grad(self, p: Problem) -> np.ndarray:
        ctx, (_, s, x0) = self._setup(p)
        return self._out([ctx.diff(s, x0)], p)

    def _component_diffs(self, p: Problem) -> np.ndarray:
        ctx, (f, _, x0) = self._setup(p)
        m = max(p.m, 1)
        return np.array([ctx.diff(lambda x, i=i: np.ravel(f(x))[i], x0) for i in range(m)])

    def jvp(self, p: Problem) -> np.ndarray:
        d = self._component_diffs(p) * p.tangent[0]
        return self._out(d, p).reshape(p.out_shape)

    def jacobian(self, p: Problem) -> np.ndarray:
        return self._out(self._component_diffs(p), p).reshape(p.m, 1)

    def hvp(self, p: Problem) -> np.ndarray:
        ctx, (_, s, x0) = self._setup(p)
        return self._out([ctx.diff(s, x0, 2) * ctx.mpf(float(p.direction[0]))], p)

    def hessian(self, p: Problem) -> np.ndarray:
        ctx, (_, s, x0) = self._setup(p)
        return self._out([[ctx.diff(s, x0, 2)]], p)


#: The ingredients of the seed's composite l = f(g(x), h(x)), by name.
INGREDIENTS = ("y", "z", "g1", "g2", "h1", "h2", "f", "f_y", "f_z", "f_yy", "f_yz", "f_zz")


def composition_terms(comp: Any, x: float) -> dict[str, Any]:
    """g', g'', h', h'', and f's partials up to order 2 at x, as mpf at DIGITS digits.

    `comp` is a registry Composition (g, h, f written against the namespace). Kept per
    process: a function of comp and x alone, and a dozen mpmath derivatives each."""
    return dict(_terms(comp, float(x)))


@functools.lru_cache(maxsize=4096)
def _terms(comp: Any, x: float) -> dict[str, Any]:
    ctx = context()
    xp = MpNamespace(ctx)
    x0 = ctx.mpf(float(x))

    def one(fn: Any) -> Any:
        return lambda *a: np.asarray(fn(xp, *a), dtype=object).item()

    g, h, f = one(comp.g), one(comp.h), one(comp.f)
    y, z = g(x0), h(x0)
    return {
        "y": y, "z": z,
        "g1": ctx.diff(g, x0), "g2": ctx.diff(g, x0, 2),
        "h1": ctx.diff(h, x0), "h2": ctx.diff(h, x0, 2),
        "f": f(y, z),
        "f_y": ctx.diff(f, (y, z), (1, 0)), "f_z": ctx.diff(f, (y, z), (0, 1)),
        "f_yy": ctx.diff(f, (y, z), (2, 0)), "f_yz": ctx.diff(f, (y, z), (1, 1)),
        "f_zz": ctx.diff(f, (y, z), (0, 2)),
    }  # fmt: skip
