"""Generated inputs: draws inside the domain, kinks avoided, a planted fault found by a draw,
shrunk, stored under an id, and replayed by that id to fail again."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from harness import backends as backend_registry
from harness import generate
from harness.backends.base import Backend, Problem
from harness.cli import main
from harness.library import load_cases
from harness.results import SUMMARY_COLUMNS
from harness.runner import Runner

pytest.importorskip("torch")
pytest_plugins = ["pytester"]

CASES = load_cases()
THRESHOLD = 1.0


class RegionFault(Backend):
    """torch, but its gradient is 1.5 times too large wherever an input exceeds THRESHOLD:
    invisible at most seeded inputs, found by generated ones."""

    name = "region"

    def __init__(self) -> None:
        self.inner = backend_registry.get("torch")

    def available(self):
        return self.inner.available()

    def compute(self, quantity: str, p: Problem):
        out = np.asarray(self.inner.compute(quantity, p))
        if quantity == "grad" and np.any(p.flatten(p.args) > THRESHOLD):
            return (1.5 * out).astype(p.dtype)
        return out


#: The backends and cells these tests run: cheap, and enough to blame the planted fault.
ONLY = ["--backends", "torch,fd,mp,region", "--dtypes", "float64", "--quantities", "grad"]


@pytest.fixture
def region(monkeypatch):
    monkeypatch.setitem(backend_registry.BUILTIN, "region", "tests.test_generate:RegionFault")
    return ["torch", "fd", "mp", "region"]


@settings(max_examples=25, deadline=None)
@given(generate.case_strategy(CASES["pow_both_inputs"]))
def test_draws_are_inside_the_domain_and_exact_in_float32(inputs):
    for name, spec in CASES["pow_both_inputs"].inputs.items():
        a = inputs[name]
        assert a.dtype == np.float64 and a.shape == spec.shape
        assert np.all((a >= spec.low) & (a <= spec.high))
        assert np.array_equal(a.astype(np.float32).astype(np.float64), a)


@settings(max_examples=10, deadline=None)
@given(generate.case_strategy(CASES["cross_entropy_batch"]))
def test_labels_are_drawn_as_integers_in_range(draw):
    assert draw["y"].dtype.kind == "i" and np.all((draw["y"] >= 0) & (draw["y"] < 3))


def test_cases_with_fixed_inputs_only_are_not_drawn():
    assert not generate.drawable(CASES["relu_at_zero"])
    ex = generate.explore(Runner(["fd"]), CASES["relu_at_zero"], 5, ["float64"], ["grad"])
    assert ex.tried == 0 and ex.draw is None


def test_draws_near_a_kink_are_recognised():
    case = CASES["max_rows"]
    tie = {"x": np.array([[1.0, 1.0, 0.0, 0.0], [0.5, 0.0, 0.0, 0.0], [0.0, 2.0, 1.0, 0.0]])}
    assert generate.near_kink(case, tie) == ["max"]
    apart = {"x": np.array([[1.0, 0.5, 0.0, 0.0], [0.5, 0.0, 0.0, 0.0], [0.0, 2.0, 1.0, 0.0]])}
    assert generate.near_kink(case, apart) == []
    assert generate.near_kink(CASES["relu_at_zero"], CASES["relu_at_zero"].draw(0)) == ["relu"]


def test_ids_are_stable_and_name_the_case_and_the_inputs():
    a = {"x": np.array(0.5)}
    assert generate.draw_id("two_paths", 3, 0, a) == generate.draw_id("two_paths", 3, 0, a)
    assert generate.draw_id("two_paths", 3, 0, a).startswith("two_paths#r3-")
    assert generate.draw_id("two_paths", 3, 0, a) != generate.draw_id("two_paths", 3, 1, a)
    assert generate.draw_id("two_paths", 3, 0, a) != generate.draw_id(
        "two_paths", 3, 0, {"x": np.array(0.25)}
    )


def test_a_correct_backend_survives_its_draws():
    runner = Runner(["torch", "fd", "mp"])
    ex = generate.explore(runner, CASES["two_paths"], 8, ["float64"], ["grad"], seed=0)
    assert ex.draw is None and ex.tried == 8


def test_a_planted_fault_is_found_shrunk_and_replayed_by_its_id(region, tmp_path):
    case = CASES["two_paths"]
    runner = Runner(region)
    ex = generate.explore(runner, case, 30, ["float64"], ["grad"], seed=0)
    assert ex.draw is not None, "30 draws in [-2, 2] never went above 1"
    x = float(ex.draw.inputs["x"])
    assert THRESHOLD < x <= 2.0
    assert ex.draw.id.startswith("two_paths#r")
    bad = [r for r in ex.rows if r["verdict"] == "fail"]
    assert [(r["backend"], r["quantity"]) for r in bad] == [("region", "grad")]
    again = generate.explore(Runner(region), case, 30, ["float64"], ["grad"], seed=0)
    assert again.draw is not None and again.draw.id == ex.draw.id  # deterministic per seed

    draws = tmp_path / "draws.json"
    generate.save_draws([ex.draw], draws)
    assert json.loads(draws.read_text())[ex.draw.id]["inputs"]["x"] == x
    out = tmp_path / "replay"
    args = ["validate", "--replay", ex.draw.id, "--draws", str(draws), "--out", str(out), *ONLY]
    assert main(args) == 1
    s = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert list(s.columns) == [*SUMMARY_COLUMNS, "draw"]
    assert set(s["draw"]) == {ex.draw.id}
    row = s[(s.backend == "region") & (s.quantity == "grad")].iloc[0]
    assert row["verdict"] == "fail" and row["blame"] == "region"


def test_validate_random_reports_the_failing_draw_and_keeps_base_rows(region, tmp_path):
    out = tmp_path / "rand"
    args = ["validate", "--cases", "two_paths", "--random", "20", "--out", str(out), *ONLY]
    assert main(args) == 1
    s = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert s.columns[-1] == "draw"
    base, drawn = s[s["draw"] == ""], s[s["draw"] != ""]
    assert len(base) == len(region) and len(drawn) == len(region)
    (draw_id,) = set(drawn["draw"])
    stored = generate.load_draws(out / "draws.json")
    assert draw_id in stored
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["draws"] == [draw_id] and meta["random"] == 20


def test_the_default_run_has_no_draw_column(tmp_path):
    out = tmp_path / "plain"
    args = ["validate", "--cases", "two_paths", "--out", str(out), "--backends", "torch,fd",
            "--dtypes", "float64", "--quantities", "grad"]  # fmt: skip
    assert main(args) == 0
    s = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert "draw" not in s.columns and not (out / "draws.json").exists()


def test_an_unknown_replay_id_is_a_usage_error(tmp_path, capsys):
    args = ["validate", "--replay", "two_paths#r0-0000000000", "--out", str(tmp_path)]
    assert main(args) == 2
    assert "no draw two_paths#r0-0000000000" in capsys.readouterr().err


def test_the_pytest_option_adds_a_random_item_that_names_the_replay(region, pytester):
    pytester.makepyfile(test_registry_draws="")
    res = pytester.runpytest_inprocess(
        "-o", "harness_registry=test_registry_draws.py", "-p", "no:xdist", "-p", "no:randomly",
        "--harness-cases", "two_paths",
        "--harness-backends", ",".join(region), "--harness-dtypes", "float64",
        "--harness-random", "20", "-k", "random",
    )  # fmt: skip
    res.assert_outcomes(failed=1)
    text = res.stdout.str()
    assert "two_paths[random-20]" in text and "--replay 'two_paths#r" in text
    assert "fail two_paths[region-grad-float64]" in text


def test_inputs_reach_the_case_in_its_argument_order_not_the_drawn_dicts():
    case = CASES["affine_tanh"]  # W, x, b: not alphabetical
    ex = generate.explore(Runner(["torch", "fd"]), case, 3, ["float64"], ["value"], seed=1)
    assert ex.tried == 3 and ex.draw is None
