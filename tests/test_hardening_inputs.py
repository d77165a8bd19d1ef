"""Every user input validated: one sentence and exit 2 for a number out of range, an empty
path, a baseline or diff file whose numbers are not numbers, a draws file that is not one; case
and family names escaped in the page (issue 14, section 5)."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.cli import main
from harness.report.html import render
from tests.test_report_html import META, synthetic_data

QUICK = ["--cases", "two_paths", "--backends", "inhouse,mp", "--dtypes", "float64",
         "--quantities", "value,grad"]  # fmt: skip


def one_sentence(capsys) -> str:
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["validate", "--seed", "-1"], "--seed -1: give a whole number, at least 0"),
        (["validate", "--cell-timeout", "inf"], "--cell-timeout inf: give a finite number of"),
        (["validate", "--cell-timeout", "nan"], "--cell-timeout nan: give a finite number of"),
        (["validate", "--cell-timeout", "-1"], "--cell-timeout -1: give a finite number of"),
        (["validate", "--random", "-1"], "--random -1: give a whole number, at least 0"),
        (["validate", "--draws", "", "--random", "1"], "--draws '': give a path"),
        (["check-backend", "inhouse", "--seed", "-3"], "--seed -3: give a whole number"),
        (["mutants", "--seed", "-1"], "--seed -1: give a whole number, at least 0"),
        (["mutants", "--cell-timeout", "inf"], "--cell-timeout inf: give a finite number"),
    ],
)
def test_a_number_out_of_range_is_one_sentence(argv, needle, capsys, tmp_path):
    out = ["--out", str(tmp_path / "out")] if argv[0] == "validate" else []
    cases = QUICK if argv[0] == "validate" else []
    assert main([*argv, *cases, *out]) == 2
    assert needle in one_sentence(capsys)
    assert not (tmp_path / "out" / "summary.csv").exists()


def test_an_empty_out_is_one_sentence_and_writes_nothing_here(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", *QUICK, "--out", ""]) == 2
    assert "--out '': give a path, e.g. --out reports" in one_sentence(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def summaries(tmp_path) -> tuple[str, str]:
    """A real summary and a copy whose max_abs_err holds a word on its first row."""
    good = tmp_path / "good"
    assert main(["validate", *QUICK, "--out", str(good)]) == 0
    s = pd.read_csv(good / "summary.csv", dtype=str, keep_default_na=False)
    s.loc[0, "max_abs_err"] = "tiny"
    bad = tmp_path / "bad.csv"
    s.to_csv(bad, index=False)
    return str(good / "summary.csv"), str(bad)


def test_a_diff_file_whose_numbers_are_words_is_one_sentence(summaries, capsys):
    good, bad = summaries
    capsys.readouterr()
    assert main(["diff", good, bad]) == 2
    assert "column max_abs_err holds 'tiny' on row 2, not a number" in one_sentence(capsys)
    assert main(["diff", good, good, "--limit", "-1"]) == 2
    assert "--limit -1: give a whole number, at least 0" in one_sentence(capsys)


def test_a_baseline_whose_numbers_are_words_is_one_sentence(summaries, capsys, tmp_path):
    _, bad = summaries
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["validate", *QUICK, "--baseline", bad, "--out", str(out)]) == 2
    assert "holds 'tiny' on row 2, not a number" in one_sentence(capsys)
    assert not (out / "summary.csv").exists()


@pytest.mark.parametrize("content", ["[]", "null", '{"x": 3}', "folder"])
@pytest.mark.parametrize("option", [["--random", "2"], ["--replay", "two_paths#r1-0123456789"]])
def test_a_draws_file_that_is_not_one_is_one_sentence(content, option, capsys, tmp_path):
    draws = tmp_path / "draws.json"
    if content == "folder":
        draws.mkdir()
    else:
        draws.write_text(content)
    out = tmp_path / "out"
    argv = ["validate", *QUICK, *option, "--draws", str(draws), "--out", str(out)]
    assert main(argv) == 2
    line = one_sentence(capsys)
    assert str(draws) in line and ("is not a draws file" in line or "cannot read" in line)
    assert not (out / "summary.csv").exists()  # refused before the run, not after it


def test_case_and_family_names_are_text_in_the_page():
    summary, elements, arrays = synthetic_data()
    evil_case, evil_family = "x<script>alert(1)</script>", 'f"><img src=x onerror=alert(2)>'
    summary["case"] = summary["case"].replace("beta", evil_case)
    summary["family"] = evil_family
    elements["case"] = elements["case"].replace("beta", evil_case)
    page = render(summary, elements, META, arrays)
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "x&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&gt;&lt;img src=x onerror=alert(2)&gt;" in page
