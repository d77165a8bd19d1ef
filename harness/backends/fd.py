"""Finite differences from function values only (scipy.differentiate), with error estimates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import differentiate

from harness.backends.base import Backend, Estimate, Problem, Unsupported
from harness.namespace import NumpyNamespace
from harness.registry import ORDER

#: A dense fd Hessian costs O(N^2) nested adaptive differences; above this, hvp only.
HESSIAN_LIMIT = 16
#: First step of the adaptive search; steps shrink by 2 each iteration.
INITIAL_STEP = 0.0625


def _vectorize(g: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Lift g: (m,) -> (n,) to the (m, ...) -> (n, ...) batched form scipy.differentiate calls."""

    def lifted(x: np.ndarray) -> np.ndarray:
        m, batch = x.shape[0], x.shape[1:]
        cols = x.reshape(m, -1)
        out = np.stack([np.ravel(g(cols[:, k])) for k in range(cols.shape[1])], axis=-1)
        return out.reshape((out.shape[0], *batch))

    return lifted


class FiniteDifferences(Backend):
    """Adaptive central differences of the case evaluated in plain numpy, in the cell's dtype."""

    name = "fd"

    def _f(self, p: Problem) -> Callable[[np.ndarray], np.ndarray]:
        xp = NumpyNamespace(p.dtype)
        consts = {n: a for n, a in p.args.items() if n not in p.wrt}

        def f(xflat: np.ndarray) -> np.ndarray:
            vals = dict(consts)
            vals.update({n: a.astype(p.dtype) for n, a in p.split(xflat).items()})
            return np.asarray(p.call(xp, vals), dtype=p.dtype)

        return f

    def _s(self, p: Problem) -> Callable[[np.ndarray], np.ndarray]:
        f, u = self._f(p), p.cotangent.astype(p.dtype)
        return lambda x: np.atleast_1d(np.sum(f(x) * u))

    def _x0(self, p: Problem) -> np.ndarray:
        return p.flatten(p.args).astype(p.dtype)

    @staticmethod
    def _jac(g: Callable, x: np.ndarray) -> Estimate:
        r = differentiate.jacobian(_vectorize(g), x, initial_step=INITIAL_STEP)
        return Estimate(np.asarray(r.df), np.asarray(r.error))

    def value(self, p: Problem) -> np.ndarray:
        return self._f(p)(self._x0(p)).reshape(p.out_shape)

    def grad(self, p: Problem) -> Estimate:
        r = self._jac(self._s(p), self._x0(p))
        return Estimate(r.value[0], r.error[0])

    def jvp(self, p: Problem) -> Estimate:
        f, x0, v = self._f(p), self._x0(p), p.tangent.astype(p.dtype)
        r = self._jac(lambda t: f(x0 + t[0] * v), np.zeros(1, dtype=p.dtype))
        return Estimate(r.value[:, 0].reshape(p.out_shape), r.error[:, 0].reshape(p.out_shape))

    def jacobian(self, p: Problem) -> Estimate:
        r = self._jac(self._f(p), self._x0(p))
        return Estimate(r.value.reshape(p.m, p.n), r.error.reshape(p.m, p.n))

    def _directional(self, p: Problem) -> Callable[[np.ndarray], np.ndarray]:
        """x -> d/dt s(x + t w) at t = 0, itself from values only."""
        s, w = self._s(p), p.direction.astype(p.dtype)

        def d(x: np.ndarray) -> np.ndarray:
            def along(t: np.ndarray) -> np.ndarray:
                return np.array([s(x + ti * w)[0] for ti in np.ravel(t)]).reshape(np.shape(t))

            r = differentiate.derivative(
                along, np.zeros((), dtype=p.dtype), initial_step=INITIAL_STEP
            )
            return np.atleast_1d(r.df)

        return d

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        # Nested differences in float32 are dominated by rounding: float32 second-order cells
        # are judged against the float64 oracles instead of having an fd row of their own.
        return dtype == "float64" or ORDER[quantity] < 2

    def hvp(self, p: Problem) -> Estimate:
        r = self._jac(self._directional(p), self._x0(p))
        return Estimate(r.value[0], r.error[0])

    def hessian(self, p: Problem) -> Estimate:
        if p.n > HESSIAN_LIMIT:
            raise Unsupported(f"fd hessian is limited to {HESSIAN_LIMIT} inputs (cost O(N^2))")
        r = differentiate.hessian(_vectorize(self._s(p)), self._x0(p), initial_step=INITIAL_STEP)
        return Estimate(np.asarray(r.ddf)[0], np.asarray(r.error)[0])
