"""`merge` on real shards: skipped and error cells, missing or corrupt shard files, an --out that
cannot be written, and a missing shard said and marked (issue 14, section 2)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main

CASES = ["--cases", "two_paths*", "softmax_1d", "softmax_batched_axis0", "exp_elementwise"]
QUICK = ["--dtypes", "float64,float32", "--quantities", "value,grad,hvp,jacobian"]
# One backend that errors on grad and lacks hvp: every shard has error and skipped cells.
FAULTY = """
    from harness.backends import Unsupported
    from harness.backends.inhouse import InHouse

    class Flaky(InHouse):
        name = "flaky"

        def grad(self, p):
            raise RuntimeError("planted")

        def hvp(self, p):
            raise Unsupported("flaky has no hvp")
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """An unsharded run and its three shards, with error and skipped cells in each."""
    tmp = tmp_path_factory.mktemp("runs")
    plugin = tmp / "flaky.py"
    plugin.write_text(textwrap.dedent(FAULTY))
    argv = ["validate", *CASES, *QUICK, "--backends", "inhouse,flaky,fd,mp",
            "--backend-module", str(plugin)]  # fmt: skip
    out = {"whole": tmp / "whole", **{f"{k}/3": tmp / f"s{k}" for k in (1, 2, 3)}}
    assert main([*argv, "--out", str(out["whole"])]) == 1
    for k in (1, 2, 3):
        assert main([*argv, "--shard", f"{k}/3", "--out", str(out[f"{k}/3"])]) == 1
    return out


def shards(runs: dict[str, Path], tmp_path: Path, *which: str) -> list[str]:
    """Copies of the shard folders `which` (K/N), free to be damaged."""
    copies = []
    for k in which:
        copies.append(str(tmp_path / f"s{k[0]}"))
        shutil.copytree(runs[k], copies[-1])
    return copies


def one_sentence(capsys) -> str:
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.err
    return lines[0]


def test_merged_real_shards_with_skipped_and_error_cells_equal_the_whole_run(runs, tmp_path):
    verdicts = set(pd.read_csv(runs["whole"] / "summary.csv").verdict)
    assert {"error", "skipped"} <= verdicts
    merged = tmp_path / "merged"
    assert main(["merge", *shards(runs, tmp_path, "3/3", "1/3", "2/3"), "--out", str(merged)]) == 0
    for f in ("summary.csv", "elements.csv"):
        assert (merged / f).read_bytes() == (runs["whole"] / f).read_bytes(), f
    page, whole = ((d / "report.html").read_text() for d in (merged, runs["whole"]))
    grid = slice(page.index('<h2 id="grid">'), None)
    assert page[grid] == whole[whole.index('<h2 id="grid">') :]  # grid and details alike
    assert "RuntimeError: planted" in page and "flaky has no hvp" in page


def test_every_shard_records_its_k_of_n(runs):
    for k in ("1/3", "2/3", "3/3"):
        assert json.loads((runs[k] / "metadata.json").read_text())["shard"] == k


def test_a_merge_lacking_a_shard_says_so_and_marks_the_set_incomplete(runs, tmp_path, capsys):
    merged = tmp_path / "merged"
    assert main(["merge", *shards(runs, tmp_path, "1/3", "3/3"), "--out", str(merged)]) == 1
    assert "shard 2/3 missing: the merged set is incomplete" in capsys.readouterr().err
    meta = json.loads((merged / "metadata.json").read_text())
    assert meta["complete"] is False and meta["missing_shards"] == ["2/3"]
    assert "missing_shards" in (merged / "report.html").read_text()


def garble(path: Path) -> None:
    path.write_bytes(b"\x00\x9f not what it was \xff")


# (file, how it is damaged, what the sentence says)
DAMAGE = [
    ("metadata.json", Path.unlink, "metadata.json is missing"),
    ("metadata.json", garble, "cannot read"),
    ("metadata.json", lambda p: p.write_text("[]"), "is not the metadata.json of a `validate`"),
    ("elements.csv", Path.unlink, "elements.csv is missing"),
    ("elements.csv", garble, "elements.csv"),
    ("arrays.npz", garble, "cannot read"),
    ("summary.csv", garble, "summary.csv"),
]


@pytest.mark.parametrize(("name", "damage", "needle"), DAMAGE)
def test_a_missing_or_corrupt_shard_file_is_one_usage_error(
    runs, tmp_path, capsys, name, damage, needle
):
    folders = shards(runs, tmp_path, "1/3", "2/3", "3/3")
    damage(Path(folders[1]) / name)
    assert main(["merge", *folders, "--out", str(tmp_path / "merged")]) == 2
    assert needle in one_sentence(capsys)
    assert not (tmp_path / "merged").exists()


def test_numbers_that_are_not_numbers_are_one_usage_error(runs, tmp_path, capsys):
    folders = shards(runs, tmp_path, "1/3", "2/3", "3/3")
    summary = Path(folders[2]) / "summary.csv"
    s = pd.read_csv(summary, dtype=str, keep_default_na=False)
    s.loc[0, "max_abs_err"] = "lots"
    s.to_csv(summary, index=False, lineterminator="\n")
    assert main(["merge", *folders, "--out", str(tmp_path / "merged")]) == 2
    assert "column max_abs_err holds 'lots' on row 2, not a number" in one_sentence(capsys)


def test_shards_of_different_splits_are_refused(runs, tmp_path, capsys):
    folders = shards(runs, tmp_path, "1/3", "2/3")
    meta = Path(folders[1]) / "metadata.json"
    meta.write_text(meta.read_text().replace('"shard": "2/3"', '"shard": "2/4"'))
    assert main(["merge", *folders, "--out", str(tmp_path / "merged")]) == 2
    assert "split the registry differently" in one_sentence(capsys)


@contextlib.contextmanager
def read_only(folder: Path):
    """`folder` made unwritable for the block (root ignores permissions: immutable instead)."""
    folder.mkdir(exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("cannot make a folder read-only here (root without chattr)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_an_out_that_is_a_file_or_read_only_is_one_usage_error(runs, tmp_path, capsys):
    folders = shards(runs, tmp_path, "1/3", "2/3", "3/3")
    taken = tmp_path / "taken"
    taken.write_text("a file")
    assert main(["merge", *folders, "--out", str(taken)]) == 2
    assert f"cannot write reports to {taken}" in one_sentence(capsys)
    assert taken.read_text() == "a file"
    locked = tmp_path / "locked"
    with read_only(locked):
        assert main(["merge", *folders, "--out", str(locked)]) == 2
        assert f"cannot write reports to {locked}" in one_sentence(capsys)
        assert list(locked.iterdir()) == []
    assert main(["merge", *folders, "--out", ""]) == 2
    assert "--out ''" in one_sentence(capsys)


def test_a_shard_whose_files_are_of_two_runs_is_refused(runs, tmp_path, capsys):
    folders = shards(runs, tmp_path, "1/3", "2/3", "3/3")
    shutil.copy(Path(folders[0]) / "summary.csv", Path(folders[1]) / "summary.csv")
    assert main(["merge", *folders, "--out", str(tmp_path / "merged")]) == 2
    assert "holds a mixed report set: summary.csv" in one_sentence(capsys)
