"""Shared fixtures: a fault-injecting test backend, registered temporarily."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from harness import backends as backend_registry
from harness import cache
from harness.backends.base import Backend, Problem


class Planted(Backend):
    """Another backend (`inner`, torch by default) with one planted fault chosen by `mode`:
    sign (grad negated), raise, shape, nan, inf, dtype (float32 returned), hang."""

    name = "planted"
    mode = "sign"
    inner_name = "torch"

    def __init__(self) -> None:
        self.inner = backend_registry.get(self.inner_name)

    def available(self):
        return self.inner.available()

    def compute(self, quantity: str, p: Problem):
        out = np.asarray(self.inner.compute(quantity, p))
        if self.mode == "raise":
            raise RuntimeError("planted failure")
        if self.mode == "shape":
            return np.append(out, 0).astype(p.dtype)
        if self.mode in ("nan", "inf"):
            return np.full_like(out, getattr(np, self.mode))
        if self.mode == "dtype":
            return out.astype(np.float32)
        if self.mode == "hang":
            while True:  # busy, never returning to a blocking call: only the timer stops it
                pass
        if self.mode == "sign" and quantity == "grad":
            return -out
        return out


@pytest.fixture
def planted(monkeypatch):
    """Register Planted as `planted`; returns a setter `(mode, inner="torch") -> "planted"`."""
    monkeypatch.setitem(backend_registry.BUILTIN, "planted", "tests.conftest:Planted")

    def set_mode(mode: str, inner: str = "torch") -> str:
        monkeypatch.setattr(Planted, "mode", mode)
        monkeypatch.setattr(Planted, "inner_name", inner)
        return "planted"

    return set_mode


# One mutant-fingerprint cache for the whole suite, subprocesses included (they inherit it).
os.environ.setdefault("HARNESS_THREADS", "1")  # as the CLI: small problems, shared cores
os.environ.setdefault("HARNESS_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache"))


@pytest.fixture
def cache_folder(tmp_path, monkeypatch) -> Path:
    """A project cache folder of the test's own (the process resolves it once: cleared
    around)."""
    where = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV, str(where))
    cache.root.cache_clear()
    yield where
    cache.root.cache_clear()
