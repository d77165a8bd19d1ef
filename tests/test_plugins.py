"""Backends from outside the harness: entry points, --backend-module files, check-backend, the
HIPS autograd worked example, and the docs' example run exactly as the docs show it."""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from harness import backends as backend_registry
from harness.backends import Backend, origin, plugins
from harness.cli import main
from harness.library import select
from harness.vocabulary import ORDER, VOCABULARY

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "your-own-framework.md"
EXAMPLE = ROOT / "examples" / "dual_backend.py"

needs_autograd = pytest.mark.skipif(
    backend_registry.get("autograd").available() is not None, reason="autograd is not installed"
)

# A plugin file of the kind a user writes: the autograd backend with a planted sign flip.
SIGN_FLIP = """
from harness.backends import get

Autograd = type(get("autograd"))


class SignFlipped(Autograd):
    name = "autograd-signflip"

    def grad(self, p):
        return -super().grad(p)
"""

# A namespace without `sin` (every seed case uses it), and no second order.
NO_SIN = """
import numpy as np

from harness.backends import Backend
from harness.namespace import NumpyNamespace


def _missing(self):
    raise AttributeError("sin")


class NoSin(NumpyNamespace):
    sin = property(_missing)


class NoSinBackend(Backend):
    name = "nosin"

    def value(self, p):
        return np.asarray(p.call(NoSin(p.dtype), p.args))

    def grad(self, p):
        return np.zeros(p.n, p.dtype)
"""


@pytest.fixture(autouse=True)
def no_file_backends(monkeypatch):
    """Each test starts with no --backend-module backends registered, and leaves none."""
    monkeypatch.setattr(plugins, "_FROM_FILES", {})


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# -- registration --------------------------------------------------------------------------------
def test_autograd_is_found_through_its_entry_point():
    eps = importlib.metadata.entry_points(group=plugins.ENTRY_POINT_GROUP)
    assert "autograd" in {ep.name for ep in eps}
    assert "autograd" not in backend_registry.BUILTIN  # found the way a third party's is
    assert "autograd" in backend_registry.names()
    assert type(backend_registry.get("autograd")).__name__ == "Autograd"
    assert origin("autograd") == "entry point harness.backends.autograd_backend:Autograd"


class ThirdParty(Backend):
    """What an installed package's entry point would load."""

    name = "third-party"


def _entry_point(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name, value, plugins.ENTRY_POINT_GROUP)


def test_a_third_party_entry_point_is_discovered(monkeypatch):
    ep = _entry_point("third-party", "tests.test_plugins:ThirdParty")
    monkeypatch.setattr(plugins, "_entry_points", lambda: {"third-party": ep})
    assert "third-party" in backend_registry.names()
    assert isinstance(backend_registry.get("third-party"), ThirdParty)
    assert origin("third-party") == "entry point tests.test_plugins:ThirdParty"


def test_an_entry_point_must_be_named_as_its_backend(monkeypatch):
    ep = _entry_point("other", "tests.test_plugins:ThirdParty")
    monkeypatch.setattr(plugins, "_entry_points", lambda: {"other": ep})
    with pytest.raises(plugins.PluginLoadError, match="names must match"):
        backend_registry.get("other")


def test_a_broken_entry_point_becomes_an_import_error(monkeypatch):
    ep = _entry_point("gone", "no_such_pkg.mod:Gone")
    monkeypatch.setattr(plugins, "_entry_points", lambda: {"gone": ep})
    with pytest.raises(ImportError, match="no_such_pkg"):  # the runner reports it as skipped
        backend_registry.get("gone")


