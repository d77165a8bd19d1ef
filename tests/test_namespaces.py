"""Every namespace computes the ops of the engine's op table (tests/test_engine_ops.py) as the
numpy value oracle does: mpmath on object arrays, fd's batched namespace (without falling back
to its point-by-point loop), and JAX, HIPS autograd and mp (mpmath's differences at 50
digits), whose derivatives must match the engine's; an op a framework lacks is Unsupported (a
skipped cell), never an error."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from harness import backends
from harness.backends.base import Unsupported
from harness.backends.fd_batch import Points
from harness.backends.inhouse import InHouse
from harness.backends.mp import MpNamespace
from tests.test_engine_ops import OPS, Op, close, problem

pytestmark = [
    pytest.mark.filterwarnings("ignore:There is a performance drop"),
    pytest.mark.filterwarnings("ignore:Output seems independent of input"),  # autograd, linear f
]

#: Table entries a framework cannot run, for reasons outside this harness.
LIMITS = {
    ("jax", "getitem_fancy"): "jax refuses a list as an index (a[[0, 0, 1]]); cases use take",
    ("autograd", "where"): "autograd's where VJP does not sum a broadcast operand back",
}


@pytest.mark.parametrize("spec", OPS, ids=lambda s: s.name)
def test_mpmath_object_arrays_give_the_numpy_value(spec: Op):
    p = problem(spec, "float64")
    ctx = mpmath.mp.clone()
    ctx.dps = 30
    xp = MpNamespace(ctx)
    args = [xp.asarray(a) if spec.inputs[n].kind == "float" else a for n, a in p.args.items()]
    got = np.vectorize(float, otypes=[float])(np.asarray(spec.fn(xp, *args), dtype=object))
    close(got, InHouse().value(p), f"{spec.name}: mp value", "value")


@pytest.mark.parametrize("spec", OPS, ids=lambda s: s.name)
def test_fd_batched_namespace_expresses_every_op(spec: Op):
    p = problem(spec, "float64")
    pts = Points(p)
    x0 = p.flatten(p.args)
    x = x0[:, None] + 0.01 * np.random.default_rng(0).normal(size=(x0.size, 5))
    out = pts.many(x)
    assert pts.batched, f"{spec.name}: fd fell back to its point-by-point loop"
    close(out, pts._loop(x), f"{spec.name}: batched vs one point at a time", "value")


@pytest.mark.parametrize("spec", OPS, ids=lambda s: s.name)
@pytest.mark.parametrize("name", ["jax", "autograd", "mp"])
def test_framework_derivatives_match_the_engine(name: str, spec: Op):
    if (name, spec.name) in LIMITS:
        pytest.skip(LIMITS[name, spec.name])
    be = backends.get(name)
    why = be.available()
    if why:
        pytest.skip(why)
    p = problem(spec, "float64")
    for q in ("jvp", "hvp"):
        try:
            got = be.compute(q, p)
        except Unsupported:
            continue
        close(got, InHouse().compute(q, p), f"{spec.name}: {q} ({name} vs inhouse)", q)
