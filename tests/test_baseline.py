"""Baselines: regressions and fixes between two summaries, `diff A B`, `validate --baseline`."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest

from harness.baseline import (
    KINDS,
    BaselineError,
    compare_summaries,
    read_summary,
    restrict,
)
from harness.cli import main
from harness.report.csv import write_csv
from harness.results import SUMMARY_COLUMNS
from harness.vocabulary import VERDICT, VERDICT_TABLE

ROOT = Path(__file__).resolve().parents[1]


def frame(*cells: tuple) -> pd.DataFrame:
    """Summary rows from (case, backend, verdict, max_abs_err) tuples; tol_abs is 1e-9."""
    rows = [
        dict.fromkeys(SUMMARY_COLUMNS, "")
        | dict(
            case=c,
            family="f",
            quantity="grad",
            order=1,
            dtype="float64",
            backend=b,
            verdict=v,
            max_abs_err=e,
            tol_abs=1e-9,
            tol_rel=1e-7,
        )
        for c, b, v, e in cells
    ]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def changes_of(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, tuple[str, str]]:
    ch = compare_summaries(before, after)
    return {f"{r.case}/{r.backend}": (r.change, r.why) for r in ch.itertuples()}


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("pass", "fail", "regression"),
        ("pass", "error", "regression"),
        ("pass", "unexpected_pass", "regression"),
        ("pass", "expected_fail", "regression"),
        ("expected_fail", "fail", "regression"),
        ("unexpected_pass", "fail", "regression"),
        ("fail", "pass", "fix"),
        ("error", "expected_fail", "fix"),
        ("unexpected_pass", "pass", "fix"),
        ("fail", "error", "changed"),
        ("pass", "skipped", "changed"),
        ("skipped", "fail", "changed"),
    ],
)
def test_verdict_order_decides_regressions_and_fixes(old, new, kind):
    got = changes_of(frame(("a", "t", old, 0.0)), frame(("a", "t", new, 0.0)))
    assert got == {"a/t": (kind, f"{old} → {new}")}


@pytest.mark.parametrize(
    ("old", "new"), list(itertools.permutations([v.name for v in VERDICT_TABLE], 2))
)
def test_every_verdict_of_the_table_is_ranked_by_its_rank(old, new):
    """Up the vocabulary's rank: a regression; down: a fix; level, or to or from a cell that
    was not measured (skipped): a change that is not judged."""
    got = changes_of(frame(("a", "t", old, 0.0)), frame(("a", "t", new, 0.0)))
    up, down = VERDICT[new].rank > VERDICT[old].rank, VERDICT[new].rank < VERDICT[old].rank
    kind = "regression" if up else "fix" if down else "changed"
    if "skipped" in (old, new):
        kind = "changed"
    assert got == {"a/t": (kind, f"{old} → {new}")}


def test_an_error_growing_past_its_tolerance_is_a_regression_and_back_a_fix():
    before = frame(("a", "t", "pass", 1e-10), ("b", "t", "pass", 5e-9), ("c", "t", "pass", 1e-12))
    after = frame(("a", "t", "pass", 5e-9), ("b", "t", "pass", 1e-10), ("c", "t", "pass", 5e-10))
    got = changes_of(before, after)
    assert got["a/t"][0] == "regression" and "past tol_abs 1e-09" in got["a/t"][1]
    assert got["b/t"][0] == "fix" and "within tol_abs" in got["b/t"][1]
    assert "c/t" not in got  # grew, but stays within its tolerance


def test_unchanged_cells_are_not_listed_and_new_or_gone_cells_are():
    before = frame(("a", "t", "pass", 0.0), ("gone", "t", "pass", 0.0))
    after = frame(("a", "t", "pass", 0.0), ("new", "t", "fail", 1.0))
    assert changes_of(before, after) == {
        "new/t": ("added", "new cell"),
        "gone/t": ("removed", "cell no longer run"),
    }


def test_changes_are_sorted_regressions_first():
    before = frame(("a", "t", "fail", 1.0), ("b", "t", "pass", 0.0), ("c", "t", "fail", 1.0))
    after = frame(("a", "t", "pass", 0.0), ("b", "t", "fail", 1.0), ("d", "t", "pass", 0.0))
    ch = compare_summaries(before, after)
    assert list(ch["change"]) == ["regression", "fix", "added", "removed"]
    assert list(ch["change"]) == sorted(ch["change"], key=KINDS.index)


def test_restrict_keeps_only_the_new_runs_selection():
    base = frame(("a", "t", "pass", 0.0), ("a", "jax", "pass", 0.0), ("z", "t", "pass", 0.0))
    run = frame(("a", "t", "pass", 0.0))
    assert list(zip(*[restrict(base, run)[k] for k in ("case", "backend")], strict=True)) == [
        ("a", "t")
    ]


def test_read_summary_rejects_missing_and_foreign_files(tmp_path):
    with pytest.raises(BaselineError, match="no such file"):
        read_summary(tmp_path / "nope.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(BaselineError, match="missing columns: case"):
        read_summary(tmp_path / "other.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(BaselineError):
        read_summary(tmp_path / "bin.csv")


def test_diff_exits_1_when_b_regressed_0_otherwise_2_when_unreadable(tmp_path, capsys):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_csv(frame(("x", "t", "pass", 0.0), ("y", "t", "fail", 1.0)), a)
    write_csv(frame(("x", "t", "fail", 1.0), ("y", "t", "pass", 0.0)), b)
    assert main(["diff", str(a), str(a)]) == 0
    assert "no changes" in capsys.readouterr().out
    assert main(["diff", str(b), str(a)]) == 1
    out = capsys.readouterr().out
    assert "regression x[t-grad-float64]: pass → fail" not in out  # B is the newer one
    assert "regression y[t-grad-float64]: pass → fail" in out
    assert "fix        x[t-grad-float64]: fail → pass" in out
    assert main(["diff", str(a), str(b)]) == 1
    assert main(["diff", str(a), str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "missing.csv" in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_committed_baseline_is_a_readable_summary():
    path = ROOT / "reports" / "baseline" / "summary.csv"
    if not path.exists():
        pytest.skip("no committed baseline yet (make baseline)")
    base = read_summary(path)
    assert list(base.columns[:14]) == SUMMARY_COLUMNS[:14]
    assert not base.duplicated(["case", "quantity", "dtype", "backend"]).any()


def test_validate_with_a_missing_baseline_is_a_usage_error(tmp_path, capsys):
    argv = ["validate", "--cases", "two_paths", "--baseline", str(tmp_path / "no.csv")]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "make baseline" in err
    assert not (tmp_path / "out" / "summary.csv").exists()


def test_validate_reports_regressions_against_a_baseline(planted, tmp_path, capsys):
    pytest.importorskip("torch")
    name = planted("sign")  # its grad fails
    sel = ["--cases", "two_paths", "--backends", f"torch,fd,{name}", "--dtypes", "float64"]
    assert main(["validate", *sel, "--out", str(tmp_path / "a")]) == 1
    base = pd.read_csv(tmp_path / "a" / "summary.csv")
    # Pretend the planted grad used to pass and torch's grad used to fail.
    base.loc[(base.backend == name) & (base.quantity == "grad"), "verdict"] = "pass"
    base.loc[(base.backend == "torch") & (base.quantity == "grad"), "verdict"] = "fail"
    write_csv(base, tmp_path / "base.csv")
    capsys.readouterr()
    argv = [*sel, "--baseline", str(tmp_path / "base.csv"), "--out", str(tmp_path / "b")]
    assert main(["validate", *argv]) == 1
    out = capsys.readouterr().out
    assert f"against baseline {tmp_path / 'base.csv'}: 1 regression(s), 1 fix(es)" in out
    assert f"regression two_paths[{name}-grad-float64]: pass → fail" in out
    assert "fix        two_paths[torch-grad-float64]: fail → pass" in out
    page = (tmp_path / "b" / "report.html").read_text()
    top = page[: page.index('id="grid"')]
    assert "1 regression(s)" in top and f"two_paths[{name}-grad-float64]" in top
