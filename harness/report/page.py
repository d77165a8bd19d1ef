"""report.html's page: the head (facts, counts, metadata, baseline changes), the case × backend
grid (a pandas Styler), then the sections of details.py. `render` gathers the data from grid.py
and groups.py first; every other function here only writes HTML."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from harness.report import groups
from harness.report.details import details_html, skipped_html
from harness.report.grid import GridCell, backend_order, grid
from harness.report.markup import COLORS, anchor, chip, esc, label, num, row_id, short, short_num
from harness.results import ArrayKey

#: Verdicts that carry no error to show: the grid counts them instead ("2 of 6").
NUMBERLESS: tuple[str, ...] = ("error", "skipped")


@cache
def stylesheet() -> str:
    """The page's CSS (report.css, next to this module), inlined: the page needs no network."""
    return resources.files("harness.report").joinpath("report.css").read_text(encoding="utf-8")


# -- head: facts, counts, metadata, baseline -----------------------------------------------------
def _facts(facts: Mapping[str, Any], backends: list[str]) -> str:
    parts = [
        f"{facts['cells']} cells",
        f"{facts['cases']} cases",
        f"backends {', '.join(backends)}",
        f"seed {facts['seed']}",
        f"dtypes {facts['dtypes']}",
    ]
    if "duration_s" in facts:
        parts.append(f"{facts['duration_s']} s")
    if "started" in facts:
        parts.append(str(facts["started"]))
    return f'<p class="facts">{esc(" · ".join(parts))}</p>'


def _counts(counts: list[tuple[str, int]]) -> str:
    chips = [chip(v, f"<b>{n}</b> {label(v)}") for v, n in counts]
    return f'<div class="chips">{"".join(chips)}</div>'


def _meta_tables(versions: list[tuple[str, Any]], run: list[tuple[str, Any]]) -> str:
    def table(items: list[tuple[str, Any]]) -> str:
        rows = "".join(
            f"<tr><th>{esc(k)}</th><td>{'—' if v is None else esc(v)}</td></tr>" for k, v in items
        )
        return f'<table class="meta">{rows}</table>'

    shown = " · ".join(f"<b>{esc(k)}</b> {esc(v)}" for k, v in versions)
    run = [(k, v if not isinstance(v, Mapping) else "; ".join(f"{a}: {b}" for a, b in v.items()))
           for k, v in run]  # fmt: skip
    half = (len(run) + 1) // 2
    return (
        f'<p class="versions">{shown}</p>'
        f'<div class="top">{table(run[:half])}{table(run[half:])}</div>'
    )


def _changes_table(rows: pd.DataFrame) -> str:
    body = "".join(
        f'<tr class="{esc(r.change)}"><td>{esc(r.change)}</td>'
        f'<td class="mono">{esc(row_id(r._asdict()))}</td>'
        f"<td>{esc(r.why)}</td></tr>"
        for r in rows.itertuples()
    )
    head = "<tr><th>change</th><th>cell</th><th>what changed</th></tr>"
    return f'<table class="changes"><thead>{head}</thead><tbody>{body}</tbody></table>'


def _baseline_html(
    split: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None, baseline: str
) -> str:
    if split is None:
        return ""
    reg, fix, rest = split
    cls = "bad" if len(reg) else "good"
    out = [
        '<h2 id="baseline">Against the baseline</h2>',
        f'<div class="banner {cls}"><b>{len(reg)} regression(s)</b>, {len(fix)} fix(es) '
        f"against <code>{esc(baseline)}</code>"
        + (f", {len(rest)} other change(s)" if len(rest) else "")
        + "</div>",
    ]
    if len(reg) or len(fix):
        out.append(_changes_table(pd.concat([reg, fix])))
    if len(rest):
        out.append(
            f"<details><summary>Other changes ({len(rest)}): new, removed or re-skipped cells"
            f"</summary>{_changes_table(rest)}</details>"
        )
    return "\n".join(out)


