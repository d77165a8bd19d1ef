"""A complete harness backend in one file: a tiny forward-mode engine (dual numbers).

Each array carries its value and its derivative along one direction. That gives `value` and
`jvp` directly, and `grad` (J^T u) by one forward pass per input element. `jacobian` comes from
`jvp` for free; `hvp` and `hessian` are left out, so those cells are reported `skipped`.
"""

import numpy as np

from harness.backends import Backend, Problem, Unsupported
from harness.namespace import VOCABULARY


class Dual:
    """An array `val` and its directional derivative `dot` (0 for a constant)."""

    __array_ufunc__ = None  # numpy_array * dual: let Dual's reflected operators answer

    def __init__(self, val, dot=0):
        self.val, self.dot = val, dot

    shape = property(lambda self: np.shape(self.val))

    def __add__(self, o):
        o = lift(o)
        return Dual(self.val + o.val, self.dot + o.dot)

    def __mul__(self, o):
        o = lift(o)
        return Dual(self.val * o.val, self.dot * o.val + self.val * o.dot)

    def __truediv__(self, o):
        o = lift(o)
        return Dual(self.val / o.val, (self.dot * o.val - self.val * o.dot) / o.val**2)

    def __pow__(self, k):
        if not isinstance(k, Dual):  # a constant exponent
            return Dual(self.val**k, k * self.val ** (k - 1) * self.dot)
        v, safe = self.val**k.val, np.where(self.val == 0, 1, self.val)
        # d(x**y)/dy = x**y log x, whose limit at x = 0 is 0
        return Dual(v, k.val * self.val ** (k.val - 1) * self.dot + v * np.log(safe) * k.dot)

    def __matmul__(self, o):
        o = lift(o)
        return Dual(self.val @ o.val, full(self) @ o.val + self.val @ full(o))

    def __neg__(self):
        return Dual(-self.val, -self.dot)

    def __sub__(self, o):
        return self + -lift(o)

    def __getitem__(self, i):
        return Dual(self.val[i], full(self)[i])

    def __gt__(self, o):  # comparisons give constant masks
        return self.val > lift(o).val

    def __lt__(self, o):
        return self.val < lift(o).val

    __radd__, __rmul__ = __add__, __mul__

    def __rsub__(self, o):
        return lift(o) - self

    def __rtruediv__(self, o):
        return lift(o) / self

    def __rpow__(self, o):
        return lift(o) ** self

    def __rmatmul__(self, o):
        return lift(o) @ self


def lift(a):
    return a if isinstance(a, Dual) else Dual(a)


def full(a):
    """The derivative as an array of the value's shape (a constant's is a plain 0)."""
    return np.broadcast_to(a.dot, a.shape)


# Elementwise primitives: each one's function and derivative, side by side.
UNARY = {
    "exp": (np.exp, np.exp),
    "log": (np.log, lambda x: 1 / x),
    "sqrt": (np.sqrt, lambda x: 0.5 / np.sqrt(x)),
    "sin": (np.sin, np.cos),
    "cos": (np.cos, lambda x: -np.sin(x)),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
}


BINARY = {"add": "__add__", "subtract": "__sub__", "multiply": "__mul__",
          "divide": "__truediv__", "pow": "__pow__", "matmul": "__matmul__"}  # fmt: skip


def unary(f, df):
    return lambda a: Dual(f(a.val), df(a.val) * a.dot)


class DualNamespace:
    """The part of the vocabulary (harness.namespace.VOCABULARY) this engine has."""

    def __init__(self, dtype):
        self.dtype = dtype
        for name, (f, df) in UNARY.items():
            setattr(self, name, unary(f, df))
        for name, op in BINARY.items():
            setattr(self, name, lambda a, b, op=op: getattr(lift(a), op)(b))

    def asarray(self, a):
        return Dual(np.asarray(a, dtype=self.dtype))

    def negative(self, a):
        return -a

    def sum(self, a, axis=None, keepdims=False):
        def total(v):
            return np.sum(v, axis, keepdims=keepdims)

        return Dual(total(a.val), total(full(a)))

    def log_softmax(self, a, axis=-1):
        shifted = a - np.max(a.val, axis=axis, keepdims=True)  # a constant shift: no overflow
        return shifted - self.log(self.sum(self.exp(shifted), axis, keepdims=True))

    def softmax(self, a, axis=-1):
        return self.exp(self.log_softmax(a, axis))

    def __getattr__(self, name):  # the rest of the vocabulary: cases that use it are skipped
        if name in VOCABULARY:
            raise Unsupported(f"dual has no {name} yet")
        raise AttributeError(name)


class DualBackend(Backend):
    """What the harness calls: bind a case to duals, read off the quantities."""

    name = "dual"

    def _run(self, p: Problem, direction: np.ndarray) -> Dual:
        x, dx = p.split(p.flatten(p.args)), p.split(direction)
        args = {**p.args, **{n: Dual(x[n], dx[n]) for n in p.wrt}}  # the rest stay constants
        return lift(p.call(DualNamespace(p.dtype), args))

    def value(self, p: Problem) -> np.ndarray:
        return np.asarray(self._run(p, np.zeros(p.n, p.dtype)).val)

    def jvp(self, p: Problem) -> np.ndarray:
        return np.asarray(full(self._run(p, p.tangent)))

    def grad(self, p: Problem) -> np.ndarray:  # (J^T u)_i = <u, J e_i>: one pass per input
        cols = [np.sum(p.cotangent * self._run(p, e).dot) for e in np.eye(p.n, dtype=p.dtype)]
        return np.array(cols)
