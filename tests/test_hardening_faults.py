"""A backend's fault stays in its cells: a result that is no array, SystemExit or
KeyboardInterrupt from a backend call, a constructor, available(), applies() or prepare() that
raises; in a supervised worker process (the default for plugins) and in this one (issue 14,
section 3)."""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import backends as backend_registry
from harness.backends.base import Backend, Problem
from harness.cli import main
from harness.library import load_cases
from harness.runner import Runner

# A plugin whose fault is chosen by $FAULT when each method runs.
PLUGIN = """
    import os, sys
    from harness.backends.inhouse import InHouse

    def fault():
        return os.environ.get("FAULT", "")

    class Unconvertible:
        def __array__(self, *args, **kw):
            raise RuntimeError("no array here")

    class Faulty(InHouse):
        name = "faulty"

        def __init__(self):
            if fault() == "init":
                raise RuntimeError("no engine")
            super().__init__()

        def available(self):
            if fault() == "available":
                raise RuntimeError("cannot tell")
            return super().available()

        def applies(self, case, quantity, dtype):
            if fault() == "applies":
                raise ValueError("which cells?")
            return super().applies(case, quantity, dtype)

        def prepare(self, plan):
            if fault() == "prepare":
                raise RuntimeError("compile failed")

        def compute(self, quantity, p):
            out = super().compute(quantity, p)
            if quantity != "grad":
                return out
            if fault() == "ragged":
                return [[1.0], [1.0, 2.0]]
            if fault() == "requires_grad":
                import torch
                return torch.ones(out.shape, dtype=torch.float64, requires_grad=True)
            if fault() == "unconvertible":
                return Unconvertible()
            if fault() == "text":
                return ["a"] * len(out)
            if fault() == "exit":
                sys.exit(3)
            if fault() == "keyboard":
                raise KeyboardInterrupt
            return out
"""
MODES = {"isolated": [], "in-process": ["--no-isolation"]}
OTHERS = "inhouse,fd,mp"


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("plugin") / "faulty.py"
    path.write_text(textwrap.dedent(PLUGIN))
    return str(path)


def run(plugin: str, out: Path, fault: str, mode: str, monkeypatch) -> pd.DataFrame:
    """validate on two cases with the faulty plugin beside OTHERS; the summary."""
    monkeypatch.setenv("FAULT", fault)
    argv = ["validate", "--cases", "two_paths", "softmax_1d", "--backends", f"{OTHERS},faulty",
            "--backend-module", plugin, "--dtypes", "float64", "--quantities", "value,grad",
            "--out", str(out), *MODES[mode]]  # fmt: skip
    assert main(argv) == 1
    for f in ("summary.csv", "elements.csv", "report.html", "metadata.json"):
        assert (out / f).stat().st_size > 0
    return pd.read_csv(out / "summary.csv", keep_default_na=False)


def assert_others_pass(s: pd.DataFrame) -> None:
    others = s[s.backend != "faulty"]
    assert len(others) and set(others.verdict) == {"pass"}, others[["backend", "reason"]]


RESULTS = {
    "ragged": "ValueError: setting an array element with a sequence",
    "requires_grad": "Can't call numpy() on Tensor that requires grad",
    "unconvertible": "RuntimeError: no array here (at __array__",
    "text": "returned <U1 values, not numbers",
    "exit": "SystemExit: 3 (at compute",
    "keyboard": "KeyboardInterrupt (at compute",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", RESULTS)
def test_a_bad_result_or_an_exit_is_an_error_in_that_cell_only(
    plugin, tmp_path, monkeypatch, fault, mode
):
    s = run(plugin, tmp_path, fault, mode, monkeypatch)
    mine = s[s.backend == "faulty"]
    grads, values = mine[mine.quantity == "grad"], mine[mine.quantity == "value"]
    assert len(grads) == 2 and set(grads.verdict) == {"error"}
    assert all(RESULTS[fault] in r for r in grads.reason), list(grads.reason)
    assert set(values.verdict) == {"pass"}  # the same backend's other cells go on
    assert_others_pass(s)


STARTS = {
    "init": "faulty could not start: RuntimeError: no engine (at __init__",
    "available": "faulty.available() raised RuntimeError: cannot tell (at available",
    "applies": "faulty.applies() raised ValueError: which cells? (at applies",
    "prepare": "faulty.prepare() raised RuntimeError: compile failed (at prepare",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", STARTS)
def test_a_backend_that_cannot_start_is_an_error_in_its_own_cells(
    plugin, tmp_path, monkeypatch, fault, mode
):
    s = run(plugin, tmp_path, fault, mode, monkeypatch)
    mine = s[s.backend == "faulty"]
    assert len(mine) == 4 and set(mine.verdict) == {"error"} and set(mine.blame) == {"faulty"}
    assert all(STARTS[fault] in r for r in mine.reason), list(mine.reason)
    assert_others_pass(s)


class Interrupting(Backend):
    """The in-house engine, except that grad raises KeyboardInterrupt itself ("raise") or
    sends this process a real SIGINT ("signal")."""

    name = "interrupting"
    how = "raise"

    def __init__(self) -> None:
        self.inner = backend_registry.get("inhouse")

    def compute(self, quantity: str, p: Problem) -> np.ndarray:
        if quantity == "grad" and self.how == "raise":
            raise KeyboardInterrupt
        if quantity == "grad":
            os.kill(os.getpid(), signal.SIGINT)
        return self.inner.compute(quantity, p)


def test_outside_the_command_a_real_ctrl_c_still_stops_the_run(monkeypatch):
    monkeypatch.setitem(backend_registry.BUILTIN, "interrupting", f"{__name__}:Interrupting")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a plain script
    try:
        runner = Runner(["inhouse", "interrupting"])
        case = [load_cases()["two_paths"]]
        s = runner.run(case, ["float64"], ["value", "grad"]).summary
        own = s[(s.backend == "interrupting") & (s.quantity == "grad")]
        assert list(own.verdict) == ["error"] and "KeyboardInterrupt" in own.reason.iloc[0]
        monkeypatch.setattr(Interrupting, "how", "signal")
        with pytest.raises(KeyboardInterrupt):
            runner.run(case, ["float64"], ["value", "grad"])
    finally:
        signal.signal(signal.SIGINT, previous)
