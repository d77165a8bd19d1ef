"""report.html: one self-contained page (no network: styles inline, figures as base64 PNG).

From the top: run metadata and counts by verdict; regressions and fixes against a baseline; a
case × backend verdict grid (pandas Styler); a details block for every cell that is neither a
pass nor skipped, with a heatmap of the per-element error for Jacobians and Hessians; why cells
were skipped. A checkbox narrows the page to the unexpected results with a CSS `:checked` rule,
so it works from a file, without a server or script.

Figures come from `arrays` (RunResult.arrays), keyed (case, quantity, dtype, backend): a
Jacobian's or Hessian's per-element |error| gives a heatmap; an entry keyed (case, "taylor",
dtype, backend) of shape (2, k) — steps h and remainders r(h) — gives a grad cell its Taylor
plot. A `taylor_slope` column, where present, is shown with the numbers.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.report.files import atomic_write

# Worst first: the grid shows a cell's worst verdict over its quantities and dtypes.
SEVERITY = ["error", "fail", "unexpected_pass", "vacuous", "expected_fail", "skipped", "pass"]
UNEXPECTED = ("fail", "error", "unexpected_pass")
LABELS = {"expected_fail": "expected fail", "unexpected_pass": "unexpected pass"}
#: Shorter words for the grid, where ten backends must fit side by side.
SHORT = {"expected_fail": "xfail", "unexpected_pass": "xpass", "skipped": "skip"}
COLORS = {
    "pass": "#d5efd5",
    "fail": "#f3a6a6",
    "error": "#e07a7a",
    "unexpected_pass": "#f6cf7e",
    "expected_fail": "#ddd5f0",
    "vacuous": "#f1e5a2",
    "skipped": "#ececec",
}
#: Figures beyond this many are left out (the numbers stay); keeps the page light.
MAX_FIGURES = 80
#: Declared (expected) discrepancies are known findings: fewer figures, a faster report.
MAX_DECLARED_FIGURES = 16
ArrayKey = tuple[str, str, str, str]

CSS = """
:root { --ink: #1d232a; --muted: #5b6570; --line: #d5d9de; --soft: #f5f6f8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  margin: 0; background: #fff; }
main { max-width: 1280px; margin: 0 auto; padding: 20px 28px 60px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 30px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 12.5px; }
.muted { color: var(--muted); }
.facts { color: var(--muted); margin: 0 0 12px; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 10px 0; }
.chip { display: inline-block; padding: 2px 10px; border-radius: 11px; font-size: 13px;
  border: 1px solid rgba(0,0,0,.08); white-space: nowrap; }
.chip b { font-weight: 650; }
.top { display: flex; flex-wrap: wrap; gap: 12px 40px; align-items: flex-start; }
table { border-collapse: collapse; }
.meta th, .meta td { text-align: left; padding: 1px 12px 1px 0; vertical-align: top;
  font-size: 12.5px; border: 0; background: none; }
.meta th { color: var(--muted); font-weight: 500; white-space: nowrap; }
.meta td { word-break: break-word; max-width: 560px; }
.versions { font-size: 12.5px; margin: 6px 0; }
.versions b { font-weight: 600; color: var(--muted); }
.toggle { display: none; }
.bar { display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: center; }
label.filter { display: inline-block; margin: 0; padding: 4px 12px; border-radius: 6px;
  border: 1px solid var(--line); background: var(--soft); cursor: pointer; user-select: none; }
label.filter::before { content: "\\2610"; margin-right: 6px; }
#only-unexpected:checked ~ main label.filter { background: #fde8e8; border-color: #e4a1a1; }
#only-unexpected:checked ~ main label.filter::before { content: "\\2611"; }
#only-unexpected:checked ~ main table.grid tbody tr:not(:has(td.unexpected)),
#only-unexpected:checked ~ main .cell:not(.unexpected),
#only-unexpected:checked ~ main .expected-only { display: none; }
table.grid { font-size: 12.5px; }
table.grid th, table.grid td { border: 1px solid #fff; padding: 4px 6px; }
table.grid thead th { background: var(--soft); font-weight: 600; text-align: center;
  white-space: nowrap;
  position: sticky; top: 0; }
table.grid th.row_heading { background: var(--soft); text-align: left; font-weight: 500;
  white-space: nowrap; }
table.grid th.level0.row_heading { color: var(--muted); font-weight: 400; }
table.grid td { min-width: 70px; text-align: center; line-height: 1.2; white-space: nowrap; }
table.grid td a { color: inherit; text-decoration: none; display: block; }
table.grid td a:hover .v { text-decoration: underline; }
table.grid td .v { font-weight: 600; }
table.grid td small { display: block; color: #3d454d; font-size: 11px;
  font-variant-numeric: tabular-nums; }
table.grid td.unexpected { outline: 2px solid #b33; outline-offset: -2px; }
table.grid td.none { background: #fafafa; }
.grid-wrap { overflow-x: auto; }
.changes { font-size: 12.5px; margin: 6px 0 12px; }
.changes th, .changes td, .elements th, .elements td { border-bottom: 1px solid var(--line);
  padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
.changes th, .elements th { color: var(--muted); font-weight: 500; }
.changes tr.regression td:first-child { color: #b02525; font-weight: 650; }
.changes tr.fix td:first-child { color: #23703a; font-weight: 650; }
.banner { padding: 8px 14px; border-radius: 6px; margin: 8px 0; }
.banner.bad { background: #fde8e8; border: 1px solid #e4a1a1; }
.banner.good { background: #e6f4e8; border: 1px solid #9fcfaa; }
.cell { border: 1px solid var(--line); border-left-width: 6px; border-radius: 6px;
  margin: 8px 0; padding: 8px 14px; }
.cell > summary { display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: baseline;
  color: var(--ink); list-style: none; }
.cell > summary::before { content: "\\25B8"; color: var(--muted); width: 10px; }
.cell[open] > summary { margin-bottom: 8px; }
.cell[open] > summary::before { content: "\\25BE"; }
.cell .id, .cell .brief { color: var(--muted); }
.cell .id { font-size: 11.5px; }
.cell .brief { margin-left: auto; font-variant-numeric: tabular-nums; }
h3.group { font-size: 14px; margin: 18px 0 6px; }
.stats th, .stats td { text-align: left; padding: 1px 22px 1px 0; font-size: 12.5px; border: 0;
  white-space: nowrap; }
.stats th { color: var(--muted); font-weight: 500; }
.stats td { font-variant-numeric: tabular-nums; }
.figs { display: flex; flex-wrap: wrap; gap: 12px 24px; margin: 8px 0 4px; }
.reason { background: var(--soft); border-radius: 4px; padding: 6px 10px; margin: 10px 0 6px;
  white-space: pre-wrap; word-break: break-word; }
.elements { font-size: 12px; font-variant-numeric: tabular-nums; margin-top: 4px; }
figure { margin: 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: 12px; color: var(--muted); margin-top: 2px; }
details > summary { cursor: pointer; color: var(--muted); }
.skips td, .skips th { font-size: 12.5px; padding: 2px 12px 2px 0; text-align: left;
  border-bottom: 1px solid var(--line); vertical-align: top; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _g(x: Any, digits: int = 3) -> str:
    """A number for people: 3 significant digits, '—' for a missing one."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return _e(x) if x is not None else "—"
    if np.isnan(v):
        return "—"
    return f"{v:.{digits}g}"


def _short(x: float) -> str:
    """Two significant digits, exponent without padding: 5.9e-8, 0.047, 2.8e5."""
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m[1].replace("+", "") + m[2], f"{x:.2g}")


def row_id(row: Mapping[str, Any]) -> str:
    """The id shared by a report row and its pytest item (harness.pytest_plugin.cell_id)."""
    return f"{row['case']}[{row['backend']}-{row['quantity']}-{row['dtype']}]"


def _anchor(row: Mapping[str, Any]) -> str:
    return "cell-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", row_id(row)).strip("-")


def _chip(verdict: str, text: str | None = None) -> str:
    label = text if text is not None else LABELS.get(verdict, verdict)
    return f'<span class="chip" style="background:{COLORS.get(verdict, "#fff")}">{label}</span>'


def worst(verdicts: pd.Series) -> str:
    present = set(verdicts)
    return next((v for v in SEVERITY if v in present), "")


def verdict_grid(summary: pd.DataFrame) -> pd.DataFrame:
    """case × backend table of the worst verdict in each cell."""
    grid = summary.pivot_table(index="case", columns="backend", values="verdict", aggfunc=worst)
    order = list(dict.fromkeys(summary["backend"]))
    return grid.reindex(columns=order).fillna("")


# -- the grid ---------------------------------------------------------------------------------
def _grid_cell(rows: list[dict[str, Any]]) -> tuple[str, str]:
    """(inner HTML, CSS classes) for one case × backend cell, from its summary rows."""
    if not rows:
        return "", "none"
    verdicts = [r["verdict"] for r in rows]
    v = worst(pd.Series(verdicts))
    hit = [r for r in rows if r["verdict"] == v]
    count = f" ×{len(hit)}" if len(hit) > 1 and v != "pass" else ""
    errs = [float(r["max_abs_err"]) for r in hit if pd.notna(r["max_abs_err"])]
    if v in ("error", "skipped"):
        small = f"{len(hit)} of {len(rows)}"
    elif errs:
        small = f"|err| {'≤ ' if v == 'pass' else ''}{_short(max(errs))}"
    else:
        small = ""
    tip = "\n".join(
        f"{r['quantity']} {r['dtype']}: {r['verdict']}"
        + (
            f", |err| {_g(r['max_abs_err'])} (tol {_g(r['tol_abs'])})"
            if pd.notna(r["max_abs_err"])
            else ""
        )
        for r in rows
    )
    inner = f'<span class="v">{_e(SHORT.get(v, v))}{count}</span><small>{_e(small)}</small>'
    target = [r for r in rows if r["verdict"] not in ("pass", "skipped")]
    if target:
        inner = f'<a href="#{_anchor(target[0])}">{inner}</a>'
    classes = f"v-{v}" + (" unexpected" if set(verdicts) & set(UNEXPECTED) else "")
    return f'<div title="{_e(tip)}">{inner}</div>', classes


def _backends(summary: pd.DataFrame, meta: Mapping[str, Any]) -> list[str]:
    """The run's backend order (from the command line), then any others in order of appearance."""
    present = list(dict.fromkeys(summary["backend"]))
    named = [b for b in str(meta.get("backends", "")).split(",") if b in present]
    return named + [b for b in present if b not in named]


def _grid_html(summary: pd.DataFrame, backends: list[str]) -> str:
    keys = summary[["family", "case"]].drop_duplicates().sort_values(["family", "case"])
    index = pd.MultiIndex.from_frame(keys)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in summary.to_dict("records"):
        groups.setdefault((r["case"], r["backend"]), []).append(r)
    cells = [[_grid_cell(groups.get((case, b), [])) for b in backends] for _, case in index]
    text = pd.DataFrame([[c[0] for c in row] for row in cells], index=index, columns=backends)
    classes = pd.DataFrame([[c[1] for c in row] for row in cells], index=index, columns=backends)
    text.index.names = [None, None]  # a header row of its own otherwise
    css = {v: [{"selector": f"td.v-{v}", "props": f"background-color: {c};"}]
           for v, c in COLORS.items()}  # fmt: skip
    styler = (
        text.style.set_uuid("verdicts")  # a fixed id: the same run renders the same page
        .set_td_classes(classes)
        .set_table_styles([s for v in css.values() for s in v])
        .set_table_attributes('class="grid"')
    )
    return styler.to_html(sparse_index=False, escape=False)


# -- metadata, counts and baseline --------------------------------------------------------------
def _counts(summary: pd.DataFrame) -> str:
    counts = summary["verdict"].value_counts()
    chips = [_chip(v, f"<b>{int(counts[v])}</b> {LABELS.get(v, v)}") for v in SEVERITY
             if v in counts]  # fmt: skip
    return f'<div class="chips">{"".join(chips)}</div>'


def _facts(summary: pd.DataFrame, meta: Mapping[str, Any]) -> str:
    parts = [
        f"{len(summary)} cells",
        f"{summary['case'].nunique()} cases",
        f"backends {', '.join(_backends(summary, meta))}",
        f"seed {meta.get('seed', '?')}",
        f"dtypes {meta.get('dtypes', ', '.join(dict.fromkeys(summary['dtype'])))}",
    ]
    if "duration_s" in meta:
        parts.append(f"{meta['duration_s']} s")
    if "started" in meta:
        parts.append(str(meta["started"]))
    return f'<p class="facts">{_e(" · ".join(parts))}</p>'


def _meta_tables(meta: Mapping[str, Any]) -> str:
    def table(items: list[tuple[str, Any]]) -> str:
        rows = "".join(
            f"<tr><th>{_e(k)}</th><td>{'—' if v is None else _e(v)}</td></tr>" for k, v in items
        )
        return f'<table class="meta">{rows}</table>'

    versions = " · ".join(
        f"<b>{_e(k.removeprefix('version.'))}</b> {_e(v)}"
        for k, v in meta.items()
        if k.startswith("version.")
    )
    run = [(k, v) for k, v in meta.items() if not k.startswith("version.") and k != "counts"]
    run = [(k, v if not isinstance(v, Mapping) else "; ".join(f"{a}: {b}" for a, b in v.items()))
           for k, v in run]  # fmt: skip
    half = (len(run) + 1) // 2
    return (
        f'<p class="versions">{versions}</p>'
        f'<div class="top">{table(run[:half])}{table(run[half:])}</div>'
    )


def _changes_table(rows: pd.DataFrame) -> str:
    body = "".join(
        f'<tr class="{_e(r.change)}"><td>{_e(r.change)}</td>'
        f'<td class="mono">{_e(row_id(r._asdict()))}</td>'
        f"<td>{_e(r.why)}</td></tr>"
        for r in rows.itertuples()
    )
    head = "<tr><th>change</th><th>cell</th><th>what changed</th></tr>"
    return f'<table class="changes"><thead>{head}</thead><tbody>{body}</tbody></table>'


def _baseline_html(changes: pd.DataFrame | None, baseline: str) -> str:
    if changes is None:
        return ""
    reg = changes[changes["change"] == "regression"]
    fix = changes[changes["change"] == "fix"]
    rest = changes[~changes["change"].isin(["regression", "fix"])]
    cls = "bad" if len(reg) else "good"
    out = [
        '<h2 id="baseline">Against the baseline</h2>',
        f'<div class="banner {cls}"><b>{len(reg)} regression(s)</b>, {len(fix)} fix(es) '
        f"against <code>{_e(baseline)}</code>"
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


# -- details of one cell ------------------------------------------------------------------------
def _present(x: Any) -> bool:
    """Not None, NaN or empty (CSV round trips turn empty text into NaN)."""
    return x is not None and not (isinstance(x, float) and np.isnan(x)) and x != ""


def _stats(row: Mapping[str, Any]) -> str:
    """The cell's numbers as one horizontal strip: a header row over a value row."""
    items: list[tuple[str, str]] = []
    if pd.notna(row.get("max_abs_err")):
        ref = f"{row.get('reference', '')}, {row.get('reference_dtype', '')}"
        items += [
            ("at", f"<span class='mono'>{_e(row.get('worst_index', ''))}</span>"),
            ("value", _g(row.get("value_at_worst"), 9)),
            (f"reference ({_e(ref)})", _g(row.get("reference_at_worst"), 9)),
            ("max |err|", f"<b>{_g(row['max_abs_err'])}</b>"),
            ("max rel err", _g(row.get("max_rel_err"))),
            ("tolerance", f"{_g(row.get('tol_abs'))} + {_g(row.get('tol_rel'))}·|ref|"),
        ]
        if float(row.get("noise_floor") or 0) > 0:
            items.append(("oracle noise", _g(row["noise_floor"])))
    if items or (_present(row.get("blame")) and row.get("blame") != "none"):
        items.append(("blame", f"<b>{_e(row.get('blame', ''))}</b>"))
    if _present(row.get("agrees_with")):
        items.append(("agrees with", _e(row["agrees_with"])))
    if _present(slope := row.get("taylor_slope")):
        items.append(("Taylor slope", f"{_g(slope)} <span class='muted'>(2 right, 1 wrong)</span>"))
    if items and _present(row.get("shape")):
        items.append(("shape", _e(row["shape"])))
    if not items:
        return ""
    head = "".join(f"<th>{k}</th>" for k, _ in items)
    vals = "".join(f"<td>{v}</td>" for _, v in items)
    return f'<table class="stats"><tr>{head}</tr><tr>{vals}</tr></table>'


def _elements_html(elements: pd.DataFrame) -> str:
    if elements.empty:
        return ""
    head = "".join(f"<th>{_e(c)}</th>" for c in ("index", "value", "reference", "|err|", "rel"))
    body = "".join(
        f"<tr><td class='mono'>{_e(r.index)}</td><td>{_g(r.value, 9)}</td>"
        f"<td>{_g(r.reference_value, 9)}</td><td>{_g(r.abs_err)}</td><td>{_g(r.rel_err)}</td></tr>"
        for r in elements.itertuples(index=False)
    )
    return (
        f"<details><summary>worst elements ({len(elements)})</summary>"
        f'<table class="elements"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        "</details>"
    )


def _key(row: Mapping[str, Any]) -> ArrayKey:
    return (row["case"], row["quantity"], row["dtype"], row["backend"])


def _figures(
    row: Mapping[str, Any], arrays: Mapping[ArrayKey, np.ndarray], budget: list[int]
) -> str:
    from harness.report import plots

    figs = []
    err = arrays.get(_key(row))
    if err is not None and np.size(err) > 1 and budget[0] > 0:
        budget[0] -= 1
        q = row["quantity"]
        labels = ("output element", "input element") if q == "jacobian" else ("input", "input")
        uri = plots.error_heatmap(err, float(row.get("tol_abs") or 0), f"|error| of {q}", labels)
        figs.append(
            f'<figure><img alt="heatmap of the per-element error of {_e(row_id(row))}" '
            f'src="{uri}"><figcaption>per-element |error| against {_e(row.get("reference", ""))}; '
            "the blue mark is tol_abs</figcaption></figure>"
        )
    taylor = arrays.get((row["case"], "taylor", row["dtype"], row["backend"]))
    if taylor is not None and row["quantity"] == "grad" and budget[0] > 0:
        budget[0] -= 1
        t = np.asarray(taylor, dtype=np.float64)
        uri = plots.taylor_plot(t[0], t[1], "Taylor remainder")
        figs.append(
            f'<figure><img alt="Taylor remainder of {_e(row_id(row))}" src="{uri}">'
            "<figcaption>slope 2: the gradient is right; slope 1: it is not</figcaption></figure>"
        )
    return f'<div class="figs">{"".join(figs)}</div>' if figs else ""


def _cell_html(
    row: Mapping[str, Any],
    elements: pd.DataFrame,
    arrays: Mapping[ArrayKey, np.ndarray],
    budget: list[int],
    same: Sequence[Mapping[str, Any]] = (),
) -> str:
    """One cell's block (or, for `same`, the block of several cells that share one error text
    and have no numbers); unexpected ones start open, declared (expected) ones closed."""
    v = row["verdict"]
    unexpected = v in UNEXPECTED
    reason = "\n".join(p.strip() for p in str(row.get("reason", "")).split(" | "))
    err, who = row.get("max_abs_err"), row.get("blame")
    brief = " · ".join(
        ([f"max |err| {_g(err)}"] if pd.notna(err) else [])
        + ([f"blame {who}"] if _present(who) and (pd.notna(err) or who != "none") else [])
    )
    title = f"{_e(row['case'])} · {_e(row['quantity'])} · {_e(row['dtype'])} · {_e(row['backend'])}"
    ids = f'<span class="id mono">{_e(row_id(row))}</span>'
    anchors = ""
    if len(same) > 1:  # one error text shared by several cells of this case and backend
        title = f"{_e(row['case'])} · {_e(row['backend'])} · {len(same)} cells"
        ids = '<span class="id mono">' + ", ".join(
            f"{_e(r['quantity'])} {_e(r['dtype'])}" for r in same) + "</span>"  # fmt: skip
        anchors = "".join(f'<span id="{_anchor(r)}"></span>' for r in same[1:])
    return f"""<details class="cell{" unexpected" if unexpected else ""}" id="{_anchor(row)}"\
{" open" if unexpected else ""} style="border-left-color:{COLORS.get(v, "#ccc")}">
<summary>{_chip(v)}<h3>{title}</h3>{ids}<span class="brief">{_e(brief)}</span></summary>{anchors}
{_stats(row)}
<div class="reason mono">{_e(reason)}</div>
{_figures(row, arrays, budget)}
{_elements_html(elements)}
</details>"""


def _details_html(
    summary: pd.DataFrame, elements: pd.DataFrame, arrays: Mapping[ArrayKey, np.ndarray]
) -> str:
    bad = summary[~summary["verdict"].isin(["pass", "skipped"])]
    bad = bad.assign(_s=bad["verdict"].map(lambda v: SEVERITY.index(v) if v in SEVERITY else 99))
    bad = bad.sort_values(["_s", "case"], kind="stable")
    is_unexp = bad["verdict"].isin(UNEXPECTED)
    by_cell = {k: g for k, g in elements.groupby(["case", "quantity", "dtype", "backend"])}
    budget = [MAX_FIGURES]

    def blocks(rows: pd.DataFrame) -> list[str]:
        groups: dict[tuple, list[dict[str, Any]]] = {}
        for r in rows.to_dict("records"):
            numberless = not pd.notna(r["max_abs_err"])
            key = (r["case"], r["backend"], r["verdict"], r["reason"]) if numberless else _key(r)
            groups.setdefault(key, []).append(r)
        return [
            _cell_html(g[0], by_cell.get(_key(g[0]), elements.iloc[:0]), arrays, budget, g)
            for g in groups.values()
        ]

    out = [f'<h2 id="details">Cells that are not a plain pass ({len(bad)})</h2>']
    if bad.empty:
        out.append('<p class="muted">Every cell passed or was skipped.</p>')
    out.append(
        f'<h3 class="group">Unexpected: fail, error, unexpected pass ({is_unexp.sum()})</h3>'
    )
    if not is_unexp.any():
        out.append('<p class="muted">No unexpected results.</p>')
    out += blocks(bad[is_unexp])
    budget[0] = min(budget[0], MAX_DECLARED_FIGURES)
    if (~is_unexp).any():
        out.append(
            f'<h3 class="group expected-only">Declared or vacuous ({(~is_unexp).sum()}): '
            '<span class="muted">expected fails and checks that cannot tell; click to open'
            "</span></h3>"
        )
        out += blocks(bad[~is_unexp])
    if budget[0] <= 0:
        out.append(
            f'<p class="muted">Figures are shown for the first {MAX_FIGURES} unexpected and '
            f"{MAX_DECLARED_FIGURES} declared cells.</p>"
        )
    return "\n".join(out)


def _skipped_html(summary: pd.DataFrame) -> str:
    sk = summary[summary["verdict"] == "skipped"]
    if sk.empty:
        return ""
    g = sk.groupby(["backend", "reason"], sort=False).agg(
        cells=("case", "size"), cases=("case", lambda c: ", ".join(dict.fromkeys(c)))
    )
    body = "".join(
        f"<tr><td>{_e(b)}</td><td>{n}</td><td>{_e(r)}</td><td class='muted'>{_e(cs)}</td></tr>"
        for (b, r), n, cs in zip(g.index, g["cells"], g["cases"], strict=True)
    )
    return (
        f'<h2 class="expected-only">Skipped cells ({len(sk)})</h2>'
        f'<details class="expected-only"><summary>why, by backend</summary><table class="skips">'
        "<thead><tr><th>backend</th><th>cells</th><th>reason</th><th>cases</th></tr></thead>"
        f"<tbody>{body}</tbody></table></details>"
    )


def render(
    summary: pd.DataFrame,
    elements: pd.DataFrame,
    meta: Mapping[str, Any],
    arrays: Mapping[ArrayKey, np.ndarray] | None = None,
    changes: pd.DataFrame | None = None,
    baseline: str = "",
) -> str:
    """The whole page as one string."""
    arrays = arrays or {}
    n_unexp = int(summary["verdict"].isin(UNEXPECTED).sum())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AD validation report</title>
<style>{CSS}</style></head><body>
<input type="checkbox" id="only-unexpected" class="toggle">
<main>
<h1>Autodiff validation report</h1>
{_facts(summary, meta)}
<div class="bar">{_counts(summary)}
<label class="filter" for="only-unexpected">Show failures only
 <span class="muted">(fail, error, unexpected pass: {n_unexp})</span></label></div>
<details open><summary>Run metadata</summary>{_meta_tables(meta)}</details>
{_baseline_html(changes, baseline)}
<h2 id="grid">Verdicts: case × backend</h2>
<p class="muted">Each cell is the worst verdict over the quantities and dtypes of that case and
backend (xfail: expected fail, xpass: unexpected pass), with its largest absolute error; hover for
the breakdown, click for the details.</p>
<div class="grid-wrap">{_grid_html(summary, _backends(summary, meta))}</div>
{_details_html(summary, elements, arrays)}
{_skipped_html(summary)}
</main>
</body></html>
"""


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
