"""Second-order diagnosis: which terms of the seed's composite a backend misses or adds.

For l = f(g(x), h(x)) the true second derivative is
    f_yy·g'² + 2·f_yz·g'·h' + f_zz·h'² + f_y·g'' + f_z·h''.
A backend's error, over several input points, is fitted by least squares onto those terms and
the naive ones (f_yy·g'', f_zz·h''); a coefficient of −1 is a missing term, +1 an extra one.
The ingredients come from mpmath, so the diagnosis does not trust any float framework.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.backends.mp import composition_terms
from harness.tolerances import Tol
from harness.vocabulary import ORDER, REFERENCE_DTYPE

TRUE_TERMS: dict[str, Callable[[dict], Any]] = {
    "f_yy·g'²": lambda t: t["f_yy"] * t["g1"] ** 2,
    "2·f_yz·g'·h'": lambda t: 2 * t["f_yz"] * t["g1"] * t["h1"],
    "f_zz·h'²": lambda t: t["f_zz"] * t["h1"] ** 2,
    "f_y·g''": lambda t: t["f_y"] * t["g2"],
    "f_z·h''": lambda t: t["f_z"] * t["h2"],
}
NAIVE_TERMS: dict[str, Callable[[dict], Any]] = {
    "f_yy·g''": lambda t: t["f_yy"] * t["g2"],
    "f_zz·h''": lambda t: t["f_zz"] * t["h2"],
}
POINTS = 12
#: A coefficient this close to -1 (+1) names a missing (extra) term.
NAMED = 0.05
#: Coefficients above this are shown: a VJP scaled by 1.001 shows as ×0.001 terms.
SHOWN = 1e-6
#: The share of the error left unexplained above which the text says so.
UNEXPLAINED = 0.1


@dataclass(frozen=True)
class Fit:
    """The least-squares fit of a backend's second-derivative error onto the terms."""

    coef: dict[str, float]
    #: share of the error the terms leave unexplained (0: fully explained)
    residual: float
    #: largest |error| over the points, relative to the largest true value (at least 1)
    error: float


def analyse(xs: np.ndarray, values: np.ndarray, comp: Any) -> Fit:
    """Least-squares coefficients of (values − truth) on every term; a term that vanishes at
    every point is reported as NaN (it cannot be missing here)."""
    names = [*TRUE_TERMS, *NAIVE_TERMS]
    terms = [composition_terms(comp, x) for x in xs]
    cols = np.array([[float(fn(t)) for fn in {**TRUE_TERMS, **NAIVE_TERMS}.values()]
                     for t in terms])  # fmt: skip
    truth = cols[:, : len(TRUE_TERMS)].sum(axis=1)
    err = values - truth
    scale = max(1.0, float(np.max(np.abs(truth))))
    live = np.linalg.norm(cols, axis=0) > 1e-12 * scale
    coef = np.full(len(names), np.nan)
    left = err
    if live.any():
        coef[live] = np.linalg.lstsq(cols[:, live], err, rcond=None)[0]
        left = err - cols[:, live] @ coef[live]
    size = float(np.linalg.norm(err))
    residual = float(np.linalg.norm(left)) / size if size > 0 else 0.0
    return Fit(dict(zip(names, coef, strict=True)), residual, float(np.max(np.abs(err))) / scale)


def fit(xs: np.ndarray, values: np.ndarray, comp: Any) -> dict[str, float]:
    """The coefficients of :func:`analyse`."""
    return analyse(xs, values, comp).coef


def describe(coef: dict[str, float], residual: float = 0.0) -> str:
    """The fit in words: missing and extra terms in the seed's notation, every other term
    with the coefficient that explains the error (however small), and the share of the error
    the terms leave unexplained when it is not negligible."""
    missing = [k for k in TRUE_TERMS if np.isfinite(coef[k]) and abs(coef[k] + 1) < NAMED]
    extra = [k for k in coef if np.isfinite(coef[k]) and abs(coef[k] - 1) < NAMED]
    odd = [
        f"{k} ×{coef[k]:+.3g}"
        for k in coef
        if np.isfinite(coef[k]) and abs(coef[k]) > SHOWN and k not in missing + extra
    ]
    vanish = [k for k in coef if not np.isfinite(coef[k])]
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if extra:
        parts.append("extra " + ", ".join(extra))
    if odd:
        parts.append("other " + ", ".join(odd))
    if not parts and residual == 0:
        return "no missing or extra terms (no error to explain)"
    if residual > UNEXPLAINED or not parts:
        parts.append(f"not explained by these terms (residual {100 * residual:.0f}%)")
    live_true = [k for k in TRUE_TERMS if k not in vanish]
    live_naive = [k for k in NAIVE_TERMS if k not in vanish]
    if sorted(missing) == sorted(live_true) and sorted(extra) == sorted(live_naive) and extra:
        parts.append("the naive signature (seed problem 1b)")
    if vanish:
        parts.append(f"({', '.join(vanish)} vanish for this f)")
    return "; ".join(parts)


def seeds(seed: int) -> list[int]:
    """The seeds of the points a diagnosis fits over (each a draw of the case's input)."""
    return [seed * 1000 + 7919 + k for k in range(POINTS)]


def wanted(case: Any, quantity: str, verdict: str) -> bool:
    """Whether a row is diagnosed: a judged, non-pass second-order row of a case with a
    declared composition of one scalar input."""
    return (
        case.composition is not None
        and case.is_scalar
        and ORDER[quantity] == 2
        and verdict not in ("pass", "error", "skipped")
    )


def diagnose(
    points: Sequence[tuple[float, float]], composition: Any, row_dtype: str = REFERENCE_DTYPE
) -> str:
    """'diagnosis (float64): ...' from the backend's (x, d²l/dx²) at the points it could
    compute (always in the reference dtype), or '' when too few to fit every term. A
    lower-precision row whose backend is right in float64 says so: a precision problem."""
    if len(points) < len(TRUE_TERMS) + len(NAIVE_TERMS):
        return ""
    xs, vals = np.array([q[0] for q in points]), np.array([q[1] for q in points])
    found = analyse(xs, vals, composition)
    head = f"diagnosis ({REFERENCE_DTYPE})"
    if row_dtype != REFERENCE_DTYPE and found.error <= Tol.lookup(REFERENCE_DTYPE, "hvp").rtol:
        return f"{head}: right in {REFERENCE_DTYPE}: a precision problem in {row_dtype}"
    return f"{head}: " + describe(found.coef, found.residual)
