"""One result against another, elementwise, under the tolerance table, the noise floors and (in
low-precision dtypes) the case's own sensitivity to rounding."""

from __future__ import annotations

import functools
import math
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

    @property
    def agrees(self) -> bool:
        return bool((self.abs_err <= self.bound).all())

    @property
    def max_abs(self) -> float:
        return float(self.abs_err.max()) if self.abs_err.size else 0.0

    @property
    def max_rel(self) -> float:
        return float(self.rel_err.max()) if self.rel_err.size else 0.0

    @property
    def worst(self) -> int:
        """Flat index of the element furthest outside its bound."""
        if not self.abs_err.size:
            return 0
        return int((self.abs_err - self.bound).argmax())


def compare(a: Outcome, r: Outcome, tol: Tol) -> Comparison:
    """Elementwise |a - r| against atol·scale + rtol·|r| + the noise floors of both sides + the
    dtype's sensitivity term, scale = max(1, max |a, r|) (1 where either holds a NaN).
    ``tol_abs`` is the largest absolute part (noise and dtype term included); ``tol_dtype`` the
    largest dtype term alone. Terms that are all zeros (no noise, no dtype term) are left out
    of the sums: adding 0.0 to a sum of non-negative terms changes no bit."""
    fa, fr = a.flat, r.flat
    diff = np.abs(fa.v - fr.v)
    mag = fr.mag
    top = max(fa.top, fr.top) if fa.top == fa.top and fr.top == fr.top else math.nan
    scale = max(1.0, top)  # Python's max keeps 1.0 against a NaN
    sides = [NOISE_FACTOR * f.noise for f in (fa, fr) if f.noise is not None]
    noise = sides[0] + sides[1] if len(sides) == 2 else sides[0] if sides else None
    extra = None if tol.dtype_term is None else tol.extra(mag.size)  # the sensitivity term
    bound = tol.atol * scale + tol.rtol * mag
    if noise is not None:
        bound = bound + noise
    if extra is not None:
        bound = bound + extra
    if fr.finite and (positive := mag > 0).all():  # no 0/0 nor inf/inf to hide
        rel = diff / mag
    else:
        positive = mag > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(positive, diff / np.where(positive, mag, 1.0),
                           np.where(diff > 0, np.inf, 0))  # fmt: skip
    floor = noise if extra is None else extra if noise is None else noise + extra
    tol_abs = tol.atol * scale + (float(floor.max(initial=0)) if floor is not None else 0.0)
    tol_dtype = float(extra.max(initial=0)) if extra is not None else 0.0
    return Comparison(diff, rel, bound, tol_abs, tol.rtol, tol_dtype)


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
    flats = [o.flat for o in results]
    v = np.stack([f.v for f in flats])
    n = v.shape[1]
    top = np.array([f.top for f in flats])  # NaN where a result holds one
    i, j = _pairs(len(results))
    # compare's scale: max(1, max |a, r|), Python's max keeping 1.0 against a NaN
    both = np.fmax(top[i], top[j])
    both[np.isnan(top[i]) | np.isnan(top[j])] = np.nan
    scale = np.array([max(1.0, t) for t in both.tolist()])
    mag = np.stack([f.mag for f in flats])
    bound = tol.atol * scale[:, None] + tol.rtol * mag[j]
    # the noise floors and the dtype term where there are any (0.0 added to a non-negative
    # sum changes no bit)
    if any(f.noise is not None for f in flats):
        noise = np.stack([
            NOISE_FACTOR * f.noise if f.noise is not None else np.zeros(n) for f in flats
        ])  # fmt: skip
        bound = bound + (noise[i] + noise[j])
    if tol.dtype_term is not None:
        bound = bound + tol.extra(n)
    ok = (np.abs(v[i] - v[j]) <= bound).all(axis=1)
    return [(a, b) for a, b, good in zip(i.tolist(), j.tolist(), ok.tolist(), strict=True) if good]


@functools.lru_cache(maxsize=64)
def _pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs i < j of k results (np.triu_indices), computed once per k."""
    i, j = np.triu_indices(k, k=1)
    i.setflags(write=False)
    j.setflags(write=False)
    return i, j
