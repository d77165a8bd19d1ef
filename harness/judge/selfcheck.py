"""The self-checks: one backend's own results held against each other (no oracle, no vote).

``adjoint`` is the dot-product test of AD tools: <u, J v> from the backend's JVP against
<Jᵀu, v> from its VJP. ``symmetry``: <v, H w> against <w, H v> from two of its HVPs. Each pair
is one number computed two ways, equal up to rounding whatever the function, so a backend is
judged where no other backend applies, and a failure blames it alone.

Each side is a probe dotted with a vector the backend computed (<u, Jv>: the probe u, the
vector Jv). The bound is the one a cell of the same order and dtype grants, carried through the
dot products: rtol times the magnitude of the terms summed, S = max(Σ|u_i (Jv)_i|, Σ|v_j
(Jᵀu)_j|) (a dot product's rounding is bounded by that sum, not by |lhs|, which random probes
can make cancel), plus atol for each element of the vector (its scale max(1, max |.|), as
compare grants it) summed with the probe's weights, F = max(Σ|u_i|·max(1, max|Jv|), ...):
a backend whose JVP computes tanh' as 1 - y² and whose VJP does not differs there by rounding
of 1, not of the tiny 1 - y². The row reports the residual relative to S (max_rel_err), and
|lhs - rhs| (max_abs_err) against the whole bound, which decides: tol_abs, with tol_rel 0, so
that the columns' "tol_abs + tol_rel·|reference|" is that bound. A case's override widens it.
Right code stays orders of magnitude inside it; a wrong rule's residual is O(1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from harness.backends.base import Traits
from harness.execute import Outcome
from harness.judge.consensus import verdict
from harness.judge.text import digits, number
from harness.problem import Problem
from harness.registry import Case, Expect
from harness.results import make_row
from harness.tolerances import Tol
from harness.vocabulary import ORDER, QUANTITY

#: The smallest scale a residual is taken relative to (both sides exactly zero: residual 0).
TINY = float(np.finfo(np.float64).tiny)
#: The two sides of each self-check, as the failure text names them.
SIDES: dict[str, tuple[str, str]] = {
    "adjoint": ("<u, J v> from its JVP", "<J^T u, v> from its VJP"),
    "symmetry": ("<v, H w> from its HVP along w", "<w, H v> from its HVP along v"),
}


@dataclass(frozen=True)
class Pair:
    """One number computed two ways by one backend: both sides, the magnitude of the terms
    summed (scale) and the probes' weight on the vectors' elements (floor)."""

    lhs: float
    rhs: float
    scale: float
    floor: float

    @property
    def residual(self) -> float:
        return abs(self.lhs - self.rhs) / self.scale

    def bound(self, tol: Tol) -> float:
        """The largest |lhs - rhs| that rounding explains under `tol` (see the module)."""
        return tol.rtol * self.scale + tol.atol * self.floor


def pair(u: np.ndarray, a: np.ndarray, v: np.ndarray, b: np.ndarray) -> Pair:
    """<u, a> against <v, b> for probes u, v and computed vectors a, b, in float64."""
    u, a, v, b = (np.ravel(np.asarray(x, np.float64)) for x in (u, a, v, b))
    scale = max(float(np.sum(np.abs(u * a))), float(np.sum(np.abs(v * b))), TINY)
    floor = max(
        float(np.sum(np.abs(u))) * max(1.0, float(np.max(np.abs(a), initial=0.0))),
        float(np.sum(np.abs(v))) * max(1.0, float(np.max(np.abs(b), initial=0.0))),
    )
    return Pair(float(np.sum(u * a)), float(np.sum(v * b)), scale, floor)


def judge_self_checks(
    case: Case,
    q: str,
    p: Problem,
    outcomes: Mapping[str, Outcome],
    pairs: Mapping[str, Pair],
    declared: Mapping[str, Expect | None],
) -> list[dict]:
    """One row per backend: pass when its residual is within the bound, else fail blaming it
    (expected_fail / unexpected_pass where the cell is declared). `outcomes` hold the residual
    (ok) or why it could not be formed (skipped, error); `pairs` the two sides behind each."""
    dtype = str(p.dtype)
    tol = Tol.lookup(dtype, q, case.tol)
    rows = []
    for name, o in outcomes.items():
        if not o.ok:
            blame = name if o.status == "error" else "none"
            rows.append(make_row(case, q, dtype, name, o.status, reason=o.reason, blame=blame))
            continue
        pr, exp = pairs[name], declared.get(name)
        bound = pr.bound(tol)
        agrees = bool(abs(pr.lhs - pr.rhs) <= bound)
        v = verdict(agrees, exp is not None)
        who = "none" if agrees else name
        text = failure(case.name, q, dtype, name, pr, bound, agrees, who)
        reason = "" if v == "pass" else text if exp is None else f"{exp.reason} | {text}"
        rows.append(make_row(
            case, q, dtype, name, v, reference=name, reference_dtype=dtype, shape="()",
            max_abs_err=abs(pr.lhs - pr.rhs), max_rel_err=pr.residual, tol_abs=bound,
            tol_rel=0.0, blame=who, reason=reason, worst_index=q, value_at_worst=pr.lhs,
            reference_at_worst=pr.rhs, noise_floor=0.0, agrees_with="",
        ))  # fmt: skip
    return rows


def failure(
    case: str, q: str, dtype: str, backend: str, pr: Pair, bound: float, agrees: bool, blame: str
) -> str:
    """The reason of a self-check row: both sides, the residual against the bound, blame."""
    left, right = SIDES[q]
    n = digits(pr.lhs, pr.rhs)
    return (
        f"{case} {QUANTITY[q].title}, order {ORDER[q]}, {dtype}: {backend}'s {left} is "
        f"{number(pr.lhs, n)} but its {right} is {number(pr.rhs, n)}, difference "
        f"{pr.lhs - pr.rhs:+.3g} ({pr.residual:.3g} of the terms' magnitude {pr.scale:.3g}), "
        f"|err| {abs(pr.lhs - pr.rhs):.3g} {'<=' if agrees else '>'} tol {bound:.3g}; "
        f"blame {blame}"
    )


#: The backend's own quantities each self-check is derived from (symmetry: one more HVP).
NEEDS: dict[str, tuple[str, ...]] = {"adjoint": ("grad", "jvp"), "symmetry": ("hvp",)}


def judged(traits: Traits) -> bool:
    """Whether a backend gets self-check rows (Backend.self_checks: by default, when it votes
    and is no oracle)."""
    return traits.self_checked
