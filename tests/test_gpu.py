"""--device cuda: torch and jax on the GPU, judged against the CPU consensus. Skipped without
CUDA (CI has none); the CPU-side behaviour (a clean skip with its reason) is tested always."""

from __future__ import annotations

import importlib.util

import pytest

from harness.cli import main

HAS_TORCH = importlib.util.find_spec("torch") is not None
CUDA_TORCH = HAS_TORCH and __import__("torch").cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA_TORCH, reason="no CUDA device (torch.cuda.is_available())")
CASES = ["--cases", "matmul_chain", "softmax_batched_axis1", "two_paths_vector"]


@pytest.fixture(autouse=True)
def _restore_device(monkeypatch):
    """--device cuda sets HARNESS_DEVICE for the workers: undone after each test."""
    monkeypatch.setenv("HARNESS_DEVICE", "cpu")


def test_without_a_gpu_the_gpu_twins_are_skipped_with_the_reason(tmp_path):
    if CUDA_TORCH:
        pytest.skip("a GPU is present: the twins run")
    out = tmp_path / "r"
    assert main(["validate", "--cases", "two_paths", "--device", "cuda", "--out", str(out)]) == 0
    text = (out / "summary.csv").read_text()
    for twin in ("torch-cuda", "jax-cuda"):
        rows = [r for r in text.splitlines() if f",{twin}," in r]
        assert rows and all(",skipped," in r and "CUDA" in r for r in rows), twin


@needs_cuda
def test_gpu_twins_agree_with_the_cpu_in_float64(tmp_path):
    import pandas as pd

    out = tmp_path / "r"
    main(["validate", *CASES, "--device", "cuda", "--dtypes", "float64", "--out", str(out)])
    s = pd.read_csv(out / "summary.csv", keep_default_na=False)
    gpu = s[s.backend.isin(["torch-cuda", "jax-cuda"])]
    assert len(gpu) and set(gpu.verdict) <= {"pass", "skipped"}, gpu[["case", "reason"]]


@needs_cuda
def test_highest_matmul_precision_makes_float32_agree(tmp_path, monkeypatch):
    """With TF32 off (the fix the README names), float32 GPU matmuls meet float32 tolerances."""
    import pandas as pd

    monkeypatch.setenv("HARNESS_MATMUL_PRECISION", "highest")
    out = tmp_path / "r"
    main(["validate", *CASES, "--device", "cuda", "--dtypes", "float32", "--out", str(out)])
    s = pd.read_csv(out / "summary.csv", keep_default_na=False)
    gpu = s[s.backend.isin(["torch-cuda", "jax-cuda"])]
    assert len(gpu) and set(gpu.verdict) <= {"pass", "skipped"}, gpu[["case", "reason"]]
