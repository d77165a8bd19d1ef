"""Joining the report folders of shard runs (`python -m harness merge`) into the set one
unsharded run writes: summary.csv and elements.csv byte-identical, metadata.json and
report.html rebuilt. A shard also keeps its per-element arrays (arrays.npz) for the heatmaps.

Every shard records its ``shard: K/N`` in metadata.json: a merge of shards of one run that lacks
some K says which, and marks the merged set incomplete (``complete: false``, ``missing_shards``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import UsageError
from harness.report.arrays import ARRAYS_FILE, load_arrays, save_arrays
from harness.report.csv import to_csv_text
from harness.report.metadata import METADATA_FILE, merged_metadata, mismatched
from harness.report.page import render
from harness.report.report_set import CAUSES_FILE, SET_FILES, commit
from harness.report.staging import finish_pending, pending
from harness.results import in_report_order, parse_numbers

__all__ = ["ARRAYS_FILE", "Shard", "load_arrays", "merge", "merge_tables", "save_arrays"]

#: What the shards of one run share; shards that differ in any of these are refused.
SHARED_KEYS: tuple[str, ...] = ("seed", "backends", "dtypes", "quantities", "cotangent")


@dataclass
class Shard:
    """One shard's report folder, read: its metadata and its CSVs as the exact text written."""

    folder: Path
    meta: dict[str, Any]
    summary: pd.DataFrame
    elements: pd.DataFrame
    arrays: dict[tuple[str, ...], np.ndarray]


def merge_tables(frames: Iterable[pd.DataFrame], backend_order: Sequence[str]) -> pd.DataFrame:
    """Rows of several shards' CSVs, as text, in the order one run writes them."""
    return in_report_order(pd.concat(list(frames), ignore_index=True), backend_order)


def read_shard(folder: Path) -> Shard:
    """A shard's report folder; UsageError naming the file when one is missing, unreadable or
    not what `validate` writes, or when the folder holds a mixed set."""
    folder = Path(folder)
    if not (folder / "summary.csv").exists():
        raise UsageError(f"{folder} holds no summary.csv: give the --out folders of shard runs")
    if pending(folder):  # a run killed while renaming its set into place: finish that first
        try:
            finish_pending(folder, SET_FILES)
        except OSError as e:
            raise UsageError(f"{folder} holds a report set cut off while it was written, "
                             f"which cannot be completed: {e.strerror or e}") from None  # fmt: skip
    meta = _read_meta(folder / METADATA_FILE)
    summary, elements = (_read_text_csv(folder / n) for n in ("summary.csv", "elements.csv"))
    arrays = load_arrays(folder)
    mixed = mismatched(folder, meta)
    if mixed:
        raise UsageError(f"{folder} holds a mixed report set: {', '.join(mixed)} not the one "
                         f"its metadata.json lists; rerun that shard")  # fmt: skip
    return Shard(folder, meta, summary, elements, arrays)


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} is missing: give the --out folders of shard runs") from None
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}; rerun that shard") from None
    if not isinstance(meta, dict) or "backends" not in meta:
        raise UsageError(f"{path} is not the metadata.json of a `validate` run; rerun that shard")
    return meta


def _read_text_csv(path: Path) -> pd.DataFrame:
    # Every field as the exact text a run wrote: the merged file repeats it byte for byte.
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise UsageError(f"{path} is missing: give the --out folders of shard runs") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {path}: {e}; rerun that shard") from None
    for col in ("case", "quantity", "dtype", "backend"):
        if col not in df.columns:
            raise UsageError(f"{path} is not a report of `validate` (no column {col})")
    try:
        parse_numbers(df, path.name)
    except ValueError as e:
        raise UsageError(f"{path}: {e}; rerun that shard") from None
    return df


