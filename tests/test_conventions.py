"""A plugin backend declares its own convention (an expected discrepancy) without editing a case."""

import pandas as pd
import pytest

from harness.backends import plugins
from harness.cli import main


@pytest.fixture(autouse=True)
def no_file_backends(monkeypatch):
    """Each test loads its own plugin file: forget the backends earlier files registered."""
    monkeypatch.setattr(plugins, "_FROM_FILES", {})


PLUGIN = '''
import numpy as np

from harness import expect
from harness.backends import Backend, get


class FirstArgmax(Backend):
    """The in-house engine, but max sends the whole gradient to the first argmax at a tie."""

    name = "first-argmax"

    def __init__(self):
        self.inner = get("inhouse")

    def value(self, p):
        return self.inner.compute("value", p)

    def grad(self, p):
        g = self.inner.compute("grad", p)
        if p.case is not None and p.case.name == "ties_split_evenly":
            g = g * np.asarray(2.0, dtype=g.dtype)  # a stand-in for the one-hot convention
        return g

    def expectation(self, case, quantity, dtype):
        if case.name == "ties_split_evenly" and quantity == "grad" and {CLAIM}:
            return expect(self.name, quantity, "max sends the whole gradient to the first argmax")
        return None
'''


def run(tmp_path, claim):
    (tmp_path / "plugin.py").write_text(PLUGIN.replace("{CLAIM}", claim))
    code = main([
        "validate", "--backend-module", str(tmp_path / "plugin.py"), "--cases", "ties_split_evenly",
        "--backends", "first-argmax,torch,fd", "--quantities", "value,grad", "--dtypes", "float64",
        "--out", str(tmp_path / "rep"),
    ])  # fmt: skip
    s = pd.read_csv(tmp_path / "rep" / "summary.csv", keep_default_na=False)
    return code, s[(s.backend == "first-argmax") & (s.quantity == "grad")].iloc[0]


def test_a_declared_convention_is_an_expected_fail_with_its_reason(tmp_path):
    code, row = run(tmp_path, "True")
    assert code == 0 and row.verdict == "expected_fail" and row.blame == "first-argmax"
    assert row.reason.startswith("max sends the whole gradient to the first argmax")


def test_without_the_declaration_the_same_cell_fails(tmp_path):
    code, row = run(tmp_path, "False")
    assert code == 1 and row.verdict == "fail" and row.blame == "first-argmax"
