"""A run's set of reports in its --out folder: summary.csv, elements.csv, report.html,
metadata.json (and arrays.npz for a shard, draws.json for generated inputs), written whole or
not at all (harness.report.staging)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.interrupt import signals_deferred
from harness.report.arrays import ARRAYS_FILE, arrays_npz
from harness.report.csv import to_csv_text
from harness.report.html import render
from harness.report.metadata import METADATA_FILE, metadata_json, with_files
from harness.report.staging import write_files
from harness.results import ArrayKey

#: The likely causes of each blamed backend (validate writes it, empty when there are none).
CAUSES_FILE = "causes.csv"

#: The files of a set, in the order they are returned; a later set without one of them (an
#: unsharded run after a shard's) removes it, so the folder never mixes two runs.
SET_FILES: tuple[str, ...] = (
    "summary.csv", "elements.csv", "report.html", METADATA_FILE, ARRAYS_FILE, CAUSES_FILE,
)  # fmt: skip


def write_report_set(
    out: Path,
    summary: pd.DataFrame,
    elements: pd.DataFrame,
    meta: Mapping[str, Any],
    arrays: Mapping[ArrayKey, np.ndarray],
    changes: pd.DataFrame | None = None,
    baseline: str | None = None,
    save_arrays: bool = False,
    extra: Mapping[str, str | bytes] | None = None,
    causes: pd.DataFrame | None = None,
) -> list[Path]:
    """Write the set of reports into `out` and return their paths (summary, elements, html,
    metadata, then arrays.npz and `extra` where written). The set is staged and swapped in
    whole (harness.report.staging) with SIGINT/SIGTERM held back meanwhile (then raised as
    harness.interrupt.Interrupted); a write error is harness.report.staging.WriteError, the
    folder unchanged. `changes` against `baseline` (its path) go into the HTML; `save_arrays`
    (a shard) also keeps the per-element arrays, for `merge` to draw them; `extra` are more
    files of the set (name -> content: draws.json)."""
    with signals_deferred():
        files = report_files(summary, elements, meta, arrays, changes, baseline, save_arrays,
                             causes)  # fmt: skip
        return commit(Path(out), {**files, **(extra or {})}, meta)


def report_files(
    summary: pd.DataFrame,
    elements: pd.DataFrame,
    meta: Mapping[str, Any],
    arrays: Mapping[ArrayKey, np.ndarray],
    changes: pd.DataFrame | None = None,
    baseline: str | None = None,
    save_arrays: bool = False,
    causes: pd.DataFrame | None = None,
) -> dict[str, str | bytes]:
    """The contents of the set's files by name, but metadata.json (`commit` adds it)."""
    files: dict[str, str | bytes] = {
        "summary.csv": to_csv_text(summary),
        "elements.csv": to_csv_text(elements),
        "report.html": render(summary, elements, meta, arrays, changes, baseline or "", causes),
    }
    if causes is not None:  # likely causes (harness.judge.causes), also at the page's top
        files[CAUSES_FILE] = to_csv_text(causes)
    if save_arrays:
        files[ARRAYS_FILE] = arrays_npz(arrays)
    return files


def commit(out: Path, files: Mapping[str, str | bytes], meta: Mapping[str, Any]) -> list[Path]:
    """Write `files` and then `meta` as metadata.json, listing the digest of every other file
    (so a reader can tell a mixed set), into `out` as one set; the paths in SET_FILES order,
    then the others."""
    data = {**files, METADATA_FILE: metadata_json(with_files(meta, files))}
    paths = write_files(out, data, supersedes=SET_FILES)
    rank = {n: i for i, n in enumerate(SET_FILES)}
    return sorted(paths, key=lambda p: rank.get(p.name, len(rank)))
