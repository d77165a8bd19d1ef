"""report.html's lower half: a details block for every cell that is neither a pass nor skipped
(its numbers, failure text, figures and worst elements), then why cells were skipped. Writes
the HTML of what groups.py grouped; computes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from harness.report import plots
from harness.report.groups import (
    MAX_DECLARED_FIGURES,
    MAX_FIGURES,
    Block,
    Details,
    SkipGroup,
)
from harness.report.markup import COLORS, anchor, chip, esc, num, present, row_id
from harness.vocabulary import UNEXPECTED


def _stats(row: Mapping[str, Any]) -> str:
    """The cell's numbers as one horizontal strip: a header row over a value row."""
    items: list[tuple[str, str]] = []
    if pd.notna(row.get("max_abs_err")):
        ref = f"{row.get('reference', '')}, {row.get('reference_dtype', '')}"
        items += [
            ("at", f"<span class='mono'>{esc(row.get('worst_index', ''))}</span>"),
            ("value", num(row.get("value_at_worst"), 9)),
            (f"reference ({esc(ref)})", num(row.get("reference_at_worst"), 9)),
            ("max |err|", f"<b>{num(row['max_abs_err'])}</b>"),
            ("max rel err", num(row.get("max_rel_err"))),
            ("tolerance", f"{num(row.get('tol_abs'))} + {num(row.get('tol_rel'))}·|ref|"),
        ]
        if float(row.get("noise_floor") or 0) > 0:
            items.append(("oracle noise", num(row["noise_floor"])))
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
    head = "".join(f"<th>{esc(c)}</th>" for c in ("index", "value", "reference", "|err|", "rel"))
    body = "".join(
        f"<tr><td class='mono'>{esc(r.index)}</td><td>{num(r.value, 9)}</td>"
        f"<td>{num(r.reference_value, 9)}</td><td>{num(r.abs_err)}</td><td>{num(r.rel_err)}</td>"
        "</tr>"
        for r in elements.itertuples(index=False)
    )
    return (
        f"<details><summary>worst elements ({len(elements)})</summary>"
        f'<table class="elements"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        "</details>"
    )


def _figures(row: Mapping[str, Any], heatmap: Any, taylor: Any) -> str:
    figs = []
    if heatmap is not None:
        q = row["quantity"]
        labels = ("output element", "input element") if q == "jacobian" else ("input", "input")
        tol = float(row.get("tol_abs") or 0)
        uri = plots.error_heatmap(heatmap, tol, f"|error| of {q}", labels)
        figs.append(
            f'<figure><img alt="heatmap of the per-element error of {esc(row_id(row))}" '
            f'src="{uri}"><figcaption>per-element |error| against {esc(row.get("reference", ""))}; '
            "the blue mark is tol_abs</figcaption></figure>"
        )
    if taylor is not None:
        t = np.asarray(taylor, dtype=np.float64)
        uri = plots.taylor_plot(t[0], t[1], "Taylor remainder")
        figs.append(
            f'<figure><img alt="Taylor remainder of {esc(row_id(row))}" src="{uri}">'
            "<figcaption>slope 2: the gradient is right; slope 1: it is not</figcaption></figure>"
        )
    return f'<div class="figs">{"".join(figs)}</div>' if figs else ""


def cell_html(block: Block) -> str:
    """One block; unexpected ones start open, declared (expected) ones closed."""
    row, same = block.rows[0], block.rows
    v = row["verdict"]
    unexpected = v in UNEXPECTED
    reason = "\n".join(p.strip() for p in str(row.get("reason", "")).split(" | "))
    err, who = row.get("max_abs_err"), row.get("blame")
    brief = " · ".join(
        ([f"max |err| {num(err)}"] if pd.notna(err) else [])
        + ([f"blame {who}"] if present(who) and (pd.notna(err) or who != "none") else [])
    )
    title = (
        f"{esc(row['case'])} · {esc(row['quantity'])} · {esc(row['dtype'])} · {esc(row['backend'])}"
    )
    ids = f'<span class="id mono">{esc(row_id(row))}</span>'
    anchors = ""
    if len(same) > 1:  # one error text shared by several cells of this case and backend
        title = f"{esc(row['case'])} · {esc(row['backend'])} · {len(same)} cells"
        ids = '<span class="id mono">' + ", ".join(
            f"{esc(r['quantity'])} {esc(r['dtype'])}" for r in same) + "</span>"  # fmt: skip
        anchors = "".join(f'<span id="{anchor(r)}"></span>' for r in same[1:])
    return f"""<details class="cell{" unexpected" if unexpected else ""}" id="{anchor(row)}"\
{" open" if unexpected else ""} style="border-left-color:{COLORS.get(v, "#ccc")}">
<summary>{chip(v)}<h3>{title}</h3>{ids}<span class="brief">{esc(brief)}</span></summary>{anchors}
{_stats(row)}
<div class="reason mono">{esc(reason)}</div>
{_figures(row, block.heatmap, block.taylor)}
{_elements_html(block.elements)}
</details>"""


def details_html(d: Details) -> str:
    """The section of cells that are not a plain pass: unexpected ones, then declared ones."""
    out = [f'<h2 id="details">Cells that are not a plain pass ({d.cells})</h2>']
    if not d.cells:
        out.append('<p class="muted">Every cell passed or was skipped.</p>')
    out.append(
        f'<h3 class="group">Unexpected: fail, error, unexpected pass ({d.unexpected_cells})</h3>'
    )
    if not d.unexpected_cells:
        out.append('<p class="muted">No unexpected results.</p>')
    out += [cell_html(b) for b in d.unexpected]
    if d.declared_cells:
        out.append(
            f'<h3 class="group expected-only">Declared or vacuous ({d.declared_cells}): '
            '<span class="muted">expected fails and checks that cannot tell; click to open'
            "</span></h3>"
        )
        out += [cell_html(b) for b in d.declared]
    if d.capped:
        out.append(
            f'<p class="muted">Figures are shown for the first {MAX_FIGURES} unexpected and '
            f"{MAX_DECLARED_FIGURES} declared cells.</p>"
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
