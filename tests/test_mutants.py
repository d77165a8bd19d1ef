"""Mutation testing: every planted bug applies in memory (never to the source tree), a handful are
killed by the cases meant for them, and a survivor fails the run."""

from __future__ import annotations

import hashlib
import os
import sys

import numpy as np
import pytest

from harness import engine as real_engine
from harness.backends import inhouse
from harness.cli import main
from harness.library import load_cases
from harness.mutants import MUTANTS, Mutant, StaleMutant, engine_sources, installed
from harness.mutants.apply import SOURCE_DIR
from harness.problem import make_problem

# Oracles without a framework to import: fd for first order, mp for scalar cases.
FAST = ["--backends", "inhouse,fd,mp", "--clean-seeds", "1"]


def tree_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(SOURCE_DIR.glob("*.py")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def copies_loaded() -> list[str]:
    return [m for m in sys.modules if m.startswith("_harness_engine_copy_")]


def test_there_are_at_least_30_mutants_with_distinct_names_and_a_description():
    assert len(MUTANTS) >= 30
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    assert all(m.what and m.old != m.new for m in MUTANTS)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_applies_once_and_its_engine_imports(mutant):
    before = tree_digest()
    with installed(mutant) as engine:
        assert inhouse.engine is engine and engine is not real_engine
        assert engine.Node is not real_engine.Node  # a whole copy, not a patched original
    assert inhouse.engine is real_engine and not copies_loaded()
    assert tree_digest() == before


def test_an_unmutated_copy_computes_exactly_what_the_engine_does():
    be = inhouse.InHouse()
    for name in ("two_paths", "softmax_batched_axis1", "matmul_broadcast_batch", "variance"):
        p = make_problem(load_cases()[name], 0, "float64")
        real = {q: be.compute(q, p) for q in ("grad", "jvp", "hvp")}
        with installed(None):
            for q, value in real.items():
                assert np.array_equal(be.compute(q, p), value), (name, q)


def test_a_mutant_whose_text_is_gone_is_stale():
    gone = Mutant("gone", "primitives", "no such text", "x", "nothing")
    with pytest.raises(StaleMutant, match="occurs 0 times"):
        engine_sources(gone)


def test_a_handful_of_mutants_are_killed_by_the_cases_written_for_them(capsys):
    argv = ["mutants", "--only", "softmax_vjp_no_h", "accumulate_overwrites",
            "naive_second_order", "sum_to_leading_axes_only", "--cases", "softmax_1d",
            "two_paths", "seed_composite", "broadcast_column_scale", *FAST]  # fmt: skip
    before = tree_digest()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("killed 4/4")
    assert "no alarm" in out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.split()}
    assert "softmax_1d" in lines["softmax_vjp_no_h"]
    # every case given reuses a value (two_paths the plainest): all four kill it, and the line
    # names the first three of them
    assert (
        "4: broadcast_column_scale, seed_composite, softmax_1d, +1"
        in lines["accumulate_overwrites"]
    )
    assert "seed_composite" in lines["naive_second_order"]
    assert "broadcast_column_scale" in lines["sum_to_leading_axes_only"]
    assert tree_digest() == before and inhouse.engine is real_engine and not copies_loaded()


def test_a_surviving_mutant_fails_the_run_and_is_named(capsys):
    argv = ["mutants", "--only", "transpose_vjp_not_inverted", "--cases", "two_paths", *FAST]
    assert main(argv) == 1
    out = capsys.readouterr()
    assert "SURVIVED" in out.out and out.out.strip().endswith("killed 0/1")
    assert "transpose_vjp_not_inverted" in out.err


def test_an_unknown_mutant_is_a_usage_error(capsys):
    assert main(["mutants", "--only", "no_such_mutant"]) == 2
    assert "no mutant matches" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("HARNESS_MUTANTS_FULL"),
    reason="minutes long: set HARNESS_MUTANTS_FULL=1, or run python -m harness mutants",
)
def test_the_full_mutant_run_kills_every_mutant_with_no_false_alarm(capsys):
    assert main(["mutants"]) == 0, capsys.readouterr().out
