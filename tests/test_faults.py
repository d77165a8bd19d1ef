"""Fault isolation: a backend that raises, returns the wrong shape or dtype, returns NaN or inf
where the reference is finite, or hangs, gets `error` in its own cells only; every other cell
completes and the reports are written."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from harness import backends as backend_registry
from harness.cli import main
from harness.execute import run_cell
from harness.interrupt import CellTimeout, call_with_timeout
from harness.library import load_cases
from harness.problem import make_problem
from tests.conftest import Planted

CASES = ["two_paths", "softmax_1d"]
OTHERS = "inhouse,fd,mp"
# A hang is cut at this many seconds; small, so the test stays quick.
LIMIT = 0.3


@pytest.mark.parametrize(
    ("mode", "text"),
    [
        ("raise", "RuntimeError: planted failure"),
        ("shape", "returned shape"),
        ("nan", "non-finite nan"),
        ("inf", "non-finite inf"),
        ("dtype", "silent cast"),
        ("hang", f"timed out after {LIMIT:g} s"),
    ],
)
def test_each_fault_is_an_error_in_its_own_cells_and_the_reports_are_written(
    planted, mode, text, tmp_path
):
    name = planted(mode, inner="inhouse")
    argv = ["validate", "--cases", *CASES, "--dtypes", "float64", "--quantities", "value,grad",
            "--cell-timeout", str(LIMIT)]  # fmt: skip
    assert main([*argv, "--backends", OTHERS, "--out", str(tmp_path / "clean")]) == 0
    assert main([*argv, "--backends", f"{OTHERS},{name}", "--out", str(tmp_path)]) == 1
    s = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False)
    clean = pd.read_csv(tmp_path / "clean" / "summary.csv", keep_default_na=False)
    mine = s[s.backend == name]
    assert len(mine) == 4 and set(mine.verdict) == {"error"}
    assert all(text in r for r in mine.reason), list(mine.reason)
    others = s[s.backend != name].reset_index(drop=True)
    key = ["case", "quantity", "dtype", "backend", "verdict"]
    assert set(others.verdict) == {"pass"} and others[key].equals(clean[key])
    for f in ("summary.csv", "elements.csv", "report.html", "metadata.json"):
        assert (tmp_path / f).stat().st_size > 0
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_hang_is_an_error_at_its_limit_and_leaves_no_timer_behind(planted):
    planted("hang", inner="inhouse")
    p = make_problem(load_cases()["two_paths"], 0, "float64")
    hang = Planted()
    out = run_cell(hang, "grad", p, timeout=LIMIT)
    assert out.status == "error" and "timed out" in out.reason
    assert out.seconds == pytest.approx(LIMIT)
    assert run_cell(backend_registry.get("inhouse"), "grad", p, timeout=LIMIT).ok  # timer gone


def test_off_the_main_thread_a_hang_is_abandoned_in_a_daemon_thread():
    release = threading.Event()
    box = {}

    def worker():
        try:
            call_with_timeout(release.wait, LIMIT, 30)
        except CellTimeout as e:
            box["error"] = e
        box["value"] = call_with_timeout(lambda: 42, LIMIT)

    t = threading.Thread(target=worker)
    t.start()
    t.join(10)
    release.set()  # lets the abandoned call end, so the test leaves no thread behind
    assert isinstance(box.get("error"), CellTimeout) and box["value"] == 42


def test_a_call_within_its_limit_returns_its_value_and_errors_pass_through():
    assert call_with_timeout(sum, 5, [1, 2]) == 3
    assert call_with_timeout(sum, None, [1, 2]) == 3
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 5)


def test_a_backend_whose_framework_is_missing_is_skipped_with_the_install_command(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    # A fresh interpreter where importing torch or jax fails as if neither were installed (a
    # finder, not sys.modules[...] = None: libraries probe sys.modules for torch).
    script = "\n".join([
        "import sys",
        "class Uninstalled:",
        "    def find_spec(self, name, path=None, target=None):",
        "        if name.partition('.')[0] in ('torch', 'jax', 'jaxlib'):",
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)",
        "sys.meta_path.insert(0, Uninstalled())",
        "from harness.cli import main",
        "sys.exit(main(sys.argv[1:]))",
    ])  # fmt: skip
    argv = ["validate", "--cases", "two_paths", "--backends", "inhouse,torch,jax,fd", "--dtypes",
            "float64", "--quantities", "value,grad", "--allow-missing",
            "--out", str(tmp_path)]  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script, *argv], cwd=root, text=True,
                          capture_output=True, timeout=300)  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    s = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False)
    for name in ("torch", "jax"):
        rows = s[s.backend == name]
        assert len(rows) == 2 and set(rows.verdict) == {"skipped"}
        assert all(f"{name} is not installed" in r and "pip install" in r for r in rows.reason)
    assert set(s[s.backend.isin(["inhouse", "fd"])].verdict) == {"pass"}
