"""Report writers: contract columns, determinism, atomic writes, the HTML grid."""

import pandas as pd
import pytest

from harness.cli import main
from harness.report.files import atomic_write
from harness.results import ELEMENT_COLUMNS, SUMMARY_COLUMNS

pytest.importorskip("torch")
ARGS = ["validate", "--cases", "two_paths*", "softmax_1d", "--backends", "torch,fd,mp"]


def test_validate_writes_reports_with_contract_columns(tmp_path):
    assert main([*ARGS, "--out", str(tmp_path)]) == 0
    s = pd.read_csv(tmp_path / "summary.csv")
    assert list(s.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    assert list(pd.read_csv(tmp_path / "elements.csv").columns) == ELEMENT_COLUMNS
    assert set(s.case) == {"two_paths", "two_paths_vector", "two_paths_reduced", "softmax_1d"}
    html = (tmp_path / "report.html").read_text()
    for case in set(s.case):
        assert f">{case}<" in html
    assert "http://" not in html and "https://" not in html  # self-contained
    assert not list(tmp_path.glob(".*.tmp"))


def test_same_seed_gives_byte_identical_csvs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*ARGS, "--out", str(a)]) == 0
    assert main([*ARGS, "--out", str(b)]) == 0
    for f in ("summary.csv", "elements.csv"):
        assert (a / f).read_bytes() == (b / f).read_bytes()


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "x.csv"
    atomic_write(target, "old\n")

    class Boom:
        def __str__(self):
            raise RuntimeError

    with pytest.raises(TypeError):
        atomic_write(target, Boom())  # not str/bytes: the write fails midway
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]