def test_backend_module_registers_each_backend_it_defines(tmp_path):
    path = write(tmp_path, "flip.py", SIGN_FLIP)
    assert plugins.load_module(path, taken=backend_registry.BUILTIN) == ["autograd-signflip"]
    assert plugins.load_module(path) == ["autograd-signflip"]  # loading twice is harmless
    assert "autograd-signflip" in backend_registry.names()
    assert type(backend_registry.get("autograd-signflip")).__name__ == "SignFlipped"
    assert origin("autograd-signflip") == f"file {path}"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("x = 1\n", "defines no Backend subclass with a name"),
        ("import no_such_module\n", "failed to import: ModuleNotFoundError"),
        (
            "from harness.backends import Backend\nclass T(Backend):\n    name = 'torch'\n",
            "backend name 'torch' from",
        ),
        (
            "from harness.backends import Backend\nclass T(Backend):\n    name = 'a,b'\n",
            "has name 'a,b'; use letters",
        ),
    ],
)
def test_bad_backend_modules_are_one_sentence(tmp_path, capsys, text, needle):
    path = write(tmp_path, "bad.py", text)
    argv = ["validate", "--backend-module", str(path), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_missing_backend_module_file(tmp_path, capsys):
    assert main(["check-backend", "--backend-module", str(tmp_path / "nope.py")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["validate", "check-backend"])
def test_unknown_backend_lists_every_valid_choice(tmp_path, capsys, command):
    path = write(tmp_path, "flip.py", SIGN_FLIP)
    argv = [command, "--backend-module", str(path)]
    argv += (
        ["--backends", "tensorflow", "--out", str(tmp_path)] if command == "validate" else ["tf"]
    )
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: unknown backend")
    for name in ("inhouse", "torch", "jax", "fd", "mp", "autograd", "autograd-signflip"):
        assert name in err


# -- check-backend -------------------------------------------------------------------------------
@needs_autograd
def test_check_backend_complete_exits_0(capsys):
    assert main(["check-backend", "autograd", "--tag", "seed", "--dtypes", "float64"]) == 0
    out = capsys.readouterr().out
    n = len(select(tags=["seed"]))
    assert "backend autograd (entry point" in out
    assert f"namespace: {len(VOCABULARY)}/{len(VOCABULARY)} vocabulary functions" in out
    assert f"cases: {n} of {n} run in full, 0 in part, 0 not at all" in out
    assert out.rstrip().splitlines()[-1].startswith("complete:")


def test_check_backend_lists_what_is_lacking_and_exits_1(tmp_path, capsys):
    path = write(tmp_path, "nosin.py", NO_SIN)
    argv = ["check-backend", "--backend-module", str(path), "--cases", "two_paths", "softmax_1d"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    n = len(VOCABULARY)
    assert f"namespace: {n - 1}/{n} vocabulary functions; lacks sin" in out
    assert "lacks jvp, hvp, jacobian, hessian, d3 on every case" in out
    assert "cases (apart from jvp, hvp, jacobian, hessian, d3): 1 of 2 run in full" in out
    assert "  two_paths: needs sin; error value: AttributeError: sin" in out
    assert "softmax_1d:" not in out  # it runs everything the backend provides
    assert out.rstrip().splitlines()[-1].startswith("incomplete:")


# -- the worked example --------------------------------------------------------------------------
@needs_autograd
def test_autograd_passes_the_seed_cases_at_first_and_second_order(tmp_path):
    argv = ["validate", "--backends", "autograd,torch,fd,mp", "--tag", "seed"]
    main([*argv, "--dtypes", "float64", "--out", str(tmp_path)])
    s = pd.read_csv(tmp_path / "summary.csv")
    mine = s[s["backend"] == "autograd"]
    assert set(mine["order"]) == set(ORDER.values())
    assert (mine["verdict"] == "pass").all(), mine[mine["verdict"] != "pass"]["reason"].tolist()


@needs_autograd
def test_a_planted_bug_in_a_plugin_is_blamed_on_it(tmp_path):
    path = write(tmp_path, "flip.py", SIGN_FLIP)
    out = tmp_path / "out"
    argv = ["validate", "--backend-module", str(path), "--cases", "two_paths", "softmax_1d"]
    argv += ["--backends", "autograd-signflip,autograd,torch,fd,mp", "--dtypes", "float64"]
    assert main([*argv, "--quantities", "value,grad", "--out", str(out)]) == 1
    s = pd.read_csv(out / "summary.csv", keep_default_na=False)
    flipped = s[s["backend"] == "autograd-signflip"].set_index(["case", "quantity"])
    for case in ("two_paths", "softmax_1d"):
        row = flipped.loc[(case, "grad")]
        assert row["verdict"] == "fail" and row["blame"] == "autograd-signflip"
        assert row["reason"].startswith(f"{case} VJP, order 1, float64")
        assert row["reason"].endswith("blame autograd-signflip")
        assert flipped.loc[(case, "value"), "verdict"] == "pass"
    others = s[(s["backend"] != "autograd-signflip") & (s["quantity"] == "grad")]
    assert (others["verdict"] == "pass").all()


@needs_autograd
def test_the_pytest_option_loads_a_backend_module(tmp_path):
    path = write(tmp_path, "flip.py", SIGN_FLIP)
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "tests" / "test_registry.py"), "-q"]
    cmd += ["-p", "no:cacheprovider", "-n", "0", "--harness-backend-module", str(path)]
    cmd += ["--harness-backends", "autograd-signflip,autograd,fd", "--harness-cases", "two_paths"]
    cmd += ["--harness-dtypes", "float64", "-k", "grad"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED" in r.stdout and "two_paths[autograd-signflip-grad-float64]" in r.stdout
    assert "blame autograd-signflip" in r.stdout
    # its flipped VJP also fails the dot-product test against its own JVP, with no oracle
    assert "two_paths[autograd-signflip-adjoint-float64]" in r.stdout
    assert "2 failed" in r.stdout


def test_the_pytest_option_rejects_unknown_backends_in_one_sentence(tmp_path):
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "tests" / "test_registry.py"), "-q"]
    cmd += ["-p", "no:cacheprovider", "-n", "0", "--harness-backends", "torch,nope"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 4  # pytest's usage error
    assert "unknown backend 'nope'; valid choices: inhouse" in r.stderr


# -- the docs, copied as written -----------------------------------------------------------------
def _doc_commands() -> list[str]:
    """The `.venv/bin/python -m harness ...` commands of the docs' numbered steps."""
    steps = DOC.read_text().split("## The worked example")[0]
    blocks = re.findall(r"```sh\n(.*?)```", steps, re.S)
    lines = [b.replace("\\\n", " ") for b in blocks]
    return [ln for b in lines for ln in b.splitlines() if ln.startswith(".venv/bin/python -m")]


def test_the_docs_show_the_example_file_verbatim():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert blocks == [EXAMPLE.read_text()]


def test_the_docs_example_works_when_copied_as_written(tmp_path):
    """The file copied from the docs into examples/, then each command as the docs write it
    (only the interpreter's path is this one), from a folder holding just that and the
    registry's test module."""
    (tmp_path / "examples").mkdir()
    (tmp_path / "tests").mkdir()
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[0]
    (tmp_path / "examples" / "dual_backend.py").write_text(code)
    registry_tests = (ROOT / "tests" / "test_registry.py").read_text()
    (tmp_path / "tests" / "test_registry.py").write_text(registry_tests)
    commands = _doc_commands()
    heads = [" ".join(c.split()[1:4]) for c in commands]
    assert heads == [
        "-m harness check-backend",
        "-m harness validate",
        "-m pytest tests/test_registry.py",
    ]
    runs = []
    for command in commands:
        argv = [sys.executable, *shlex.split(command)[1:]]
        runs.append(subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300))
        assert runs[-1].returncode in (0, 1), runs[-1].stdout + runs[-1].stderr
    check, _, under_pytest = (r.stdout for r in runs)
    assert check.startswith("backend dual (file examples/dual_backend.py)")
    assert "lacks hvp, hessian, d3 on every case" in check and runs[0].returncode == 1
    s = pd.read_csv(tmp_path / "reports-dual" / "summary.csv")
    dual = s[s["backend"] == "dual"]
    assert (dual["verdict"] == "pass").any()
    assert not dual["verdict"].isin(["fail", "error"]).any(), dual[["case", "reason"]]
    assert set(dual.loc[dual["quantity"] == "hvp", "verdict"]) == {"skipped"}
    assert "passed" in under_pytest and "[dual-" not in under_pytest  # no dual item failed
