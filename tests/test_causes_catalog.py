"""Every catalogued mutant, planted in a copy of the in-house engine that runs as if it were a
user's backend (beside the real engine and the oracles, on the whole registry in float64): its
likely causes name that mutant first (or a twin the registry cannot tell from it, listed
together), and op attribution names the op it touches. The oracles' cells are computed once and
replayed for every mutant (harness.mutants.run.Memo); the mutants' own signatures come from the
project cache (built once when it is cold)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.backends import get
from harness.backends import inhouse as inhouse_backend
from harness.backends.inhouse import InHouse
from harness.library import load_cases
from harness.mutants import MUTANTS, Mutant
from harness.mutants.apply import load_engine, unload
from harness.mutants.causes import likely_causes
from harness.mutants.run import Memo
from harness.mutants.signatures import ORACLES
from harness.runner import Runner
from harness.vocabulary import QUANTITIES, REFERENCE_DTYPE, UNEXPECTED, VOCABULARY

pytest.importorskip("torch")
pytest.importorskip("jax")
#: One worker runs them all (pytest -n, --dist loadgroup): the oracles' pass over the registry,
#: most of this file's time, is then computed once.
pytestmark = pytest.mark.xdist_group("causes_catalog")

#: Mutants of the engine's shared machinery (the backward and forward passes, second order,
#: the reduction of broadcast gradients): no one op is theirs to name.
SHARED_MACHINERY = {
    "broadcast_not_reduced", "sum_to_leading_axes_only", "reduction_vjp_no_keepdims",
    "forward_overwrites", "accumulate_overwrites", "cotangent_ignored", "naive_second_order",
    "double_backward_detached", "hvp_stale_leaf_grads",
}  # fmt: skip
#: Mutants whose name does not start with the vocabulary op they touch.
TOUCHES = {"scatter_overwrites": "take"}
#: Where op attribution cannot name the touched op, and why: the engine's own rules for other
#: ops are built from it, so its bug fails cases that never call it (and the cases that call it
#: pass where its broken part is not reached), or a case using it uses another op as rare.
SPREAD = {
    "pow_vjp_off_by_one": "x ** 2 inside the rules of other ops (var, std, squared norms)",
    "pow_jvp_off_by_one": "x ** 2 inside the rules of other ops",
    "max_ties_not_split": "the one case with a tied max also uses maximum, which fewer pass",
    "softmax_forward_wrong_axis": "softmax's forward is inside cross_entropy's and "
                                  "logsumexp's rules; 1-d softmax cases pass",
    "broadcast_to_vjp_averages": "broadcast_to's VJP is sum_to, which reduces every "
                                 "broadcast gradient",
}  # fmt: skip


def touched_op(m: Mutant) -> str | None:
    """The vocabulary op a mutant's bug is in (its name starts with it), or None."""
    if m.name in SHARED_MACHINERY:
        return None
    if m.name in TOUCHES:
        return TOUCHES[m.name]
    ops = [op for op in VOCABULARY if m.name.startswith(op + "_")]
    return max(ops, key=len) if ops else None


class Planted(InHouse):
    """A user's engine: the in-house engine with one catalogued bug, under its own name."""

    name = "planted"
    reference_rank = 100

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def compute(self, quantity: str, p: Any) -> Any:
        real = inhouse_backend.engine
        inhouse_backend.engine = self.engine
        try:
            return super().compute(quantity, p)
        finally:
            inhouse_backend.engine = real


@pytest.fixture(scope="module")
def registry():
    cases = [c for c in load_cases().values() if "large" not in c.tags]
    oracles = {n: Memo(get(n)) for n in ("inhouse", *ORACLES)}  # the real engine too
    return cases, oracles


@pytest.mark.parametrize("m", MUTANTS, ids=[m.name for m in MUTANTS])
def test_a_catalogued_bug_as_a_users_engine_is_its_own_first_cause(registry, m):
    cases, oracles = registry
    engine = load_engine(m)
    try:
        runner = Runner({**oracles, "planted": Planted(engine)})
        run = runner.run(cases, [REFERENCE_DTYPE], list(QUANTITIES))
    finally:
        unload(engine)
    s, e = run.summary, run.elements
    mine = s[s["backend"] == "planted"]
    crashed = mine[mine["reason"].str.contains("NameError|SyntaxError|UnboundLocalError")]
    assert crashed.empty, (
        f"{m.name} crashes instead of planting its bug: {crashed['reason'].iloc[0]}"
    )
    if not mine["verdict"].isin(UNEXPECTED).any():
        pytest.skip(f"no case kills {m.name}: it cannot be fingerprinted")
    found = likely_causes(s, e, cases, 0)["planted"]
    mutants = [c for c in found if c.kind == "mutant"]
    first = [part.split(": ")[0] for part in mutants[0].cause.split(" = ")]
    assert m.name in first, [(c.cause, c.score, c.evidence) for c in mutants]
    op = touched_op(m)
    if op is None:
        return
    named = [c.cause.split(" (")[0] for c in found if c.kind == "op"]
    if m.name in SPREAD:
        assert op not in named, f"{m.name}: op attribution now names {op}; drop it from SPREAD"
        pytest.xfail(SPREAD[m.name])
    assert op in named, [(c.cause, c.evidence) for c in found if c.kind == "op"]
