"""The harness used from a user's own project: a folder that is not this repository, holding its
own `cases/` package, its own `tests/test_registry.py`, a case module and tests of its own."""

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from harness.backends import DEFAULT

pytest.importorskip("torch")

MYCASES = '''
from harness import array, case


@case(family="mine", inputs={"w": array(3, 2), "x": array(2)})
def my_affine_tanh(xp, w, x):
    """y = tanh(w @ x)."""
    return xp.tanh(w @ x)
'''
THEIR_REGISTRY_TEST = """
def test_their_own_registry():
    assert 1 + 1 == 2
"""
THEIR_CHECKS = """
import pytest
import torch

import harness


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * g * x * x


class CubeWrong(Cube):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * g * x * x.abs()  # wrong for negative inputs only


X = [0.4, -0.9, 1.3]


@pytest.mark.slow
def test_right(harness_check):
    harness_check(Cube.apply, torch.tensor(X, dtype=torch.float64, requires_grad=True))


def test_wrong_is_caught():
    where = r"of CubeWrong failed(.|\\n)*x0\\[1\\] \\(input -0.9\\)"
    with pytest.raises(harness.CheckError, match=where):
        harness.check(CubeWrong.apply, torch.tensor(X, dtype=torch.float64, requires_grad=True))


def test_wrong_with_the_fixture(harness_check):
    harness_check(CubeWrong.apply, torch.tensor(X, dtype=torch.float64, requires_grad=True))
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "__init__.py").write_text("")
    (tmp_path / "cases" / "theirs.py").write_text("VALUE = 1\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_registry.py").write_text(THEIR_REGISTRY_TEST)
    (tmp_path / "tests" / "test_checks.py").write_text(textwrap.dedent(THEIR_CHECKS))
    (tmp_path / "mycases.py").write_text(MYCASES)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: theirs\n")
    return tmp_path


def run(project, *argv):
    return subprocess.run([sys.executable, *argv], cwd=project, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def test_list_shows_the_registry_beside_their_cases_package(project):
    out = run(project, "-m", "harness", "list", "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert "two_paths" in set(pd.read_csv(pd.io.common.StringIO(out.stdout))["name"])


def test_their_case_module_runs_on_every_backend(project):
    out = run(project, "-m", "harness", "validate", "--case-module", "mycases.py",
              "--cases", "my_affine_tanh", "--out", "rep")  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    s = pd.read_csv(project / "rep" / "summary.csv")
    assert set(s.case) == {"my_affine_tanh"}
    assert set(s.backend) >= {"inhouse", "torch", "jax", "fd"} and set(s.backend) <= set(DEFAULT)
    assert not s.verdict.isin(["fail", "error", "unexpected_pass"]).any()


def test_a_case_name_taken_twice_is_one_sentence_naming_both_places(project):
    (project / "clash.py").write_text(MYCASES.replace("my_affine_tanh", "two_paths"))
    out = run(project, "-m", "harness", "list", "--case-module", "clash.py")
    assert out.returncode == 2
    line = out.stderr.strip()
    assert "\n" not in line and "clash.py" in line and "chain_rule.py" in line, line


def test_a_case_module_that_fails_to_import_is_one_sentence(project):
    (project / "broken.py").write_text("import not_a_module_anywhere\n")
    out = run(project, "-m", "harness", "list", "--case-module", "broken.py")
    assert out.returncode == 2 and "broken.py failed to import" in out.stderr
    assert "Traceback" not in out.stderr


def test_their_suite_runs_clean_under_strict_markers_with_junit_properties(project):
    out = run(project, "-m", "pytest", "--strict-markers", "-q", "-p", "no:cacheprovider",
              "--junitxml", "junit.xml", "tests")  # fmt: skip
    assert "1 failed, 3 passed" in out.stdout, out.stdout + out.stderr
    assert "test_wrong_with_the_fixture" in out.stdout and "CheckError" in out.stdout
    cases = {c.get("name"): c for c in ET.parse(project / "junit.xml").iter("testcase")}
    assert set(cases) == {"test_their_own_registry", "test_right", "test_wrong_is_caught",
                          "test_wrong_with_the_fixture"}  # fmt: skip
    props = {p.get("name"): p.get("value") for p in cases["test_wrong_with_the_fixture"].iter(
        "property")}  # fmt: skip
    assert props["harness_blame"] == "fn" and int(props["harness_unexpected"]) > 0
    assert float(props["harness_max_abs_err"]) > float(props["harness_tol_abs"])


@pytest.mark.parametrize(
    ("option", "text"),
    [(["--harness-cases", "no_such_case*"], "matches no case"),
     (["--harness-dtypes", "float8"], "unknown --harness-dtypes")],
)  # fmt: skip
def test_a_registry_selection_that_tests_nothing_is_a_usage_error(project, option, text):
    out = run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", *option)
    assert out.returncode == 4 and text in out.stderr + out.stdout


def test_their_cases_become_registry_items_in_the_file_they_name(project):
    (project / "tests" / "test_harness_cells.py").write_text("")
    out = run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers",
              "tests/test_harness_cells.py", "-o", "harness_registry=tests/test_harness_cells.py",
              "--harness-case-module", "mycases.py", "--harness-cases", "my_affine_tanh",
              "--harness-backends", "inhouse,fd", "--harness-dtypes", "float64", "-rA")  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "my_affine_tanh[inhouse-grad-float64]" in out.stdout
