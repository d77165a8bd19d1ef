"""A new backend is first-class by its traits alone: no name of it appears in the core."""

import pandas as pd
import pytest

from harness.backends import plugins
from harness.cli import main

ORACLE = '''
import numpy as np

from harness.backends import Backend, get


class Exact(Backend):
    """Central differences of order 8 on a fine grid: an oracle by its traits alone."""

    name = "exact8"
    oracle = True
    reference_rank = -1  # preferred over every built-in reference

    def __init__(self):
        self.fd = get("fd")

    def value(self, p):
        return self.fd.compute("value", p)

    def grad(self, p):
        return self.fd.compute("grad", p)
'''


@pytest.fixture(autouse=True)
def no_file_backends(monkeypatch):
    monkeypatch.setattr(plugins, "_FROM_FILES", {})


def test_an_oracle_declared_by_traits_is_borrowed_and_preferred(tmp_path):
    (tmp_path / "exact.py").write_text(ORACLE)
    code = main([
        "validate", "--backend-module", str(tmp_path / "exact.py"), "--cases", "two_paths_vector",
        "--backends", "inhouse,torch,exact8", "--quantities", "value,grad",
        "--out", str(tmp_path / "rep"),
    ])  # fmt: skip
    assert code == 0
    s = pd.read_csv(tmp_path / "rep" / "summary.csv", keep_default_na=False)
    f32 = s[(s.dtype == "float32") & (s.backend == "inhouse")]
    # float32 rows borrow the oracle's float64 result, and its rank makes it the reference
    assert set(f32.reference) == {"exact8"} and set(f32.reference_dtype) == {"float64"}
    assert all("exact8@float64" in a for a in f32.agrees_with)