def _check_compatible(shards: Sequence[Shard]) -> None:
    """UsageError when the shards are not of one run (SHARED_KEYS or N differ, a K twice)."""
    for key in SHARED_KEYS:
        seen = {str(s.meta.get(key)) for s in shards}
        if len(seen) > 1:
            raise UsageError(
                f"the shards differ in {key} ({', '.join(sorted(seen))}): merge only shards of "
                "one run"
            )
    given = [s.meta.get("shard") for s in shards]
    if any(given) and not all(given):
        plain = next(s.folder for s in shards if not s.meta.get("shard"))
        raise UsageError(f"{plain} is not a shard (its run had no --shard K/N): merge only "
                         "shards of one run")  # fmt: skip
    if all(given) and len(set(given)) < len(given):
        twice = next(g for g in given if given.count(g) > 1)
        raise UsageError(f"shard {twice} is given twice: merge each shard once")


def missing_shards(metas: Sequence[dict[str, Any]]) -> list[str]:
    """The K/N of the shards of the run that `metas` lack (none when they are not shards)."""
    parsed = [_k_of_n(str(m["shard"])) for m in metas if m.get("shard")]
    counts = {n for _, n in parsed}
    if len(parsed) != len(metas) or not counts:
        return []
    if len(counts) > 1:
        ns = ", ".join(map(str, sorted(counts)))
        raise UsageError(f"the shards split the registry differently (N = {ns}): merge only "
                         "shards of one run")  # fmt: skip
    n = counts.pop()
    have = {k for k, _ in parsed}
    return [f"{k}/{n}" for k in range(1, n + 1) if k not in have]


def _k_of_n(text: str) -> tuple[int, int]:
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise UsageError(f"a shard's metadata.json records shard {text!r}, not K/N") from None
    return k, n


def _as_run_frame(df: pd.DataFrame, report: str) -> pd.DataFrame:
    """A report read as text, as the run's own frame was: numbers parsed, empty fields
    missing, but an empty reason (every passing row's) stays empty text."""
    out = parse_numbers(df, report).replace({"": np.nan})
    return out.fillna({"reason": ""}) if "reason" in out.columns else out


#: The likely causes of a merged set's cells (summary, elements, metadata -> causes.csv rows):
#: recomputed from the merged cells, never joined from the shards' own.
CausesOf = Callable[[pd.DataFrame, pd.DataFrame, dict[str, Any]], pd.DataFrame]


def merge(folders: Sequence[Path], out: Path, causes_of: CausesOf | None = None) -> list[Path]:
    """Join the report sets of shard runs into one, as an unsharded run would have written it:
    summary.csv and elements.csv byte-identical, metadata.json and report.html rebuilt (with
    ``missing_shards`` and ``complete: false`` when shards of the run are missing).
    Returns the paths written; UsageError for a folder that is not a whole shard's set,
    shards of different runs, or a case in more than one shard; WriteError (a UsageError) when
    `out` cannot be written. `causes_of`: the likely causes of the merged cells (causes.csv and
    the page's top), computed as one unsharded run computes them; None writes no causes.csv."""
    shards = [read_shard(f) for f in map(Path, folders)]
    _check_compatible(shards)
    missing = missing_shards([s.meta for s in shards])
    backends = str(shards[0].meta["backends"]).split(",")
    summary = merge_tables([s.summary for s in shards], backends)
    elems = merge_tables([s.elements for s in shards], backends)
    dup = summary.duplicated([c for c in ("case", "quantity", "dtype", "backend", "draw")
                              if c in summary.columns])  # fmt: skip
    if dup.any():
        raise UsageError(f"case {summary.loc[dup, 'case'].iloc[0]} is in more than one shard")
    meta = merged_metadata([s.meta for s in shards], summary, [s.folder for s in shards])
    if missing:
        meta.update(complete=False, missing_shards=missing)
    arrays = {k: v for s in shards for k, v in s.arrays.items()}
    run_summary = _as_run_frame(summary, "summary.csv")
    run_elems = _as_run_frame(elems, "elements.csv")
    causes = None if causes_of is None else causes_of(run_summary, run_elems, meta)
    page = render(run_summary, run_elems, meta, arrays, causes=causes)
    files = {
        "summary.csv": summary.to_csv(index=False, lineterminator="\n"),
        "elements.csv": elems.to_csv(index=False, lineterminator="\n"),
        "report.html": page,
    }
    if causes is not None:
        files[CAUSES_FILE] = to_csv_text(causes)
    return commit(Path(out), files, meta)
