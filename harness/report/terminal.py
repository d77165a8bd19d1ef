"""The compact summary printed after a run: counts by verdict, the worst cells, baseline changes
and where the HTML report is."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness.judge.causes import Cause
from harness.report.markup import row_id
from harness.vocabulary import QUANTITY, SEVERITY, UNEXPECTED

#: Lines are clipped to the terminal's width (this when it cannot be told, e.g. in CI logs).
FALLBACK_WIDTH = 160
#: Unexpected verdicts in the order their groups are listed: numeric failures first, so that
#: a run of identical errors never hides them.
GROUP_ORDER = ("fail", "unexpected_pass", "error")
CAUSES_SHOWN = 3
ANSI = {"fail": "31", "error": "35", "unexpected_pass": "33", "pass": "32"}


def terminal_width() -> int:
    return shutil.get_terminal_size((FALLBACK_WIDTH, 24)).columns


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).splitlines())
    return text if len(text) <= width else text[: width - 1] + "…"


def _paint(word: str, verdict: str, colour: bool) -> str:
    code = ANSI.get(verdict)
    return f"\x1b[{code}m{word}\x1b[0m" if colour and code else word


def counts_line(summary: pd.DataFrame, colour: bool = False) -> str:
    """'336 cells: 280 pass, 8 expected_fail, 48 skipped' in severity order."""
    counts = summary["verdict"].value_counts()
    parts = [_paint(f"{int(counts[v])} {v}", v, colour) for v in SEVERITY if v in counts]
    parts += [f"{int(n)} {v}" for v, n in counts.items() if v not in SEVERITY]
    return f"{len(summary)} cells: {', '.join(parts) or 'none'}"


def _what(row: pd.Series) -> str:
    """What broke, for grouping: the check, or the error's kind (its first words)."""
    if row["verdict"] == "error":
        reason = str(row["reason"])
        return "error: " + reason.split(" (at ")[0].split(" in ")[0][:80]
    return f"{row['verdict']} {QUANTITY[row['quantity']].title}"


