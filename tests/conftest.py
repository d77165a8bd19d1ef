"""Shared fixtures: small test backends built on the numpy oracle, registered temporarily."""

from __future__ import annotations

import numpy as np
import pytest

from harness import backends as backend_registry
from harness.backends.base import Backend, Problem


class Planted(Backend):
    """Wraps torch and plants a fault selected by `mode` (used to test blame and isolation)."""

    name = "planted"
    mode = "sign"

    def __init__(self) -> None:
        self.inner = backend_registry.get("torch")

    def available(self):
        return self.inner.available()

    def compute(self, quantity: str, p: Problem):
        out = np.asarray(self.inner.compute(quantity, p))
        if self.mode == "raise":
            raise RuntimeError("planted failure")
        if self.mode == "shape":
            return np.append(out, 0).astype(p.dtype)
        if self.mode == "nan":
            return np.full_like(out, np.nan)
        if self.mode == "sign" and quantity == "grad":
            return -out
        return out


@pytest.fixture
def planted(monkeypatch):
    """Register the Planted backend as `planted`; returns a setter for its fault mode."""
    monkeypatch.setitem(backend_registry.BUILTIN, "planted", "tests.conftest:Planted")

    def set_mode(mode: str) -> str:
        monkeypatch.setattr(Planted, "mode", mode)
        return "planted"

    return set_mode
