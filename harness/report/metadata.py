"""metadata.json: what a run was (versions, platform, selection, seed, timing, counts), its
schema defined here once, for a run (`run_metadata`) and for merged shards (`merged_metadata`).

Keys, in this order: ``version.<package>`` for the harness, Python and each framework, then
platform, seed, dtypes, backends, cotangent, cases, quantities, started, command, duration_s,
complete, interrupted_by, cases_finished, timings, shard (sharded runs only), counts, and
random and draws (runs with --random or --replay only); last, as written to the file, files:
the sha256 of every other file of the set (`with_files`), so a reader can tell a mixed set.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shlex
import time
from collections.abc import Mapping, Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd

from harness.__about__ import __version__

#: Packages whose versions every metadata.json records ("not installed" where absent).
PACKAGES: tuple[str, ...] = (
    "numpy", "scipy", "pandas", "torch", "jax", "jaxlib", "mpmath", "matplotlib",
)  # fmt: skip
METADATA_FILE = "metadata.json"


def versions(engines: Sequence[str] = ()) -> dict[str, str]:
    """The harness's, Python's and each package of PACKAGES's version, and those of the
    `engines` (distributions) that plugin backends wrap."""
    out = {"harness": __version__, "python": platform.python_version()}
    for pkg in dict.fromkeys([*PACKAGES, *engines]):
        try:
            out[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def verdict_counts(summary: pd.DataFrame) -> dict[str, int]:
    """Cells per verdict, verdicts in alphabetical order."""
    return {v: int(n) for v, n in summary["verdict"].value_counts().sort_index().items()}


def run_metadata(
    *,
    summary: pd.DataFrame,
    seed: int,
    dtypes: Sequence[str],
    backends: Sequence[str],
    cotangent: str,
    cases: int,
    quantities: Sequence[str],
    started: float,
    argv: Sequence[str],
    duration_s: float,
    interrupted_by: str | None = None,
    cases_finished: int,
    timings: Mapping[str, float],
    shard: str | None = None,
    random: int | None = None,
    engines: Sequence[str] = (),
) -> dict[str, Any]:
    """The metadata of one `validate` run.

    `started` is the start's epoch time (written in UTC), `argv` the command line after
    ``python -m harness``, `interrupted_by` the name of the signal that stopped the run (None:
    complete), `shard` the --shard K/N given, `random` the --random N of a run with generated
    or replayed draws (None: neither --random nor --replay; no random and draws keys then).
    The counts, and the draws, come from `summary`.
    """
    meta: dict[str, Any] = {
        **{f"version.{k}": v for k, v in versions(engines).items()},
        "platform": platform.platform(),
        "seed": seed,
        "dtypes": ",".join(dtypes),
        "backends": ",".join(backends),
        "cotangent": cotangent,
        "cases": cases,
        "quantities": ",".join(quantities),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "command": f"python -m harness {shlex.join(argv)}",
        "duration_s": round(duration_s, 2),
        "complete": interrupted_by is None,
        "interrupted_by": interrupted_by,
        "cases_finished": cases_finished,
        "timings": {k: round(float(v), 3) for k, v in timings.items()},
        **({"shard": shard} if shard else {}),
    }
    meta["counts"] = verdict_counts(summary)
    if random is not None:
        meta.update(random=random, draws=sorted(set(summary["draw"]) - {""}))
    return meta


def merged_metadata(
    metas: Sequence[Mapping[str, Any]], summary: pd.DataFrame, folders: Sequence[Path]
) -> dict[str, Any]:
    """The metadata of shard runs joined by `merge`: the first shard's, with the cases, finished
    cases and durations summed, complete only if every shard is, the shard folders, the merge
    command and the merged summary's counts; no shard, timings or files."""
    meta = dict(metas[0])
    meta.update(
        cases=int(sum(int(m.get("cases", 0)) for m in metas)),
        cases_finished=int(sum(int(m.get("cases_finished", 0)) for m in metas)),
        complete=all(m.get("complete", True) for m in metas),
        duration_s=round(sum(float(m.get("duration_s", 0.0)) for m in metas), 2),
        shards=[str(f) for f in folders],
        command="python -m harness merge " + " ".join(str(f) for f in folders),
        counts=verdict_counts(summary),
    )
    for own in ("shard", "timings", "files"):
        meta.pop(own, None)
    return meta


def metadata_json(meta: Mapping[str, Any]) -> str:
    """metadata.json's text: indented JSON, one trailing newline."""
    return json.dumps(meta, indent=2) + "\n"


def digest(data: str | bytes) -> str:
    """The content hash recorded for a file of the set."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def with_files(meta: Mapping[str, Any], files: Mapping[str, str | bytes]) -> dict[str, Any]:
    """`meta` with its last key, files: name -> digest of each other file of the set."""
    return {**meta, "files": {name: digest(data) for name, data in files.items()}}


def mismatched(folder: Path, meta: Mapping[str, Any]) -> list[str]:
    """The files that `meta` (read from `folder`'s metadata.json) lists whose content is not
    the one it records: the set is mixed. None listed (older versions): nothing to tell."""
    out = []
    for name, want in (meta.get("files") or {}).items():
        path = Path(folder) / name
        if not path.is_file() or digest(path.read_bytes()) != want:
            out.append(name)
    return out
