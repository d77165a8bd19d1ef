"""The text of a CheckError: which check broke, where, at which input, by how much, and blame."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from harness.check.bind import Bound
from harness.vocabulary import QUANTITY

#: Failing cells shown in full; the rest are counted.
SHOWN = 6
_ELEMENT = re.compile(r"^([A-Za-z_]\w*)(?:\[([\d,]+)\])?$")


def input_value(bound: Bound, label: str) -> float | None:
    """The input element a worst-index label names (``W[0,1]``; for a Jacobian or Hessian
    element, its column), or None for an output index."""
    part = label.split(", ")[-1]
    m = _ELEMENT.match(part)
    values = bound.values()
    if not m or m.group(1) not in values:
        return None
    arr = np.asarray(values[m.group(1)])
    idx = tuple(int(i) for i in m.group(2).split(",")) if m.group(2) else ()
    return float(arr[idx]) if arr.ndim == len(idx) else None


def failure_text(failures: pd.DataFrame, elements: pd.DataFrame, bound: Bound) -> str:
    """One line per failing cell, then each cell's worst elements side by side."""
    head = f"harness.check: {len(failures)} check(s) of {bound.name} failed"
    lines = [head]
    for _, r in failures.head(SHOWN).iterrows():
        lines.append("  " + _line(r, bound))
    if len(failures) > SHOWN:
        lines.append(f"  ... and {len(failures) - SHOWN} more (result.summary has them all)")
    for _, r in failures.head(SHOWN).iterrows():
        lines += _table(r, elements, bound)
    return "\n".join(lines)


def _line(r: pd.Series, bound: Bound) -> str:
    title = QUANTITY[r["quantity"]].title
    where = f"{title} (order {r['order']}) {r['dtype']}"
    if r["verdict"] == "error" or pd.isna(r.get("max_abs_err")):
        return f"{where}: {r['verdict']}: {r['reason']}"
    x = input_value(bound, str(r["worst_index"]))
    at = f"{r['worst_index']}" + (f" (input {x:.6g})" if x is not None else "")
    diff = float(r["value_at_worst"]) - float(r["reference_at_worst"])
    return (
        f"{where}: {r['backend']} {float(r['value_at_worst']):.9g} vs {r['reference']} "
        f"{float(r['reference_at_worst']):.9g} at {at}, difference {diff:+.3g}, |err| "
        f"{float(r['max_abs_err']):.3g} > bound {float(r['tol_abs']):.3g}; blame {r['blame']}"
    )


def _table(r: pd.Series, elements: pd.DataFrame, bound: Bound) -> list[str]:
    mine = elements[
        (elements["quantity"] == r["quantity"])
        & (elements["dtype"] == r["dtype"])
        & (elements["backend"] == r["backend"])
    ]
    if mine.empty:
        return []
    title = QUANTITY[r["quantity"]].title
    out = [f"  {title} {r['dtype']}, worst elements: index, input, {r['backend']}, "
           f"{r['reference']}, |err|"]  # fmt: skip
    for _, e in mine.iterrows():
        x = input_value(bound, str(e["index"]))
        xs = f"{x:.6g}" if x is not None else "-"
        v, ref, err = (float(e[k]) for k in ("value", "reference_value", "abs_err"))
        out.append(f"    {e['index']:<14} {xs:>12} {v:>16.9g} {ref:>16.9g} {err:>10.3g}")
    return out
