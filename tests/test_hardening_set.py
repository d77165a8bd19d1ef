"""The report set is written whole or not at all: a full disk, a kill between renames, two runs
on one folder, a signal after the last case, duplicate backend names (issue 14, section 1)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd

from harness.cli import options
from harness.report.metadata import mismatched

ROOT = Path(__file__).resolve().parents[1]
SET = ["elements.csv", "metadata.json", "report.html", "summary.csv"]
QUICK = ["--backends", "inhouse,mp", "--dtypes", "float64", "--quantities", "value,grad"]
# The command line after a prelude (`PRELUDE` in the environment) that plants a fault.
SCRIPT = (
    "import os, sys; exec(os.environ.get('PRELUDE', '')); "
    "from harness.cli import main; sys.exit(main(sys.argv[1:]))"
)


def harness(*argv: str, prelude: str = "", **kw) -> subprocess.Popen:
    env = {**os.environ, "PRELUDE": textwrap.dedent(prelude), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *argv], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)  # fmt: skip


def finished(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def validate(out: Path, *cases: str, prelude: str = "", **kw) -> subprocess.Popen:
    return harness("validate", "--cases", *cases, *QUICK, "--out", str(out), prelude=prelude, **kw)


def contents(folder: Path) -> dict[str, bytes]:
    """Every entry of `folder`, hidden ones too, with the bytes of the files."""
    return {p.name: p.read_bytes() if p.is_file() else b"<dir>" for p in folder.iterdir()}


def leftovers(folder: Path) -> list[str]:
    """What a writer left in `folder` besides the set: hidden stages, temporary files."""
    names = [p.name for p in folder.iterdir()]
    assert set(SET) <= set(names), names
    return [n for n in names if n.startswith(".")]


def cases_in(folder: Path) -> set[str]:
    return set(pd.read_csv(folder / "summary.csv").case)


def one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def file_size_limit(limit: int):
    """preexec_fn: files may not grow past `limit` bytes (a full disk, as the writer sees it)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_is_one_sentence_and_leaves_the_folder_as_it_was(tmp_path):
    probe = tmp_path / "probe"
    assert finished(validate(probe, "two_paths", "softmax_1d"))[0] == 0
    sizes = {f: (probe / f).stat().st_size for f in SET}
    limit = (sizes["summary.csv"] + sizes["report.html"]) // 2  # the CSVs fit, the page not
    assert sizes["summary.csv"] < limit < sizes["report.html"]
    empty, earlier = tmp_path / "empty", tmp_path / "earlier"
    empty.mkdir()
    assert finished(validate(earlier, "two_paths"))[0] == 0
    for folder in (empty, earlier):
        before = contents(folder)
        proc = validate(folder, "two_paths", "softmax_1d", preexec_fn=file_size_limit(limit))
        rc, _, err = finished(proc)
        assert rc == 2
        line = one_error_line(err)
        assert "cannot write report.html" in line and "the reports there are unchanged" in line
        assert contents(folder) == before  # no new CSVs beside the old page, no stage left


# Kills the process at the second rename of a report file: the set is half moved.
KILL_AT_SECOND_RENAME = """
    import os, signal
    real, seen = os.replace, []
    def replace(src, dst, **kw):
        if str(dst).endswith(('.csv', '.html', '.json')):
            seen.append(dst)
            if len(seen) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst, **kw)
    os.replace = replace
"""


def test_a_run_killed_between_renames_is_completed_by_the_next_writer(tmp_path):
    out = tmp_path / "out"
    assert finished(validate(out, "two_paths"))[0] == 0
    rc, _, _ = finished(validate(out, "softmax_1d", prelude=KILL_AT_SECOND_RENAME))
    assert rc == -signal.SIGKILL
    # A merge reads the folder: it finishes the renames first, and finds the set whole.
    merged = tmp_path / "merged"
    rc, _, err = finished(harness("merge", str(out), "--out", str(merged)))
    assert rc == 0, err
    meta = json.loads((out / "metadata.json").read_text())
    assert mismatched(out, meta) == [] and cases_in(out) == {"softmax_1d"}
    assert leftovers(out) == []  # no stage, no temporary file
    assert cases_in(merged) == {"softmax_1d"}


