"""Agreement between backends, the consensus, the reference, blame and the verdict.

Every result of one case × quantity × dtype is compared with every other (lower-dtype groups
also see the float64 oracles, computed on the same exactly representable inputs). The consensus
is the largest set of voters that agree with one anchor; the backend(s) outside it are blamed.
Backends are told apart by their traits (votes, rank as a reference), never by their names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from harness.backends.base import Traits
from harness.execute import Outcome
from harness.judge.compare import agreeing_pairs
from harness.tolerances import Tol

#: A borrowed result's key: ``fd@float64`` is fd's float64 result seen by a float32 group.
BORROWED = "@"

Rank = Callable[[str], tuple[int, int]]


def base_name(key: str) -> str:
    """The backend behind a result key (``fd@float64`` -> ``fd``)."""
    return key.partition(BORROWED)[0]


def ranking(traits: Mapping[str, Traits]) -> Rank:
    """Preference among results as the reference: the backend's reference_rank, and a
    borrowed float64 oracle result before the same oracle's own lower-precision one."""

    ranks: dict[str, tuple[int, int]] = {}  # asked for hundreds of times per case

    def rank(key: str) -> tuple[int, int]:
        if key not in ranks:
            t = traits.get(key) or traits.get(base_name(key)) or Traits()
            ranks[key] = (t.reference_rank, 0 if BORROWED in key else 1)
        return ranks[key]

    return rank


def _by_name(key: str) -> tuple[int, int]:
    return (Traits.reference_rank, 0)


@dataclass
class Judgement:
    """The consensus of a group and, per backend, its reference and verdict inputs."""

    agreeing: dict[str, set[str]] = field(default_factory=dict)
    consensus: set[str] = field(default_factory=set)
    majority: bool = False
    by_evidence: bool = False  # the tie was broken by the Taylor test, not by a vote
    voters: set[str] = field(default_factory=set)
    rank: Rank = _by_name


def triangulate(
    results: Sequence[Outcome],
    tol: Tol,
    non_voters: Iterable[str] = (),
    evidence: Mapping[str, bool | None] | None = None,
    rank: Rank = _by_name,
) -> Judgement:
    """Pairwise agreement of every usable result; the consensus cluster and whether it is a
    strict majority of the voters. Ties between equally large clusters go to the one holding
    the best-ranked reference. Without a majority, independent evidence (the Taylor test: True
    for a gradient that passes it) breaks the tie when exactly one cluster is backed by it."""
    usable = [o for o in results if o.ok]
    j = Judgement(agreeing={o.key: set() for o in usable}, rank=rank)
    for i, k in agreeing_pairs(usable, tol):
        j.agreeing[usable[i].key].add(usable[k].key)
        j.agreeing[usable[k].key].add(usable[i].key)
    if not usable:
        return j
    skip = set(non_voters)
    # Backends under audit are judged, not trusted: they never vote.
    voters = [o.key for o in usable if o.backend not in skip] or [usable[0].key]
    j.voters = set(voters)
    # each voter's cluster: itself and the voters that agree with it
    cluster = {k: {k} | {a for a in j.agreeing[k] if a in j.voters} for k in voters}
    best = min(voters, key=lambda k: (-len(cluster[k]), rank(k)))
    j.consensus = cluster[best]
    j.majority = len(j.consensus) * 2 > len(voters)
    if not j.majority and evidence:
        backed = {frozenset(cluster[k]) for k in voters if evidence.get(k) is True}
        refuted = {k for k in voters if evidence.get(k) is False}
        if len(backed) == 1:
            (winner,) = backed
            if not winner & refuted:
                j.consensus, j.majority, j.by_evidence = set(winner), True, True
    return j


def pick_reference(
    backend: str, results: Mapping[str, Outcome], judgement: Judgement
) -> Outcome | None:
    """The preferred backend inside the consensus (or overall, without one), never itself."""
    pool = judgement.consensus if judgement.majority else judgement.voters or set(results)
    cands = [k for k in pool if k != backend and results[k].ok]
    if not cands:
        cands = [k for k in results if k != backend and results[k].ok]
    return results[min(cands, key=judgement.rank)] if cands else None


def blame(backend: str, verdict_agrees: bool, judgement: Judgement) -> str:
    """Who is wrong for this row: `none`, a backend id, or `ambiguous`."""
    if not judgement.majority:
        return "ambiguous"
    if verdict_agrees:
        return "none"
    if backend not in judgement.consensus:
        return backend
    outsiders = sorted(set(judgement.agreeing) - judgement.consensus, key=judgement.rank)
    return ",".join(outsiders) if outsiders else "none"


def verdict(agrees: bool, expected: bool) -> str:
    """pass / fail / expected_fail / unexpected_pass from agreement and the declaration."""
    if expected:
        return "unexpected_pass" if agrees else "expected_fail"
    return "pass" if agrees else "fail"
