"""The cells of report.html that are not a plain pass, grouped so that one bug reads as one
thing: by backend, then by what broke (the checks that failed, or the error), then by case, a
case's quantities and both dtypes in one block. No HTML here (details.py writes it).

Two one-line bugs in an engine fail five checks in two dtypes on every case that uses the ops:
that is one group of a few case blocks, each one line until it is opened, not a page per cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.report.grid import UNDETAILED
from harness.report.terminal import GROUP_ORDER
from harness.results import ArrayKey
from harness.vocabulary import DTYPES, QUANTITIES, QUANTITY, SEVERITY, UNEXPECTED, VERDICT

#: Figures beyond this many are left out (the numbers stay); keeps the page light.
MAX_FIGURES = 80
#: Declared (expected) discrepancies are known findings: fewer figures, a faster report.
MAX_DECLARED_FIGURES = 16


def cell_key(row: Mapping[str, Any]) -> ArrayKey:
    """(case, quantity, dtype, backend): the key of a cell's elements and arrays."""
    return (row["case"], row["quantity"], row["dtype"], row["backend"])


def labels_key(row: Mapping[str, Any]) -> ArrayKey:
    """The key of a dense cell's axis names (rows, then columns), kept by the judge."""
    return (row["case"], f"{row['quantity']} labels", row["dtype"], row["backend"])


@dataclass(frozen=True)
class Heatmap:
    """The per-element |error| of one dense cell, with its axes' names where known."""

    row: dict[str, Any]  #: the cell it shows
    err: np.ndarray
    rows: list[str] | None = None  #: names of the rows: out[0], ... (Jacobian) or x[0], ...
    cols: list[str] | None = None  #: names of the columns: W[0,0], W[0,1], ...


@dataclass(frozen=True)
class Taylor:
    """The Taylor remainders of one grad cell: (2, k) steps and remainders."""

    row: dict[str, Any]
    curve: np.ndarray


@dataclass
class Block:
    """Cells of one backend that broke the same way, collapsed into one block: the numeric
    failures of one case (its quantities, both dtypes), or the cells that share one error.
    The lead (rows[0]) is the worst; its numbers, reason and worst elements are shown."""

    rows: list[dict[str, Any]]
    elements: pd.DataFrame  #: the lead's worst elements
    heatmap: Heatmap | None = None  #: the first dense cell's, within the figure budget
    taylor: Taylor | None = None  #: the first grad cell's, within the figure budget

    @property
    def cases(self) -> list[str]:
        return list(dict.fromkeys(r["case"] for r in self.rows))

    @property
    def lines(self) -> list[list[dict[str, Any]]]:
        """The rows as lines, a cell with its twins in the other dtypes that broke the same
        way (same verdict, at the same element, or with the same words)."""
        out: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for r in self.rows:
            where = r["reason"] if numberless(r) else r.get("worst_index")
            out.setdefault((r["case"], r["quantity"], r["verdict"], where), []).append(r)
        return list(out.values())

    @property
    def one_error(self) -> bool:
        """Every cell an error with the same words: the lead says it all."""
        return all(numberless(r) and r["reason"] == self.rows[0]["reason"] for r in self.rows)


@dataclass
class Kind:
    """What broke: the checks that failed (with the verdict and dtypes), or the error."""

    what: str  #: "fail: VJP, JVP, Hessian in float64, float32", "error: ValueError: boom"
    verdict: str  #: the worst verdict of its cells
    blocks: list[Block] = field(default_factory=list)

    @property
    def cells(self) -> int:
        return sum(len(b.rows) for b in self.blocks)

    @property
    def cases(self) -> list[str]:
        return list(dict.fromkeys(c for b in self.blocks for c in b.cases))


@dataclass
class BackendGroup:
    """The cells of one backend (a grid column) in one section, by what broke."""

    backend: str
    kinds: list[Kind]
    counts: list[tuple[str, int]]  #: (verdict, cells), most severe first

    @property
    def cells(self) -> int:
        return sum(k.cells for k in self.kinds)

    @property
    def cases(self) -> int:
        return len({c for k in self.kinds for c in k.cases})


@dataclass
class Details:
    """The cells that are neither a pass nor skipped: unexpected ones, then declared ones."""

    cells: int = 0
    unexpected_cells: int = 0
    declared_cells: int = 0
    unexpected: list[BackendGroup] = field(default_factory=list)
    declared: list[BackendGroup] = field(default_factory=list)
    #: Whether the figure budget ran out (some cells are shown without their figures).
    capped: bool = False


class _Budget:
    def __init__(self, left: int) -> None:
        self.left = left
        self.missed = 0

    def take(self) -> bool:
        """Whether a figure is left (spending it); counts the ones refused."""
        if self.left <= 0:
            self.missed += 1
            return False
        self.left -= 1
        return True


def _rank(row: Mapping[str, Any]) -> tuple[int, int, int]:
    """Report order inside a block: worst verdict, then quantity, then dtype (float64 first)."""
    v, q, d = row["verdict"], row["quantity"], row["dtype"]
    return (SEVERITY.index(v) if v in SEVERITY else len(SEVERITY),
            QUANTITIES.index(q) if q in QUANTITIES else len(QUANTITIES),
            DTYPES.index(d) if d in DTYPES else len(DTYPES))  # fmt: skip


def _first(verdict: str) -> tuple[int, int]:
    """The order of what broke: failures, then unexpected passes, then errors (as in the
    terminal: a run of identical errors never hides a wrong number), then the others."""
    listed = GROUP_ORDER.index(verdict) if verdict in GROUP_ORDER else len(GROUP_ORDER)
    return listed, SEVERITY.index(verdict) if verdict in SEVERITY else len(SEVERITY)


