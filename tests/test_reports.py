"""Report writers: contract columns, determinism, atomic writes, the set of reports, the
metadata schema and merging shards."""

import importlib.util
import json
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.interrupt import Interrupted, SignalGuard
from harness.report import report_set
from harness.report.csv import to_csv_text
from harness.report.files import atomic_write
from harness.report.html import render
from harness.report.merge import ARRAYS_FILE, load_arrays, merge, save_arrays
from harness.report.metadata import merged_metadata, metadata_json, run_metadata, versions
from harness.report.report_set import write_report_set
from harness.results import ELEMENT_COLUMNS, SUMMARY_COLUMNS, in_report_order
from tests.test_report_html import META, synthetic_data

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed"
)
ARGS = ["validate", "--cases", "two_paths*", "softmax_1d", "--backends", "torch,fd,mp"]
BACKENDS = META["backends"].split(",")
#: metadata.json's keys after the versions, in order (harness.report.metadata's docstring).
SCHEMA = [
    "platform", "seed", "dtypes", "backends", "cotangent", "cases", "quantities", "started",
    "command", "duration_s", "complete", "interrupted_by", "cases_finished", "timings", "counts",
]  # fmt: skip


@needs_torch
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


@needs_torch
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


# -- metadata.json ------------------------------------------------------------------------------
def meta_of(summary: pd.DataFrame, **over) -> dict:
    kw = dict(
        summary=summary, seed=3, dtypes=["float64", "float32"], backends=BACKENDS,
        cotangent="ones", cases=summary["case"].nunique(), quantities=["grad", "jacobian"],
        started=0.0, argv=["validate", "--cases", "a b"], duration_s=1.23456,
        cases_finished=summary["case"].nunique(), timings={"torch": 0.12345},
    )  # fmt: skip
    return run_metadata(**{**kw, **over})


def test_run_metadata_has_the_schemas_keys_and_values():
    summary = synthetic_data()[0]
    meta = meta_of(summary)
    names = [f"version.{k}" for k in versions()]
    assert list(meta) == [*names, *SCHEMA]
    assert meta["version.python"] and meta["dtypes"] == "float64,float32"
    assert meta["backends"] == META["backends"] and meta["started"] == "1970-01-01 00:00:00 UTC"
    assert meta["command"] == "python -m harness validate --cases 'a b'"
    assert (meta["duration_s"], meta["timings"]) == (1.23, {"torch": 0.123})
    assert meta["complete"] and meta["interrupted_by"] is None
    assert meta["counts"] == dict(sorted(summary["verdict"].value_counts().items()))
    assert json.loads(metadata_json(meta)) == meta  # plain JSON types only


def test_run_metadata_marks_interruptions_shards_and_draws():
    summary = synthetic_data()[0].assign(draw="")
    summary.loc[[1, 4, 5], "draw"] = ["d2", "d1", "d2"]
    stopped = meta_of(summary, interrupted_by="SIGTERM", shard="2/3", random=4)
    assert not stopped["complete"] and stopped["interrupted_by"] == "SIGTERM"
    assert list(stopped)[-4:] == ["shard", "counts", "random", "draws"]
    assert (stopped["shard"], stopped["random"], stopped["draws"]) == ("2/3", 4, ["d1", "d2"])
    assert "draws" in meta_of(summary, random=0)  # --replay: draws without --random
    assert not {"shard", "random", "draws"} & set(meta_of(summary))


def test_run_metadata_equals_what_validate_writes(tmp_path):
    argv = ["validate", "--cases", "two_paths", "--backends", "inhouse,mp", "--dtypes", "float64",
            "--quantities", "grad", "--out", str(tmp_path)]  # fmt: skip
    t0 = time.time()
    assert main(argv) == 0
    written = json.loads((tmp_path / "metadata.json").read_text())
    summary = pd.read_csv(tmp_path / "summary.csv")
    ours = meta_of(summary, seed=0, dtypes=["float64"], backends=["inhouse", "mp"],
                   cotangent="random", cases=1, quantities=["grad"], started=t0, argv=argv,
                   duration_s=written["duration_s"], cases_finished=1,
                   timings=written["timings"])  # fmt: skip
    assert [*ours, "files"] == list(written)  # the set's digests come last
    timed = ("started", "duration_s", "timings", "files")
    assert {k: v for k, v in ours.items() if k not in timed} == {
        k: v for k, v in written.items() if k not in timed
    }


def test_merged_metadata_sums_the_shards_and_drops_their_own_keys(tmp_path):
    summary = synthetic_data()[0]
    halves = [summary[summary.case == c] for c in ("alpha", "beta")]
    metas = [meta_of(h, shard=f"{k}/2", duration_s=k) for k, h in enumerate(halves, 1)]
    metas[1].update(complete=False, cases_finished=0)
    folders = [tmp_path / "s1", tmp_path / "s2"]
    merged = merged_metadata(metas, summary, folders)
    assert list(merged) == [k for k in metas[0] if k not in ("shard", "timings")] + ["shards"]
    assert (merged["cases"], merged["cases_finished"]) == (2, 1)
    assert not merged["complete"] and merged["duration_s"] == 3
    assert merged["shards"] == [str(f) for f in folders]
    assert merged["command"] == f"python -m harness merge {folders[0]} {folders[1]}"
    assert merged["counts"] == dict(sorted(summary["verdict"].value_counts().items()))
    assert merged["seed"] == metas[0]["seed"] and merged["version.numpy"]


