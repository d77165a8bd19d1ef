"""The tolerance table by dtype and derivative order, how a case overrides it, and the
low-precision sensitivity term."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from harness.vocabulary import DTYPE, ORDER

# (atol, rtol) by dtype and derivative order, in one place. atol is scaled by the magnitude of
# the compared vectors (max |.|, at least 1), so a quantity of size 1e4 is not held to 1e-10.
# Order 3 rows are for third derivatives (their float64 and float32 rows come with them).
# The float16 and bfloat16 rows are multiples of the unit roundoff u (2^-11, 2^-8), calibrated
# on the registry (harness validate --dtypes float16 bfloat16, seeds 0 and 1): the largest error
# of a right backend, less its sensitivity term, was 0.9u at order 0, 1.9u at order 1 and 13.6u
# at order 2 (sqrt_near_zero), so orders 0 and 1 keep a margin of 2 and order 2 gets 24u; third
# derivatives compound rounding through three nested passes (jax's bfloat16 d3 of
# softmax_near_one_hot is 40% off where torch's and ours are 2%), so order 3 is 64u. A row's own
# sensitivity to rounding (tol_dtype) is added on top.
TOLERANCES: dict[tuple[str, int], tuple[float, float]] = {
    ("float64", 0): (1e-11, 1e-9),
    ("float64", 1): (1e-9, 1e-7),
    ("float64", 2): (1e-7, 1e-6),
    ("float64", 3): (1e-6, 1e-5),
    ("float32", 0): (1e-5, 1e-4),
    ("float32", 1): (1e-4, 1e-3),
    ("float32", 2): (1e-3, 1e-2),
    ("float32", 3): (3e-3, 3e-2),
    ("float16", 0): (1e-3, 1e-3),  # 2u
    ("float16", 1): (2e-3, 2e-3),  # 4u
    ("float16", 2): (1.2e-2, 1.2e-2),  # 24u
    ("float16", 3): (3.1e-2, 3.1e-2),  # 64u
    ("bfloat16", 0): (8e-3, 8e-3),  # 2u
    ("bfloat16", 1): (1.6e-2, 1.6e-2),  # 4u
    ("bfloat16", 2): (9.4e-2, 9.4e-2),  # 24u
    ("bfloat16", 3): (2.5e-1, 2.5e-1),  # 64u
}
#: The oracle's own error estimate is trusted up to this factor (scipy's estimate is the change
#: between the last two refinements, not a bound).
NOISE_FACTOR = 10.0
#: The low-precision sensitivity term: the float64 quantity recomputed with the differentiable
#: inputs moved by one unit roundoff of the cell's dtype, x·(1 ± u) with random signs, this many
#: times; the term is SENSITIVITY_FACTOR times the largest change of each element.
SENSITIVITY_DRAWS = 4
SENSITIVITY_FACTOR = 4.0


@dataclass(frozen=True)
class Tol:
    atol: float
    rtol: float
    #: per element (flat), the part of the bound from the dtype's rounding (tol_dtype); None
    #: outside low-precision groups
    dtype_term: np.ndarray | None = field(default=None, compare=False)

    @staticmethod
    def lookup(dtype: str, quantity: str, override: Mapping | None = None) -> Tol:
        """The table's bound for a cell, widened (never narrowed) by a case's override."""
        atol, rtol = TOLERANCES[(dtype, ORDER[quantity])]
        if override:
            atol = max(atol, float(override.get("atol", 0.0)))
            rtol = max(rtol, float(override.get("rtol", 0.0)))
        return Tol(atol, rtol)

    def with_dtype_term(self, term: np.ndarray | None) -> Tol:
        if term is None and self.dtype_term is None:
            return self  # frozen: nothing to change (the float64 and float32 groups)
        return replace(self, dtype_term=None if term is None else np.ravel(term))

    def extra(self, n: int) -> np.ndarray:
        """The dtype term for `n` elements (zeros when there is none, or when it does not fit)."""
        t = self.dtype_term
        return t if t is not None and t.size == n else np.zeros(n)


def perturbed(x: np.ndarray, dtype: str, seed: Sequence[int]) -> list[np.ndarray]:
    """SENSITIVITY_DRAWS copies of the flat inputs `x`, each element moved by one unit roundoff
    of `dtype`: x·(1 + u·s), s = ±1 drawn from `seed`."""
    u = DTYPE[dtype].unit_roundoff
    rng = np.random.default_rng(list(seed))
    x = np.asarray(x, dtype=np.float64)
    return [x * (1 + u * rng.choice([-1.0, 1.0], size=x.shape)) for _ in range(SENSITIVITY_DRAWS)]


def sensitivity(base: np.ndarray, moved: Sequence[np.ndarray]) -> np.ndarray:
    """SENSITIVITY_FACTOR times the largest change of each element of `base` over `moved` (the
    same quantity at the perturbed inputs), flat; non-finite changes count as none."""
    b = np.ravel(np.asarray(base, dtype=np.float64))
    spread = np.zeros_like(b)
    for m in moved:
        d = np.abs(np.ravel(np.asarray(m, dtype=np.float64)) - b)
        spread = np.maximum(spread, np.where(np.isfinite(d), d, 0.0))
    return SENSITIVITY_FACTOR * spread
