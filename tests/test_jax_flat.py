"""jax's programs are lowered flat: the jitted functions inside jax (jnp.sum, jax.nn's) are
traced inline, not as nested programs, with the same results; a function that needs jit is
lowered as it is."""

from __future__ import annotations

import numpy as np
import pytest

from harness.backends.jax_backend import lower_inlined

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)


def _nested_programs(lowered) -> int:
    """Functions of the lowered module besides main (a nested program is lowered as one)."""
    return lowered.as_text().count("func.func") - 1


def _case(x, u):
    return {"s": jax.numpy.sum(jax.nn.log_softmax(x) * u), "m": jax.numpy.mean(x)}


def test_the_program_has_no_nested_program_and_the_same_results():
    x, u = jax.numpy.arange(4.0), jax.numpy.array([0.5, -1.0, 2.0, 0.25])
    nested = jax.jit(_case).lower(x, u)
    assert _nested_programs(nested) > 0  # as jax lowers it under jit
    flat = lower_inlined(jax, _case, (x, u))
    assert _nested_programs(flat) == 0
    got, want = flat.compile()(x, u), nested.compile()(x, u)
    for k in want:
        assert np.asarray(got[k]).tobytes() == np.asarray(want[k]).tobytes(), k


def _needs_jit(x):
    if jax.config.jax_disable_jit:
        raise RuntimeError("traced only under jit")
    return jax.numpy.sin(x) * 2.0


def test_a_function_that_needs_jit_is_lowered_as_it_is():
    x = jax.numpy.linspace(0.0, 1.0, 5)
    got = lower_inlined(jax, _needs_jit, (x,)).compile()(x)
    np.testing.assert_allclose(np.asarray(got), np.sin(np.linspace(0.0, 1.0, 5)) * 2.0, rtol=1e-15)