# -- the set of reports -------------------------------------------------------------------------
def test_report_set_writes_each_file_as_its_writer_does(tmp_path):
    summary, elements, arrays = synthetic_data()
    meta = meta_of(summary)
    paths = write_report_set(tmp_path, summary, elements, meta, arrays)
    names = ["summary.csv", "elements.csv", "report.html", "metadata.json"]
    assert paths == [tmp_path / n for n in names]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    assert paths[0].read_text() == to_csv_text(summary)
    assert paths[1].read_text() == to_csv_text(elements)
    assert paths[2].read_text() == render(summary, elements, meta, arrays)
    written = json.loads(paths[3].read_text())
    assert {k: v for k, v in written.items() if k != "files"} == json.loads(metadata_json(meta))
    assert list(written["files"]) == [p.name for p in paths[:3]]  # the digests of the others
    shard = write_report_set(tmp_path / "shard", summary, elements, meta, arrays, save_arrays=True)
    assert shard[-1].name == ARRAYS_FILE
    kept = load_arrays(tmp_path / "shard")
    assert set(kept) == set(arrays) and all(np.array_equal(kept[k], arrays[k]) for k in arrays)


def test_a_signal_while_the_set_is_written_waits_for_the_last_file(tmp_path, monkeypatch):
    summary, elements, arrays = synthetic_data()
    real = report_set.render

    def signalled(*args, **kw):
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kw)

    monkeypatch.setattr(report_set, "render", signalled)
    with SignalGuard(), pytest.raises(Interrupted):
        write_report_set(tmp_path, summary, elements, META, arrays)
    assert json.loads((tmp_path / "metadata.json").read_text())["seed"] == META["seed"]


# -- merge --------------------------------------------------------------------------------------
def shards(tmp_path, by_case: dict[str, int], n: int) -> tuple[list, pd.DataFrame]:
    """Shard folders of the synthetic run (case -> shard), and the whole run's summary."""
    summary, elements, arrays = synthetic_data()
    summary, elements = in_report_order(summary, BACKENDS), in_report_order(elements, BACKENDS)
    write_report_set(tmp_path / "whole", summary, elements, meta_of(summary), arrays)
    folders = []
    for k in range(n):
        s, e = (f[f.case.map(by_case) == k].reset_index(drop=True) for f in (summary, elements))
        mine = {key: a for key, a in arrays.items() if by_case[key[0]] == k}
        folders.append(tmp_path / f"s{k}")
        meta = meta_of(s, shard=f"{k + 1}/{n}")
        write_report_set(folders[-1], s, e, meta, mine, save_arrays=True)
    return folders, summary


def test_merged_shards_equal_the_whole_run_in_any_order(tmp_path):
    folders, summary = shards(tmp_path, {"alpha": 0, "beta": 1}, 2)
    paths = merge(folders[::-1], tmp_path / "merged")
    assert [p.name for p in paths] == [
        "summary.csv",
        "elements.csv",
        "report.html",
        "metadata.json",
    ]
    for f in ("summary.csv", "elements.csv"):
        assert (tmp_path / "merged" / f).read_bytes() == (tmp_path / "whole" / f).read_bytes()
    page = paths[2].read_text()
    assert 'alt="heatmap of the per-element error of alpha[sk-jacobian-float64]"' in page
    assert "ValueError: boom" in page and "not installed" in page  # the rows without numbers
    meta = json.loads(paths[3].read_text())
    assert meta["counts"] == dict(sorted(summary["verdict"].value_counts().items()))
    assert meta["shards"] == [str(f) for f in folders[::-1]] and "shard" not in meta


def test_merge_refuses_what_is_not_the_shards_of_one_run(tmp_path):
    folders, _ = shards(tmp_path, {"alpha": 0, "beta": 1}, 2)
    with pytest.raises(UsageError, match="shard 1/2 is given twice"):
        merge([folders[0], folders[0]], tmp_path / "m")
    with pytest.raises(UsageError, match=r"holds no summary\.csv"):
        merge([folders[0], tmp_path / "nowhere"], tmp_path / "m")
    other = json.loads((folders[1] / "metadata.json").read_text()) | {"seed": 99}
    (folders[1] / "metadata.json").write_text(metadata_json(other))
    with pytest.raises(UsageError, match="differ in seed"):
        merge(folders, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_arrays_survive_the_round_trip_through_their_file(tmp_path):
    key, err = ("a", "jacobian", "float32", "t"), np.arange(6.0).reshape(2, 3)
    assert save_arrays({key: err}, tmp_path) == tmp_path / ARRAYS_FILE
    back = load_arrays(tmp_path)
    assert list(back) == [key] and np.array_equal(back[key], err)
    assert load_arrays(tmp_path / "empty") == {}