# -- the grid -----------------------------------------------------------------------------------
def _grid_cell(cell: GridCell | None) -> tuple[str, str]:
    """(inner HTML, CSS classes) for one case × backend cell."""
    if cell is None:
        return "", "none"
    v = cell.verdict
    count = f" ×{cell.hits}" if cell.hits > 1 and v != "pass" else ""
    if v in NUMBERLESS:
        small = f"{cell.hits} of {len(cell.rows)}"
    elif cell.max_err is not None:
        small = f"|err| {'≤ ' if v == 'pass' else ''}{short_num(cell.max_err)}"
    else:
        small = ""
    tip = "\n".join(
        f"{r['quantity']} {r['dtype']}: {r['verdict']}"
        + (
            f", |err| {num(r['max_abs_err'])} (tol {num(r['tol_abs'])})"
            if pd.notna(r["max_abs_err"])
            else ""
        )
        for r in cell.rows
    )
    inner = f'<span class="v">{esc(short(v))}{count}</span><small>{esc(small)}</small>'
    if cell.target is not None:
        inner = f'<a href="#{anchor(cell.target)}">{inner}</a>'
    classes = f"v-{v}" + (" unexpected" if cell.unexpected else "")
    return f'<div title="{esc(tip)}">{inner}</div>', classes


def _grid_html(
    index: pd.MultiIndex, cells: list[list[GridCell | None]], backends: list[str]
) -> str:
    drawn = [[_grid_cell(c) for c in row] for row in cells]
    text = pd.DataFrame([[c[0] for c in row] for row in drawn], index=index, columns=backends)
    classes = pd.DataFrame([[c[1] for c in row] for row in drawn], index=index, columns=backends)
    text.index.names = [None, None]  # a header row of its own otherwise
    css = [{"selector": f"td.v-{v}", "props": f"background-color: {c};"} for v, c in COLORS.items()]
    styler = (
        text.style.set_uuid("verdicts")  # a fixed id: the same run renders the same page
        .set_td_classes(classes)
        .set_table_styles(css)
        .set_table_attributes('class="grid"')
        .format_index(escape="html", axis=0)  # case and family names are text, not markup
        .format_index(escape="html", axis=1)
    )
    return styler.to_html(sparse_index=False)


# -- the page -----------------------------------------------------------------------------------
def render(
    summary: pd.DataFrame,
    elements: pd.DataFrame,
    meta: Mapping[str, Any],
    arrays: Mapping[ArrayKey, np.ndarray] | None = None,
    changes: pd.DataFrame | None = None,
    baseline: str = "",
) -> str:
    """The whole page as one string."""
    backends = backend_order(summary, meta)
    index, cells = grid(summary, backends)
    details = groups.details(summary, elements, arrays or {})
    facts, counts = groups.run_facts(summary, meta), groups.verdict_counts(summary)
    versions, run = groups.meta_items(meta)
    split = None if changes is None else groups.split_changes(changes)
    skips = groups.skip_groups(summary)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AD validation report</title>
<style>
{stylesheet()}</style></head><body>
<input type="checkbox" id="only-unexpected" class="toggle">
<main>
<h1>Autodiff validation report</h1>
{_facts(facts, backends)}
<div class="bar">{_counts(counts)}
<label class="filter" for="only-unexpected">Show failures only
 <span class="muted">(fail, error, unexpected pass: {details.unexpected_cells})</span></label></div>
<details open><summary>Run metadata</summary>{_meta_tables(versions, run)}</details>
{_baseline_html(split, baseline)}
<h2 id="grid">Verdicts: case × backend</h2>
<p class="muted">Each cell is the worst verdict over the quantities and dtypes of that case and
backend (xfail: expected fail, xpass: unexpected pass), with its largest absolute error; hover for
the breakdown, click for the details.</p>
<div class="grid-wrap">{_grid_html(index, cells, backends)}</div>
{details_html(details)}
{skipped_html(skips)}
</main>
</body></html>
"""
