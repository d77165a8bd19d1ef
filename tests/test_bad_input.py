"""Bad input: a user's mistake is one sentence and exit 2; a case at fault is an `error` verdict on
its own cells with the reason; never a traceback. (tests/test_cli.py has the unknown names.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness import registry
from harness.cli import main
from harness.registry import Case, fixed, scalar

QUICK = ["--backends", "inhouse,fd", "--dtypes", "float64", "--quantities", "value,grad,hvp"]


def one_sentence(capsys) -> str:
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    assert len(out.err.strip().splitlines()) == 1, out.err
    return out.err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["validate", "--family", "no_such_family"], "no case matches the filters given"),
        (["validate", "--tag", "no_such_tag"], "no case matches the filters given"),
        (["validate", "--cases", "two_paths", "--family", "softmax"], "no case matches"),
        (["list", "--cases", "nope*"], "no case matches --cases nope*"),
    ],
)
def test_an_empty_selection_is_a_usage_error(argv, needle, capsys, tmp_path):
    out = ["--out", str(tmp_path)] if argv[0] == "validate" else []
    assert main([*argv, *out]) == 2
    assert needle in one_sentence(capsys)


def test_cases_that_declare_none_of_the_chosen_dtypes_are_an_empty_selection(
    monkeypatch, capsys, tmp_path
):
    only64 = Case(name="only_float64", fn=lambda xp, x: xp.sin(x), family="bad",
                  inputs={"x": scalar()}, doc="sin x.", dtypes=("float64",))  # fmt: skip
    monkeypatch.setitem(registry._REGISTRY, only64.name, only64)
    argv = ["validate", "--cases", only64.name, "--dtypes", "float32", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "nothing to run" in one_sentence(capsys)


def test_an_out_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    taken = tmp_path / "reports"
    taken.write_text("not a folder")
    assert main(["validate", "--cases", "two_paths", "--out", str(taken)]) == 2
    assert "cannot write reports to" in one_sentence(capsys)
    assert taken.read_text() == "not a folder"


def test_a_malformed_option_value_exits_2_without_a_traceback(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["validate", "--seed", "zero"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "invalid int value: 'zero'" in err and "Traceback" not in err


def _raises(xp, x):
    raise ValueError("a bug inside the case")


# name -> (fn, input spec, text the reason must contain)
FAULTY_CASES = {
    "returns_none": (lambda xp, x: None, scalar(), "of type NoneType, not an array"),
    "returns_str": (lambda xp, x: "x", scalar(), "of type str, not an array"),
    "returns_list": (lambda xp, x: [x, x], scalar(), "of type list, not an array"),
    "returns_int": (lambda xp, x: 3, scalar(), "of type int, not an array"),
    "returns_bool": (lambda xp, x: x > 0, scalar(), "returned bool values"),
    "raises": (_raises, scalar(), "ValueError: a bug inside the case"),
    "log_outside_domain": (lambda xp, x: xp.log(x), fixed(-1.0), "is nan at out for its inputs"),
    "sqrt_at_zero": (lambda xp, x: xp.sqrt(x), fixed(0.0), "not differentiable at its inputs"),
}


@pytest.mark.parametrize("name", list(FAULTY_CASES))
def test_a_faulty_case_is_an_error_in_its_own_cells_only(name, monkeypatch, capsys, tmp_path):
    fn, spec, text = FAULTY_CASES[name]
    bad = Case(name=name, fn=fn, family="bad", inputs={"x": spec}, doc="a case at fault.")
    monkeypatch.setitem(registry._REGISTRY, name, bad)
    with np.errstate(all="ignore"):
        rc = main(["validate", "--cases", name, "two_paths", *QUICK, "--out", str(tmp_path)])
    assert rc == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    s = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False)
    mine = s[s.case == name]
    derivatives = mine[mine.quantity != "value"] if name == "sqrt_at_zero" else mine
    assert len(derivatives) and set(derivatives.verdict) == {"error"}
    assert all(text in r for r in derivatives.reason), list(derivatives.reason)
    assert set(s[s.case == "two_paths"].verdict) == {"pass"}
