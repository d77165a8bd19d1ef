"""A check run again: the runner recalls a group's judgement only for the very same outcomes
and evidence (the judge is a function of them), so a backend that answers differently the
second time is judged afresh, and the rows handed out are the caller's own."""

from __future__ import annotations

import numpy as np

from harness.backends import get
from harness.backends.inhouse import InHouse
from harness.library import load_cases
from harness.runner import Runner
from tests.rows import assert_same_rows

DTYPES = ("float64", "float32")
QUANTITIES = ("value", "grad", "jvp", "hvp")


class Drifting(InHouse):
    """The in-house engine, whose gradient is off by 1% from its second run on."""

    name = "drifting"

    def __init__(self) -> None:
        super().__init__()
        self.runs = 0

    def prepare(self, plan):
        self.runs += 1
        super().prepare(plan)

    def grad(self, p):
        g = super().grad(p)
        return g * np.asarray(1.01, dtype=g.dtype) if self.runs > 1 else g


def _verdicts(rows):
    return {(r["backend"], r["quantity"], r["dtype"]): r["verdict"] for r in rows}


def test_a_backend_that_answers_differently_the_second_time_is_judged_afresh():
    runner = Runner({"drifting": Drifting(), "fd": get("fd"), "mp": get("mp")}, seed=0)
    case = load_cases()["two_paths_vector"]
    first, _ = runner.run_case(case, DTYPES, QUANTITIES)
    again, _ = runner.run_case(case, DTYPES, QUANTITIES)
    assert _verdicts(first)[("drifting", "grad", "float64")] == "pass"
    assert _verdicts(again)[("drifting", "grad", "float64")] == "fail"
    same = {k: v for k, v in _verdicts(again).items() if k[1] != "grad"}
    assert same == {k: v for k, v in _verdicts(first).items() if k[1] != "grad"}


def test_the_same_check_again_gives_the_same_rows_each_the_callers_own():
    runner = Runner({"inhouse": get("inhouse"), "inhouse-naive": get("inhouse-naive"),
                     "fd": get("fd"), "mp": get("mp")}, seed=0)  # fmt: skip
    case = load_cases()["seed_composite"]
    first, elems = runner.run_case(case, DTYPES, QUANTITIES)
    kept = [dict(r) for r in first]
    for r in first:  # what a caller does with its rows stays with it
        r["verdict"] = "scribbled"
    elems.clear()
    again, elems_again = runner.run_case(case, DTYPES, QUANTITIES)
    assert_same_rows(again, kept)
    assert elems_again  # the naive rule fails: its worst elements are listed again
    fresh, fresh_elems = Runner(dict(runner.backends), seed=0).run_case(case, DTYPES, QUANTITIES)
    assert_same_rows(again, fresh)
    assert_same_rows(elems_again, fresh_elems)
