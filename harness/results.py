"""The row type, the column contract, the report order, and what a run returns.

summary.csv's first fourteen columns are a contract (scripts rely on them): add columns after
them, never rename. Every report renders from these rows, in this order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.registry import Case
from harness.vocabulary import DTYPES, ORDER, QUANTITIES

SUMMARY_COLUMNS: list[str] = [
    "case", "family", "quantity", "order", "dtype", "backend", "reference",
    "max_abs_err", "max_rel_err", "tol_abs", "tol_rel", "verdict", "blame", "reason",
    # additions after the contract columns
    "reference_dtype", "shape", "worst_index", "value_at_worst", "reference_at_worst",
    "noise_floor", "agrees_with", "taylor_slope", "input_at_worst", "tol_dtype",
]  # fmt: skip
ELEMENT_COLUMNS: list[str] = [
    "case", "quantity", "dtype", "backend", "index", "value", "reference_value",
    "abs_err", "rel_err",
    # additions after the contract columns
    "input_value",
]  # fmt: skip
#: The columns of each report that hold numbers (empty: none); every other column is text.
NUMERIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "summary.csv": (
        "order", "max_abs_err", "max_rel_err", "tol_abs", "tol_rel", "value_at_worst",
        "reference_at_worst", "noise_floor", "taylor_slope", "input_at_worst", "tol_dtype",
    ),
    "elements.csv": ("value", "reference_value", "abs_err", "rel_err", "input_value"),
}  # fmt: skip
WORST_ELEMENTS = 5
#: Key of a per-element array kept for the HTML: (case, quantity or "taylor", dtype, backend).
ArrayKey = tuple[str, str, str, str]


def make_row(case: Case, q: str, dtype: str, backend: str, v: str, **extra: Any) -> dict:
    """One summary row; `extra` fills the other columns (missing ones are left empty)."""
    row = dict(
        case=case.name,
        family=case.family,
        quantity=q,
        order=ORDER[q],
        dtype=dtype,
        backend=backend,
        verdict=v,
        blame="none",
        reason="",
    )
    row.update(extra)
    return row


@dataclass
class RunResult:
    summary: pd.DataFrame
    elements: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    #: Per-element |error| of non-pass dense cells, keyed (case, quantity, dtype, backend).
    arrays: dict[ArrayKey, np.ndarray] = field(default_factory=dict)
    #: Set when a signal stopped the run: its name (e.g. "SIGTERM"); the rows are then those of
    #: the cases finished before it, each case complete.
    interrupted: str | None = None
    cases_finished: int = 0


def in_report_order(df: pd.DataFrame, backend_order: Iterable[str] = ()) -> pd.DataFrame:
    """Rows sorted the way every report lists them: case, quantity (in QUANTITIES order),
    dtype (float64 first), backend (in `backend_order`, unknown ones last); stable, so the
    worst-first order of a cell's elements is kept."""
    if df.empty:
        return df.reset_index(drop=True)
    border = {b: i for i, b in enumerate(backend_order)}
    qorder = {q: i for i, q in enumerate(QUANTITIES)}
    keys = pd.DataFrame({
        "case": df["case"],
        "q": df["quantity"].map(qorder),
        "d": df["dtype"].map({d: i for i, d in enumerate(DTYPES)}),
        "b": df["backend"].map(lambda b: border.get(b, len(border))),
    })  # fmt: skip
    order = keys.sort_values(["case", "q", "d", "b"], kind="stable").index
    return df.loc[order].reset_index(drop=True)


def tidy(rows: list[dict], backend_order: Iterable[str]) -> pd.DataFrame:
    """Rows in the contract's column order, sorted deterministically."""
    df = in_report_order(pd.DataFrame(rows, columns=SUMMARY_COLUMNS), backend_order)
    df["blame"] = df["blame"].fillna("none")
    df["reason"] = df["reason"].fillna("")
    return df


def tidy_elements(elems: list[dict], backend_order: Iterable[str] = ()) -> pd.DataFrame:
    """The worst elements of non-pass cells, in report order."""
    return in_report_order(pd.DataFrame(elems, columns=ELEMENT_COLUMNS), backend_order)


def parse_numbers(df: pd.DataFrame, report: str) -> pd.DataFrame:
    """`df`, a report read as text, with the NUMERIC_COLUMNS of `report` (``summary.csv``,
    ``elements.csv``) that it has as numbers, empty fields missing (NaN); ValueError naming
    the column, the row and the value when a field there is not a number."""
    out = df.copy()
    for col in NUMERIC_COLUMNS[report]:
        if col not in out.columns:
            continue
        text = out[col].astype(object)
        empty = text.isna() | (text.astype(str).str.strip() == "")
        numbers = pd.to_numeric(text.where(~empty), errors="coerce")
        bad = ~empty & numbers.isna() & ~text.astype(str).str.strip().str.lower().eq("nan")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"column {col} holds {text.iloc[row]!r} on row {row + 2}, not a number"
            )
        out[col] = numbers
    return out
