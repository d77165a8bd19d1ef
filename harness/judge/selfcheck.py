"""The self-checks: one backend's own results held against each other (no oracle, no vote).

``adjoint`` is the dot-product test of AD tools: <u, J v> from the backend's JVP against
<Jᵀu, v> from its VJP. ``symmetry``: <v, H w> against <w, H v> from two of its HVPs. Each pair
is one number computed two ways, equal up to rounding whatever the function, so a backend is
judged where no other backend applies, and a failure blames it alone.

The row's value is the residual relative to the magnitude of the terms summed,
|lhs - rhs| / max(Σ|a_i b_i|, Σ|c_j d_j|, tiny): the rounding error of a dot product is bounded
by that sum, not by |lhs|, which random probes can make cancel. The bound is the tolerance
table's rtol at the quantity's order and dtype (a case's override widens it), far above the
rounding of right code and far below the O(1) residual of a wrong rule.
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
    """One number computed two ways by one backend, and the magnitude of the terms summed."""

    lhs: float
    rhs: float
    scale: float

    @property
    def residual(self) -> float:
        return abs(self.lhs - self.rhs) / self.scale


def pair(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> Pair:
    """<a, b> against <c, d>, in float64, with the larger of Σ|a_i b_i| and Σ|c_j d_j|."""
    ab = np.ravel(np.asarray(a, np.float64)) * np.ravel(np.asarray(b, np.float64))
    cd = np.ravel(np.asarray(c, np.float64)) * np.ravel(np.asarray(d, np.float64))
    scale = max(float(np.sum(np.abs(ab))), float(np.sum(np.abs(cd))), TINY)
    return Pair(float(np.sum(ab)), float(np.sum(cd)), scale)


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
    rtol = Tol.lookup(dtype, q, case.tol).rtol
    rows = []
    for name, o in outcomes.items():
        if not o.ok:
            blame = name if o.status == "error" else "none"
            rows.append(make_row(case, q, dtype, name, o.status, reason=o.reason, blame=blame))
            continue
        pr, exp = pairs[name], declared.get(name)
        agrees = bool(pr.residual <= rtol)
        v = verdict(agrees, exp is not None)
        who = "none" if agrees else name
        text = failure(case.name, q, dtype, name, pr, rtol, agrees, who)
        reason = "" if v == "pass" else text if exp is None else f"{exp.reason} | {text}"
        rows.append(make_row(
            case, q, dtype, name, v, reference=name, reference_dtype=dtype, shape="()",
            max_abs_err=abs(pr.lhs - pr.rhs), max_rel_err=pr.residual, tol_abs=rtol * pr.scale,
            tol_rel=rtol, blame=who, reason=reason, worst_index=q, value_at_worst=pr.lhs,
            reference_at_worst=pr.rhs, noise_floor=0.0, agrees_with="",
        ))  # fmt: skip
    return rows


def failure(
    case: str, q: str, dtype: str, backend: str, pr: Pair, rtol: float, agrees: bool, blame: str
) -> str:
    """The reason of a self-check row: both sides, the residual against the bound, blame."""
    left, right = SIDES[q]
    n = digits(pr.lhs, pr.rhs)
    return (
        f"{case} {QUANTITY[q].title}, order {ORDER[q]}, {dtype}: {backend}'s {left} is "
        f"{number(pr.lhs, n)} but its {right} is {number(pr.rhs, n)}, difference "
        f"{pr.lhs - pr.rhs:+.3g}; residual {pr.residual:.3g} of the terms' magnitude "
        f"{pr.scale:.3g} {'<=' if agrees else '>'} tol {rtol:.3g}; blame {blame}"
    )


#: The backend's own quantities each self-check is derived from (symmetry: one more HVP).
NEEDS: dict[str, tuple[str, ...]] = {"adjoint": ("grad", "jvp"), "symmetry": ("hvp",)}


def judged(traits: Traits) -> bool:
    """Whether a backend gets self-check rows: it votes and is no oracle (an oracle's two
    sides are two noisy estimates, and a backend under audit is judged on its formulas)."""
    return traits.votes and not traits.oracle
