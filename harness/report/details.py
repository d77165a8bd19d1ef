"""report.html's lower half: the cells that are neither a pass nor skipped, as failures.py
grouped them (backend, what broke, case), then why cells were skipped. Each case block shows
its worst cell's numbers, failure text, figures and worst elements, and one line per cell.
Writes HTML; computes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from harness.report import plots
from harness.report.failures import (
    MAX_DECLARED_FIGURES,
    MAX_FIGURES,
    BackendGroup,
    Block,
    Details,
    Heatmap,
    Kind,
    Taylor,
    numberless,
)
from harness.report.groups import SkipGroup
from harness.report.markup import COLORS, anchor, chip, esc, num, present, row_id, short
from harness.vocabulary import UNEXPECTED


def _stats(row: Mapping[str, Any]) -> str:
    """The cell's numbers as one horizontal strip: a header row over a value row."""
    items: list[tuple[str, str]] = []
    if pd.notna(row.get("max_abs_err")):
        ref = f"{row.get('reference', '')}, {row.get('reference_dtype', '')}"
        items.append(("at", f"<span class='mono'>{esc(row.get('worst_index', ''))}</span>"))
        if present(row.get("input_at_worst")):
            items.append(("input there", num(row["input_at_worst"], 6)))
        items += [
            ("value", num(row.get("value_at_worst"), 9)),
            (f"reference ({esc(ref)})", num(row.get("reference_at_worst"), 9)),
            ("max |err|", f"<b>{num(row['max_abs_err'])}</b>"),
            ("max rel err", num(row.get("max_rel_err"))),
            ("tolerance", f"{num(row.get('tol_abs'))} + {num(row.get('tol_rel'))}·|ref|"),
        ]
        if float(row.get("noise_floor") or 0) > 0:
            items.append(("oracle noise", num(row["noise_floor"])))
        if present(row.get("tol_dtype")):  # low-precision rows: included in the tolerance
            items.append((f"{esc(row.get('dtype', ''))} rounding", num(row["tol_dtype"])))
    if items or (present(row.get("blame")) and row.get("blame") != "none"):
        items.append(("blame", f"<b>{esc(row.get('blame', ''))}</b>"))
    if present(row.get("agrees_with")):
        items.append(("agrees with", esc(row["agrees_with"])))
    if present(slope := row.get("taylor_slope")):
        items.append(
            ("Taylor slope", f"{num(slope)} <span class='muted'>(2 right, 1 wrong)</span>")
        )
    if items and present(row.get("shape")):
        items.append(("shape", esc(row["shape"])))
    if not items:
        return ""
    head = "".join(f"<th>{k}</th>" for k, _ in items)
    vals = "".join(f"<td>{v}</td>" for _, v in items)
    return f'<table class="stats"><tr>{head}</tr><tr>{vals}</tr></table>'


def _elements_html(elements: pd.DataFrame) -> str:
    if elements.empty:
        return ""
    inputs = "input_value" in elements.columns and elements["input_value"].notna().any()
    cols = ("index", *(("input",) if inputs else ()), "value", "reference", "|err|", "rel")
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = "".join(
        f"<tr><td class='mono'>{esc(r['index'])}</td>"
        + (f"<td>{num(r['input_value'], 6)}</td>" if inputs else "")
        + f"<td>{num(r['value'], 9)}</td><td>{num(r['reference_value'], 9)}</td>"
        f"<td>{num(r['abs_err'])}</td><td>{num(r['rel_err'])}</td></tr>"
        for r in elements.to_dict("records")
    )
    return (
        f"<details><summary>worst elements of the worst cell ({len(elements)})</summary>"
        f'<table class="elements"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        "</details>"
    )


def _heatmap_html(h: Heatmap) -> str:
    q = h.row["quantity"]
    labels = ("output element", "input element") if q == "jacobian" else ("input", "input")
    tol = float(h.row.get("tol_abs") or 0)
    uri = plots.error_heatmap(h.err, tol, f"|error| of {q}", labels, (h.rows, h.cols))
    return (
        f'<figure><img alt="heatmap of the per-element error of {esc(row_id(h.row))}" '
        f'src="{uri}"><figcaption>per-element |error| of <span class="mono">'
        f"{esc(row_id(h.row))}</span> against {esc(h.row.get('reference', ''))}; the blue "
        "mark is tol_abs</figcaption></figure>"
    )


