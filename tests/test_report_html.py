"""report.html and the terminal summary: grid, details, heatmaps, filter, offline; the report
rows carry the pytest items' ids (and JUnit XML names)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import backends as backend_registry
from harness.backends.base import Backend, Problem
from harness.report import failures
from harness.report.grid import grid_cell
from harness.report.html import COLORS, render, row_id
from harness.report.terminal import render_terminal
from harness.results import SUMMARY_COLUMNS
from harness.vocabulary import SEVERITY, UNEXPECTED, VERDICT, VERDICT_TABLE

ROOT = Path(__file__).resolve().parents[1]
META = {"version.harness": "0.1.0", "seed": 0, "dtypes": "float64", "backends": "torch,fd,sk"}


class Skewed(Backend):
    """torch with one Jacobian element and the gradient nudged, for cases with several inputs:
    their dense and grad cells fail."""

    name = "skewed"

    def __init__(self) -> None:
        self.inner = backend_registry.get("torch")

    def available(self):
        return self.inner.available()

    def compute(self, quantity: str, p: Problem):
        out = np.array(self.inner.compute(quantity, p))
        if quantity in ("jacobian", "grad") and p.n > 1:
            out.flat[-1] += 0.5
        return out


@pytest.fixture
def skewed(monkeypatch) -> str:
    monkeypatch.setitem(backend_registry.BUILTIN, "skewed", f"{__name__}:Skewed")
    return "skewed"


def _row(case, quantity, backend, verdict, err=0.0, **kw) -> dict:
    row = dict.fromkeys(SUMMARY_COLUMNS, "")
    row.update(
        case=case,
        family="fam",
        quantity=quantity,
        order=1,
        dtype="float64",
        backend=backend,
        reference="fd",
        max_abs_err=err,
        max_rel_err=err,
        tol_abs=1e-9,
        tol_rel=1e-7,
        verdict=verdict,
        blame="none",
        reference_dtype="float64",
        worst_index="x[0]",
        value_at_worst=1.0,
        reference_at_worst=1.0,
        noise_floor=0.0,
    )
    row.update(kw)
    return row


def synthetic_data() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Two cases on three backends: passes, a failing Jacobian (with its heatmap array), a
    declared failure (with a Taylor array), a skip and an error."""
    rows = [
        _row("alpha", "grad", "torch", "pass", 1e-16),
        _row("alpha", "grad", "fd", "pass", 1e-16),
        _row("alpha", "jacobian", "sk", "fail", 0.5, blame="sk", reason="alpha jacobian: 0.5"),
        _row("alpha", "grad", "sk", "expected_fail", 0.2, reason="declared | text"),
        _row("beta", "grad", "torch", "pass", 1e-15),
        _row("beta", "grad", "sk", "skipped", np.nan, reason="not installed"),
        _row("beta", "hvp", "fd", "error", np.nan, reason="ValueError: boom"),
    ]
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    elements = pd.DataFrame(
        [
            dict(
                case="alpha",
                quantity="jacobian",
                dtype="float64",
                backend="sk",
                index="out[1], x[2]",
                value=1.5,
                reference_value=1.0,
                abs_err=0.5,
                rel_err=0.5,
            )
        ]
    )
    err = np.zeros((3, 4))
    err[1, 2] = 0.5
    arrays = {
        ("alpha", "jacobian", "float64", "sk"): err,
        ("alpha", "taylor", "float64", "sk"): np.array([[1e-1, 1e-2, 1e-3], [1e-2, 1e-4, 1e-6]]),
    }
    return summary, elements, arrays


@pytest.fixture
def synthetic() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    return synthetic_data()


def _sections(page: str) -> list[str]:
    """The ids of the cells' details (a block's lead, or its other cells), in page order."""
    return re.findall(r' id="(cell-[^"]+)"', page)


def test_page_has_metadata_counts_grid_and_only_non_pass_details(synthetic):
    summary, elements, arrays = synthetic
    page = render(summary, elements, META, arrays)
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "0.1.0" in page and f"{len(summary)} cells" in page
    for v, n in summary["verdict"].value_counts().items():
        assert f"<b>{n}</b> {VERDICT[v].label}</span>" in page
    assert re.search(r'class="[^"]*row_heading[^"]*"\s*>alpha</th>', page)
    assert re.search(r'class="[^"]*row_heading[^"]*"\s*>beta</th>', page)
    for v in ("fail", "expected_fail", "error", "pass"):
        assert f"td.v-{v} {{ background-color: {COLORS[v]}; }}" in page
    ids = _sections(page)
    assert len(ids) == (~summary["verdict"].isin(["pass", "skipped"])).sum()  # no pass, no skip
    assert ids.index("cell-alpha-sk-jacobian-float64") < ids.index("cell-alpha-sk-grad-float64")
    for target in re.findall(r'href="#([^"]+)"', page):
        assert target in ids or target in ("baseline", "grid", "details")
    assert "not installed" in page  # the skipped reasons are listed


