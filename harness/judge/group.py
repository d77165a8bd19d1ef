"""The judge of one cell group (case × quantity × dtype): rows, worst elements, figure data.

Pure: it is handed the group's outcomes and the evidence the runner computed up front (Taylor
remainders, the second cotangent probe, each backend's declarations and traits) and never
calls a backend. A verdict can therefore be computed, and tested, from hand-made outcomes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from harness.backends.base import Traits
from harness.execute import Outcome
from harness.judge.compare import compare
from harness.judge.consensus import Judgement, blame, pick_reference, ranking, triangulate, verdict
from harness.judge.taylor import supports_gradient, taylor_slope
from harness.judge.text import failure
from harness.problem import Problem
from harness.registry import Case, Expect
from harness.results import WORST_ELEMENTS, ArrayKey, make_row
from harness.tolerances import NOISE_FACTOR, Tol
from harness.vocabulary import QUANTITY

#: The blame of a row whose case is at fault (not differentiable at its inputs, or failing in
#: numpy), not any backend.
CASE_BLAME = "case"


@dataclass
class Evidence:
    """What the runner computed for a group besides the outcomes, keyed by result key."""

    #: each result's declared discrepancy on this cell (the case's, else the backend's own)
    declared: Mapping[str, Expect | None] = field(default_factory=dict)
    traits: Mapping[str, Traits] = field(default_factory=dict)
    #: (3, k) Taylor remainders of each gradient result (grad groups only)
    taylor: Mapping[str, np.ndarray] = field(default_factory=dict)
    #: the same quantity under a random cotangent, for results that are zero under all-ones
    #: cotangents (--cotangent ones only): the vacuous check
    probes: Mapping[str, Outcome] = field(default_factory=dict)
    #: how each result's backend computed this quantity ("reverse over reverse"), for the text
    methods: Mapping[str, str] = field(default_factory=dict)
    #: low-precision groups: per element (flat), the spread of a float64 result when the inputs
    #: move by one unit roundoff of the dtype (tolerances.sensitivity), added to the bound
    sensitivity: np.ndarray | None = None


@dataclass
class GroupJudgement:
    rows: list[dict]
    elements: list[dict] = field(default_factory=list)
    arrays: dict[ArrayKey, np.ndarray] = field(default_factory=dict)


def judge_group(
    case: Case,
    q: str,
    p: Problem,
    outcomes: Mapping[str, Outcome],
    borrowed: Mapping[str, Outcome],
    evidence: Evidence,
) -> GroupJudgement:
    """Rows for every outcome of the group (its own backends, not the borrowed ones)."""
    dtype = p.dtype_name
    tol = Tol.lookup(dtype, q, case.tol).with_dtype_term(evidence.sensitivity)
    pool = {**outcomes, **borrowed}
    if undefined := nowhere_finite(case, q, p, pool):  # the case's fault, not a backend's
        return GroupJudgement([make_row(case, q, dtype, n, "error" if o.ok else o.status,
                                        reason=undefined if o.ok else o.reason,
                                        blame=CASE_BLAME if o.ok else _own(o))
                               for n, o in outcomes.items()])  # fmt: skip
    curves = {k: c for k, c in evidence.taylor.items() if k in pool and pool[k].ok}
    slopes = _slopes(p, curves)
    supports = {k: supports_gradient(v) for k, v in slopes.items()}
    declared = {k for k in pool if evidence.declared.get(k) is not None}
    non_voters = {k for k in pool if not evidence.traits.get(k, Traits()).votes}
    j = triangulate(list(pool.values()), tol, non_voters | declared, supports,
                    ranking(evidence.traits))  # fmt: skip
    vacuous = vacuous_reason(q, pool, j, tol, evidence.probes)
    out = GroupJudgement([])
    for name, o in outcomes.items():
        if not o.ok:
            out.rows.append(make_row(case, q, dtype, name, o.status, reason=o.reason,
                                     blame=_own(o)))  # fmt: skip
            continue
        ref = pick_reference(name, pool, j)
        if ref is None:
            out.rows.append(make_row(case, q, dtype, name, "skipped",
                                     reason="no other backend to compare with"))  # fmt: skip
            continue
        method = evidence.methods.get(name, "")
        row = _judge_one(case, q, p, o, ref, tol, j, evidence.declared.get(name), out, method)
        row["agrees_with"] = " ".join(sorted(j.agreeing.get(name, ()), key=j.rank))
        row["taylor_slope"] = slopes.get(name, float("nan"))
        if name in curves and row["verdict"] != "pass":  # the HTML plots it
            out.arrays[(case.name, "taylor", dtype, name)] = curves[name][:2]
        if vacuous and row["verdict"] == "pass":
            row["verdict"] = "vacuous"
            row["reason"] = vacuous
        if j.by_evidence and _by_evidence(row, name, ref, j, slopes):
            cell = (case.name, q, dtype, name)
            out.elements = [e for e in out.elements if (e["case"], e["quantity"], e["dtype"],
                                                        e["backend"]) != cell]  # fmt: skip
            out.arrays.pop(cell, None)
            out.arrays.pop((case.name, "taylor", dtype, name), None)
        out.rows.append(row)
    return out


def judgement_key(
    case: Case,
    q: str,
    p: Problem,
    outcomes: Mapping[str, Outcome],
    borrowed: Mapping[str, Outcome],
    evidence: Evidence,
) -> tuple:
    """Everything :func:`judge_group` reads, exactly (arrays by their bytes): the same key,
    the same judgement. The case by identity (a Case is frozen): the caller keeps it."""
    return (
        id(case), q, p.dtype_name, p.wrt, p.out_shape, p.digest(),
        tuple(_outcome_key(k, o) for k, o in outcomes.items()),
        tuple(_outcome_key(k, o) for k, o in borrowed.items()),
        tuple((k, repr(v)) for k, v in evidence.declared.items()),
        tuple(evidence.traits.items()), tuple(evidence.methods.items()),
        tuple((k, _bytes_key(v)) for k, v in evidence.taylor.items()),
        tuple(_outcome_key(k, o) for k, o in evidence.probes.items()),
        _bytes_key(evidence.sensitivity),
    )  # fmt: skip


def _outcome_key(name: str, o: Outcome) -> tuple:
    return (name, o.backend, o.dtype, o.status, o.reason, _bytes_key(o.value),
            _bytes_key(o.noise))  # fmt: skip


def _bytes_key(a: np.ndarray | None) -> tuple | None:
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    return (a.dtype.str, a.shape, hashlib.blake2b(a.tobytes(), digest_size=16).digest())


def _judge_one(
    case: Case,
    q: str,
    p: Problem,
    o: Outcome,
    ref: Outcome,
    tol: Tol,
    j: Judgement,
    exp: Expect | None,
    out: GroupJudgement,
    method: str = "",
) -> dict:
    dtype = p.dtype_name
    ref_name, _, ref_dtype = ref.backend.partition("@")
    ref_dtype = ref_dtype or ref.dtype
    base = dict(reference=ref_name, reference_dtype=ref_dtype, shape=str(o.value.shape))
    ov, rv = o.flat.v, ref.flat.v  # flat float64
    bad = None if o.flat.finite else ~np.isfinite(ov) & np.isfinite(rv)
    if bad is not None and bad.any():
        idx = int(np.flatnonzero(bad)[0])
        text = (f"non-finite {ov[idx]} at {p.index_label(q, idx)} where "
                f"{ref_name} is finite")  # fmt: skip
        # A declared discrepancy may show as NaN (e.g. 0·log 0): still expected, with reason.
        if exp is not None:
            return make_row(case, q, dtype, o.backend, "expected_fail", **base,
                            reason=f"{exp.reason} | {text}", blame=o.backend)  # fmt: skip
        return make_row(case, q, dtype, o.backend, "error", **base, reason=text, blame=o.backend)
    cmp = compare(o, ref, tol)
    agrees = cmp.agrees
    v = verdict(agrees, exp is not None)
    who = blame(o.backend, agrees, j)
    w = cmp.worst
    label = p.index_label(q, w)
    x = p.input_value(q, w)
    reason = ""
    if v != "pass":
        text = failure(
            case=case.name, quantity=q, method=method, dtype=dtype, shape=o.value.shape,
            backend=o.backend, value=float(ov[w]), reference=ref_name,
            reference_value=float(rv[w]), label=label, input_value=x,
            err=float(cmp.abs_err[w]), bound=float(cmp.bound[w]), agrees=agrees, blame=who,
        )  # fmt: skip
        reason = text if exp is None else f"{exp.reason} | {text}"
        if QUANTITY[q].dense:  # a matrix: the HTML draws its heatmap
            out.arrays[(case.name, q, dtype, o.backend)] = cmp.abs_err.reshape(o.value.shape)
            # its axes' names (rows, then columns), for the heatmap's ticks: W[0,1], not 1
            out.arrays[(case.name, f"{q} labels", dtype, o.backend)] = np.array(
                [name for axis in p.axis_labels(q) for name in axis])  # fmt: skip
        order = np.argsort(-(cmp.abs_err - cmp.bound), kind="stable")[:WORST_ELEMENTS]
        for k in order:
            out.elements.append(dict(
                case=case.name, quantity=q, dtype=dtype, backend=o.backend,
                index=p.index_label(q, int(k)), value=ov[k],
                reference_value=rv[k], abs_err=cmp.abs_err[k],
                rel_err=cmp.rel_err[k], input_value=p.input_value(q, int(k)),
            ))  # fmt: skip
    return make_row(
        case, q, dtype, o.backend, v, **base,
        max_abs_err=cmp.max_abs, max_rel_err=cmp.max_rel, tol_abs=cmp.tol_abs,
        tol_rel=cmp.tol_rel, blame=who, reason=reason, worst_index=label, input_at_worst=x,
        value_at_worst=ov[w], reference_at_worst=rv[w],
        noise_floor=_noise(o, ref), tol_dtype=cmp.tol_dtype if tol.dtype_term is not None else None,
    )  # fmt: skip


def zero_under(o: Outcome, tol: Tol) -> bool:
    """Every element within the absolute tolerance of zero, widened by the result's own noise
    floor (an oracle's near-zero values are its error estimate, not a signal)."""
    v = np.abs(np.asarray(o.value, dtype=np.float64))
    noise = 0.0 if o.noise is None else NOISE_FACTOR * np.abs(np.asarray(o.noise, np.float64))
    return bool(np.all(v <= tol.atol + noise))


def vacuous_reason(
    q: str, pool: Mapping[str, Outcome], j: Judgement, tol: Tol, probes: Mapping[str, Outcome]
) -> str:
    """Why this group's check cannot tell right from wrong, or ''.

    Under all-ones cotangents a VJP (or HVP) can be identically zero although the same
    quantity under a random cotangent is not (softmax: its rows sum to 1): every backend
    that returns zeros passes, right or wrong. `probes` holds that second computation for
    the results that were zero (the runner only computes it under --cotangent ones)."""
    if not probes:
        return ""
    ref = pick_reference("", pool, j)
    if ref is None or not zero_under(ref, tol):
        return ""
    other = probes.get(ref.backend)
    if other is None or not other.ok or zero_under(other, tol):
        return ""
    biggest = float(np.max(np.abs(other.value)))
    return (
        f"vacuous: under all-ones cotangents the reference {q} is identically zero (under "
        f"a random cotangent {other.backend} in {other.dtype} gives max |.| {biggest:.3g}), "
        "so any backend returning zeros would pass"
    )


def nowhere_finite(case: Case, q: str, p: Problem, pool: Mapping[str, Outcome]) -> str:
    """Why the case is at fault, or '': an element that no backend (of at least two) gives as a
    finite number, sqrt'(0) say, means the case is not differentiable at its inputs."""
    flats = {k: o.flat for k, o in pool.items() if o.ok}
    if len(flats) < 2 or all(f.finite for f in flats.values()):  # the usual group
        return ""
    got = {k: f.v for k, f in flats.items()}
    if len({v.shape for v in got.values()}) > 1:
        return ""
    nowhere = ~np.any(np.isfinite(np.stack(list(got.values()))), axis=0)
    if not nowhere.any():
        return ""
    i = int(np.flatnonzero(nowhere)[0])
    seen = ", ".join(f"{k} {v[i]}" for k, v in got.items())
    return (f"{case.name} is not differentiable at its inputs: {q} at {p.index_label(q, i)} is "
            f"non-finite on every backend ({seen}); draw its inputs inside its domain")  # fmt: skip


def _own(o: Outcome) -> str:
    """A backend's own fault (it raised, returned the wrong shape or dtype) blames it."""
    return o.backend if o.status == "error" else "none"


def _by_evidence(row: dict, name: str, ref: Outcome, j: Judgement, slopes: dict) -> bool:
    """Without a majority the Taylor test chose the consensus: say so, and do not mark the
    chosen backend failed for disagreeing with the one it outweighed (True: it passes now)."""
    if name in j.consensus and ref.backend not in j.consensus and row["verdict"] == "fail":
        row["verdict"], row["blame"] = "pass", "none"
        row["reason"] = (
            f"no other voter agrees; the Taylor test backs it (slope {slopes.get(name, 0):.2f}) "
            f"against {ref.backend}, which it outweighs"
        )
        return True
    if row["blame"] not in ("none", "ambiguous"):
        row["reason"] += (
            " (no majority; the Taylor test broke the tie — it cannot see small relative "
            "errors: a gradient off by 0.1% still has a slope near 2)"
        )
    return False


def _noise(o: Outcome, ref: Outcome) -> float:
    vals = [f.noise.max() for f in (o.flat, ref.flat) if f.noise is not None and f.noise.size]
    return float(max(vals)) if vals else 0.0


def _slopes(p: Problem, curves: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Each curve's Taylor slope, fitted once per distinct curve (backends that agree to the
    bit share one)."""
    fitted: dict[bytes, float] = {}
    out = {}
    for k, c in curves.items():
        key = c.tobytes()
        if key not in fitted:
            fitted[key] = taylor_slope(p, None, c)
        out[k] = fitted[key]
    return out