def _taylor_html(t: Taylor) -> str:
    curve = np.asarray(t.curve, dtype=np.float64)
    uri = plots.taylor_plot(curve[0], curve[1], "Taylor remainder")
    return (
        f'<figure><img alt="Taylor remainder of {esc(row_id(t.row))}" src="{uri}">'
        f'<figcaption><span class="mono">{esc(row_id(t.row))}</span>: slope 2, the gradient '
        "is right; slope 1, it is not</figcaption></figure>"
    )


def _figures(block: Block) -> str:
    figs = ([_heatmap_html(block.heatmap)] if block.heatmap else []) + (
        [_taylor_html(block.taylor)] if block.taylor else []
    )
    return f'<div class="figs">{"".join(figs)}</div>' if figs else ""


def _which(rows: list[dict[str, Any]]) -> str:
    """The block's cells in few words, twins together: ``grad, jvp × float64, float32``."""
    qs = list(dict.fromkeys(r["quantity"] for r in rows))
    dts = list(dict.fromkeys(r["dtype"] for r in rows))
    if len(rows) == len(qs) * len(dts) and len({r["case"] for r in rows}) == 1:
        return f"{', '.join(qs)} × {', '.join(dts)}"
    return ", ".join(f"{r['quantity']} {r['dtype']}" for r in rows)


def _cells_table(block: Block) -> str:
    """One line per cell of the block, twins in the other dtype on the same line; each cell
    the target of its grid cell's link (the lead's is the block's body)."""
    rows, lead = block.rows, block.rows[0]
    others = "".join(f'<span id="{anchor(r)}"></span>' for r in rows[1:])
    if block.one_error:  # the words are the lead's: nothing more to list
        return others
    cases = len(block.cases) > 1
    cols = ("cell", "verdict", "at", "input", "value", "reference", "|err|", "rel err", "blame")
    head = "".join(f"<th>{c}</th>" for c in cols)
    lines = []
    for twins in block.lines:
        r = twins[0]
        name = (f"{r['case']} " if cases else "") + f"{r['quantity']} "
        name += ", ".join(t["dtype"] for t in twins)
        ids = "".join(f'<span id="{anchor(t)}"></span>' for t in twins if t is not lead)
        if numberless(r):
            words = "same words" if r.get("reason") == lead.get("reason") else r["reason"]
            rest = f'<td colspan="6" class="muted">{esc(words)}</td>'
        else:
            rest = (
                f"<td class='mono'>{esc(r.get('worst_index', ''))}</td>"
                f"<td>{num(r.get('input_at_worst'), 6)}</td>"
                f"<td>{num(r.get('value_at_worst'), 9)}</td>"
                f"<td>{num(r.get('reference_at_worst'), 9)}</td>"
                f"<td><b>{num(r['max_abs_err'])}</b></td><td>{num(r.get('max_rel_err'))}</td>"
            )
        lines.append(
            f"<tr><td class='mono'>{ids}{esc(name)}</td>"
            f"<td>{chip(r['verdict'], short(r['verdict']))}</td>{rest}"
            f"<td>{esc(r.get('blame', ''))}</td></tr>"
        )
    return (
        f'<table class="cells"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody>'
        "</table>"
    )


