"""An eps-free check of a gradient: the Taylor remainder along a direction.

r(h) = |s(x + h·d) − s(x) − h·<g, d>| shrinks like h² when g is the gradient of s and like h
when it is not; the slope of log r against log h is the evidence (≈ 2 right, ≈ 1 wrong)."""

from __future__ import annotations

import numpy as np

from harness.namespace import NumpyNamespace
from harness.problem import Problem

#: Steps, relative to the direction's largest element; large enough that the h² term stays
#: above a float32 gradient's rounding (h·δ), small enough to stay inside case domains.
STEPS = np.logspace(-1.0, -2.5, 6)
#: A slope this close to 2 counts as evidence for a correct gradient.
SLOPE_TOLERANCE = 0.35


Line = tuple[np.ndarray, float, np.ndarray]


def line(p: Problem) -> Line:
    """What the remainders of every gradient of one problem share: the direction d (the case's
    tangent, scaled to max |d| = 1), s(x) and s(x + h·d) at each step, s = <u, f> in float64."""
    xp = NumpyNamespace(np.float64)
    consts = {n: a for n, a in p.args.items() if n not in p.wrt}
    x0 = p.flatten(p.args).astype(np.float64)
    u = np.asarray(p.cotangent, dtype=np.float64)
    d = np.asarray(p.tangent, dtype=np.float64)
    d = d / max(float(np.max(np.abs(d), initial=0.0)), 1e-300)

    def s(x: np.ndarray) -> float:
        vals = {**consts, **p.split(x)}
        with np.errstate(all="ignore"):
            return float(np.sum(np.asarray(p.call(xp, vals), dtype=np.float64) * u))

    return d, s(x0), np.array([s(x0 + h * d) for h in STEPS])


def taylor_remainders(p: Problem, grad: np.ndarray, along: Line | None = None) -> np.ndarray:
    """(3, k): the steps h, r(h) = |s(x + h·d) − s(x) − h·<g, d>| for `grad` (flat, any
    dtype), and |s(x)| (repeated), along the case's tangent (`along`: the problem's
    :func:`line`, when it is computed once for several gradients)."""
    d, s0, values = line(p) if along is None else along
    slope = float(np.asarray(grad, dtype=np.float64).ravel() @ d)
    with np.errstate(all="ignore"):
        rs = np.abs(values - s0 - STEPS * slope)
    return np.stack([STEPS, rs, np.full_like(STEPS, abs(s0))])


def taylor_slope(p: Problem, grad: np.ndarray, remainders: np.ndarray | None = None) -> float:
    """The fitted log-log slope of the remainders (≈ 2 for a right gradient, ≈ 1 for a wrong one).

    NaN when the remainder sits at rounding level for every step (s is linear along d, so
    the test cannot tell) or when s is not finite along the steps."""
    hs, rs, s0 = taylor_remainders(p, grad) if remainders is None else remainders
    floor = 1e3 * np.finfo(np.float64).eps * (s0[0] + 1.0)
    keep = np.isfinite(rs) & (rs > floor)
    if keep.sum() < 3:
        return float("nan")
    # the least-squares line's slope in closed form (np.polyfit's, at a tenth of its cost)
    x, y = np.log(hs[keep]), np.log(rs[keep])
    dx = x - x.mean()
    return float(dx @ (y - y.mean()) / (dx @ dx))


def supports_gradient(slope: float) -> bool | None:
    """True for slope ≈ 2, False for clearly not, None when the test could not tell."""
    if not np.isfinite(slope):
        return None
    return abs(slope - 2.0) <= SLOPE_TOLERANCE
