"""Third order along a direction by reverse over reverse over reverse.

For s(x) = <u, f(x)>, the number d³/dt³ s(x + t·w) at t = 0 is D³s(x)[w, w, w]. The first
backward pass (recording) gives g(x) = ∇s(x) as nodes; the second, recording too, gives
H(x)·w = ∇<g(x), w> as nodes that still reach back to the inputs; the third differentiates
<H(x)·w, w> once more, and its gradient dotted with w is the number asked for. Every rule is
written with primitives, so each pass is the same backward as the first, run on nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness.engine.graph import Node, constant
from harness.engine.primitives import concatenate, reshape
from harness.engine.primitives import sum as total
from harness.engine.reverse import backward
from harness.engine.second import gradient_graph


def _leaf_nodes(xs: Sequence[Node]) -> Node:
    """The leaves' gradients as one flat node (zeros where a pass did not reach a leaf)."""
    parts = [x.grad if isinstance(x.grad, Node) else constant(np.zeros_like(x.value)) for x in xs]
    return concatenate(*[reshape(p, shape=(-1,)) for p in parts], axis=0)


def d3(
    fn: Callable[..., Any], primals: Sequence[Any], directions: Sequence[Any], cotangent: Any = None
) -> np.ndarray:
    """d³/dt³ <cotangent, fn(x + t·w)> at t = 0 (w: `directions`, one per primal), a scalar."""
    xs, g = gradient_graph(fn, primals, cotangent)
    w = np.concatenate(
        [np.ravel(np.asarray(d, dtype=x.dtype)) for x, d in zip(xs, directions, strict=True)]
    )
    for x in xs:  # a pass that does not reach a leaf leaves it no gradient, not a stale one
        x.grad = None
    backward(total(g * w), create_graph=True)  # H(x) w, as nodes
    hw = _leaf_nodes(xs)
    for x in xs:
        x.grad = None
    r = total(hw * w)  # <H(x) w, w>: its gradient is D³s[w, w, .]
    if isinstance(r, Node):
        backward(r)
    third = np.concatenate(
        [np.zeros(x.size, x.dtype) if x.grad is None else np.ravel(x.grad) for x in xs]
    )
    return np.asarray(np.dot(third, w), dtype=xs[0].dtype if xs else np.float64)
