"""HIPS autograd behind the Backend interface: the worked example of a plugin.

It imports only public names (``harness.backends``, ``harness.namespace``) and is registered
the way a third party's backend is, through the ``harness.backends`` entry point group in
pyproject.toml, not through the built-in table. Install it with ``pip install '.[autograd]'``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from harness.backends import Backend, Problem, Unsupported
from harness.namespace import provide


class AutogradNamespace:
    """The vocabulary on autograd.numpy, computing in one dtype."""

    def __init__(self, anp: Any, special: Any, getval: Any, dtype: np.dtype) -> None:
        self.np, self.special, self._getval, self.dtype = anp, special, getval, dtype
        # every op whose autograd.numpy function has numpy's name and call, from the table
        provide(self, ("numpy", lambda f: getattr(anp, f)))

    def asarray(self, a: Any) -> Any:
        return self.np.asarray(np.asarray(a), dtype=self.dtype)

    def sigmoid(self, a):
        # exp(-log(1 + exp(-a))): no overflow, and no 1 - 1 cancellation at large |a|
        return self.np.exp(-self.np.logaddexp(0, -a))

    def relu(self, a):
        # relu'(0) = 0 as in torch and jax (np.maximum would split the tie: 0.5); a constant
        # boolean mask keeps float32 derivatives in float32 (autograd's where rule upcasts).
        return a * (a > 0)

    def sum(self, a, axis=None, keepdims=False):
        return self.np.sum(a, axis=axis, keepdims=keepdims)

    def mean(self, a, axis=None, keepdims=False):
        return self.np.mean(a, axis=axis, keepdims=keepdims)

    def max(self, a, axis=None, keepdims=False):
        return self.np.max(a, axis=axis, keepdims=keepdims)

    def take(self, a, indices, axis=None):
        # autograd defines no derivative for np.take; integer-array indexing has one.
        idx = np.asarray(indices)
        if axis is None:
            return self.np.reshape(a, (-1,))[idx]
        return a[(slice(None),) * (axis % a.ndim) + (idx,)]

    def logsumexp(self, a, axis=None, keepdims=False):
        return self.special.logsumexp(a, axis=axis, keepdims=keepdims)

    def erf(self, a):
        return self.special.erf(a)

    def softplus(self, a):
        return self.np.logaddexp(0, a)

    def broadcast_to(self, a, shape):
        # autograd's broadcast_to VJP refuses new leading axes; a + zeros broadcasts the same
        return a + np.zeros(shape, dtype=self.dtype)

    def einsum(self, subscripts, *operands):
        if any(len(set(t)) < len(t) for t in subscripts.split("->")[0].split(",")):
            raise Unsupported(f"autograd's einsum VJP rejects a repeated index: {subscripts!r}")
        return self.np.einsum(subscripts, *operands)

    def conv2d(self, x, w, stride=1, padding=0):
        raise Unsupported("autograd has no 2-D convolution (NCHW, stride, padding)")

    def max_pool2d(self, x, kernel_size, stride=None, padding=0):
        raise Unsupported("autograd has no max pooling")

    def log_softmax(self, a, axis=-1):
        # (a - m) - log sum exp(a - m) with m = max(a) a constant: the shift cancels in the
        # derivative, and subtracting before the log keeps float32 exact at large logits.
        shifted = a - np.max(self._getval(a), axis=axis, keepdims=True)
        return shifted - self.np.log(self.np.sum(self.np.exp(shifted), axis=axis, keepdims=True))

    def softmax(self, a, axis=-1):
        return self.np.exp(self.log_softmax(a, axis=axis))

    def cross_entropy(self, logits, labels):
        lab = np.asarray(labels)
        onehot = np.eye(logits.shape[-1], dtype=self.dtype)[lab]  # a constant: labels are ints
        return -self.np.mean(self.np.sum(self.log_softmax(logits) * onehot, axis=-1))


class Autograd(Backend):
    """HIPS autograd: reverse mode (make_vjp), forward mode (make_jvp), reverse-over-reverse
    Hessian-vector products (make_hvp) and dense hessian/jacobian, in the cell's dtype.

    autograd promises nothing about float32: if a quantity comes back in another dtype the cell
    is skipped with that reason, never silently cast back.
    """

    name = "autograd"
    install = "pip install 'harness[autograd]'"

    def available(self) -> str | None:
        try:
            import autograd  # noqa: F401
        except ImportError:
            return f"autograd is not installed; install it with: {self.install}"
        return None

    # -- helpers -------------------------------------------------------------------------
    def _bind(self, p: Problem) -> tuple[Any, Callable[[Any], Any], np.ndarray]:
        """autograd, the case as a function of the flat differentiable inputs, and their value."""
        import autograd
        import autograd.numpy as anp
        import autograd.scipy.special as special
        from autograd.tracer import getval

        xp = AutogradNamespace(anp, special, getval, p.dtype)
        consts = {n: a for n, a in p.args.items() if n not in p.wrt}
        sizes = [int(np.prod(p.shapes[n], dtype=int)) for n in p.wrt]
        offsets = np.cumsum([0, *sizes])

        def f(xflat: Any) -> Any:
            vals = dict(consts)
            for n, lo, hi in zip(p.wrt, offsets[:-1], offsets[1:], strict=True):
                vals[n] = anp.reshape(xflat[lo:hi], p.shapes[n])
            return p.call(xp, vals)

        return autograd, f, p.flatten(p.args).astype(p.dtype)

    def _s(self, f: Callable[[Any], Any], p: Problem) -> Callable[[Any], Any]:
        """s(x) = <u, f(x)>, whose Hessian the second-order quantities measure."""
        import autograd.numpy as anp

        u = np.asarray(p.cotangent, dtype=p.dtype)
        return lambda x: anp.sum(f(x) * u)

    def _out(self, quantity: str, a: Any, p: Problem, shape: tuple[int, ...]) -> np.ndarray:
        a = np.asarray(a)
        if a.dtype != p.dtype:
            raise Unsupported(
                f"autograd computed {quantity} in {a.dtype} for a {p.dtype} cell; it makes no "
                f"{p.dtype} guarantee, so this cell is not compared"
            )
        return a.reshape(shape)

    # -- quantities ----------------------------------------------------------------------
    def value(self, p: Problem) -> np.ndarray:
        _, f, x0 = self._bind(p)
        return self._out("value", f(x0), p, p.out_shape)

    def grad(self, p: Problem) -> np.ndarray:
        ag, f, x0 = self._bind(p)
        vjp, ans = ag.make_vjp(f)(x0)
        u = np.asarray(p.cotangent, dtype=p.dtype).reshape(np.shape(ans))
        return self._out("grad", vjp(u), p, (p.n,))

    def jvp(self, p: Problem) -> np.ndarray:
        ag, f, x0 = self._bind(p)
        try:
            _, t = ag.make_jvp(f)(x0)(np.asarray(p.tangent, dtype=p.dtype))
        except NotImplementedError as e:  # forward mode is defined op by op (erf has none)
            raise Unsupported(f"autograd: {e}") from None
        return self._out("jvp", t, p, p.out_shape)

    def hvp(self, p: Problem) -> np.ndarray:
        ag, f, x0 = self._bind(p)
        vjp_of_grad, _ = ag.make_hvp(self._s(f, p))(x0)
        return self._out("hvp", vjp_of_grad(np.asarray(p.direction, dtype=p.dtype)), p, (p.n,))

    def d3(self, p: Problem) -> np.ndarray:
        """d/dt <H(x + t w) w, w>: reverse over its reverse-over-reverse HVP, dotted with w."""
        import autograd.numpy as anp

        ag, f, x0 = self._bind(p)
        w = np.asarray(p.direction, dtype=p.dtype)
        s = self._s(f, p)

        def whw(x: Any) -> Any:
            return anp.dot(ag.make_hvp(s)(x)[0](w), w)

        return self._out("d3", np.dot(ag.grad(whw)(x0), w), p, ())

    def jacobian(self, p: Problem) -> np.ndarray:
        ag, f, x0 = self._bind(p)
        return self._out("jacobian", ag.jacobian(f)(x0), p, (p.m, p.n))

    def hessian(self, p: Problem) -> np.ndarray:
        ag, f, x0 = self._bind(p)
        return self._out("hessian", ag.hessian(self._s(f, p))(x0), p, (p.n, p.n))
