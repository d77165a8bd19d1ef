"""The in-house numpy engine (harness.engine) behind the Backend interface, exact and naive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from harness import engine
from harness.backends.base import Backend, Problem, Unsupported
from harness.registry import NAIVE_REASON, Expect, expect
from harness.vocabulary import DTYPE, ORDER, QUANTITY


def bind(p: Problem) -> tuple[Callable[..., Any], list[np.ndarray]]:
    """The case as a function of the differentiable inputs (nodes), and their values in p.dtype.

    Other arguments (integer labels, say) are passed as plain numpy arrays; float ones in p.dtype.
    """
    xp = engine.Namespace(p.dtype)
    fixed = {
        n: np.asarray(a, dtype=p.dtype) if np.issubdtype(np.asarray(a).dtype, np.floating) else a
        for n, a in p.args.items()
        if n not in p.wrt
    }

    def fn(*xs: Any) -> Any:
        return p.call(xp, {**fixed, **dict(zip(p.wrt, xs, strict=True))})

    return fn, [np.asarray(p.args[n], dtype=p.dtype) for n in p.wrt]


def _out(a: Any, p: Problem) -> np.ndarray:
    """The engine's result as it is: a dtype other than the cell's is reported as a silent
    cast (the engine keeps the working dtype end to end), never cast back here."""
    return np.asarray(a)


def _parts(p: Problem, flat: np.ndarray) -> list[np.ndarray]:
    split = p.split(np.asarray(flat, dtype=p.dtype))
    return [split[n] for n in p.wrt]


def _cotangent(p: Problem) -> np.ndarray:
    return np.asarray(p.cotangent, dtype=p.dtype)


class InHouse(Backend):
    """Our engine: reverse mode, forward mode, and second order by double backward."""

    name = "inhouse"
    reference_rank = 4
    methods: ClassVar[dict[str, str]] = {"grad": "reverse mode", "jvp": "forward mode",
               "hvp": "reverse over reverse", "d3": "reverse over reverse over reverse",
               "jacobian": "reverse mode", "hessian": "reverse over reverse"}  # fmt: skip

    def value(self, p: Problem) -> np.ndarray:
        fn, xs = bind(p)
        return _out(engine.evaluate(fn, xs), p)

    def grad(self, p: Problem) -> np.ndarray:
        fn, xs = bind(p)
        _, grads = engine.vjp(fn, xs, _cotangent(p))
        return _out(p.flatten(dict(zip(p.wrt, grads, strict=True))), p)

    def jvp(self, p: Problem) -> np.ndarray:
        fn, xs = bind(p)
        _, t = engine.jvp(fn, xs, _parts(p, p.tangent))
        return _out(t, p)

    def hvp(self, p: Problem) -> np.ndarray:
        fn, xs = bind(p)
        hv = engine.hvp(fn, xs, _parts(p, p.direction), _cotangent(p))
        return _out(p.flatten(dict(zip(p.wrt, hv, strict=True))), p)

    def hessian(self, p: Problem) -> np.ndarray:
        fn, xs = bind(p)
        return _out(engine.hessian(fn, xs, _cotangent(p)), p)

    def d3(self, p: Problem) -> np.ndarray:
        fn, xs = bind(p)
        return _out(engine.d3(fn, xs, _parts(p, p.direction), _cotangent(p)), p)

    def jacobian(self, p: Problem) -> np.ndarray:
        fn, xs = bind(p)
        return _out(engine.jacobian(fn, xs), p)


class InHouseNaive(InHouse):
    """The same engine with seed problem 1b's naive second-order rule (expected to fail)."""

    name = "inhouse-naive"
    reference_rank = 5
    methods: ClassVar[dict[str, str]] = {**InHouse.methods, "hvp": "naive second-order rule",
               "hessian": "naive second-order rule"}  # fmt: skip

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        """Not second order in the low-precision dtypes: the terms the naive rule drops are
        often below their resolution (f_yz·g'·h' of a softmax Hessian within bfloat16's 2^-8),
        so a pass there would say nothing; the audit of seed problem 1b is the float64 and
        float32 rows'."""
        return not (ORDER[quantity] == 2 and DTYPE[dtype].low_precision)

    def expectation(self, case: Any, quantity: str, dtype: str) -> Expect | None:
        """Second order is expected wrong, except on cases where the naive rule drops only
        terms that vanish (``naive_exact``); its HVP, diag(d2) w, is still symmetric."""
        if ORDER[quantity] == 2 and not QUANTITY[quantity].self_check and not case.naive_exact:
            return expect(self.name, quantity, NAIVE_REASON)
        return None

    def hvp(self, p: Problem) -> np.ndarray:
        fn, xs = bind(p)
        hv = engine.naive_hvp(fn, xs, _parts(p, p.direction), _cotangent(p))
        return _out(p.flatten(dict(zip(p.wrt, hv, strict=True))), p)

    def hessian(self, p: Problem) -> np.ndarray:
        fn, xs = bind(p)
        return _out(engine.naive_hessian(fn, xs, _cotangent(p)), p)

    def d3(self, p: Problem) -> np.ndarray:
        raise Unsupported(
            "the naive rule (seed problem 1b) is a second-order rule: it has no third order"
        )
