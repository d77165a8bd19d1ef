"""One result against another, elementwise, under the tolerance table and the noise floors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.execute import Outcome
from harness.tolerances import NOISE_FACTOR, Tol


@dataclass
class Comparison:
    """a against r, elementwise."""

    abs_err: np.ndarray
    rel_err: np.ndarray
    bound: np.ndarray  # allowed |a - r| per element
    tol_abs: float
    tol_rel: float

    @property
    def agrees(self) -> bool:
        return bool(np.all(self.abs_err <= self.bound))

    @property
    def max_abs(self) -> float:
        return float(np.max(self.abs_err)) if self.abs_err.size else 0.0

    @property
    def max_rel(self) -> float:
        return float(np.max(self.rel_err)) if self.rel_err.size else 0.0

    @property
    def worst(self) -> int:
        """Flat index of the element furthest outside its bound."""
        if not self.abs_err.size:
            return 0
        return int(np.argmax(self.abs_err - self.bound))


def compare(a: Outcome, r: Outcome, tol: Tol) -> Comparison:
    """Elementwise |a - r| against atol·scale + rtol·|r| + the noise floors of both sides."""
    av = np.asarray(a.value, dtype=np.float64).ravel()
    rv = np.asarray(r.value, dtype=np.float64).ravel()
    diff = np.abs(av - rv)
    mag = np.abs(rv)
    scale = max(1.0, float(np.max(np.abs(np.concatenate([av, rv])), initial=0.0)))
    noise = np.zeros_like(rv)
    for o in (a, r):
        if o.noise is not None:
            noise = noise + NOISE_FACTOR * np.abs(np.asarray(o.noise, dtype=np.float64).ravel())
    bound = tol.atol * scale + tol.rtol * mag + noise
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(mag > 0, diff / np.where(mag > 0, mag, 1.0), np.where(diff > 0, np.inf, 0))
    return Comparison(
        diff, rel, bound, tol.atol * scale + float(np.max(noise, initial=0)), tol.rtol
    )