def cell_html(block: Block, open_: bool) -> str:
    """One block: a summary line (case, its cells, the worst error), then the worst cell."""
    row, rows = block.rows[0], block.rows
    v = row["verdict"]
    reason = "\n".join(p.strip() for p in str(row.get("reason", "")).split(" | "))
    err, who = row.get("max_abs_err"), row.get("blame")
    brief = " · ".join(
        ([f"{len(rows)} cells"] if len(rows) > 1 else [])
        + ([f"max |err| {num(err)}"] if pd.notna(err) else [])
        + ([f"blame {who}"] if present(who) and (pd.notna(err) or who != "none") else [])
    )
    title = ", ".join(block.cases)
    return f"""<details class="cell{" unexpected" if v in UNEXPECTED else ""}"\
{" open" if open_ else ""} style="border-left-color:{COLORS.get(v, "#ccc")}">
<summary>{chip(v)}<h3>{esc(title)}</h3><span class="id mono">{esc(_which(rows))}</span>\
<span class="brief">{esc(brief)}</span></summary>
<div class="lead" id="{anchor(row)}"><p class="muted">worst cell: <span class="mono">\
{esc(row_id(row))}</span></p>
{_stats(row)}
<div class="reason mono">{esc(reason)}</div></div>
{_cells_table(block) if len(rows) > 1 else ""}
{_figures(block)}
{_elements_html(block.elements)}
</details>"""


def _kind_html(kind: Kind, unexpected: bool) -> str:
    n = len(kind.cases)
    head = (
        f'<h4 class="kind" style="border-left-color:{COLORS.get(kind.verdict, "#ccc")}">'
        f"{esc(kind.what)} <span class='muted'>· {kind.cells} cell(s) in {n} case(s)</span></h4>"
    )
    blocks = [cell_html(b, unexpected and i == 0) for i, b in enumerate(kind.blocks)]
    return head + "\n".join(blocks)


def _backend_html(g: BackendGroup, unexpected: bool) -> str:
    counts = "".join(chip(v, f"<b>{n}</b> {esc(short(v))}") for v, n in g.counts)
    kinds = "\n".join(_kind_html(k, unexpected) for k in g.kinds)
    target = f" id='failures-{esc(g.backend)}'" if unexpected else ""  # Likely causes link here
    return (
        f'<details class="backend{" unexpected" if unexpected else ""}"'
        f"{' open' if unexpected else ''}{target}>"
        f"<summary><h3>{esc(g.backend)}</h3><span class='muted'>{g.cells} cell(s) in "
        f"{g.cases} case(s), {len(g.kinds)} way(s) of breaking</span>{counts}</summary>\n"
        f"{kinds}\n</details>"
    )


def details_html(d: Details) -> str:
    """The section of cells that are not a plain pass: unexpected ones (open), then declared
    ones (closed), each by backend and what broke."""
    out = [f'<h2 id="details">Cells that are not a plain pass ({d.cells})</h2>']
    if not d.cells:
        out.append('<p class="muted">Every cell passed or was skipped.</p>')
    out.append(
        f'<h3 class="group">Unexpected: fail, error, unexpected pass ({d.unexpected_cells})</h3>'
    )
    if not d.unexpected_cells:
        out.append('<p class="muted">No unexpected results.</p>')
    out += [_backend_html(g, True) for g in d.unexpected]
    if d.declared_cells:
        out.append(
            f'<div class="expected-only"><h3 class="group">Declared or vacuous '
            f'({d.declared_cells}): <span class="muted">expected fails and checks that cannot '
            "tell; click to open</span></h3>"
            + "\n".join(_backend_html(g, False) for g in d.declared)
            + "</div>"
        )
    if d.capped:
        out.append(
            f'<p class="muted">At most {MAX_FIGURES} figures are drawn for unexpected cells and '
            f"{MAX_DECLARED_FIGURES} for declared ones; the others show their numbers.</p>"
        )
    return "\n".join(out)


def skipped_html(groups: list[SkipGroup]) -> str:
    """Why cells were skipped, by backend and reason (closed by default)."""
    if not groups:
        return ""
    body = "".join(
        f"<tr><td>{esc(g.backend)}</td><td>{g.cells}</td><td>{esc(g.reason)}</td>"
        f"<td class='muted'>{esc(', '.join(g.cases))}</td></tr>"
        for g in groups
    )
    total = sum(g.cells for g in groups)
    return (
        f'<h2 class="expected-only">Skipped cells ({total})</h2>'
        f'<details class="expected-only"><summary>why, by backend</summary><table class="skips">'
        "<thead><tr><th>backend</th><th>cells</th><th>reason</th><th>cases</th></tr></thead>"
        f"<tbody>{body}</tbody></table></details>"
    )
