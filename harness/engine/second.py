"""Second order by reverse-over-reverse (double backward).

The first backward pass runs with ``create_graph=True``: every rule is written with primitives,
so the gradient g(x) = ∇s(x) of s = <u, f(x)> comes out as nodes of a new graph that reaches back
to the inputs. Differentiating <g(x), w> once more gives the Hessian-vector product H w; the
Hessian is N such passes over the same gradient graph, one per basis vector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness.engine.graph import Node, constant, toposort, variable
from harness.engine.primitives import concatenate, reshape
from harness.engine.reverse import backward, run_backward


def gradient_graph(
    fn: Callable[..., Any], primals: Sequence[Any], cotangent: Any = None
) -> tuple[list[Node], Node]:
    """The input leaves and ∇<cotangent, fn(x)> as one flat node (differentiable)."""
    xs = [variable(p) for p in primals]
    out = fn(*xs)
    if isinstance(out, Node):
        backward(out, cotangent, create_graph=True)
    parts = [x.grad if isinstance(x.grad, Node) else constant(np.zeros_like(x.value)) for x in xs]
    flat = concatenate(*[reshape(p, shape=(-1,)) for p in parts], axis=0)
    return xs, flat


def _flat_grads(xs: Sequence[Node]) -> np.ndarray:
    return np.concatenate(
        [np.zeros(x.size, x.dtype) if x.grad is None else np.ravel(x.grad) for x in xs]
    )


def hvp(
    fn: Callable[..., Any], primals: Sequence[Any], directions: Sequence[Any], cotangent: Any = None
) -> tuple[np.ndarray, ...]:
    """H w for s(x) = <cotangent, fn(x)>, one array per primal (w: `directions`, one per primal)."""
    xs, g = gradient_graph(fn, primals, cotangent)
    w = np.concatenate(
        [np.ravel(np.asarray(d, dtype=x.dtype)) for x, d in zip(xs, directions, strict=True)]
    )
    _clear(xs)  # leaves the gradient graph does not reach get no second-pass gradient
    backward(g, w)  # d<g(x), w>/dx
    flat = _flat_grads(xs)
    return _split(flat, xs)


def hessian(fn: Callable[..., Any], primals: Sequence[Any], cotangent: Any = None) -> np.ndarray:
    """The (N, N) Hessian of s(x) = <cotangent, fn(x)> over the concatenated flattened primals."""
    xs, g = gradient_graph(fn, primals, cotangent)
    n = g.size
    order = toposort(g)
    rows = []
    for e in np.eye(n, dtype=g.dtype):
        _clear(xs)
        run_backward(order, g, e, create_graph=False)
        rows.append(_flat_grads(xs))
    return np.stack(rows)


def _clear(xs: Sequence[Node]) -> None:
    for x in xs:
        x.grad = None


def _split(flat: np.ndarray, xs: Sequence[Node]) -> tuple[np.ndarray, ...]:
    out, i = [], 0
    for x in xs:
        out.append(flat[i : i + x.size].reshape(x.shape))
        i += x.size
    return tuple(out)
