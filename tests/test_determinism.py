"""Determinism: the same seed gives byte-identical CSVs over the whole registry; another seed
draws other inputs and probes."""

from __future__ import annotations

import numpy as np

from harness.cli import main
from harness.library import load_cases
from harness.problem import make_problem

# No framework to import and no dense matrices: the whole registry in seconds, with failures
# (the naive rule against the engine) so that elements.csv has rows too.
FAST = ["--backends", "inhouse,inhouse-naive,mp", "--quantities", "value,grad,jvp,hvp"]


def test_every_case_gives_byte_identical_csvs_for_the_same_seed(tmp_path):
    argv = ["validate", *FAST, "--seed", "3"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*argv, "--out", str(a)]) == main([*argv, "--out", str(b)])
    for f in ("summary.csv", "elements.csv"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert len((a / "summary.csv").read_text().splitlines()) > len(load_cases())
    assert len((a / "elements.csv").read_text().splitlines()) > 1


def test_another_seed_changes_every_drawn_input_and_probe():
    for case in load_cases().values():
        a, b = make_problem(case, 0, "float64"), make_problem(case, 1, "float64")
        drawn = [n for n, spec in case.inputs.items() if spec.values is None and spec.size]
        for n in drawn:
            assert not np.array_equal(a.args[n], b.args[n]), (case.name, n)
        if a.n > 1:
            assert not np.array_equal(a.tangent, b.tangent), case.name
            assert not np.array_equal(a.direction, b.direction), case.name


def test_another_seed_changes_the_summary(tmp_path):
    argv = ["validate", "--cases", "two_paths_vector", "--backends", "inhouse,fd"]
    assert main([*argv, "--seed", "0", "--out", str(tmp_path / "0")]) == 0
    assert main([*argv, "--seed", "1", "--out", str(tmp_path / "1")]) == 0
    s0, s1 = ((tmp_path / s / "summary.csv").read_text() for s in "01")
    assert s0 != s1
