"""The tolerance table by dtype and derivative order, and how a case overrides it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.vocabulary import ORDER

# (atol, rtol) by dtype and derivative order, in one place. atol is scaled by the magnitude of
# the compared vectors (max |.|, at least 1), so a quantity of size 1e4 is not held to 1e-10.
TOLERANCES: dict[tuple[str, int], tuple[float, float]] = {
    ("float64", 0): (1e-11, 1e-9),
    ("float64", 1): (1e-9, 1e-7),
    ("float64", 2): (1e-7, 1e-6),
    ("float64", 3): (1e-6, 1e-5),
    ("float32", 0): (1e-5, 1e-4),
    ("float32", 1): (1e-4, 1e-3),
    ("float32", 2): (1e-3, 1e-2),
    ("float32", 3): (3e-3, 3e-2),
}
#: The oracle's own error estimate is trusted up to this factor (scipy's estimate is the change
#: between the last two refinements, not a bound).
NOISE_FACTOR = 10.0


@dataclass(frozen=True)
class Tol:
    atol: float
    rtol: float

    @staticmethod
    def lookup(dtype: str, quantity: str, override: Mapping | None = None) -> Tol:
        """The table's bound for a cell, widened (never narrowed) by a case's override."""
        atol, rtol = TOLERANCES[(dtype, ORDER[quantity])]
        if override:
            atol = max(atol, float(override.get("atol", 0.0)))
            rtol = max(rtol, float(override.get("rtol", 0.0)))
        return Tol(atol, rtol)
