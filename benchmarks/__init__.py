"""Speed and scale measurements, written as tables to reports/bench/ (`python -m benchmarks`)."""

from pathlib import Path

import pandas as pd

BENCH_DIR = Path("reports/bench")


def write_table(df: pd.DataFrame, path: Path, float_format: str | None = "%.4g") -> Path:
    """Write one benchmark table as CSV (creating its folder) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format=float_format)
    return path
