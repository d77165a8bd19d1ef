"""Each catalogued mutant's fingerprint on the registry: which cells it fails and how.

Computed by running the in-house engine with the mutant against the oracles (at the default
seed, in float64), only for the cases the cache lacks, and cached per (mutant, case) in a JSON
file under the project cache (harness.cache: ``.cache/``, ``HARNESS_CACHE_DIR``). The file is
keyed by a hash of the engine's sources and the seed (editing the engine rebuilds it all), each
mutant's entry by a hash of the mutant itself (adding or editing one computes that one only).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no lock, two builders then just both compute
    fcntl = None  # type: ignore[assignment]

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


#: Bumped when a fingerprint's stored form or meaning changes: older files are not read.
FORMAT = 2


def _key(seed: int) -> str:
    """The signature file's key: the engine's sources, the seed and the format. Each mutant's
    entry carries its own digest, so adding a mutant computes that one only."""
    h = hashlib.blake2b(digest_size=12)
    for name, text in sorted(engine_sources(None).items()):
        h.update(name.encode())
        h.update(text.encode())
    h.update(f"{seed} {FORMAT}".encode())
    return h.hexdigest()


def _digest(m: Mutant) -> str:
    return hashlib.blake2b(repr(m).encode(), digest_size=8).hexdigest()


def _load(path: Path) -> dict:
    try:
        got = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return got if isinstance(got, dict) else {}


def _dump(fp: Fingerprint) -> dict:
    return {"failing": sorted(map(list, fp.failing)),
            "errors": [[*k, v] for k, v in sorted(fp.errors.items())],
            "faults": [[*k, v] for k, v in sorted(fp.faults.items())]}  # fmt: skip


def _undump(d: dict) -> Fingerprint:
    return Fingerprint({tuple(c) for c in d["failing"]},
                       {tuple(e[:3]): float(e[3]) for e in d["errors"]},
                       {tuple(f[:2]): str(f[2]) for f in d.get("faults", [])})  # fmt: skip


def signature_file(seed: int = 0) -> Path | None:
    """Where the signatures at `seed` are cached (None: caching is off)."""
    folder = cache_dir()
    return None if folder is None else folder / f"mutant-signatures-{_key(seed)}.json"


def signatures(
    cases: Sequence[Case], seed: int = 0, mutants: Sequence[Mutant] = MUTANTS
) -> dict[str, tuple[str, Fingerprint]]:
    """mutant name -> (what it does, its fingerprint over `cases`); computed where the cache
    lacks a (mutant, case) pair, then stored. A stale mutant (its text no longer in the
    engine) has no signature."""
    path = signature_file(seed)
    with _exclusive(path):  # a second process (pytest -n 2) waits, then reads what was built
        stored = {} if path is None else _load(path)
        return _signatures(cases, seed, mutants, path, stored)


@contextlib.contextmanager
def _exclusive(path: Path | None) -> Iterator[None]:
    """The signature file's lock (``NAME.lock`` beside it) for the block; none where it cannot
    be taken (caching off, a read-only folder)."""
    fd = None
    if path is not None and fcntl is not None:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(f"{path}.lock", os.O_CREAT | os.O_RDWR, 0o666)
            fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _signatures(cases: Sequence[Case], seed: int, mutants: Sequence[Mutant], path: Path | None,
                stored: dict) -> dict[str, tuple[str, Fingerprint]]:  # fmt: skip
    """signatures() under the lock, `stored` read from `path`."""
    entries = {}
    for m in mutants:
        entry = stored.get(m.name)
        if not isinstance(entry, dict) or entry.get("mutant") != _digest(m):
            entry = {"mutant": _digest(m), "cases": {}}
        entries[m.name] = stored[m.name] = entry
    todo = {m.name: [c for c in cases if c.name not in entries[m.name]["cases"]]
            for m in mutants if not entries[m.name].get("stale")}  # fmt: skip
    missing = {c.name: c for cs in todo.values() for c in cs}
    if missing:
        session = MutationSession(list(missing.values()), [SUBJECT, *ORACLES], QUANTITIES)
        for m in mutants:
            if todo.get(m.name):
                _compute(session, m, todo[m.name], seed, entries[m.name])
        if path is not None:
            with contextlib.suppress(OSError):  # best effort: a full or read-only cache costs time
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, json.dumps(stored, sort_keys=True) + "\n")
    out = {}
    for m in mutants:
        if entries[m.name].get("stale"):
            continue
        have = entries[m.name]["cases"]
        parts = [_undump(have[c.name]) for c in cases if c.name in have]
        out[m.name] = (m.what, Fingerprint(
            set().union(*(p.failing for p in parts)) if parts else set(),
            {k: v for p in parts for k, v in p.errors.items()},
            {k: v for p in parts for k, v in p.faults.items()}))  # fmt: skip
    return out


def _compute(session: MutationSession, m: Mutant, cases: Sequence[Case], seed: int,
             entry: dict) -> None:  # fmt: skip
    """`m`'s fingerprint on each of `cases`, stored in its cache entry by case name (a stale
    mutant is marked so)."""
    try:
        with installed(m):
            run = session.result(seed, [REFERENCE_DTYPE], cases)
    except StaleMutant:
        entry["stale"] = True
        return
    for c in cases:
        s = run.summary[run.summary["case"] == c.name]
        e = run.elements[run.elements["case"] == c.name]
        entry["cases"][c.name] = _dump(fingerprint(s, e, SUBJECT))