def test_dense_failures_get_a_heatmap_and_grads_a_taylor_plot(synthetic):
    summary, elements, arrays = synthetic
    page = render(summary, elements, META, arrays)
    imgs = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [a.split(" of ")[0] for a, _ in imgs] == ["heatmap", "Taylor remainder"]
    assert all(len(b) > 2000 for _, b in imgs)
    assert "alpha[sk-jacobian-float64]" in imgs[0][0] and "alpha[sk-grad-float64]" in imgs[1][0]
    without = render(summary, elements, META, {})
    assert "<img" not in without  # no data, no figure slot


def test_failures_only_filter_is_a_css_checkbox(synthetic):
    summary, elements, arrays = synthetic
    page = render(summary, elements, META, arrays)
    assert '<input type="checkbox" id="only-unexpected"' in page
    assert '<label class="filter" for="only-unexpected">' in page
    assert "#only-unexpected:checked ~ main .cell:not(.unexpected)" in page
    assert "tr:not(:has(td.unexpected))" in page
    fail_cell = re.search(r'<td[^>]*class="[^"]*v-fail[^"]*"', page).group(0)
    assert "unexpected" in fail_cell


def test_regressions_and_fixes_come_before_the_grid(synthetic):
    from harness.baseline import compare_summaries

    summary, elements, _ = synthetic
    before = summary.copy()
    before.loc[2, "verdict"] = "pass"  # alpha jacobian sk: pass -> fail
    before.loc[6, "verdict"] = "error"
    changes = compare_summaries(before, summary)
    page = render(summary, elements, META, None, changes, "base/summary.csv")
    assert page.index("1 regression(s)") < page.index('id="grid"')
    assert "alpha[sk-jacobian-float64]" in page[: page.index('id="grid"')]
    text = render_terminal(summary, Path("out/report.html"), changes, "base/summary.csv")
    assert "against baseline base/summary.csv: 1 regression(s), 0 fix(es)" in text
    assert "regression alpha[sk-jacobian-float64]: pass → fail" in text


def test_terminal_summary_counts_worst_cells_and_report_path(synthetic):
    summary, _, _ = synthetic
    text = render_terminal(summary, Path("out/report.html"))
    lines = text.splitlines()
    counts = summary["verdict"].value_counts()
    by_severity = ", ".join(f"{counts[v]} {v}" for v in SEVERITY if v in counts)
    assert lines[0] == f"{len(summary)} cells: {by_severity}"
    n = summary["verdict"].isin(UNEXPECTED).sum()
    assert lines[1] == f"unexpected ({n}), by blamed backend, failures first:"
    assert "beta[fd-hvp-float64]" in text and "alpha[sk-jacobian-float64]" in text
    assert lines[-1] == "report: out/report.html"


def test_terminal_lines_fit_the_width_and_failures_come_before_repeated_errors(synthetic):
    summary, _, _ = synthetic
    errors = pd.concat([summary.iloc[[0]].assign(
        case=f"e{i}", verdict="error", blame="sk", reason="ValueError: boom (at f, line 1)",
        max_abs_err=np.nan) for i in range(10)])  # fmt: skip
    failing = summary[summary.verdict == "fail"].assign(blame="sk")
    text = render_terminal(pd.concat([errors, failing]), None, width=80)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    first_error = next(i for i, line in enumerate(lines) if "error:" in line)
    assert all(i < first_error for i, line in enumerate(lines) if line.startswith("    fail"))
    assert sum("error: ValueError: boom" in line for line in lines) == 1  # ten, grouped
    assert "|err|" in text and "> tol" in text


RENDER = """import hashlib
from harness.report.html import render
from tests.test_report_html import META, synthetic_data
print(hashlib.sha256(render(*synthetic_data()[:2], META, synthetic_data()[2]).encode()).hexdigest())
"""


