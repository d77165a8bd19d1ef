"""The compact summary printed after a run: counts by verdict, the worst cells, baseline changes
and where the HTML report is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.report.markup import row_id
from harness.vocabulary import SEVERITY, UNEXPECTED

WIDTH = 160


def _clip(text: str, width: int = WIDTH) -> str:
    text = " ".join(str(text).splitlines())
    return text if len(text) <= width else text[: width - 1] + "…"


def counts_line(summary: pd.DataFrame) -> str:
    """'336 cells: 280 pass, 8 expected_fail, 48 skipped' in severity order."""
    counts = summary["verdict"].value_counts()
    parts = [f"{int(counts[v])} {v}" for v in SEVERITY if v in counts]
    parts += [f"{int(n)} {v}" for v, n in counts.items() if v not in SEVERITY]
    return f"{len(summary)} cells: {', '.join(parts) or 'none'}"


def worst_cells(summary: pd.DataFrame, limit: int) -> list[str]:
    """The unexpected cells, errors first, then by how far past their tolerance."""
    bad = summary[summary["verdict"].isin(UNEXPECTED)]
    if bad.empty:
        return ["no unexpected results"]
    with np.errstate(divide="ignore", invalid="ignore"):
        over = bad["max_abs_err"] / bad["tol_abs"].where(bad["tol_abs"] > 0)
    bad = bad.assign(_s=bad["verdict"].map(SEVERITY.index), _o=over.fillna(np.inf))
    bad = bad.sort_values(["_s", "_o"], ascending=[True, False], kind="stable")
    lines = [f"unexpected ({len(bad)}), worst first:"]
    for _, r in bad.head(limit).iterrows():
        lines.append(_clip(f"  {r['verdict']:<15} {row_id(r)} blame={r['blame']}: {r['reason']}"))
    if len(bad) > limit:
        lines.append(f"  … and {len(bad) - limit} more in the report")
    return lines


def change_counts(changes: pd.DataFrame) -> str:
    """'1 regression(s), 2 fix(es), 3 other change(s) (added, removed or skipped cells)'."""
    n_reg = int((changes["change"] == "regression").sum())
    n_fix = int((changes["change"] == "fix").sum())
    other = len(changes) - n_reg - n_fix
    text = f"{n_reg} regression(s), {n_fix} fix(es)"
    return text + (f", {other} other change(s) (added, removed or skipped cells)" if other else "")


def change_lines(changes: pd.DataFrame, baseline: str, limit: int) -> list[str]:
    """A count line, then the regressions and fixes against the baseline, one line each."""
    lines = [f"against baseline {baseline}: {change_counts(changes)}"]
    for kind in ("regression", "fix"):
        rows = changes[changes["change"] == kind]
        for _, r in rows.head(limit).iterrows():
            lines.append(_clip(f"  {kind:<10} {row_id(r)}: {r['why']}"))
        if len(rows) > limit:
            lines.append(f"  … and {len(rows) - limit} more {kind}s in the report")
    return lines


def render_terminal(
    summary: pd.DataFrame,
    html_path: Path | None = None,
    changes: pd.DataFrame | None = None,
    baseline: str = "",
    limit: int = 10,
) -> str:
    """The whole end-of-run text."""
    lines = [counts_line(summary), *worst_cells(summary, limit)]
    if changes is not None:
        lines += change_lines(changes, baseline, limit)
    if html_path is not None:
        lines.append(f"report: {html_path}")
    return "\n".join(lines)
