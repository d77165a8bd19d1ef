"""report.html: one self-contained page (no network: styles inline, figures as base64 PNG).

From the top: run metadata and counts by verdict; regressions and fixes against a baseline; a
case × backend grid (counts by verdict in each cell; its header row and case column stick;
backends that apply to few cases get narrow columns); the cells that are neither a pass nor
skipped, by backend, what broke and case (failures.py), with a heatmap of the per-element error
for Jacobians and Hessians; why cells were skipped. A checkbox narrows the page to the
unexpected results with a CSS `:checked` rule, so it works from a file, without a server or
script; a grid cell links to its cell's details, which the browser opens on the way.

Figures come from `arrays` (RunResult.arrays), keyed (case, quantity, dtype, backend): a
Jacobian's or Hessian's per-element |error| gives a heatmap, whose axes are named by the entry
keyed (case, "<quantity> labels", dtype, backend) (the rows' names, then the columns'); an
entry keyed (case, "taylor", dtype, backend) of shape (2, k) — steps h and remainders r(h) —
gives a grad cell its Taylor plot. A `taylor_slope` column, where present, is shown with the
numbers.

The data is pivoted and grouped in grid.py, groups.py and failures.py; page.py and details.py
write the HTML; the CSS is report.css.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.report.files import atomic_write
from harness.report.markup import COLORS, row_id
from harness.report.page import render
from harness.results import ArrayKey

__all__ = ["COLORS", "render", "row_id", "write_html"]


def write_html(
    summary: pd.DataFrame,
    elements: pd.DataFrame,
    meta: Mapping[str, Any],
    path: Path,
    arrays: Mapping[ArrayKey, np.ndarray] | None = None,
    changes: pd.DataFrame | None = None,
    baseline: str = "",
) -> Path:
    """Render the report and write it to `path` atomically."""
    return atomic_write(path, render(summary, elements, meta, arrays, changes, baseline))