def numberless(row: Mapping[str, Any]) -> bool:
    """An error (or a declared failure shown as non-finite): a reason but no numbers."""
    return not pd.notna(row.get("max_abs_err"))


def error_kind(reason: str) -> str:
    """An error's words without where it happened: ``RuntimeError: planted failure``."""
    return str(reason).split(" (at ")[0].strip()


def _what(rows: Sequence[Mapping[str, Any]]) -> str:
    """A case block's signature: per verdict, the checks that got it, and the dtypes."""
    parts = []
    for v in dict.fromkeys(r["verdict"] for r in sorted(rows, key=_rank)):
        qs = dict.fromkeys(r["quantity"] for r in sorted(rows, key=_rank) if r["verdict"] == v)
        checks = ", ".join(QUANTITY[q].title if q in QUANTITY else q for q in qs)
        parts.append(f"{VERDICT[v].label if v in VERDICT else v}: {checks}")
    dts = sorted({r["dtype"] for r in rows}, key=lambda d: DTYPES.index(d) if d in DTYPES else 9)
    return f"{'; '.join(parts)} in {', '.join(dts)}"


def _blocks(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(what broke, rows) of one backend's cells: a case's numeric cells together, errors
    together by their words across cases."""
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        key = ("error", error_kind(r["reason"])) if numberless(r) else ("case", r["case"])
        by_key.setdefault(key, []).append(r)
    out = []
    for (kind, name), g in by_key.items():
        g = sorted(g, key=_rank)
        v = g[0]["verdict"]
        said = VERDICT[v].label if v in VERDICT else v
        out.append((f"{said}: {name}" if kind == "error" else _what(g), g))
    return out


def _figures(block: Block, arrays: Mapping[ArrayKey, np.ndarray], budget: _Budget) -> None:
    dense = next((r for r in block.rows if cell_key(r) in arrays
                  and np.size(arrays[cell_key(r)]) > 1), None)  # fmt: skip
    if dense is not None and budget.take():
        err = np.asarray(arrays[cell_key(dense)])
        names = arrays.get(labels_key(dense))
        rows = cols = None
        if names is not None and err.ndim == 2 and len(names) == sum(err.shape):
            split = err.shape[0]
            rows, cols = [str(n) for n in names[:split]], [str(n) for n in names[split:]]
        block.heatmap = Heatmap(dense, err, rows, cols)
    grad = next((r for r in block.rows if r["quantity"] == "grad"
                 and (r["case"], "taylor", r["dtype"], r["backend"]) in arrays), None)  # fmt: skip
    if grad is not None and budget.take():
        curve = arrays[(grad["case"], "taylor", grad["dtype"], grad["backend"])]
        block.taylor = Taylor(grad, np.asarray(curve))


def _section(
    rows: pd.DataFrame,
    elements: Mapping[ArrayKey, pd.DataFrame],
    none: pd.DataFrame,
    arrays: Mapping[ArrayKey, np.ndarray],
    budget: _Budget,
    backends: Sequence[str],
) -> list[BackendGroup]:
    out = []
    records = rows.to_dict("records")
    for b in [*backends, *sorted({r["backend"] for r in records} - set(backends))]:
        mine = [r for r in records if r["backend"] == b]
        if not mine:
            continue
        kinds: dict[str, Kind] = {}
        for what, g in _blocks(mine):
            kind = kinds.setdefault(what, Kind(what, g[0]["verdict"]))
            kind.blocks.append(Block(g, elements.get(cell_key(g[0]), none)))
        ordered = sorted(kinds.values(), key=lambda k: (_first(k.verdict), -k.cells))
        for kind in ordered:
            kind.blocks.sort(key=lambda bl: (_rank(bl.rows[0])[0], bl.rows[0]["case"]))
            for block in kind.blocks:
                _figures(block, arrays, budget)
        verdicts = [r["verdict"] for r in mine]
        counts = [(v, verdicts.count(v)) for v in SEVERITY if v in verdicts]
        out.append(BackendGroup(b, ordered, counts))
    return out


def details(
    summary: pd.DataFrame,
    elements: pd.DataFrame,
    arrays: Mapping[ArrayKey, np.ndarray],
    backends: Sequence[str] = (),
) -> Details:
    """The cells that are not a plain pass: unexpected ones first, then declared or vacuous
    ones, each by backend (in `backends` order, others after), what broke (failures, then
    unexpected passes, then errors; then the most cells) and case; figures until MAX_FIGURES
    (MAX_DECLARED_FIGURES for the declared ones)."""
    bad = summary[~summary["verdict"].isin(UNDETAILED)]
    is_unexp = bad["verdict"].isin(UNEXPECTED)
    by_cell = {k: g for k, g in elements.groupby(["case", "quantity", "dtype", "backend"])}
    none = elements.iloc[:0]
    budget = _Budget(MAX_FIGURES)
    unexpected = _section(bad[is_unexp], by_cell, none, arrays, budget, backends)
    budget.left = min(budget.left, MAX_DECLARED_FIGURES)
    declared = _section(bad[~is_unexp], by_cell, none, arrays, budget, backends)
    return Details(
        cells=len(bad),
        unexpected_cells=int(is_unexp.sum()),
        declared_cells=int((~is_unexp).sum()),
        unexpected=unexpected,
        declared=declared,
        capped=budget.missed > 0,
    )
