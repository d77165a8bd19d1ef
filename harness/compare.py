"""Error metrics, the tolerance table, agreement between backends, verdicts and blame.

Every result of one case × quantity × dtype is compared with every other (float32 groups also
see the float64 oracles, computed on the same float32-exact inputs). The consensus is the
largest set of backends that agree with one anchor; the backend(s) outside it are blamed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.registry import ORDER

# (atol, rtol) by dtype and derivative order, in one place. atol is scaled by the magnitude of
# the compared vectors (max |.|, at least 1), so a quantity of size 1e4 is not held to 1e-10.
TOLERANCES: dict[tuple[str, int], tuple[float, float]] = {
    ("float64", 0): (1e-11, 1e-9),
    ("float64", 1): (1e-9, 1e-7),
    ("float64", 2): (1e-7, 1e-6),
    ("float32", 0): (1e-5, 1e-4),
    ("float32", 1): (1e-4, 1e-3),
    ("float32", 2): (1e-3, 1e-2),
}
#: The oracle's own error estimate is trusted up to this factor (scipy's estimate is the change
#: between the last two refinements, not a bound).
NOISE_FACTOR = 10.0
#: Preference among agreeing backends for the reference: exact oracles first.
PRIORITY: tuple[str, ...] = (
    "mp", "mp@float64", "fd@float64", "fd", "jax", "torch", "inhouse", "inhouse-naive",
)  # fmt: skip

VERDICTS = ("pass", "fail", "expected_fail", "unexpected_pass", "error", "skipped", "vacuous")


@dataclass(frozen=True)
class Tol:
    atol: float
    rtol: float

    @staticmethod
    def lookup(dtype: str, quantity: str, override: Mapping | None = None) -> Tol:
        atol, rtol = TOLERANCES[(dtype, ORDER[quantity])]
        if override:
            atol = max(atol, float(override.get("atol", 0.0)))
            rtol = max(rtol, float(override.get("rtol", 0.0)))
        return Tol(atol, rtol)


@dataclass
class Outcome:
    """One backend's result for a cell, before judgement."""

    backend: str
    dtype: str
    status: str  # "ok", "error", "skipped"
    value: np.ndarray | None = None
    noise: np.ndarray | None = None  # per-element error estimate (oracles)
    reason: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def key(self) -> str:
        return self.backend


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


@dataclass
class Judgement:
    """The consensus of a group and, per backend, its reference and verdict inputs."""

    agreeing: dict[str, set[str]] = field(default_factory=dict)
    consensus: set[str] = field(default_factory=set)
    majority: bool = False
    by_evidence: bool = False  # the tie was broken by the Taylor test, not by a vote
    voters: set[str] = field(default_factory=set)


def rank(name: str) -> int:
    return PRIORITY.index(name) if name in PRIORITY else len(PRIORITY)


def triangulate(
    results: Sequence[Outcome],
    tol: Tol,
    non_voters: Iterable[str] = ("inhouse-naive",),
    evidence: Mapping[str, bool | None] | None = None,
) -> Judgement:
    """Pairwise agreement of every usable result; the consensus cluster and whether it is a
    strict majority of the voters. Ties between equally large clusters go to the one holding
    the oracles. Without a majority, independent evidence (the Taylor test: True for a
    gradient that passes it) breaks the tie when exactly one cluster is backed by it."""
    usable = [o for o in results if o.ok]
    j = Judgement(agreeing={o.key: set() for o in usable})
    for i, a in enumerate(usable):
        for b in usable[i + 1 :]:
            if np.shape(a.value) == np.shape(b.value) and compare(a, b, tol).agrees:
                j.agreeing[a.key].add(b.key)
                j.agreeing[b.key].add(a.key)
    if not usable:
        return j
    skip = set(non_voters)
    # Backends under audit are judged, not trusted: they never vote.
    voters = [o.key for o in usable if o.backend not in skip] or [usable[0].key]

    def cluster(anchor: str) -> set[str]:
        return {anchor} | {k for k in j.agreeing[anchor] if k in voters}

    j.voters = set(voters)
    best = min(voters, key=lambda k: (-len(cluster(k)), rank(k)))
    j.consensus = cluster(best)
    j.majority = len(j.consensus) * 2 > len(voters)
    if not j.majority and evidence:
        backed = {frozenset(cluster(k)) for k in voters if evidence.get(k) is True}
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
    return results[min(cands, key=rank)] if cands else None


def blame(backend: str, verdict_agrees: bool, judgement: Judgement) -> str:
    """Who is wrong for this row: `none`, a backend id, or `ambiguous`."""
    if not judgement.majority:
        return "ambiguous"
    if verdict_agrees:
        return "none"
    if backend not in judgement.consensus:
        return backend
    outsiders = sorted(set(judgement.agreeing) - judgement.consensus, key=rank)
    return ",".join(outsiders) if outsiders else "none"


def verdict(agrees: bool, expected: bool) -> str:
    """pass / fail / expected_fail / unexpected_pass from agreement and the declaration."""
    if expected:
        return "unexpected_pass" if agrees else "expected_fail"
    return "pass" if agrees else "fail"
