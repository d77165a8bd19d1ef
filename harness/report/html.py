"""report.html: a self-contained page (no network) with run metadata, verdict counts, a
case × backend verdict grid (pandas Styler) and the details of every non-pass cell."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from harness.report.files import atomic_write

# Worst first: the grid shows a cell's worst verdict over its quantities and dtypes.
SEVERITY = ["error", "fail", "unexpected_pass", "vacuous", "expected_fail", "skipped", "pass"]
COLORS = {
    "pass": "#d8f0d8",
    "fail": "#f4b6b6",
    "error": "#e58a8a",
    "unexpected_pass": "#f6d28b",
    "expected_fail": "#d9d2ec",
    "vacuous": "#f2e6a8",
    "skipped": "#eeeeee",
}
CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
.meta td:first-child { font-weight: 600; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 4px; border-radius: 3px; }
td.reason { max-width: 60em; font-family: ui-monospace, monospace; font-size: 0.9em; }
"""


def worst(verdicts: pd.Series) -> str:
    present = set(verdicts)
    return next(v for v in SEVERITY if v in present)


def verdict_grid(summary: pd.DataFrame) -> pd.DataFrame:
    """case × backend table of the worst verdict in each cell."""
    grid = summary.pivot_table(index="case", columns="backend", values="verdict", aggfunc=worst)
    order = list(dict.fromkeys(summary["backend"]))
    return grid.reindex(columns=order).fillna("")


def _grid_html(summary: pd.DataFrame) -> str:
    grid = verdict_grid(summary)
    err = summary.pivot_table(
        index="case", columns="backend", values="max_rel_err", aggfunc="max"
    ).reindex_like(grid)
    tips = err.map(lambda e: "" if pd.isna(e) else f"worst relative error {e:.3g}")
    styler = (
        grid.style.map(lambda v: f"background-color: {COLORS.get(v, '#fff')}")
        .set_tooltips(tips)
        .set_table_attributes('class="grid"')
    )
    return styler.to_html()


def _table(df: pd.DataFrame, cls: str = "") -> str:
    return df.to_html(index=False, classes=cls, border=0, na_rep="", float_format="%.3g")


def render(summary: pd.DataFrame, elements: pd.DataFrame, meta: Mapping[str, Any]) -> str:
    counts = summary["verdict"].value_counts().reindex(SEVERITY).dropna().astype(int)
    legend = "".join(
        f'<span style="background:{COLORS[v]}">{v}: {n}</span>' for v, n in counts.items()
    )
    meta_rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in meta.items()
    )
    bad = summary[~summary["verdict"].isin(["pass", "skipped"])]
    details = _table(bad[[c for c in summary.columns if c != "family"]], "details")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AD validation report</title>
<style>{CSS}</style></head><body>
<h1>Autodiff validation report</h1>
<table class="meta">{meta_rows}</table>
<p class="legend">{legend}</p>
<h2>Verdicts: case × backend (worst over quantities and dtypes)</h2>
{_grid_html(summary)}
<h2>Cells that are not a plain pass ({len(bad)})</h2>
{details}
<h2>Worst elements</h2>
{_table(elements, "elements")}
</body></html>
"""


def write_html(
    summary: pd.DataFrame, elements: pd.DataFrame, meta: Mapping[str, Any], path: Path
) -> Path:
    """Render the report and write it to `path` atomically."""
    return atomic_write(path, render(summary, elements, meta))
