"""report.html's grid cells and failures section as data and as HTML: counts by verdict in a
cell, narrow columns for backends that apply to few cases, failures grouped by backend, what
broke and case (twins and repeated quantities in one block), heatmap axes named by input."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from harness import backends as backend_registry
from harness.cli import main
from harness.report import failures, plots
from harness.report.grid import grid, grid_cell, sparse_backends
from harness.report.html import render
from harness.report.merge import load_arrays
from harness.results import SUMMARY_COLUMNS
from harness.vocabulary import QUANTITY
from tests.test_report_html import META, _row


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def test_a_cell_counts_its_verdicts_and_a_skip_does_not_colour_it():
    rows = [_row("a", q, "t", "pass", 1e-16) for q in ("grad", "jvp", "hvp", "jacobian", "value")]
    rows.append(_row("a", "hessian", "t", "skipped", np.nan, reason="too big"))
    cell = grid_cell(rows)
    assert cell.verdict == "pass" and cell.counts == (("pass", 5), ("skipped", 1))
    page = render(_frame(rows), _frame(rows).iloc[:0], META)
    td = re.search(r'<td class="v-pass"[^>]*>.*?</td>', page, re.S).group(0)
    assert _text(td).startswith("5 pass · 1 skip")
    assert "of 6" not in page
    skipped = grid_cell([rows[-1]])
    assert skipped.verdict == "skipped"  # a skip colours a cell only when nothing else ran


def test_backends_that_apply_to_few_cases_get_narrow_columns():
    rows = [_row(f"c{i}", "grad", b, "pass", 1e-16) for i in range(4) for b in ("torch", "fd")]
    rows.append(_row("c0", "grad", "mp", "pass", 1e-16))  # mp: one case of four
    rows += [_row(f"c{i}", "grad", "mp", "skipped", np.nan) for i in (1, 2)]
    summary = _frame(rows)
    index, cells = grid(summary, ["torch", "fd", "mp"])
    assert sparse_backends(cells, ["torch", "fd", "mp"]) == ["mp"]
    page = render(summary, summary.iloc[:0], {**META, "backends": "torch,fd,mp"})
    assert re.findall(r'<th scope="col" class="backend( sparse)?">(\w+)</th>', page) == [
        ("", "torch"), ("", "fd"), (" sparse", "mp")]  # fmt: skip
    assert len(re.findall(r'<td class="[^"]*\bsparse\b', page)) == len(index)


def _planted_rows() -> list[dict]:
    """Backend b: grad and jvp wrong in both dtypes on two cases (one bug), hessian wrong on a
    third (another), and the same error raised on three more cases."""
    rows = []
    for case in ("c1", "c2"):
        for q in ("grad", "jvp"):
            for d in ("float64", "float32"):
                rows.append(_row(case, q, "b", "fail", 2.0, dtype=d, blame="b", worst_index="x[1]",
                                 reason=f"{case} {q}: wrong"))  # fmt: skip
    rows.append(_row("c3", "hessian", "b", "fail", 1.0, blame="b", reason="c3 hessian: wrong"))
    for i, case in enumerate(("e1", "e2", "e3")):
        rows.append(
            _row(
                case,
                "grad",
                "b",
                "error",
                np.nan,
                blame="b",
                reason=f"RuntimeError: planted failure (at bad.py, line {i})",
            )
        )
    rows += [_row(c, "grad", "torch", "pass", 1e-16) for c in ("c1", "c2", "c3", "e1")]
    return rows


def test_failures_are_grouped_by_backend_what_broke_and_case():
    summary = _frame(_planted_rows())
    d = failures.details(summary, summary.iloc[:0], {}, ["torch", "b"])
    assert [g.backend for g in d.unexpected] == ["b"]  # torch has nothing to show
    kinds = {k.what: k for k in d.unexpected[0].kinds}
    titles = [QUANTITY[q].title for q in ("grad", "jvp")]
    one_bug = kinds[f"fail: {', '.join(titles)} in float64, float32"]
    assert [b.cases for b in one_bug.blocks] == [["c1"], ["c2"]]
    c1 = one_bug.blocks[0]
    assert len(c1.rows) == 4 and [len(line) for line in c1.lines] == [2, 2]  # twins, one line
    assert kinds[f"fail: {QUANTITY['hessian'].title} in float64"].cases == ["c3"]
    error = kinds["error: RuntimeError: planted failure"]
    assert len(error.blocks) == 1 and error.blocks[0].cases == ["e1", "e2", "e3"]
    assert list(kinds)[-1] == "error: RuntimeError: planted failure"  # failures first


def test_every_failing_cell_is_a_link_target_inside_its_block():
    summary = _frame(_planted_rows())
    page = render(summary, summary.iloc[:0], {**META, "backends": "torch,b"})
    ids = re.findall(r' id="(cell-[^"]+)"', page)
    bad = summary[summary["verdict"] != "pass"]
    assert len(ids) == len(set(ids)) == len(bad)
    links = set(re.findall(r'href="#(cell-[^"]+)"', page))
    assert links <= set(ids) and len(links) == bad["case"].nunique()
    blocks = re.findall(r'<details class="cell unexpected"( open)?', page)
    assert len(blocks) == 4  # c1 and c2 (one bug), c3, the shared error
    assert blocks.count(" open") == 3  # the first block of each kind is open


def test_heatmap_ticks_name_the_input_elements():
    rows = [f"out[{i}]" for i in range(2)]
    cols = [f"W[{i},{j}]" for i in range(2) for j in range(3)]
    fig = plots.heatmap_figure(np.ones((2, 6)), 1e-3, "t", names=(rows, cols))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == cols
    assert [t.get_text() for t in ax.get_yticklabels()] == rows
    plots.png_data_uri(fig)  # closes it


@pytest.mark.slow
def test_the_judge_keeps_the_axis_names_of_a_dense_cell_for_its_heatmap(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setitem(backend_registry.BUILTIN, "skewed", "tests.test_report_html:Skewed")
    argv = [
        "validate",
        "--cases",
        "affine_tanh",
        "--backends",
        "torch,fd,skewed",
        "--dtypes",
        "float64",
        "--quantities",
        "jacobian",
        "--shard",
        "1/1",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 1
    arrays = load_arrays(tmp_path)
    err = arrays[("affine_tanh", "jacobian", "float64", "skewed")]
    names = [str(n) for n in arrays[("affine_tanh", "jacobian labels", "float64", "skewed")]]
    assert len(names) == sum(err.shape)
    outputs, inputs = names[: err.shape[0]], names[err.shape[0] :]
    assert outputs[0] == "out[0]" and "W[0,1]" in inputs
    summary = pd.read_csv(tmp_path / "summary.csv")
    d = failures.details(summary, summary.iloc[:0], arrays, ["skewed"])
    heat = d.unexpected[0].kinds[0].blocks[0].heatmap
    assert (heat.rows, heat.cols) == (outputs, inputs)
