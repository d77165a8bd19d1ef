"""jax's programs are traced flat: the jitted functions inside jax (jnp.sum, jax.nn's) are traced
inline, not as nested programs, with the same results; a function that needs jit is traced as
it is."""

from __future__ import annotations

import numpy as np
import pytest

from harness.backends import get

jax = pytest.importorskip("jax")


def _nested_programs(fn, *args) -> int:
    closed = jax.make_jaxpr(fn)(*args)
    return sum(e.primitive.name in ("pjit", "jit") for e in closed.jaxpr.eqns)


def _case(x, u):
    return {"s": jax.numpy.sum(jax.nn.log_softmax(x) * u), "m": jax.numpy.mean(x)}


def test_the_program_has_no_nested_program_and_the_same_results():
    be = get("jax")
    be._import()
    x, u = jax.numpy.arange(4.0), jax.numpy.array([0.5, -1.0, 2.0, 0.25])
    out = jax.tree_util.tree_structure(_case(x, u))
    assert _nested_programs(_case, x, u) > 0  # as jax traces it under jit
    flat = be._flat(_case, (x, u), out)
    assert _nested_programs(flat, x, u) == 0
    got = jax.tree_util.tree_unflatten(out, jax.jit(flat)(x, u))
    want = jax.jit(_case)(x, u)
    for k in want:
        assert np.asarray(got[k]).tobytes() == np.asarray(want[k]).tobytes(), k


def _needs_jit(x):
    if jax.config.jax_disable_jit:
        raise RuntimeError("traced only under jit")
    return jax.numpy.sin(x) * 2.0


def test_a_function_that_needs_jit_is_traced_as_it_is():
    be = get("jax")
    be._import()
    x = jax.numpy.linspace(0.0, 1.0, 5)
    flat = be._flat(_needs_jit, (x,), jax.tree_util.tree_structure(x))
    (got,) = jax.jit(flat)(x)
    np.testing.assert_allclose(np.asarray(got), np.sin(np.linspace(0.0, 1.0, 5)) * 2.0, rtol=1e-15)
