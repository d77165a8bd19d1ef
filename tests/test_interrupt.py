"""Nothing half-written: a run stopped by SIGINT or SIGTERM keeps the previous reports or writes a
complete set for the cases it finished (said so in metadata.json), never a temporary file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import backends as backend_registry
from harness.backends.base import Backend, Problem
from harness.interrupt import Interrupted, SignalGuard

ROOT = Path(__file__).resolve().parents[1]
# Sorted by name, the order the runner takes them in.
CASES = ["two_paths", "two_paths_reduced", "two_paths_vector"]
# The subprocess: the blocking backend registered, then the command line as usual.
SCRIPT = (
    "import sys; from harness import backends; "
    "backends.BUILTIN['blocking'] = 'tests.test_interrupt:Blocking'; "
    "from harness.cli import main; sys.exit(main(sys.argv[1:]))"
)


class Blocking(Backend):
    """The in-house engine, except that it announces itself and blocks on the case named in
    $BLOCK_AT: the signal is sent while that case runs, so the cases before it are finished."""

    name = "blocking"

    def __init__(self) -> None:
        self.inner = backend_registry.get("inhouse")

    def compute(self, quantity: str, p: Problem) -> np.ndarray:
        if p.fn.__name__ == os.environ.get("BLOCK_AT"):
            print("blocking", file=sys.stderr, flush=True)
            time.sleep(30)  # the signal's handler raises out of the sleep
        return self.inner.compute(quantity, p)


def run_until_blocked(out: Path, block_at: str, signum: int) -> tuple[int, str, str]:
    argv = ["validate", "--cases", *CASES, "--backends", "inhouse,blocking", "--dtypes",
            "float64", "--quantities", "value,grad", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "BLOCK_AT": block_at, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, *argv], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    seen = []
    while (line := proc.stderr.readline()) and "blocking" not in line:
        seen.append(line)
    assert line, f"the run ended without blocking: {''.join(seen)}"
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stdout, "".join(seen) + stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_writes_the_cases_it_finished_and_says_so(tmp_path, signum):
    name = signal.Signals(signum).name
    rc, stdout, stderr = run_until_blocked(tmp_path, "two_paths_vector", signum)
    assert rc == 128 + signum, stderr
    assert "Traceback" not in stderr
    assert f"interrupted by {name} after 2 of 3 cases" in stdout
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert meta["complete"] is False and meta["interrupted_by"] == name
    assert meta["cases_finished"] == 2
    s = pd.read_csv(tmp_path / "summary.csv")
    assert set(s.case) == {"two_paths", "two_paths_reduced"}
    assert len(s) == 2 * 2 * 2 and set(s.verdict) == {"pass"}  # cases x quantities x backends
    assert "two_paths_reduced" in (tmp_path / "report.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "causes.csv", "elements.csv", "metadata.json", "report.html", "summary.csv",
    ]  # fmt: skip


def test_an_interrupt_before_any_case_finished_leaves_the_previous_reports(tmp_path):
    previous = {f: f"previous {f}\n" for f in ("summary.csv", "metadata.json")}
    for f, text in previous.items():
        (tmp_path / f).write_text(text)
    rc, _, stderr = run_until_blocked(tmp_path, "two_paths", signal.SIGTERM)
    assert rc == 128 + signal.SIGTERM and "Traceback" not in stderr
    assert "before any case finished" in stderr
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == previous


def test_a_signal_while_reports_are_written_waits_until_they_are_all_written():
    with SignalGuard() as guard, pytest.raises(Interrupted) as stop, guard.deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        written = True  # reached: the signal is held back inside the block
    assert written and stop.value.signame == "SIGTERM" and stop.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is not guard._handle  # handlers restored
