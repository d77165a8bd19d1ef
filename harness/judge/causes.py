"""Likely causes of a backend's failures: the op its failing cells share, and the catalogued
engine bug (mutant) whose errors look most like its own.

A cause is a hypothesis with its evidence, never a verdict: when nothing separates the failing
cells from the passing ones, or no mutant comes close, the answer says so instead of naming the
best of bad matches. Pure: it reads summary and elements rows, the ops each case uses (recorded
while it ran) and the mutants' fingerprints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness.vocabulary import ORDER, QUANTITY, REFERENCE_DTYPE, UNEXPECTED

CAUSE_COLUMNS = ["backend", "rank", "kind", "cause", "score", "evidence"]
#: An op whose separation (share of failing cells using it minus share of passing ones) is
#: below this names nothing.
OP_FLOOR = 0.5
#: A mutant whose fingerprint score is below this is not named.
MUTANT_FLOOR = 0.7
SHOWN = 3
#: A qualifier (an order, a dtype) must hold this share of the failing cells, and MIN_CELLS.
QUALIFIER_SHARE = 0.15
MIN_CELLS = 2
#: Verdicts of cells that count as passing for attribution (judged, and right).
PASSING = ("pass",)

Cell = tuple[str, str]  # case, quantity


@dataclass
class Fingerprint:
    """Which cells fail and how: the signed relative error at each worst element, and for a
    cell that raised (no element to compare) the kind of its fault."""

    failing: set[Cell] = field(default_factory=set)
    errors: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (case, q, index)
    faults: dict[Cell, str] = field(default_factory=dict)  # (case, q) -> 'ValueError', ...


_FAULT = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))\b")


def fault_kind(reason: str) -> str:
    """The exception a cell's reason starts with ('ValueError'), or 'error' (a wrong shape or
    dtype, non-finite values, a dead worker)."""
    m = _FAULT.match(str(reason))
    return m.group(1).rsplit(".", 1)[-1] if m else "error"


def fingerprint(summary: pd.DataFrame, elements: pd.DataFrame, backend: str) -> Fingerprint:
    """The fingerprint of `backend` in one run's rows (reference-dtype rows where it has
    them: a bug of the rule shows there without rounding)."""
    rows = summary[summary["backend"] == backend]
    dtype = REFERENCE_DTYPE if (rows["dtype"] == REFERENCE_DTYPE).any() else None
    if dtype is not None:
        rows = rows[rows["dtype"] == dtype]
    bad = rows[rows["verdict"].isin(UNEXPECTED)]
    fp = Fingerprint({(c, q) for c, q in zip(bad["case"], bad["quantity"], strict=True)})
    raised = bad[bad["verdict"] == "error"]
    cells = zip(raised["case"], raised["quantity"], raised["reason"], strict=True)
    fp.faults = {(c, q): fault_kind(r) for c, q, r in cells}
    el = elements[elements["backend"] == backend]
    if dtype is not None:
        el = el[el["dtype"] == dtype]
    for _, e in el.iterrows():
        if (e["case"], e["quantity"]) in fp.failing:
            ref = float(e["reference_value"])
            rel = (float(e["value"]) - ref) / max(abs(ref), 1.0)
            if np.isfinite(rel):
                fp.errors[(e["case"], e["quantity"], str(e["index"]))] = rel
    return fp


@dataclass(frozen=True)
class Cause:
    kind: str  # "op" or "mutant"
    cause: str
    score: float
    evidence: str


def attribute_ops(
    summary: pd.DataFrame, backend: str, case_ops: Mapping[str, Sequence[str]]
) -> list[Cause]:
    """Vocabulary ops ranked by how well "the case uses this op" separates the backend's
    failing cells from its passing ones, each with the order or dtype that sharpens it."""
    rows = summary[summary["backend"] == backend]
    failing = rows[rows["verdict"].isin(UNEXPECTED)]
    passing = rows[rows["verdict"].isin(PASSING)]
    if failing.empty:
        return []
    if passing.empty:  # nothing to tell the failing cells apart from
        return [Cause("op", "none", 0.0, _nothing_separates(failing, passing))]
    found: list[Cause] = []
    left = failing  # greedy: each next op must explain failing cells the earlier ones did not
    while len(found) < SHOWN and not left.empty:
        ops = sorted({op for c in left["case"] for op in case_ops.get(c, ())})
        scored = [_best_split(op, left, passing, case_ops, len(failing)) for op in ops]
        best = max(scored, key=lambda s: (s[0], s[1].cause), default=None)
        if best is None or best[0] < OP_FLOOR:
            break
        found.append(best[1])
        left = left[~best[2]]
    if not found:
        return [Cause("op", "none", 0.0, _nothing_separates(failing, passing))]
    return found


def _best_split(
    op: str,
    failing: pd.DataFrame,
    passing: pd.DataFrame,
    case_ops: Mapping[str, Sequence[str]],
    total: int,
) -> tuple[float, Cause, np.ndarray]:
    """The op's best qualifier (none, an order, a dtype), its score and the failing cells it
    explains. Score, within the qualifier's cells: the share of the failing ones of cases
    using the op minus the share of the passing ones. A qualifier must hold QUALIFIER_SHARE of
    the failing cells (two at least): a perfect split of a handful explains nothing (a quarter
    was too many once d3 and the self-checks spread a first-order bug's failures over more
    second- and third-order cells of other ops' rules). An order (or dtype) is named only when
    the op does not separate the cells of every other order (dtype) as well: a bug of every
    order is the op's, unqualified."""
    uses = {c for c, ops in case_ops.items() if op in ops}
    splits = []
    for label, noun, kind, member, keep in _qualifiers(failing, passing):
        mine = keep(failing)
        p = passing[keep(passing)]
        if mine.sum() < max(MIN_CELLS, QUALIFIER_SHARE * len(failing)) or p.empty:
            continue  # too few failing cells, or no passing one to separate them from
        hit = mine & failing["case"].isin(uses).to_numpy()
        b = int(p["case"].isin(uses).sum())
        splits.append((float(hit.sum() / mine.sum() - b / len(p)), label, noun, kind, mine, hit,
                       b, len(p), member))  # fmt: skip
    if not splits:
        return 0.0, Cause("op", op, 0.0, ""), np.zeros(len(failing), dtype=bool)
    # of equal scores, the one explaining the most failing cells (unqualified before qualified)
    best = max(splits, key=lambda s: (round(s[0], 9), int(s[5].sum())))
    family = "order" if best[3] == "order+" else best[3]
    kin = [s for s in splits if s[3] == family]
    whole = [s for s in splits if not s[1]]
    # every order (dtype) of the op's cases separates, each with failing cells of its own: a
    # bug of every order is the op's, unqualified (not when some order passes throughout)
    every = {s[8] for s in kin} >= _members(family, failing, passing, uses)
    if best[1] and whole and len(kin) > 1 and every and all(s[0] >= OP_FLOOR for s in kin):
        best = (min(s[0] for s in kin), *whole[0][1:])
    score, label, noun, _, mine, hit, b, n_pass, _ = best
    where = f" ({label})" if label else ""
    rest = "" if len(failing) == total else " other"
    cells = f"{noun} " if noun else ""
    evidence = (f"{int(hit.sum())} of the {int(mine.sum())}{rest} failing {cells}cells are of "
                f"cases using {op}; {b} of the {n_pass} passing ones are")  # fmt: skip
    return score, Cause("op", f"{op}{where}", round(score, 3), evidence), hit


_ORDER_WORDS = {
    0: ("values", "value"),
    1: ("first order", "first-order"),
    2: ("second order", "second-order"),
    3: ("third order", "third-order"),
}


def _from_order(d: pd.DataFrame, order: int) -> np.ndarray:
    checks = d["quantity"].map(lambda q: QUANTITY[q].self_check).to_numpy(dtype=bool)
    return d["quantity"].map(ORDER).ge(order).to_numpy() & ~checks


def _members(family: str, failing: pd.DataFrame, passing: pd.DataFrame, uses: set) -> set:
    """The orders (or dtypes) of the cells of cases using the op, failing or passing."""
    rows = pd.concat([failing, passing])
    rows = rows[rows["case"].isin(uses)]
    if family == "order":
        return {ORDER[q] for q in rows["quantity"]}
    return set(rows["dtype"]) if family == "dtype" else set()


def _qualifiers(failing: pd.DataFrame, passing: pd.DataFrame) -> list:
    """(label, the cells it keeps in words, its kind, its order or dtype, keep) for no
    qualifier, each order, each order and up, and each dtype among the failing cells."""
    out = [("", "", "", None, lambda d: np.ones(len(d), dtype=bool))]
    orders = sorted({ORDER[q] for q in failing["quantity"]})
    for order in orders:
        word, noun = _ORDER_WORDS[order]
        out.append((f"{word} only", noun, "order", order,
                    lambda d, o=order: d["quantity"].map(ORDER).eq(o).to_numpy()))  # fmt: skip
    # A rule wrong from some order on is wrong at every order above it (d3 nests the HVP):
    # "and up" spans them, leaving out the self-checks, whose order is no derivative's.
    for order in (o for o in orders[:-1] if o > 0):
        word, noun = _ORDER_WORDS[order]
        out.append((f"{word} and up", f"{noun}-and-up", "order+", None,
                    lambda d, o=order: _from_order(d, o)))  # fmt: skip
    for dtype in sorted(set(failing["dtype"])):
        out.append((f"{dtype} only", dtype, "dtype", dtype,
                    lambda d, t=dtype: d["dtype"].eq(t).to_numpy()))  # fmt: skip
    return out


def _nothing_separates(failing: pd.DataFrame, passing: pd.DataFrame) -> str:
    return (f"no op separates the {len(failing)} failing cells from the {len(passing)} passing "
            "ones: the bug is not tied to one op (or every case uses it)")  # fmt: skip


def match_mutants(mine: Fingerprint, catalog: Mapping[str, tuple[str, Fingerprint]]) -> list[Cause]:
    """Mutants ranked by how alike their failures are: the overlap of the failing cells
    (Jaccard) times their agreement where both fail — the correlation of the errors over the
    cells with elements on both sides, the same kind of fault over the cells that raised on
    both, weighted by their counts. Mutants with the same score and the same evidence are
    listed together (`a = b`): the registry cannot tell them apart."""
    if not mine.failing:
        return []
    scored = []
    for name, (what, fp) in catalog.items():
        score, evidence = _likeness(mine, fp)
        scored.append((round(score, 3), name, what, evidence))
    scored.sort(key=lambda s: (-s[0], s[1]))
    top = [s for s in scored if s[0] >= MUTANT_FLOOR]
    if not top:
        best = scored[0] if scored else None
        why = f" (closest: {best[1]}, score {best[0]:.2f})" if best else ""
        return [Cause("mutant", "none", 0.0, f"no catalogued bug comes close{why}")]
    out: list[Cause] = []
    for score, name, what, evidence in top:
        same = [o for o in out if o.score == score and o.evidence == evidence]
        if same:  # an identical signature: listed together
            i = out.index(same[0])
            out[i] = Cause("mutant", f"{out[i].cause} = {name}: {what}", score, evidence)
            continue
        if len(out) == SHOWN:
            break
        out.append(Cause("mutant", f"{name}: {what}", score, evidence))
    return out


def _likeness(mine: Fingerprint, fp: Fingerprint) -> tuple[float, str]:
    """The score of `fp` against `mine`, and its evidence in words."""
    shared = mine.failing & fp.failing
    union = mine.failing | fp.failing
    overlap = len(shared) / len(union) if union else 0.0
    corr = _correlation(mine, fp)
    with_elements = {(c, q) for c, q, _ in set(mine.errors) & set(fp.errors)}
    raised = {k for k in shared if k in mine.faults and k in fp.faults} - with_elements
    alike = sum(mine.faults[k] == fp.faults[k] for k in raised)
    judged = len(with_elements) + len(raised)
    agreement = (len(with_elements) * max(corr, 0.0) + alike) / judged if judged else 0.0
    evidence = (
        f"{len(shared)}/{len(mine.failing)} failing cells shared "
        f"({len(fp.failing)} fail under the mutant), error correlation {corr:.2f}"
    )
    if raised:
        kinds = ", ".join(sorted({mine.faults[k] for k in raised}))
        evidence += f", the same fault in {alike} of the {len(raised)} cells that raised ({kinds})"
    return overlap * agreement, evidence


def _correlation(a: Fingerprint, b: Fingerprint) -> float:
    """Cosine of the two error vectors over the elements both hold (0 with none shared)."""
    keys = sorted(set(a.errors) & set(b.errors))
    if not keys:
        return 0.0
    x = np.array([a.errors[k] for k in keys])
    y = np.array([b.errors[k] for k in keys])
    nx, ny = float(np.linalg.norm(x)), float(np.linalg.norm(y))
    if nx == 0 or ny == 0:
        return 0.0
    return float(x @ y / (nx * ny))


def causes_table(per_backend: Mapping[str, list[Cause]]) -> pd.DataFrame:
    """causes.csv: one row per (backend, rank)."""
    rows = [
        dict(backend=b, rank=i + 1, kind=c.kind, cause=c.cause, score=c.score,
             evidence=c.evidence)
        for b, found in per_backend.items()
        for i, c in enumerate(found)
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=CAUSE_COLUMNS)
