"""The one small interface every backend implements, its traits, and the Problem it is handed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.problem import Problem


@dataclass(frozen=True)
class Traits:
    """A backend's traits as the judge sees them (see Backend's class variables)."""

    votes: bool = True
    oracle: bool = False
    reference_rank: int = 100
    exact_dtype: bool = True
    #: gets the self-checks (adjoint, symmetry): judged against itself, blamed alone
    self_checked: bool = True


@dataclass
class Estimate:
    """A result with a per-element error estimate (what an oracle such as fd returns)."""

    value: np.ndarray
    error: np.ndarray


class Unsupported(Exception):
    """The backend does not compute this quantity for this case (reported as skipped)."""


class Backend:
    """What a backend provides. Implement ``value`` and ``grad`` at least.

    Must provide:
      name      a unique id (letters, digits, ``-_.+``): the report's ``backend`` column
      value, grad
                numpy arrays in ``p.dtype`` with the shapes in Problem's docstring; compute
                them by running the case, ``p.call(xp, values)``, with a namespace ``xp`` of
                your arrays that implements ``harness.namespace.VOCABULARY`` (and the array
                operators listed there)
    May leave out (raise ``Unsupported("why")``: the cell is ``skipped`` with that reason,
    not an error): ``jvp``, ``hvp``, ``jacobian``, ``hessian``, ``d3``; a dtype the engine cannot
    compute in (never return another dtype: that is reported as a silent cast); namespace
    functions it lacks (raise Unsupported from the namespace's ``__getattr__``).
    The defaults derive ``jacobian`` from ``jvp`` and ``hessian`` from ``hvp`` column by column;
    ``jvp``, ``hvp`` and ``d3`` raise Unsupported unless overridden. The self-checks
    (``adjoint``, ``symmetry``) are derived by the runner from ``grad``, ``jvp`` and ``hvp``:
    a backend never computes them. Any other exception (SystemExit
    and KeyboardInterrupt too), or a result that is no numeric array, is an ``error`` row; a
    fault in ``__init__``, ``available``, ``applies`` or ``prepare`` makes its cells errors.
    A plugin runs in a worker process of its own (harness.backends.supervised) unless
    ``--no-isolation``. ``python -m harness check-backend NAME`` lists what a backend lacks;
    docs/your-own-framework.md walks through writing and registering one.
    """

    name: ClassVar[str] = "?"
    #: pip requirement that provides the framework, shown when it is missing
    install: ClassVar[str | None] = None
    #: the distribution of the engine a plugin wraps (its version goes into metadata.json)
    engine: ClassVar[str | None] = None
    # -- traits: what the judge asks of a backend (it never asks its name) ------------------
    #: False for backends under audit (the naive variant, the seed's formulas): they are
    #: judged against the consensus but never part of it.
    votes: ClassVar[bool] = True
    #: An oracle's float64 results are borrowed as voters by the groups of lower dtypes
    #: (computed at the same, exactly representable inputs).
    oracle: ClassVar[bool] = False
    #: Preference as the reference among agreeing backends: lower first (exact oracles lead).
    reference_rank: ClassVar[int] = 100
    #: False for a backend that computes in its own precision (mpmath) and returns float64
    #: whatever the cell's dtype; True: another dtype than the cell's is a silent cast.
    exact_dtype: ClassVar[bool] = True
    #: Quantities this backend computes slowly (nested finite differences): runs that only
    #: need references (mutation testing) leave them to the other oracles.
    costly: ClassVar[tuple[str, ...]] = ()
    #: Whether the self-checks (adjoint, symmetry) judge this backend against itself; None:
    #: when it votes and is no oracle (an oracle's two sides are two noisy estimates, and a
    #: formula under audit is judged on its formula). A function under audit that is real AD
    #: (harness.check's subject) sets True.
    self_checks: ClassVar[bool | None] = None
    #: True when ``prepare`` starts work that runs beside the other backends (jax compiles
    #: the case's programs on a thread of their own): the runner then asks for this backend's
    #: cells of a case after the other backends', so that the work overlaps theirs.
    prepares_ahead: ClassVar[bool] = False

    #: How it computes each quantity, for the failure text ("HVP (reverse over reverse)").
    methods: ClassVar[dict[str, str]] = {"jacobian": "from JVPs", "hessian": "from HVPs"}

    def method(self, quantity: str) -> str:
        return self.methods.get(quantity, "")

    def traits(self) -> Traits:
        checked = self.votes and not self.oracle if self.self_checks is None else self.self_checks
        return Traits(self.votes, self.oracle, self.reference_rank, self.exact_dtype, checked)

    def expectation(self, case: Any, quantity: str, dtype: str) -> Any:
        """A discrepancy this backend declares on a cell (an ``Expect`` from
        ``harness.registry.expect``), or None: a convention of its own that the cases do not
        share, or a known limitation. Checked after the case's own declarations."""
        return None

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        """Whether this cell exists at all for this backend (no row when False). Use it for
        cells that are meaningless (a formula for other cases); a quantity the backend merely
        lacks should raise Unsupported instead, so it is reported as skipped."""
        return True

    def available(self) -> str | None:
        """None when usable, else one sentence saying why not and how to fix it."""
        return None

    def value(self, p: Problem) -> np.ndarray | Estimate:
        raise NotImplementedError

    def grad(self, p: Problem) -> np.ndarray | Estimate:
        raise NotImplementedError

    def jvp(self, p: Problem) -> np.ndarray | Estimate:
        raise Unsupported(f"{self.name} does not compute jvp")

    def hvp(self, p: Problem) -> np.ndarray | Estimate:
        raise Unsupported(f"{self.name} does not compute hvp")

    def d3(self, p: Problem) -> np.ndarray | Estimate:
        raise Unsupported(f"{self.name} does not compute d3")

    def jacobian(self, p: Problem) -> np.ndarray | Estimate:
        cols = [self.jvp(_with(p, tangent=e)) for e in np.eye(p.n, dtype=p.dtype)]
        return _stack(cols, lambda c: np.ravel(c), axis=1)

    def hessian(self, p: Problem) -> np.ndarray | Estimate:
        cols = [self.hvp(_with(p, direction=e)) for e in np.eye(p.n, dtype=p.dtype)]
        return _stack(cols, np.ravel, axis=1)

    def compute(self, quantity: str, p: Problem) -> np.ndarray | Estimate:
        return getattr(self, quantity)(p)

    def prepare(self, plan: Sequence[tuple[Problem, Sequence[str]]]) -> None:
        """Called once per case before its cells, with each problem (one per dtype) and the
        quantities its cells will ask for, so that a backend may compile them together (jax
        does). The self-checks are listed too: ``symmetry`` means one more ``hvp`` call on a
        problem whose direction is this problem's tangent. The default does nothing; a fault
        here makes this backend's cells of the case errors, with the reason."""


class Dispatched(Backend):
    """A backend that computes every quantity in one method: it overrides ``compute(quantity,
    p)`` (jax runs the case's compiled program, mp shares one point's stencils), and each
    quantity's method calls it. d3 is d³/dt³ <u, f(x + t w)> at t = 0, shape ()."""

    def compute(self, quantity: str, p: Problem) -> np.ndarray | Estimate:
        raise NotImplementedError(f"{self.name} must override compute")

    def value(self, p: Problem) -> np.ndarray | Estimate:
        return self.compute("value", p)

    def grad(self, p: Problem) -> np.ndarray | Estimate:
        return self.compute("grad", p)

    def jvp(self, p: Problem) -> np.ndarray | Estimate:
        return self.compute("jvp", p)

    def hvp(self, p: Problem) -> np.ndarray | Estimate:
        return self.compute("hvp", p)

    def jacobian(self, p: Problem) -> np.ndarray | Estimate:
        return self.compute("jacobian", p)

    def hessian(self, p: Problem) -> np.ndarray | Estimate:
        return self.compute("hessian", p)

    def d3(self, p: Problem) -> np.ndarray | Estimate:
        return self.compute("d3", p)


def _with(p: Problem, **changes: Any) -> Problem:
    q = Problem(p.fn, p.args, p.wrt, p.dtype, p.cotangent, p.tangent, p.direction, p.out_shape)
    for k, v in changes.items():
        setattr(q, k, v)
    return q


def _stack(cols: list, f: Callable, axis: int) -> np.ndarray | Estimate:
    if cols and isinstance(cols[0], Estimate):
        return Estimate(
            np.stack([f(c.value) for c in cols], axis=axis),
            np.stack([f(c.error) for c in cols], axis=axis),
        )
    return np.stack([f(c) for c in cols], axis=axis)
