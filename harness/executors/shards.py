"""A deterministic shard of the registry: --shard K/N, the same cases on every machine."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from harness.registry import Case


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 1 <= K <= N; ValueError with the expected form otherwise."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected K/N, e.g. 2/4") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def shard_index(name: str, count: int) -> int:
    """The shard (0-based) a case belongs to: a stable hash of its name, the same on every
    machine and Python (crc32, not hash(), which is salted per process)."""
    return zlib.crc32(name.encode()) % count


def select_shard(cases: Sequence[Case], k: int, n: int) -> list[Case]:
    """The cases of shard K of N (1-based), in registry order."""
    return [c for c in cases if shard_index(c.name, n) == k - 1]
