"""Rows and elements compared as the reports would show them: key for key, NaN equal to NaN."""

from __future__ import annotations

import numpy as np


def assert_same_rows(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], float) and np.isnan(x[k]):
                assert isinstance(y[k], float) and np.isnan(y[k]), k
            else:
                assert x[k] == y[k], (k, x[k], y[k])
