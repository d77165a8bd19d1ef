"""summary.csv and elements.csv: sorted, contract columns first, byte-identical for one seed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.report.files import atomic_write

FLOAT_FORMAT = "%.6g"


def to_csv_text(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write `df` as CSV to `path` atomically and return the path."""
    return atomic_write(path, to_csv_text(df))
