"""A run's set of reports in its --out folder: summary.csv, elements.csv, report.html,
metadata.json (and arrays.npz for a shard), written whole or not at all."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.interrupt import signals_deferred
from harness.report import merge
from harness.report.csv import write_csv
from harness.report.files import atomic_write
from harness.report.html import write_html
from harness.report.metadata import METADATA_FILE, metadata_json
from harness.results import ArrayKey


def write_report_set(
    out: Path,
    summary: pd.DataFrame,
    elements: pd.DataFrame,
    meta: Mapping[str, Any],
    arrays: Mapping[ArrayKey, np.ndarray],
    changes: pd.DataFrame | None = None,
    baseline: str | None = None,
    save_arrays: bool = False,
) -> list[Path]:
    """Write the set of reports into `out` and return their paths, in that order. Each file is
    written atomically and SIGINT/SIGTERM wait until the last one is (then raise
    harness.interrupt.Interrupted): the folder holds the old set or the new one, never a mix.
    `changes` against `baseline` (its path) go into the HTML; `save_arrays` (a shard) also
    keeps the per-element arrays, for `merge` to draw them."""
    out = Path(out)
    with signals_deferred():
        paths = [
            write_csv(summary, out / "summary.csv"),
            write_csv(elements, out / "elements.csv"),
            write_html(
                summary, elements, meta, out / "report.html", arrays, changes, baseline or ""
            ),
            atomic_write(out / METADATA_FILE, metadata_json(meta)),
        ]
        if save_arrays:
            paths.append(merge.save_arrays(arrays, out))
    return paths
