"""Each catalogued mutant's fingerprint on the registry: which cells it fails and how.

Computed by running the in-house engine with the mutant against the oracles (at the default
seed, in float64), one case at a time as needed, and cached per (mutant, case) in a JSON file
under the project cache (harness.cache: ``.cache/``, ``HARNESS_CACHE_DIR``), keyed by a hash of
the engine's sources, the catalog and the seed: editing either rebuilds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from harness import cache
from harness.judge.causes import Fingerprint, fingerprint
from harness.mutants.apply import StaleMutant, engine_sources, installed
from harness.mutants.catalog import MUTANTS, Mutant
from harness.mutants.run import SUBJECT, MutationSession
from harness.registry import Case
from harness.report.files import atomic_write
from harness.vocabulary import QUANTITIES, REFERENCE_DTYPE

#: The oracles a signature is judged against (those of `harness mutants`).
ORACLES = ("torch", "jax", "fd", "mp")


def cache_dir() -> Path | None:
    """harness/ under the project cache (harness.cache), or None when caching is off."""
    root = cache.root()
    return None if root is None else root / "harness"


def _key(seed: int, mutants: Sequence[Mutant]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for name, text in sorted(engine_sources(None).items()):
        h.update(name.encode())
        h.update(text.encode())
    for m in mutants:
        h.update(repr(m).encode())
    h.update(str(seed).encode())
    return h.hexdigest()


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _dump(fp: Fingerprint) -> dict:
    return {"failing": sorted(map(list, fp.failing)),
            "errors": [[*k, v] for k, v in sorted(fp.errors.items())]}  # fmt: skip


def _undump(d: dict) -> Fingerprint:
    return Fingerprint({tuple(c) for c in d["failing"]},
                       {tuple(e[:3]): float(e[3]) for e in d["errors"]})  # fmt: skip


def signatures(
    cases: Sequence[Case], seed: int = 0, mutants: Sequence[Mutant] = MUTANTS
) -> dict[str, tuple[str, Fingerprint]]:
    """mutant name -> (what it does, its fingerprint over `cases`); computed where the cache
    lacks a (mutant, case) pair, then stored."""
    folder = cache_dir()
    path = None if folder is None else folder / f"mutant-signatures-{_key(seed, mutants)}.json"
    stored = {} if path is None else _load(path)
    names = [c.name for c in cases]
    missing = [c for c in cases if any(c.name not in stored.get(m.name, {}) for m in mutants)]
    if missing:
        session = MutationSession(missing, [SUBJECT, *ORACLES], QUANTITIES)
        for m in mutants:
            try:
                with installed(m):
                    run = session.result(seed, [REFERENCE_DTYPE])
            except StaleMutant:
                continue
            per_case = stored.setdefault(m.name, {})
            for c in missing:
                s = run.summary[run.summary["case"] == c.name]
                e = run.elements[run.elements["case"] == c.name]
                per_case[c.name] = _dump(fingerprint(s, e, SUBJECT))
        if path is not None:
            with contextlib.suppress(OSError):  # best effort: a full or read-only cache costs time
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, json.dumps(stored, sort_keys=True) + "\n")
    out = {}
    for m in mutants:
        parts = [_undump(stored[m.name][n]) for n in names if n in stored.get(m.name, {})]
        out[m.name] = (m.what, Fingerprint(
            set().union(*(p.failing for p in parts)) if parts else set(),
            {k: v for p in parts for k, v in p.errors.items()}))  # fmt: skip
    return out
