"""Checks of what a user gives on the command line, each a UsageError of one sentence (exit 2)
before anything runs."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness.errors import UsageError


def out_folder(text: str, option: str = "--out", example: str = "reports") -> Path:
    """The path given to `option`, resolved now: a backend that changes the working directory
    later does not move the reports."""
    if not str(text).strip():
        raise UsageError(f"{option} '': give a path, e.g. {option} {example}")
    return Path(text).expanduser().resolve()


def writable(out: Path) -> None:
    """UsageError unless files can be created in the folder `out` (created if missing)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out) as probe:  # never named: nothing left behind
            probe.write(b"x")
    except OSError as e:
        raise UsageError(f"cannot write reports to {out}: {e.strerror or e}") from None


def non_negative(option: str, value: int) -> None:
    """UsageError unless the whole number `value` is at least 0."""
    if value < 0:
        raise UsageError(f"{option} {value}: give a whole number, at least 0")


def seconds(option: str, value: float) -> None:
    """UsageError unless `value` is a finite number of seconds >= 0 (0: no limit)."""
    if not (math.isfinite(value) and value >= 0):
        raise UsageError(f"{option} {value:g}: give a finite number of seconds (0: no limit)")


def unique(kind: str, names: Sequence[str], option: str) -> None:
    """UsageError when a name is given twice (each backend is one column of every report)."""
    twice = sorted({n for n in names if list(names).count(n) > 1})
    if twice:
        raise UsageError(f"{option} names {kind} {', '.join(map(repr, twice))} more than once; "
                         "give each once")  # fmt: skip
