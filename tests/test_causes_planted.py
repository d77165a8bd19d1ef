"""Likely causes for engines with planted bugs that are not in the catalog: the touched op is
named first, and the closest catalogued bug is one of the same kind."""

import pandas as pd
import pytest

from harness.backends import plugins
from harness.cli import main
from harness.mutants import MUTANTS

pytest.importorskip("torch")

ENGINE = """
from harness.backends.inhouse import InHouse
from harness.mutants import Mutant, installed

BUG = Mutant("planted", "primitives", {old!r}, {new!r}, "planted")


class Planted(InHouse):
    name = "planted"
    reference_rank = 100

    def compute(self, quantity, p):
        with installed(BUG):
            return super().compute(quantity, p)
"""
TANH = 'tanh = elementwise("tanh", np.tanh, d=lambda g, y, x: g * (1 - y * y),'
BUGS = {
    # the sign of tanh's derivative flipped: first and second order
    "sign": TANH.replace("g * (1 - y * y)", "g * (y * y - 1)"),
    # tanh's derivative taken of a constant copy of y: right values, lost second order
    "second_order_only": TANH.replace("g * (1 - y * y)", "g * (1 - val(y) * val(y))"),
}
CASES = ["affine_tanh", "tanh_elementwise", "mlp_tanh_cross_entropy", "two_paths",
         "softmax_1d", "quotient", "exp_log_chain", "arctan_elementwise"]  # fmt: skip


@pytest.fixture(autouse=True)
def no_file_backends(monkeypatch):
    monkeypatch.setattr(plugins, "_FROM_FILES", {})


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_the_touched_op_comes_first(tmp_path, bug):
    (tmp_path / "planted.py").write_text(ENGINE.format(old=TANH, new=BUGS[bug]))
    code = main(["validate", "--backend-module", str(tmp_path / "planted.py"),
                 "--backends", "inhouse,torch,fd,mp,planted", "--cases", *CASES,
                 "--out", str(tmp_path / "rep")])  # fmt: skip
    assert code == 1
    causes = pd.read_csv(tmp_path / "rep" / "causes.csv", keep_default_na=False)
    mine = causes[causes.backend == "planted"].sort_values("rank")
    ops = mine[mine.kind == "op"]
    assert ops.iloc[0].cause.startswith("tanh"), mine.to_string()
    page = (tmp_path / "rep" / "report.html").read_text()
    top = page[page.index("<h2>Likely causes</h2>") : page.index('id="grid"')]
    assert "href='#failures-planted'" in top and ops.iloc[0].cause in top
    assert "id='failures-planted'" in page  # the link lands on the backend's failures
    if bug == "second_order_only":
        assert ops.iloc[0].cause == "tanh (second order and up)"
    closest = mine[mine.kind == "mutant"].iloc[0]
    if bug == "sign":  # a bug of tanh, or an honest 'none': never a mutant of another op
        tanh_mutants = [m.name for m in MUTANTS if m.name.startswith("tanh")]
        assert closest.cause == "none" or any(closest.cause.startswith(n) for n in tanh_mutants)
    else:  # the same term lost: subtract's sign inside tanh's rule does that at order two
        assert closest.cause == "none" or "error correlation 1.00" in closest.evidence, closest


@pytest.mark.parametrize("name", ["tanh_jvp_wrong"])  # every mutant: test_causes_catalog.py
def test_a_catalogued_bug_planted_as_a_users_engine_is_its_own_first_cause(tmp_path, name):
    m = next(m for m in MUTANTS if m.name == name)
    (tmp_path / "planted.py").write_text(
        ENGINE.format(old=m.old, new=m.new).replace('"primitives"', repr(m.module))
    )
    code = main(["validate", "--backend-module", str(tmp_path / "planted.py"),
                 "--backends", "inhouse,torch,fd,mp,planted", "--cases", *CASES, "softmax_*",
                 "--out", str(tmp_path / "rep")])  # fmt: skip
    assert code == 1
    causes = pd.read_csv(tmp_path / "rep" / "causes.csv", keep_default_na=False)
    first = causes[(causes.backend == "planted") & (causes.kind == "mutant")].iloc[0]
    assert name in first.cause.split(": ")[0].split(" = ") and first.score == 1.0, first


def test_a_merge_recomputes_the_causes_of_the_whole_run(tmp_path):
    """Shards each see part of the failing cells; the merged set's causes.csv is the one the
    unsharded run writes, byte for byte (recomputed from the merged cells, not joined)."""
    (tmp_path / "planted.py").write_text(ENGINE.format(old=TANH, new=BUGS["sign"]))
    run = ["validate", "--backend-module", str(tmp_path / "planted.py"),
           "--backends", "inhouse,torch,fd,mp,planted", "--cases", *CASES]  # fmt: skip
    assert main([*run, "--out", str(tmp_path / "whole")]) == 1
    for k in (1, 2):
        main([*run, "--shard", f"{k}/2", "--out", str(tmp_path / f"shard{k}")])
    shards = [str(tmp_path / f"shard{k}") for k in (1, 2)]
    assert main(["merge", *shards, "--out", str(tmp_path / "merged")]) == 0
    whole = (tmp_path / "whole" / "causes.csv").read_text()
    assert "planted" in whole
    parts = [(tmp_path / f"shard{k}" / "causes.csv").read_text() for k in (1, 2)]
    assert whole not in parts  # no shard alone has the whole run's causes
    assert (tmp_path / "merged" / "causes.csv").read_text() == whole
    page = (tmp_path / "merged" / "report.html").read_text()
    assert "<h2>Likely causes</h2>" in page
