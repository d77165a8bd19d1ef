"""Regressions and fixes between two summaries: a baseline run and a new one.

Cells are matched on (case, quantity, dtype, backend). A verdict's badness is its rank in
harness.vocabulary's verdict table (pass lowest, then the declared and vacuous ones, then
unexpected_pass, then fail and error).

A **regression** is a cell whose rank went up (pass → fail, expected_fail → fail, pass →
unexpected_pass, ...) or, with the rank unchanged, whose max_abs_err grew past its tol_abs (it
was within, now it is above). A **fix** is the reverse. Moves between verdicts of equal rank
(fail ↔ error) and to or from `skipped` (a backend or quantity that is not measured) are
`changed`; cells in only one run are `added` or `removed`. None of those last three is judged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.results import parse_numbers
from harness.vocabulary import VERDICT_TABLE

KEY: list[str] = ["case", "quantity", "dtype", "backend"]
REQUIRED: list[str] = [*KEY, "verdict", "max_abs_err", "tol_abs"]
#: Verdicts of cells that were not measured: a move to or from one is `changed`, never judged.
UNJUDGED: tuple[str, ...] = ("skipped",)
RANK: dict[str, int] = {v.name: v.rank for v in VERDICT_TABLE if v.name not in UNJUDGED}
#: Kinds of change, most important first (also the order of the rows).
KINDS: tuple[str, ...] = ("regression", "fix", "changed", "added", "removed")
CHANGE_COLUMNS: list[str] = [
    *KEY, "change", "verdict_before", "verdict_after", "max_abs_err_before", "max_abs_err_after",
    "tol_abs", "why", "reason",
]  # fmt: skip


class BaselineError(ValueError):
    """A summary file that cannot be used: one sentence naming the file."""


def read_summary(path: str | Path) -> pd.DataFrame:
    """Read a summary.csv written by `validate`: text as written, the numeric columns as
    numbers (empty: missing); BaselineError if it is missing or not one."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise BaselineError(f"cannot read summary {path}: no such file") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise BaselineError(f"cannot read summary {path}: {e}") from None
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise BaselineError(
            f"{path} is not a summary.csv from `python -m harness validate` "
            f"(missing columns: {', '.join(missing)})"
        )
    if "reason" not in df:
        df["reason"] = ""
    try:
        return parse_numbers(df, "summary.csv")
    except ValueError as e:
        raise BaselineError(f"{path} is not a summary.csv that can be compared: {e}") from None


def restrict(baseline: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """The baseline rows inside the new run's selection (its cases, quantities, dtypes and
    backends), so a partial run does not report every other cell as removed."""
    keep = np.ones(len(baseline), dtype=bool)
    for col in KEY:
        keep &= baseline[col].isin(set(summary[col])).to_numpy()
    return baseline[keep]


def _classify(before: pd.Series, after: pd.Series) -> tuple[str, str]:
    vb, va = before["verdict"], after["verdict"]
    rb, ra = RANK.get(vb), RANK.get(va)
    if rb is None or ra is None:
        return ("changed", f"{vb} → {va}") if vb != va else ("", "")
    if ra != rb:
        return ("regression" if ra > rb else "fix"), f"{vb} → {va}"
    eb, ea = float(before["max_abs_err"]), float(after["max_abs_err"])
    tb, ta = float(before["tol_abs"]), float(after["tol_abs"])
    if np.isfinite([eb, ea, tb, ta]).all():
        if eb <= tb and ea > ta:
            return "regression", f"max |err| {eb:.3g} → {ea:.3g}, now past tol_abs {ta:.3g}"
        if eb > tb and ea <= ta:
            return "fix", f"max |err| {eb:.3g} → {ea:.3g}, now within tol_abs {ta:.3g}"
    if vb != va:
        return "changed", f"{vb} → {va}"
    return "", ""


def compare_summaries(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Every cell that changed between `before` and `after`, regressions first
    (columns CHANGE_COLUMNS; empty when nothing changed)."""
    b = before.drop_duplicates(KEY).set_index(KEY)
    a = after.drop_duplicates(KEY).set_index(KEY)
    rows = []
    for key in a.index.union(b.index, sort=False):
        in_b, in_a = key in b.index, key in a.index
        if in_b and in_a:
            kind, why = _classify(b.loc[key], a.loc[key])
        else:
            kind, why = ("added", "new cell") if in_a else ("removed", "cell no longer run")
        if not kind:
            continue
        ra = a.loc[key] if in_a else None
        rb = b.loc[key] if in_b else None
        rows.append(
            dict(
                zip(KEY, key, strict=True),
                change=kind,
                verdict_before=rb["verdict"] if in_b else "",
                verdict_after=ra["verdict"] if in_a else "",
                max_abs_err_before=rb["max_abs_err"] if in_b else np.nan,
                max_abs_err_after=ra["max_abs_err"] if in_a else np.nan,
                tol_abs=(ra if in_a else rb)["tol_abs"],
                why=why,
                reason=str(ra["reason"]) if in_a and isinstance(ra["reason"], str) else "",
            )
        )
    df = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    df["_k"] = df["change"].map({k: i for i, k in enumerate(KINDS)})
    df = df.sort_values(["_k", *KEY], kind="stable").drop(columns="_k")
    return df.reset_index(drop=True)


def regressions(changes: pd.DataFrame) -> pd.DataFrame:
    return changes[changes["change"] == "regression"]


def fixes(changes: pd.DataFrame) -> pd.DataFrame:
    return changes[changes["change"] == "fix"]