def test_the_next_run_removes_what_a_killed_run_left(tmp_path):
    out = tmp_path / "out"
    assert finished(validate(out, "two_paths"))[0] == 0
    assert finished(validate(out, "softmax_1d", prelude=KILL_AT_SECOND_RENAME))[0] < 0
    (out / ".elements.csv.abc123.tmp").write_text("left by an older version")
    assert finished(validate(out, "two_paths_vector"))[0] == 0
    assert leftovers(out) == []
    assert cases_in(out) == {"two_paths_vector"}
    assert mismatched(out, json.loads((out / "metadata.json").read_text())) == []


# Each rename of a report file announces itself and takes two seconds.
SLOW_RENAMES = """
    import os, sys, time
    real = os.replace
    def replace(src, dst, **kw):
        real(src, dst, **kw)
        if str(dst).endswith(('.csv', '.html', '.json')):
            print('renamed', file=sys.stderr, flush=True)
            time.sleep(2)
    os.replace = replace
"""


def test_two_runs_on_one_folder_leave_one_whole_set(tmp_path):
    out = tmp_path / "out"
    slow = validate(out, "two_paths", prelude=SLOW_RENAMES)
    assert "renamed" in slow.stderr.readline()  # the slow run is moving its files in
    fast = validate(out, "softmax_1d")
    assert finished(fast)[0] == 0 and finished(slow)[0] == 0
    meta = json.loads((out / "metadata.json").read_text())
    winner, loser = ("softmax_1d", "two_paths")[:: 1 if "softmax_1d" in meta["command"] else -1]
    assert cases_in(out) == {winner}  # the CSVs, the page and the metadata of one run
    page = (out / "report.html").read_text()
    assert f">{winner}<" in page and f">{loser}<" not in page
    assert mismatched(out, meta) == []


# The step after the last case (versions collected, the baseline compared) announces itself
# and takes three seconds: the signal comes then.
SLOW_STEP = """
    import sys, time
    import harness.report.metadata as m, harness.cli.validate as v
    def slow(real):
        def step(*args, **kw):
            print('after the last case', file=sys.stderr, flush=True)
            time.sleep(3)
            return real(*args, **kw)
        return step
    m.versions = slow(m.versions) if STEP == 'versions' else m.versions
    v.compare_summaries = slow(v.compare_summaries) if STEP == 'baseline' else v.compare_summaries
"""


def test_a_signal_after_the_last_case_still_writes_the_whole_run(tmp_path):
    base = tmp_path / "base"
    assert finished(validate(base, "two_paths"))[0] == 0
    for step in ("versions", "baseline"):
        out = tmp_path / step
        argv = ["--baseline", str(base / "summary.csv")] if step == "baseline" else []
        proc = harness("validate", "--cases", "two_paths", "softmax_1d", *QUICK, *argv,
                       "--out", str(out), prelude=f"STEP = {step!r}\n" + textwrap.dedent(
                           SLOW_STEP))  # fmt: skip
        assert "after the last case" in proc.stderr.readline()
        proc.send_signal(signal.SIGTERM)
        rc, _, err = finished(proc)
        assert rc == 128 + signal.SIGTERM, err
        assert "Traceback" not in err and "the reports above are complete" in err
        meta = json.loads((out / "metadata.json").read_text())
        assert meta["complete"] is True and meta["cases_finished"] == 2
        assert cases_in(out) == {"two_paths", "softmax_1d"}


def write_plugin(path: Path) -> Path:
    path.write_text(textwrap.dedent("""
        from harness.backends.inhouse import InHouse

        class One(InHouse):
            name = "twin"

        class Other(InHouse):
            name = "twin"
    """))  # fmt: skip
    return path


def test_a_backend_named_twice_is_one_usage_error(tmp_path):
    plugin = write_plugin(tmp_path / "twice.py")
    for argv, needle in [
        (["--backends", "inhouse,inhouse,mp"], "names backend 'inhouse' more than once"),
        (["--backends", "inhouse", "--backend-module", str(plugin)], "defines backend name "
         "'twin' twice (classes One and Other)"),
    ]:  # fmt: skip
        out = tmp_path / "out"
        rc, _, err = finished(harness("validate", "--cases", "two_paths", *argv, "--out", str(out)))
        assert rc == 2 and needle in one_error_line(err)
        assert not (out / "summary.csv").exists()


def test_the_same_backend_file_given_twice_is_loaded_once():
    plugin = str(ROOT / "examples" / "dual_backend.py")
    args = argparse.Namespace(backend_module=[plugin, plugin])
    assert options.load_backend_modules(args) == ["dual"]
