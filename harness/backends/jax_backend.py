"""JAX (float64 enabled explicitly) behind the Backend interface, with compiled functions reused."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from harness.backends.base import Backend, Problem


class JaxNamespace:
    """The vocabulary on jax arrays of one dtype."""

    def __init__(self, jax: Any, dtype: Any) -> None:
        import jax.nn
        import jax.numpy as jnp
        import jax.scipy.special

        self.jnp, self.nn, self.special = jnp, jax.nn, jax.scipy.special
        self.dtype = dtype
        for name in [
            "add",
            "subtract",
            "multiply",
            "divide",
            "negative",
            "exp",
            "log",
            "sqrt",
            "sin",
            "cos",
            "tanh",
            "abs",
            "maximum",
            "minimum",
            "matmul",
            "reshape",
            "transpose",
            "concatenate",
        ]:
            setattr(self, name, getattr(jnp, name))

    def asarray(self, a: Any) -> Any:
        return self.jnp.asarray(np.asarray(a), dtype=self.dtype)

    def pow(self, a, b):
        return a**b

    def where(self, mask, a, b):
        return self.jnp.where(mask, a, b)

    def sigmoid(self, a):
        return self.nn.sigmoid(a)

    def relu(self, a):
        return self.nn.relu(a)

    def sum(self, a, axis=None, keepdims=False):
        return self.jnp.sum(a, axis=axis, keepdims=keepdims)

    def mean(self, a, axis=None, keepdims=False):
        return self.jnp.mean(a, axis=axis, keepdims=keepdims)

    def max(self, a, axis=None, keepdims=False):
        return self.jnp.max(a, axis=axis, keepdims=keepdims)

    def take(self, a, indices, axis=None):
        return self.jnp.take(a, self.jnp.asarray(np.asarray(indices)), axis=axis)

    def softmax(self, a, axis=-1):
        return self.nn.softmax(a, axis=axis)

    def log_softmax(self, a, axis=-1):
        return self.nn.log_softmax(a, axis=axis)

    def logsumexp(self, a, axis=None, keepdims=False):
        return self.special.logsumexp(a, axis=axis, keepdims=keepdims)

    def cross_entropy(self, logits, labels):
        lp = self.nn.log_softmax(logits, axis=-1)
        lab = self.jnp.asarray(labels)
        return -self.jnp.mean(self.jnp.take_along_axis(lp, lab[..., None], axis=-1)[..., 0])


class Jax(Backend):
    """JAX transformations (vjp, jvp, forward-over-reverse hvp, hessian), jit-compiled once per
    case, shape, dtype and quantity, and reused for every seed."""

    name = "jax"
    install = "pip install '.[jax]'"

    def __init__(self) -> None:
        self._jax: Any = None
        self._compiled: dict[tuple, Callable] = {}

    def available(self) -> str | None:
        try:
            self._import()
        except ImportError:
            return f"jax is not installed; install it with: {self.install}"
        return None

    def _import(self) -> Any:
        if self._jax is None:
            os.environ.setdefault("JAX_PLATFORMS", "cpu")
            import jax

            jax.config.update("jax_enable_x64", True)
            self._jax = jax
        return self._jax

    def _fn(self, quantity: str, p: Problem) -> Callable:
        key = (quantity, p.fn, p.dtype, tuple(sorted(p.shapes.items())), p.wrt)
        if key not in self._compiled:
            self._compiled[key] = self._build(quantity, p)
        return self._compiled[key]

    def _build(self, quantity: str, p: Problem) -> Callable:
        jax = self._import()
        jnp = jax.numpy
        xp = JaxNamespace(jax, p.dtype)
        shapes, wrt, names = dict(p.shapes), p.wrt, p.names

        def f(xflat, consts):
            vals, i = dict(consts), 0
            for n in wrt:
                k = int(np.prod(shapes[n], dtype=int))
                vals[n] = xflat[i : i + k].reshape(shapes[n])
                i += k
            return p.fn(xp, *(vals[n] for n in names))

        def s(x, c, u):
            return jnp.sum(f(x, c) * u)

        impl = {
            "value": lambda x, c, u, v: f(x, c),
            "grad": lambda x, c, u, v: jax.grad(s)(x, c, u),
            "jvp": lambda x, c, u, v: jax.jvp(lambda y: f(y, c), (x,), (v,))[1],
            "hvp": lambda x, c, u, v: jax.jvp(lambda y: jax.grad(s)(y, c, u), (x,), (v,))[1],
            "jacobian": lambda x, c, u, v: jax.jacrev(f)(x, c).reshape(-1, x.shape[0]),
            "hessian": lambda x, c, u, v: jax.hessian(s)(x, c, u),
        }[quantity]
        return jax.jit(impl)

    def compute(self, quantity: str, p: Problem) -> np.ndarray:
        jnp = self._import().numpy
        x = jnp.asarray(p.flatten(p.args), dtype=p.dtype)
        consts = {n: jnp.asarray(a) for n, a in p.args.items() if n not in p.wrt}
        u = jnp.asarray(p.cotangent, dtype=p.dtype)
        probe = p.direction if quantity in ("hvp", "hessian") else p.tangent
        v = jnp.asarray(probe, dtype=p.dtype)
        return np.asarray(self._fn(quantity, p)(x, consts, u, v))

    def value(self, p: Problem) -> np.ndarray:
        return self.compute("value", p)

    def grad(self, p: Problem) -> np.ndarray:
        return self.compute("grad", p)

    def jvp(self, p: Problem) -> np.ndarray:
        return self.compute("jvp", p)

    def hvp(self, p: Problem) -> np.ndarray:
        return self.compute("hvp", p)

    def jacobian(self, p: Problem) -> np.ndarray:
        return self.compute("jacobian", p)

    def hessian(self, p: Problem) -> np.ndarray:
        return self.compute("hessian", p)
