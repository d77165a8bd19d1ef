"""Parallel, sharded and distributed runs write the same CSVs as one serial run."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.executors import parse_shard, select_shard, shard_index
from harness.library import load_cases

CSVS = ("summary.csv", "elements.csv")
# No framework and no dense matrices: the whole registry in seconds, with elements rows too.
FAST = ["--backends", "inhouse,inhouse-naive,mp", "--quantities", "value,grad,jvp,hvp"]
# A few cases on every default backend, frameworks included (jax compiles, fd, torch).
FEW = ["--cases", "two_paths", "softmax_batched_axis0", "seed_composite"]


def run(tmp: Path, name: str, *argv: str) -> Path:
    out = tmp / name
    assert main(["validate", *argv, "--out", str(out)]) in (0, 1)
    return out


def assert_same_csvs(a: Path, b: Path) -> None:
    for f in CSVS:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_jobs_write_byte_identical_csvs(tmp_path):
    serial = run(tmp_path, "serial", *FEW)
    parallel = run(tmp_path, "jobs", *FEW, "--jobs", "2")
    assert_same_csvs(serial, parallel)
    assert len((serial / "summary.csv").read_text().splitlines()) > 100


def test_shards_partition_the_registry_stably():
    names = list(load_cases())
    shards = [select_shard(list(load_cases().values()), k, 3) for k in (1, 2, 3)]
    assert sorted(c.name for s in shards for c in s) == sorted(names)
    assert shard_index("two_paths", 3) == 544074204 % 3  # crc32 of the name: fixed forever
    assert [c.name for c in shards[0]] == [n for n in names if shard_index(n, 3) == 0]


def test_merged_shards_equal_the_unsharded_csvs(tmp_path, capsys):
    whole = run(tmp_path, "whole", *FAST)
    parts = [run(tmp_path, f"s{k}", *FAST, "--shard", f"{k}/3") for k in (1, 2, 3)]
    merged = tmp_path / "merged"
    assert main(["merge", *map(str, parts), "--out", str(merged)]) == 0
    assert_same_csvs(whole, merged)
    assert (merged / "report.html").exists()
    assert "wrote" in capsys.readouterr().out


def test_merge_refuses_shards_of_different_runs(tmp_path, capsys):
    a = run(tmp_path, "a", *FAST, "--cases", "two_paths", "--seed", "0")
    b = run(tmp_path, "b", *FAST, "--cases", "softmax_1d", "--seed", "1")
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "m")]) == 2
    assert "differ in seed" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")]) == 2


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--shard", "0/2"], "K must be between 1 and N"),
        (["--shard", "two"], "expected K/N"),
        (["--jobs", "0"], "at least 1"),
        (["--address", "ray://x:10001"], "add --executor ray"),
        (["--jobs", "2", "--random", "2"], "run in one process"),
    ],
)
def test_usage_errors(argv, needle, tmp_path, capsys):
    assert main(["validate", *FAST, *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_parse_shard():
    assert parse_shard("2/4") == (2, 4)


@pytest.fixture
def ray_head(tmp_path_factory, monkeypatch):
    """A local Ray head on loopback, as `ray start --head` starts one on a cluster's first
    machine (token authentication, a temporary folder of its own), in a process group of its
    own that is stopped at teardown; yields its address. CI never skips it."""
    if importlib.util.find_spec("ray") is None:
        if os.environ.get("CI"):
            pytest.fail("ray is not installed: `make test` installs '.[ray]'")
        pytest.skip("ray is not installed: pip install -e '.[ray]'")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths are bounded
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(16))
    cmd = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
           "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
           "--include-dashboard=false", "--disable-usage-stats",
           f"--temp-dir={folder}"]  # fmt: skip
    log = tmp_path_factory.mktemp("ray") / "head.log"
    with log.open("w") as out:
        head = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while head.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.5)
        assert head.poll() is None, f"the Ray head did not start:\n{log.read_text()[-3000:]}"
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(folder, ignore_errors=True)


def test_ray_executor_on_a_local_head_writes_byte_identical_csvs(tmp_path, ray_head):
    serial = run(tmp_path, "serial", *FEW)
    distributed = run(tmp_path, "ray", *FEW, "--executor", "ray", "--address", ray_head)
    assert_same_csvs(serial, distributed)


def test_registry_items_run_under_xdist_with_each_case_on_one_worker():
    """pytest -n 2 over the parametrized registry: all of a case's cells on one worker (its
    cells are computed and judged together, once)."""
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "pytest", "-v", "-n", "2", "-p", "no:cacheprovider",
           str(root / "tests" / "test_registry.py"), "--harness-cases", "two_paths,softmax_1d",
           "--harness-backends", "inhouse,inhouse-naive,fd,mp"]  # fmt: skip
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    workers: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        m = re.match(r"\[(gw\d+)\].*test_registry\.py::(\w+)\[", line)
        if m:
            workers.setdefault(m.group(2), set()).add(m.group(1))
    assert set(workers) == {"two_paths", "softmax_1d"}
    assert all(len(w) == 1 for w in workers.values()), workers


CRASHER = '''
import os

import numpy as np

from harness.backends.base import Backend


class Crasher(Backend):
    """Kills its worker process on the case two_paths; exact elsewhere (x * 1)."""

    name = "crasher"

    def value(self, p):
        if p.case.name == "two_paths":
            os._exit(3)
        from harness.namespace import NumpyNamespace

        return np.asarray(p.call(NumpyNamespace(p.dtype), p.args), dtype=p.dtype)
'''


@pytest.fixture(scope="module")
def crasher(tmp_path_factory) -> Path:
    """One file for the module: a backend name comes from one file only."""
    module = tmp_path_factory.mktemp("crasher") / "crasher.py"
    module.write_text(CRASHER)
    return module


@pytest.mark.parametrize("isolation", ["plugin in its own process", "--no-isolation"])
def test_a_case_that_kills_its_worker_is_error_and_the_others_complete(
    tmp_path, crasher, isolation
):
    module = crasher
    out = tmp_path / "out"
    argv = ["validate", "--jobs", "2", "--backend-module", str(module), "--backends",
            "crasher,inhouse,mp", "--quantities", "value", "--out", str(out),
            "--cases", "two_paths", "two_paths_vector", "seed_composite"]  # fmt: skip
    assert main([*argv, *([isolation] if isolation.startswith("--") else [])]) == 1
    import pandas as pd

    s = pd.read_csv(out / "summary.csv")
    dead = s[s.case == "two_paths"]
    if isolation.startswith("--"):  # the pool's worker dies: the whole case is lost
        assert len(dead) and set(dead.verdict) == {"error"}
        assert all("worker process running this case died" in r for r in dead.reason)
    else:  # only the plugin's own worker dies: only its cell is lost
        assert dead.set_index("backend").verdict.to_dict() == {
            "crasher": "error", "inhouse": "pass", "mp": "pass"
        }  # fmt: skip
        assert "its worker process died" in dead[dead.backend == "crasher"].reason.iloc[0]
    alive = s[s.case != "two_paths"]
    assert set(alive.case) == {"two_paths_vector", "seed_composite"}
    assert set(alive.verdict) == {"pass"}
