"""The one small interface every backend implements, and the Problem it is handed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass
class Problem:
    """A case bound to its inputs in one dtype, with the seeded probes that quantities use.

    Conventions (every backend returns these shapes, as numpy arrays in ``dtype``):
      value     the case's output, output-shaped
      grad      J^T u, flat over the differentiable inputs concatenated in order (N,)
      jvp       J v, output-shaped, for the flat tangent v (N,)
      hvp       Hessian of s(x) = <u, f(x)> times the flat direction w (N,)
      jacobian  (M, N), M = output size
      hessian   (N, N) of s(x) = <u, f(x)>
    where u is ``cotangent`` (output-shaped; 1 for a scalar output).
    """

    fn: Callable[..., Any]
    args: dict[str, np.ndarray]
    wrt: tuple[str, ...]
    dtype: np.dtype
    cotangent: np.ndarray
    tangent: np.ndarray
    direction: np.ndarray
    out_shape: tuple[int, ...] = ()
    case: Any = None  # the registry Case, for backends that read its declarations
    shapes: dict[str, tuple[int, ...]] = field(init=False)

    def __post_init__(self) -> None:
        self.shapes = {n: tuple(np.shape(a)) for n, a in self.args.items()}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.args)

    @property
    def n(self) -> int:
        return sum(int(np.prod(self.shapes[n], dtype=int)) for n in self.wrt)

    @property
    def m(self) -> int:
        return int(np.prod(self.out_shape, dtype=int))

    def split(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """A flat vector over the differentiable inputs, as one array per input."""
        out, i = {}, 0
        for name in self.wrt:
            k = int(np.prod(self.shapes[name], dtype=int))
            out[name] = np.asarray(flat[i : i + k]).reshape(self.shapes[name])
            i += k
        return out

    def flatten(self, parts: Mapping[str, Any]) -> np.ndarray:
        """One array per differentiable input, concatenated flat (inverse of split)."""
        return np.concatenate([np.ravel(np.asarray(parts[n])) for n in self.wrt])

    def call(self, xp: Any, values: Mapping[str, Any]) -> Any:
        """Run the case with `values` (backend arrays) in argument order."""
        return self.fn(xp, *(values[n] for n in self.names))

    def label(self, flat_index: int) -> str:
        """A readable name for a flat index into the differentiable inputs, e.g. ``x[1,2]``."""
        i = flat_index
        for name in self.wrt:
            k = int(np.prod(self.shapes[name], dtype=int))
            if i < k:
                if not self.shapes[name]:
                    return name
                idx = np.unravel_index(i, self.shapes[name])
                return f"{name}[{','.join(str(int(j)) for j in idx)}]"
            i -= k
        raise IndexError(flat_index)


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
    not an error): ``jvp``, ``hvp``, ``jacobian``, ``hessian``; a dtype the engine cannot
    compute in (never return another dtype: that is reported as a silent cast); namespace
    functions it lacks (raise Unsupported from the namespace's ``__getattr__``).
    The defaults derive ``jacobian`` from ``jvp`` and ``hessian`` from ``hvp`` column by column;
    ``jvp`` and ``hvp`` raise Unsupported unless overridden. Any other exception is an
    ``error`` row. ``python -m harness check-backend NAME`` lists what a backend lacks;
    docs/your-own-framework.md walks through writing and registering one.
    """

    name: ClassVar[str] = "?"
    #: pip requirement that provides the framework, shown when it is missing
    install: ClassVar[str | None] = None
    #: False for backends under audit (the naive variant, the seed's formulas): they are
    #: judged against the consensus but never part of it.
    votes: ClassVar[bool] = True

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
        does). The default does nothing; a fault here is ignored (the cells report their own)."""


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
