"""The project cache: a warm run reuses compiled JAX programs and figures, and writes the very
same reports as a cold one; turned off, or at fault, it costs time only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness import cache
from harness.backends import jax_programs
from harness.backends.jax_backend import Jax
from harness.cli import main
from harness.registry import Case, scalar
from harness.report import plots

pytest.importorskip("jax")

CSVS = ("summary.csv", "elements.csv")
FEW = ["--cases", "two_paths", "softmax_batched_axis0", "--backends", "jax,fd,mp"]


def run(tmp: Path, name: str) -> tuple[Path, dict]:
    out = tmp / name
    assert main(["validate", *FEW, "--out", str(out)]) in (0, 1)
    return out, json.loads((out / "metadata.json").read_text())["timings"]


def test_a_warm_run_loads_every_program_and_writes_the_same_csvs(cache_folder, tmp_path):
    cold, t_cold = run(tmp_path, "cold")
    warm, t_warm = run(tmp_path, "warm")
    assert t_cold.get("jax.programs_cached", 0) == 0 and t_cold["jax.programs"] > 0
    assert t_warm["jax.programs_cached"] == t_warm["jax.programs"] == t_cold["jax.programs"]
    assert "jax.trace_s" not in t_warm
    for f in CSVS:
        assert (cold / f).read_bytes() == (warm / f).read_bytes(), f
    assert list((cache_folder / "harness").iterdir()) == [
        cache_folder / "harness" / cache.source_digest()
    ]


def test_a_damaged_entry_is_compiled_again(cache_folder, tmp_path):
    cold, _ = run(tmp_path, "cold")
    for entry in (cache_folder / "harness").rglob("*"):
        if entry.is_file():
            entry.write_bytes(b"not a program")
    again, t = run(tmp_path, "again")
    assert t.get("jax.programs_cached", 0) == 0
    for f in CSVS:
        assert (cold / f).read_bytes() == (again / f).read_bytes(), f


def test_off_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, "off")
    cache.root.cache_clear()
    try:
        assert cache.root() is None and cache.read("jax", "x") is None
        cache.write("jax", "x", b"y")  # quietly nothing
        assert not jax_programs.cacheable(Jax(), plots.kept)
    finally:
        cache.root.cache_clear()


def test_only_programs_the_source_digest_covers_are_kept(cache_folder):
    from harness.cases.chain_rule import two_paths

    jax = Jax()
    assert jax_programs.cacheable(jax, two_paths)
    # a function of a test file, a lambda, or a backend class defined outside the package
    outside = Case(name="outside", fn=lambda xp, x: xp.sin(x), family="t",
                   inputs={"x": scalar()}, doc="sin x.")  # fmt: skip
    assert not jax_programs.cacheable(jax, outside.fn)
    assert not jax_programs.cacheable(type("Mine", (Jax,), {"__module__": __name__})(), two_paths)


def test_the_digest_follows_every_source_file(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("not source")
    monkeypatch.setattr(cache, "_PACKAGE", tmp_path)
    before = cache.source_digest.__wrapped__()
    (tmp_path / "notes.txt").write_text("still not source")
    assert cache.source_digest.__wrapped__() == before
    (tmp_path / "a.py").write_text("x = 2\n")
    assert cache.source_digest.__wrapped__() != before


def test_a_figure_is_rendered_once(cache_folder, monkeypatch):
    err = np.abs(np.random.default_rng(0).standard_normal((4, 3))) * 1e-9
    first = plots.error_heatmap(err, 1e-9, "|error| of jacobian")
    monkeypatch.setattr(plots, "png_data_uri", lambda fig: pytest.fail("rendered again"))
    assert plots.error_heatmap(err, 1e-9, "|error| of jacobian") == first
    assert first.startswith("data:image/png;base64,")


def test_old_digests_are_pruned(cache_folder):
    for i in range(cache.KEEP + 2):
        (cache_folder / "harness" / f"old{i}").mkdir(parents=True)
    cache.write("jax", "entry", b"data")
    kept = {p.name for p in (cache_folder / "harness").iterdir()}
    assert len(kept) == cache.KEEP and cache.source_digest() in kept
