"""report.html's page: the head (facts, counts, metadata, baseline changes), the case × backend
grid (a plain table whose header row and case column stick), then the sections of details.py.
`render` gathers the data from grid.py, groups.py and failures.py first; every other function
here only writes HTML."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from harness.report import failures, groups
from harness.report.details import details_html, skipped_html
from harness.report.grid import GridCell, backend_order, grid, sparse_backends
from harness.report.markup import COLORS, anchor, chip, esc, label, num, row_id, short, short_num
from harness.results import ArrayKey

#: Verdicts that carry no error to show: the grid only counts them ("2 error · 4 pass").
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
def _counts_text(cell: GridCell) -> str:
    """'5 pass · 1 skip': how many rows have each verdict, the cell's own verdict in bold."""
    parts = [f"{n} {esc(short(v))}" for v, n in cell.counts]
    return " ".join(  # the separator opens the next part: a line never ends in one
        f'<span class="n">{"· " if i else ""}{f"<b>{p}</b>" if v == cell.verdict else p}</span>'
        for i, ((v, _), p) in enumerate(zip(cell.counts, parts, strict=True))
    )


def _grid_cell(cell: GridCell | None, sparse: bool) -> str:
    """One case × backend cell: its counts by verdict and largest error (not in a narrow
    column), the breakdown on hover, a link to the details of its first non-pass row."""
    if cell is None:
        return f'<td class="none{" sparse" if sparse else ""}"></td>'
    v = cell.verdict
    small = ""
    if cell.max_err is not None and not sparse and v not in NUMBERLESS:
        small = f"<small>|err| {'≤ ' if v == 'pass' else ''}{esc(short_num(cell.max_err))}</small>"
    tip = "\n".join(
        f"{r['quantity']} {r['dtype']}: {r['verdict']}"
        + (
            f", |err| {num(r['max_abs_err'])} (tol {num(r['tol_abs'])})"
            if pd.notna(r["max_abs_err"])
            else ""
        )
        for r in cell.rows
    )
    inner = f'<span class="v">{_counts_text(cell)}</span>{small}'
    if cell.target is not None:
        inner = f'<a href="#{anchor(cell.target)}">{inner}</a>'
    classes = f"v-{v}" + (" unexpected" if cell.unexpected else "") + (" sparse" if sparse else "")
    return f'<td class="{classes}" title="{esc(tip)}">{inner}</td>'


def _grid_html(
    index: pd.MultiIndex,
    cells: list[list[GridCell | None]],
    backends: list[str],
    sparse: list[str],
) -> str:
    """The grid as a plain table: the header row and the case column stick (report.css)."""
    narrow = [b in sparse for b in backends]
    head = "".join(
        f'<th scope="col" class="backend{" sparse" if n else ""}">'
        f"{esc(b).replace('-', '-<wbr>') if n else esc(b)}</th>"
        for b, n in zip(backends, narrow, strict=True)
    )
    body, family = [], None
    for (fam, case), row in zip(index, cells, strict=True):
        if fam != family:  # a family opens with a row of its own: no column spent on it
            body.append(f'<tr class="family"><th colspan="{len(backends) + 1}">'
                        f"<span>{esc(fam)}</span></th></tr>")  # fmt: skip
            family = fam
        tds = "".join(_grid_cell(c, n) for c, n in zip(row, narrow, strict=True))
        body.append(f'<tr><th scope="row" class="row_heading case">{esc(case)}</th>{tds}</tr>')
    return (
        '<table class="grid" id="verdicts"><thead><tr><th class="corner case">case</th>'
        f"{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody></table>"
    )


def verdict_colours() -> str:
    """One background rule per verdict colour (markup.COLORS), for the grid's cells."""
    return "".join(f"table.grid td.v-{v} {{ background-color: {c}; }}\n" for v, c in COLORS.items())


# -- the page -----------------------------------------------------------------------------------
def render(
    summary: pd.DataFrame,
    elements: pd.DataFrame,
    meta: Mapping[str, Any],
    arrays: Mapping[ArrayKey, np.ndarray] | None = None,
    changes: pd.DataFrame | None = None,
    baseline: str = "",
    causes: pd.DataFrame | None = None,
) -> str:
    """The whole page as one string (`causes`: the rows of causes.csv, shown at the top)."""
    backends = backend_order(summary, meta)
    index, cells = grid(summary, backends)
    details = failures.details(summary, elements, arrays or {}, backends)
    facts, counts = groups.run_facts(summary, meta), groups.verdict_counts(summary)
    versions, run = groups.meta_items(meta)
    split = None if changes is None else groups.split_changes(changes)
    skips = groups.skip_groups(summary)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AD validation report</title>
<style>
{stylesheet()}{verdict_colours()}</style></head><body>
<input type="checkbox" id="only-unexpected" class="toggle">
<main>
<h1>Autodiff validation report</h1>
{_facts(facts, backends)}
<div class="bar">{_counts(counts)}
<label class="filter" for="only-unexpected">Show failures only
 <span class="muted">(fail, error, unexpected pass: {details.unexpected_cells})</span></label></div>
{_causes_html(causes)}\
<details open><summary>Run metadata</summary>{_meta_tables(versions, run)}</details>
{_baseline_html(split, baseline)}
<h2 id="grid">Verdicts: case × backend</h2>
<p class="muted">Each cell counts the verdicts of the quantities and dtypes of that case and
backend (xfail: expected fail, xpass: unexpected pass), coloured by the worst one, with its largest
absolute error; hover for the breakdown, click for the details. Backends that apply to few cases
have narrow columns.</p>
{_grid_html(index, cells, backends, sparse_backends(cells, backends))}
{details_html(details)}
{skipped_html(skips)}
</main>
</body></html>
"""


#: Likely causes shown per backend at the top of the page (causes.csv has them all).
CAUSES_SHOWN = 3


def _causes_html(causes: pd.DataFrame | None) -> str:
    """'Likely causes' per blamed backend: hypotheses with their evidence, each linking to
    the backend's failures below."""
    if causes is None or causes.empty:
        return ""
    items = []
    for backend, rows in causes.groupby("backend", sort=False):
        lines = "".join(
            f"<li><b>{esc('looks like' if r.kind == 'mutant' else 'op')} {esc(r.cause)}</b> "
            f"<span class='muted'>(score {float(r.score):.2f})</span>: {esc(r.evidence)}</li>"
            for r in rows.head(CAUSES_SHOWN).itertuples()
        )
        items.append(f"<li><a href='#failures-{esc(backend)}'>{esc(backend)}</a><ul>"
                     f"{lines}</ul></li>")  # fmt: skip
    return (f"<section id='causes'><h2>Likely causes</h2><p class='muted'>Hypotheses with "
            f"their evidence, not verdicts (causes.csv).</p><ul>{''.join(items)}</ul>"
            "</section>\n")  # fmt: skip