def test_rendering_is_the_same_in_processes_with_other_hash_seeds(synthetic):
    """Set and dict orders, figure bytes and the Styler's ids must not depend on the process."""
    digests = {
        subprocess.run(
            [sys.executable, "-c", RENDER],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    here = hashlib.sha256(render(synthetic[0], synthetic[1], META, synthetic[2]).encode())
    assert digests == {here.hexdigest()}


def test_every_verdict_has_a_colour_and_its_words_from_the_table():
    assert set(COLORS) == set(VERDICT)
    summary = pd.DataFrame(
        [_row(f"case_{v.name}", "grad", "torch", v.name) for v in VERDICT_TABLE],
        columns=SUMMARY_COLUMNS,
    )
    page = render(summary, summary.iloc[:0], META)
    for v in VERDICT_TABLE:
        assert f"<b>1</b> {v.label}</span>" in page
        assert re.search(rf'<td class="v-{v.name}[^"]*"[^>]*>(<a[^>]*>)?<span class="v">'
                         rf'<span class="n"><b>1 {v.short}</b></span></span>', page)  # fmt: skip
        assert f"td.v-{v.name} {{ background-color: {COLORS[v.name]}; }}" in page


def test_a_grid_cell_holds_the_worst_verdict_its_count_error_and_link():
    rows = [
        _row("a", "grad", "t", "pass", 1e-16),
        _row("a", "jvp", "t", "expected_fail", 0.25, dtype="float32"),
        _row("a", "hvp", "t", "expected_fail", 0.5),
        _row("a", "jacobian", "t", "skipped", np.nan),
    ]
    cell = grid_cell(rows)
    assert (cell.verdict, cell.hits, cell.max_err) == ("expected_fail", 2, 0.5)
    assert cell.counts == (("expected_fail", 2), ("pass", 1), ("skipped", 1))
    assert cell.target is rows[1] and not cell.unexpected
    assert grid_cell([*rows, _row("a", "value", "t", "error", np.nan)]).verdict == "error"
    assert grid_cell([rows[0], rows[3]]).target is None  # a pass and a skip: nothing to open
    assert grid_cell([]) is None


def test_figures_stop_at_the_budget_and_declared_cells_get_fewer(monkeypatch):
    monkeypatch.setattr(failures, "MAX_FIGURES", 5)
    monkeypatch.setattr(failures, "MAX_DECLARED_FIGURES", 2)
    rows = [_row(f"c{i}", "jacobian", "t", v, 1.0) for i in range(4)
            for v in ("fail", "expected_fail")]  # fmt: skip
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    arrays = {failures.cell_key(r): np.ones((2, 2)) for r in rows}

    def blocks(groups):
        return [b for g in groups for k in g.kinds for b in k.blocks]

    d = failures.details(summary, summary.iloc[:0], arrays)
    assert [b.heatmap is not None for b in blocks(d.unexpected)] == [True] * 4
    assert [b.heatmap is not None for b in blocks(d.declared)] == [True, False, False, False]
    assert d.capped and (d.unexpected_cells, d.declared_cells) == (4, 4)
    roomy = failures.details(summary.iloc[:2], summary.iloc[:0], arrays)
    assert not roomy.capped and all(b.heatmap is not None for b in blocks(roomy.unexpected))


@pytest.mark.slow
def test_validate_keeps_dense_error_arrays_for_the_heatmap(skewed, tmp_path, capsys):
    pytest.importorskip("torch")
    from harness.cli import main

    argv = [
        "validate",
        "--cases",
        "two_paths_vector",
        "--backends",
        f"torch,fd,{skewed}",
        "--dtypes",
        "float64",
        "--quantities",
        "grad,jacobian",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "unexpected (2), by blamed backend" in out
    assert f"report: {tmp_path / 'report.html'}" in out
    page = (tmp_path / "report.html").read_text()
    assert f'alt="heatmap of the per-element error of two_paths_vector[{skewed}-jacobian' in page
    meta = json.loads((tmp_path / "metadata.json").read_text())
    verdicts = pd.read_csv(tmp_path / "summary.csv")["verdict"]
    assert meta["counts"] == dict(sorted(verdicts.value_counts().items()))
    assert meta["counts"].get("fail") == 2  # grad and jacobian of the skewed backend
    assert meta["command"].startswith("python -m harness validate --cases two_paths_vector")
    for k in ("version.numpy", "version.scipy", "version.torch", "version.jax", "platform"):
        assert k in meta


def test_pytest_item_ids_and_junit_names_equal_the_report_row_ids(tmp_path):
    pytest.importorskip("torch")
    from harness.cli import main

    sel = ["--cases", "two_paths", "two_paths_vector", "--backends", "torch,fd,mp"]
    assert main(["validate", *sel, "--out", str(tmp_path)]) == 0
    rows = pd.read_csv(tmp_path / "summary.csv")
    report_ids = {row_id(r) for r in rows.to_dict("records")}

    xml = tmp_path / "junit.xml"
    opts = ["--harness-cases=two_paths,two_paths_vector", "--harness-backends=torch,fd,mp"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_registry.py",
            *opts,
            f"--junitxml={xml}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    cases = ET.parse(xml).getroot().iter("testcase")
    junit_ids = {c.get("name") for c in cases} - {"test_registry_is_not_empty"}
    assert junit_ids == report_ids


def test_cells_sharing_one_error_text_share_one_block(synthetic):
    summary, elements, arrays = synthetic
    extra = _row("beta", "jvp", "fd", "error", np.nan, reason="ValueError: boom")
    summary = pd.concat([summary, pd.DataFrame([extra])], ignore_index=True)
    page = render(summary, elements, META, arrays)
    assert page.count('<div class="reason mono">ValueError: boom</div>') == 1
    assert "jvp, hvp × float64" in page and "2 cells" in page
    assert 'id="cell-beta-fd-hvp-float64"' in page and 'id="cell-beta-fd-jvp-float64"' in page
