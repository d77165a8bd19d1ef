"""One result against another, elementwise, under the tolerance table, the noise floors and (in
low-precision dtypes) the case's own sensitivity to rounding."""

from __future__ import annotations

import functools
from collections.abc import Sequence
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
    tol_dtype: float = 0.0  # the largest part of the bound from the dtype's rounding

    @functools.cached_property
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
    """Elementwise |a - r| against atol·scale + rtol·|r| + the noise floors of both sides + the
    dtype's sensitivity term. ``tol_abs`` is the largest absolute part (noise and dtype term
    included); ``tol_dtype`` the largest dtype term alone."""
    av = np.asarray(a.value, dtype=np.float64).ravel()
    rv = np.asarray(r.value, dtype=np.float64).ravel()
    diff = np.abs(av - rv)
    mag = np.abs(rv)
    scale = max(1.0, float(np.max(np.abs(np.concatenate([av, rv])), initial=0.0)))
    noise = np.zeros_like(rv)
    for o in (a, r):
        if o.noise is not None:
            noise = noise + NOISE_FACTOR * np.abs(np.asarray(o.noise, dtype=np.float64).ravel())
    extra = tol.extra(rv.size)  # the low-precision sensitivity term (tol_dtype)
    bound = tol.atol * scale + tol.rtol * mag + noise + extra
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(mag > 0, diff / np.where(mag > 0, mag, 1.0), np.where(diff > 0, np.inf, 0))
    tol_abs = tol.atol * scale + float(np.max(noise + extra, initial=0))
    return Comparison(diff, rel, bound, tol_abs, tol.rtol, float(np.max(extra, initial=0)))


def agreeing_pairs(results: Sequence[Outcome], tol: Tol) -> list[tuple[int, int]]:
    """The pairs (i, j), i < j, of same-shaped results that agree: ``compare(results[i],
    results[j], tol).agrees`` for all pairs at once, with the very same arithmetic (broadcast
    over pairs instead of a dozen small-array calls per pair)."""
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, o in enumerate(results):
        by_shape.setdefault(np.shape(o.value), []).append(i)
    pairs = []
    for idx in by_shape.values():
        if len(idx) > 1:
            pairs += [(idx[i], idx[j]) for i, j in _agreeing([results[k] for k in idx], tol)]
    return sorted(pairs)


def _agreeing(results: Sequence[Outcome], tol: Tol) -> list[tuple[int, int]]:
    v = np.stack([np.asarray(o.value, dtype=np.float64).ravel() for o in results])
    n = v.shape[1]
    top = np.max(np.abs(v), axis=1, initial=0.0)  # NaN where a result holds one
    noise = np.stack([
        NOISE_FACTOR * np.abs(np.asarray(o.noise, dtype=np.float64).ravel())
        if o.noise is not None else np.zeros(n)
        for o in results
    ])  # fmt: skip
    i, j = np.triu_indices(len(results), k=1)
    # compare's scale: max(1, max |a, r|), Python's max keeping 1.0 against a NaN
    both = np.fmax(top[i], top[j])
    both[np.isnan(top[i]) | np.isnan(top[j])] = np.nan
    scale = np.array([max(1.0, float(t)) for t in both])
    bound = tol.atol * scale[:, None] + tol.rtol * np.abs(v[j]) + (noise[i] + noise[j])
    bound = bound + tol.extra(n)
    ok = np.all(np.abs(v[i] - v[j]) <= bound, axis=1)
    return [(int(a), int(b)) for a, b, good in zip(i, j, ok, strict=True) if good]
