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

# Oracles without a framework to import: fd, and mp (mpmath at 50 digits) on every case.
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


#: What a mutant that breaks the engine's code, rather than planting its bug, raises.
BROKEN_CODE = (NameError, SyntaxError, UnboundLocalError, ImportError)


@pytest.fixture(scope="module")
def real_derivatives():
    """The real engine's grad, jvp, hvp and d3 of each registry case, computed when first
    asked."""
    be, cases = inhouse.InHouse(), [c for c in load_cases().values() if "large" not in c.tags]
    problems = [make_problem(c, 0, "float64") for c in cases]
    memo: dict = {}

    def real(i: int, q: str):
        if (i, q) not in memo:
            memo[i, q] = be.compute(q, problems[i])
        return memo[i, q]

    return be, cases, problems, real


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_plants_a_bug_rather_than_crashing(mutant, real_derivatives):
    """On the registry's cases, in the order they come, the mutated engine never raises what
    broken code raises, and some case's derivatives change (the bug is reached)."""
    be, cases, problems, real = real_derivatives
    with installed(mutant) as mutated:
        for i, case in enumerate(cases):
            for q in ("grad", "jvp", "hvp", "d3"):
                inhouse.engine = real_engine
                want = real(i, q)
                inhouse.engine = mutated
                try:
                    got = be.compute(q, problems[i])
                except BROKEN_CODE as e:
                    pytest.fail(f"{mutant.name} crashes on {case.name} {q}: {e!r}")
                except Exception:
                    return  # a fault of the planted bug (a wrong shape, say): it is reached
                if np.shape(got) != np.shape(want) or not np.array_equal(got, want):
                    return
    pytest.fail(f"{mutant.name} changes no grad, jvp, hvp or d3 of any case")


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
    # `=` for `+=` breaks every case that uses a value twice: all four here, two_paths among
    # them (mp votes on each; the line names three killers and counts the others)
    assert " 4: " in lines["accumulate_overwrites"]
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
