"""Finite differences from function values only (scipy.differentiate), with error estimates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from scipy import differentiate

from harness.backends.base import Backend, Estimate, Problem, Unsupported
from harness.backends.fd_batch import Points, lift
from harness.namespace import NumpyNamespace

#: A dense fd Hessian costs O(N^2) nested adaptive differences; above this, hvp only.
HESSIAN_LIMIT = 16
#: First step of the adaptive search; steps shrink by 2 each iteration.
INITIAL_STEP = 0.0625
#: grad, hvp and jacobian take O(N) adaptive differences of an O(N) case: above this many
#: inputs fd is skipped for them (the curvature along one direction, w^T H w, still scales:
#: benchmarks/bench_scale.py checks it at 10^6 inputs).
VECTOR_LIMIT = 1024


class FiniteDifferences(Backend):
    """Adaptive central differences of the case evaluated in plain numpy, in the cell's dtype."""

    name = "fd"
    oracle = True
    reference_rank = 1
    costly = ("hvp", "hessian", "d3")  # differences of differences
    methods: ClassVar[dict[str, str]] = {
        **dict.fromkeys(("grad", "jvp", "hvp", "jacobian", "hessian"), "central differences"),
        "d3": "central differences of differences of differences along w",
    }

    def _f(self, p: Problem) -> Callable[[np.ndarray], np.ndarray]:
        xp = NumpyNamespace(p.dtype)
        consts = {n: a for n, a in p.args.items() if n not in p.wrt}

        def f(xflat: np.ndarray) -> np.ndarray:
            vals = dict(consts)
            vals.update({n: a.astype(p.dtype) for n, a in p.split(xflat).items()})
            return np.asarray(p.call(xp, vals), dtype=p.dtype)

        return f

    def _s_many(self, p: Problem) -> Callable[[np.ndarray], np.ndarray]:
        """X (n, M) -> (1, M): s = <u, f> at each column, in one batched call where possible."""
        pts, u = Points(p), np.ravel(p.cotangent.astype(p.dtype))[:, None]
        return lambda x: np.sum(pts.many(x) * u, axis=0)[None]

    def _x0(self, p: Problem) -> np.ndarray:
        return p.flatten(p.args).astype(p.dtype)

    @staticmethod
    def _jac(g: Callable, x: np.ndarray) -> Estimate:
        r = differentiate.jacobian(lift(g), x, initial_step=INITIAL_STEP)
        return Estimate(np.asarray(r.df), np.asarray(r.error))

    def value(self, p: Problem) -> np.ndarray:
        return self._f(p)(self._x0(p)).reshape(p.out_shape)

    @staticmethod
    def _limit(p: Problem, q: str) -> None:
        if p.n > VECTOR_LIMIT:
            raise Unsupported(
                f"fd {q} needs O(N^2) work at N = {p.n} inputs; fd is limited to {VECTOR_LIMIT} "
                f"inputs for grad, hvp and jacobian (harness.backends.fd.VECTOR_LIMIT)"
            )

    def grad(self, p: Problem) -> Estimate:
        self._limit(p, "grad")
        r = self._jac(self._s_many(p), self._x0(p))
        return Estimate(r.value[0], r.error[0])

    def jvp(self, p: Problem) -> Estimate:
        f, x0, v = Points(p).many, self._x0(p)[:, None], p.tangent.astype(p.dtype)[:, None]
        r = self._jac(lambda t: f(x0 + t * v), np.zeros(1, dtype=p.dtype))
        return Estimate(r.value[:, 0].reshape(p.out_shape), r.error[:, 0].reshape(p.out_shape))

    def jacobian(self, p: Problem) -> Estimate:
        self._limit(p, "jacobian")
        r = self._jac(Points(p).many, self._x0(p))
        return Estimate(r.value.reshape(p.m, p.n), r.error.reshape(p.m, p.n))

    def _directional(self, p: Problem) -> Callable[[np.ndarray], np.ndarray]:
        """X (n, M) -> (1, M): d/dt s(x + t w) at t = 0 for each column x, from values only.

        One adaptive derivative for all columns; scipy passes each still-active column's index
        along (args), so every point is built from its own x."""
        s, w = self._s_many(p), p.direction.astype(p.dtype)[:, None]

        def d(x: np.ndarray) -> np.ndarray:
            def along(t: np.ndarray, col: np.ndarray) -> np.ndarray:
                t, col = np.broadcast_arrays(t, col)
                return s(x[:, col.ravel().astype(int)] + t.ravel() * w).reshape(t.shape)

            r = differentiate.derivative(
                along,
                np.zeros(x.shape[1], dtype=p.dtype),
                args=(np.arange(x.shape[1]),),
                initial_step=INITIAL_STEP,
            )
            return np.asarray(r.df)[None]

        return d

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        # fd is an oracle, not a system under test, and differences taken in float32 are
        # dominated by rounding (its own error estimate then swamps any check): float32 cells
        # are judged against fd's float64 result on the same float32-exact inputs instead.
        return dtype == "float64"

    def hvp(self, p: Problem) -> Estimate:
        self._limit(p, "hvp")
        r = self._jac(self._directional(p), self._x0(p))
        return Estimate(r.value[0], r.error[0])

    def hessian(self, p: Problem) -> Estimate:
        if p.n > HESSIAN_LIMIT:
            raise Unsupported(f"fd hessian is limited to {HESSIAN_LIMIT} inputs (cost O(N^2))")
        r = differentiate.hessian(lift(self._s_many(p)), self._x0(p), initial_step=INITIAL_STEP)
        return Estimate(np.asarray(r.ddf)[0], np.asarray(r.error)[0])

    def d3(self, p: Problem) -> Estimate:
        """d³/dt³ s(x + t w) at 0: three nested adaptive derivatives of the line function
        (each level elementwise over the points the level above asks for, so every level is
        one batched call per step); the error estimate is the outermost level's."""
        s, x0 = self._s_many(p), self._x0(p)[:, None]
        w = p.direction.astype(p.dtype)[:, None]

        def line(t: np.ndarray) -> np.ndarray:
            t = np.asarray(t)
            return s(x0 + t.reshape(1, -1) * w).reshape(t.shape)

        def derivative_of(g: Callable[[np.ndarray], np.ndarray]) -> Callable:
            return lambda t: np.asarray(
                differentiate.derivative(g, t, initial_step=INITIAL_STEP).df
            )

        r = differentiate.derivative(
            derivative_of(derivative_of(line)), np.zeros((), p.dtype), initial_step=INITIAL_STEP
        )
        return Estimate(np.asarray(r.df), np.asarray(r.error))
