"""Plugin backends run in supervised worker processes: one that dies, hangs in native code,
changes global state or is interrupted costs only its own cells (issue 14, section 3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from harness import backends as backend_registry
from harness.backends import Supervised
from harness.cli import main
from harness.runner import Runner

ROOT = Path(__file__).resolve().parents[1]
# Faults only the worker process survives, chosen by $FAULT; on grad of the case $AT.
PLUGIN = """
    import os, signal, sys, time
    from harness.backends.inhouse import InHouse

    class Rogue(InHouse):
        name = "rogue"

        def compute(self, quantity, p):
            fault = os.environ.get("FAULT", "")
            if quantity == "grad" and p.fn.__name__ == os.environ.get("AT", p.fn.__name__):
                if fault == "exit":
                    os._exit(7)
                if fault == "segfault":
                    import ctypes
                    ctypes.string_at(0)
                if fault == "native_hang":  # no signal reaches it: SIGALRM blocked, as in C
                    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM, signal.SIGTERM])
                    time.sleep(60)
                if fault == "block":
                    print(f"blocking {os.getpid()}", file=sys.stderr, flush=True)
                    time.sleep(60)
            if fault == "global_state":
                import jax, torch
                jax.config.update("jax_enable_x64", False)
                torch.set_default_dtype(torch.float16)
                os.chdir(os.environ["ELSEWHERE"])
            return super().compute(quantity, p)
"""
QUICK = ["--dtypes", "float64", "--quantities", "value,grad"]


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("plugin") / "rogue.py"
    path.write_text(textwrap.dedent(PLUGIN))
    return str(path)


def validate(plugin: str, out: Path, *argv: str, backends: str = "inhouse,fd,rogue") -> int:
    return main(["validate", "--backends", backends, "--backend-module", plugin, *QUICK,
                 "--out", str(out), *argv])  # fmt: skip


def summary(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "summary.csv", keep_default_na=False)


def test_only_plugins_are_supervised(plugin):
    backend_registry.load_module(plugin)
    runner = Runner(["inhouse", "fd", "rogue"])
    try:
        assert [isinstance(b, Supervised) for b in runner.backends.values()] == [False, False, True]
        assert not isinstance(Runner(["rogue"], isolate=False).backends["rogue"], Supervised)
    finally:
        runner.backends["rogue"].close()


@pytest.mark.parametrize(
    ("fault", "text"),
    [
        ("exit", "its worker process died (exit status 7)"),
        ("segfault", "its worker process died (killed by SIGSEGV)"),
    ],
)
def test_a_backend_that_dies_is_an_error_in_that_cell_and_the_run_goes_on(
    plugin, tmp_path, monkeypatch, fault, text
):
    monkeypatch.setenv("FAULT", fault)
    monkeypatch.setenv("AT", "two_paths")
    assert validate(plugin, tmp_path, "--cases", "two_paths", "softmax_1d") == 1
    s = summary(tmp_path)
    mine = s[s.backend == "rogue"].set_index(["case", "quantity"]).verdict.to_dict()
    assert mine == {("softmax_1d", "grad"): "pass", ("softmax_1d", "value"): "pass",
                    ("two_paths", "grad"): "error", ("two_paths", "value"): "pass"}  # fmt: skip
    assert text in s[(s.backend == "rogue") & (s.verdict == "error")].reason.iloc[0]
    assert set(s[s.backend != "rogue"].verdict) == {"pass"}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_hang_in_native_code_is_killed_at_the_cell_timeout(plugin, tmp_path, monkeypatch, jobs):
    monkeypatch.setenv("FAULT", "native_hang")
    monkeypatch.setenv("AT", "two_paths")
    argv = ["--cases", "two_paths", "softmax_1d", "--cell-timeout", "0.5", "--jobs", jobs]
    assert validate(plugin, tmp_path, *argv) == 1
    s = summary(tmp_path)
    bad = s[s.verdict == "error"]
    assert bad[["case", "backend", "quantity"]].values.tolist() == [["two_paths", "rogue", "grad"]]
    assert bad.reason.iloc[0] == "hung in native code for 0.5 s; killed"
    assert len(s[s.verdict == "pass"]) == len(s) - 1


def test_global_state_a_plugin_changes_stays_in_its_process(plugin, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    cases = ["--cases", "two_paths", "softmax_1d", "--quantities", "value,grad,hvp", "--dtypes",
             "float64,float32"]  # fmt: skip
    frameworks = "inhouse,torch,jax,fd"
    assert main(["validate", "--backends", frameworks, *cases, "--out", "clean"]) == 0
    monkeypatch.setenv("FAULT", "global_state")
    monkeypatch.setenv("ELSEWHERE", str(tmp_path / "elsewhere"))
    argv = ["validate", "--backends", f"{frameworks},rogue", "--backend-module", plugin, *cases,
            "--out", "reports"]  # fmt: skip
    assert main(argv) == 0
    assert Path.cwd() == tmp_path and not list((tmp_path / "elsewhere").iterdir())
    s, clean = summary(tmp_path / "reports"), summary(tmp_path / "clean")
    key = ["case", "quantity", "dtype", "backend", "verdict", "max_abs_err"]
    others = s[s.backend != "rogue"].reset_index(drop=True)
    assert others[key].equals(clean[key])
    assert set(s.verdict) == {"pass"}


def test_without_isolation_the_reports_still_go_where_out_said(plugin, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("ELSEWHERE", str(tmp_path / "elsewhere"))
    chdir_only = plugin.replace("rogue.py", "wanderer.py")
    Path(chdir_only).write_text(textwrap.dedent("""
        import os
        from harness.backends.inhouse import InHouse

        class Wanderer(InHouse):
            name = "wanderer"

            def compute(self, quantity, p):
                os.chdir(os.environ["ELSEWHERE"])
                return super().compute(quantity, p)
    """))  # fmt: skip
    argv = ["--cases", "two_paths", "--no-isolation"]
    assert validate(chdir_only, Path("reports"), *argv, backends="inhouse,wanderer") == 0
    assert (tmp_path / "reports" / "summary.csv").exists()
    assert not list((tmp_path / "elsewhere").iterdir())


def test_a_real_ctrl_c_stops_a_supervised_run_and_its_worker(plugin, tmp_path):
    argv = ["validate", "--cases", "two_paths", "two_paths_vector", "--backends", "inhouse,rogue",
            "--backend-module", plugin, *QUICK, "--out", str(tmp_path)]  # fmt: skip
    env = {**os.environ, "FAULT": "block", "AT": "two_paths_vector", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "harness", *argv], cwd=ROOT, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    while (line := proc.stderr.readline()) and not line.startswith("blocking"):
        pass
    assert line, "the run ended without blocking"
    worker = int(line.split()[1])
    proc.send_signal(signal.SIGINT)  # as the terminal does, to the whole foreground group
    os.kill(worker, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert meta["complete"] is False and meta["cases_finished"] == 1
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)  # the worker was stopped with the run
