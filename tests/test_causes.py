"""Likely causes, from hand-made rows: the op that separates failing cells, the mutant whose
fingerprint matches, and the honest 'nothing' when neither does."""

import numpy as np
import pandas as pd

from harness.judge.causes import (
    Fingerprint,
    attribute_ops,
    causes_table,
    fault_kind,
    match_mutants,
)
from harness.usage import ops_used
from harness.vocabulary import VOCABULARY

OPS = {"s1": ("softmax", "add"), "s2": ("softmax",), "t1": ("tanh", "add"), "t2": ("tanh",),
       "m1": ("matmul", "add"), "m2": ("matmul",)}  # fmt: skip


def rows(failing, quantities=("grad", "hvp"), dtypes=("float64", "float32")):
    """Summary rows of backend b on every case of OPS; `failing(case, q, dtype)` says which."""
    out = []
    for case in OPS:
        for q in quantities:
            for d in dtypes:
                bad = failing(case, q, d)
                out.append(
                    dict(
                        case=case,
                        quantity=q,
                        dtype=d,
                        backend="b",
                        verdict="fail" if bad else "pass",
                        blame="b" if bad else "none",
                    )
                )
    return pd.DataFrame(out)


def test_the_op_the_failing_cells_share_is_named_first():
    s = rows(lambda c, q, d: c.startswith("s"))
    found = attribute_ops(s, "b", OPS)
    assert found[0].cause == "softmax" and found[0].score == 1.0
    assert "8 of the 8 failing cells are of cases using softmax; 0 of the 16" in found[0].evidence


def test_an_order_or_a_dtype_sharpens_the_op():
    second = attribute_ops(rows(lambda c, q, d: c.startswith("t") and q == "hvp"), "b", OPS)
    assert second[0].cause == "tanh (second order only)"
    low = attribute_ops(rows(lambda c, q, d: c.startswith("t") and d == "float32"), "b", OPS)
    assert low[0].cause == "tanh (float32 only)"


def test_two_bugs_name_two_ops():
    found = attribute_ops(rows(lambda c, q, d: c in ("s1", "s2", "m1", "m2")), "b", OPS)
    assert {found[0].cause, found[1].cause} == {"softmax", "matmul"}
    assert "other failing cells" in found[1].evidence


def test_a_bug_everywhere_names_no_op():
    found = attribute_ops(rows(lambda c, q, d: True), "b", OPS)
    assert [c.cause for c in found] == ["none"] and "no op separates" in found[0].evidence


def fp(cells, scale=1.0):
    return Fingerprint(set(cells), {(c, q, "x[0]"): scale * (i + 1)
                                    for i, (c, q) in enumerate(sorted(cells))})  # fmt: skip


def test_the_matching_mutant_comes_first_and_twins_are_listed_together():
    mine = fp({("s1", "grad"), ("s2", "grad")})
    catalog = {
        "softmax_sign": ("softmax backward sign", fp({("s1", "grad"), ("s2", "grad")})),
        "softmax_twin": ("the same bug elsewhere", fp({("s1", "grad"), ("s2", "grad")})),
        "tanh_sign": ("tanh backward sign", fp({("t1", "grad")})),
    }
    found = match_mutants(mine, catalog)
    assert found[0].score == 1.0
    assert found[0].cause.startswith("softmax_sign: ") and "= softmax_twin" in found[0].cause
    assert all("tanh" not in c.cause for c in found)


def test_opposite_errors_on_the_same_cells_are_not_a_match():
    mine = fp({("s1", "grad")})
    found = match_mutants(mine, {"flip": ("opposite", fp({("s1", "grad")}, scale=-1.0))})
    assert found[0].cause == "none" and "no catalogued bug comes close" in found[0].evidence


def test_causes_csv_has_the_contract_columns():
    table = causes_table({"b": attribute_ops(rows(lambda c, q, d: c == "s2"), "b", OPS)})
    assert list(table.columns) == ["backend", "rank", "kind", "cause", "score", "evidence"]
    assert list(table["rank"]) == list(range(1, len(table) + 1))


def test_an_op_failing_at_every_order_is_named_without_one():
    both = attribute_ops(rows(lambda c, q, d: c == "t1"), "b", OPS)
    assert both[0].cause == "tanh"  # grad and hvp fail: no order to name
    first = attribute_ops(rows(lambda c, q, d: c == "t1" and q == "grad"), "b", OPS)
    assert first[0].cause == "tanh (first order only)"


def test_cells_that_raised_match_a_mutant_that_raises_the_same_way():
    cells = {("s1", "grad"), ("s2", "grad")}
    mine = Fingerprint(set(cells), {}, dict.fromkeys(cells, "ValueError"))
    crash = Fingerprint(set(cells), {}, dict.fromkeys(cells, "ValueError"))
    other = Fingerprint(set(cells), {}, dict.fromkeys(cells, "IndexError"))
    found = match_mutants(mine, {"crash": ("raises", crash), "other": ("raises", other)})
    assert found[0].cause.startswith("crash: ") and found[0].score == 1.0
    assert "the same fault in 2 of the 2 cells that raised (ValueError)" in found[0].evidence
    assert all(not c.cause.startswith("other") for c in found)


def test_the_kind_of_a_fault_is_the_exception_its_reason_starts_with():
    assert fault_kind("ValueError: cannot reshape array (at <lambda>, line 3)") == "ValueError"
    assert fault_kind("numpy.linalg.LinAlgError: singular") == "LinAlgError"
    assert fault_kind("returned shape (3,), expected (3, 1)") == "error"


def test_ops_applied_to_constants_alone_are_not_used():
    def f(xp, x):
        scale = xp.exp(xp.asarray(2.0)) * 3.0  # constants only: never differentiated
        return xp.sum(xp.tanh(x) * scale)

    assert ops_used(f, [np.array([0.1, 0.2])]) == tuple(
        op for op in VOCABULARY if op in {"multiply", "tanh", "sum"}
    )