def groups(summary: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """Unexpected rows as (blame, what broke, rows), blamed backends with the most unexpected
    cells first, and inside each fail before unexpected_pass before error, worst first."""
    bad = summary[summary["verdict"].isin(UNEXPECTED)]
    if bad.empty:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        over = bad["max_abs_err"] / bad["tol_abs"].where(bad["tol_abs"] > 0)
    bad = bad.assign(_o=over.fillna(np.inf), _w=bad.apply(_what, axis=1),
                     _v=bad["verdict"].map(GROUP_ORDER.index))  # fmt: skip
    blames = bad["blame"].value_counts(sort=True)
    out = []
    for blame in sorted(blames.index, key=lambda b: (-blames[b], str(b))):
        mine = bad[bad["blame"] == blame]
        keys = mine.groupby("_w", sort=False).agg(v=("_v", "min"), n=("_v", "size"))
        for what in keys.sort_values(["v", "n"], ascending=[True, False], kind="stable").index:
            rows = mine[mine["_w"] == what].sort_values("_o", ascending=False, kind="stable")
            out.append((str(blame), str(what), rows))
    return out


def _evidence(r: pd.Series) -> str:
    """A row's numbers, most telling first so that a narrow terminal keeps them:
    ``|err| 1.98 > tol 1e-07 at x[1] (input -0.7): inhouse -0.98 vs fd 0.98``."""
    if r["verdict"] == "error" or pd.isna(r.get("max_abs_err")):
        return str(r["reason"])
    x = r.get("input_at_worst")
    at = f"{r['worst_index']}" + (f" (input {float(x):.6g})" if pd.notna(x) and x != "" else "")
    v, ref = float(r["value_at_worst"]), float(r["reference_at_worst"])
    bound = float(r["tol_abs"]) + float(r["tol_rel"]) * abs(ref)
    return (f"|err| {abs(v - ref):.3g} > tol {bound:.3g} at {at}: {r['backend']} {v:.9g} vs "
            f"{r['reference']} {ref:.9g}")  # fmt: skip


def worst_cells(
    summary: pd.DataFrame, limit: int, width: int | None = None, colour: bool = False
) -> list[str]:
    """The unexpected cells grouped by blamed backend and by what broke: one line per group
    (how many, which cases) and its worst cell's reason."""
    width = width or terminal_width()
    found = groups(summary)
    if not found:
        return ["no unexpected results"]
    n = int(summary["verdict"].isin(UNEXPECTED).sum())
    lines = [f"unexpected ({n}), by blamed backend, failures first:"]
    shown_blame = None
    for blame, what, rows in found[:limit]:
        if blame != shown_blame:
            lines.append(f"  blame {blame}:")
            shown_blame = blame
        verdict = str(rows["verdict"].iloc[0])
        cases = ", ".join(dict.fromkeys(rows["case"]))
        head = _clip(f"    {what} ×{len(rows)}: {cases}", width)  # clipped before painting
        lines.append(head.replace(what, _paint(what, verdict, colour), 1))
        worst = rows.iloc[0]
        lines.append(_clip(f"      worst {row_id(worst)}", width))
        lines.append(_clip(f"        {_evidence(worst)}", width))
    if len(found) > limit:
        lines.append(f"  … and {len(found) - limit} more groups in the report")
    return lines


def cause_lines(causes: Mapping[str, Sequence[Cause]], width: int) -> list[str]:
    """'Likely causes' per blamed backend, three lines at most each: hypotheses with their
    evidence (causes.csv has them all)."""
    if not causes:
        return []
    lines = ["likely causes (hypotheses with their evidence; causes.csv):"]
    for backend, found in causes.items():
        for c in list(found)[:CAUSES_SHOWN]:
            what = "looks like" if c.kind == "mutant" else "op"
            lines.append(_clip(f"  {backend}: {what} {c.cause} — {c.evidence}", width))
    return lines


def change_counts(changes: pd.DataFrame) -> str:
    """'1 regression(s), 2 fix(es), 3 other change(s) (added, removed or skipped cells)'."""
    n_reg = int((changes["change"] == "regression").sum())
    n_fix = int((changes["change"] == "fix").sum())
    other = len(changes) - n_reg - n_fix
    text = f"{n_reg} regression(s), {n_fix} fix(es)"
    return text + (f", {other} other change(s) (added, removed or skipped cells)" if other else "")


def change_lines(
    changes: pd.DataFrame, baseline: str, limit: int, width: int | None = None
) -> list[str]:
    """A count line, then the regressions and fixes against the baseline, one line each."""
    width = width or terminal_width()
    lines = [f"against baseline {baseline}: {change_counts(changes)}"]
    for kind in ("regression", "fix"):
        rows = changes[changes["change"] == kind]
        for _, r in rows.head(limit).iterrows():
            lines.append(_clip(f"  {kind:<10} {row_id(r)}: {r['why']}", width))
        if len(rows) > limit:
            lines.append(f"  … and {len(rows) - limit} more {kind}s in the report")
    return lines


def render_terminal(
    summary: pd.DataFrame,
    html_path: Path | None = None,
    changes: pd.DataFrame | None = None,
    baseline: str = "",
    limit: int = 10,
    width: int | None = None,
    colour: bool = False,
    causes: Mapping[str, Sequence[Cause]] | None = None,
) -> str:
    """The whole end-of-run text, its lines clipped to `width` (default: the terminal's),
    verdicts coloured when `colour` (a terminal)."""
    width = width or terminal_width()
    lines = [counts_line(summary, colour), *cause_lines(causes or {}, width),
             *worst_cells(summary, limit, width, colour)]  # fmt: skip
    if changes is not None:
        lines += change_lines(changes, baseline, limit, width)
    if html_path is not None:
        lines.append(f"report: {html_path}")
    return "\n".join(lines)
