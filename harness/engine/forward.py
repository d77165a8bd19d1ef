"""Forward mode: tangents pushed from the inputs to the output, one tangent rule per op.

The forward pass records the graph; the tangents then flow through it in topological order
(parents before children), each node's tangent the sum of its op's jvp rule over the inputs
that carry one. No transposition, no cotangent: this is independent of the backward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness.engine.graph import Node, toposort, val, variable


def push_tangents(order: list[Node], root: Node) -> np.ndarray:
    """Fill ``.tangent`` of every non-leaf node in `order` from the leaves' tangents.

    Leaves keep the tangent set on them (None means zero). Returns the root's tangent.
    """
    for node in order:
        op = node.op
        if op is None:
            continue
        t = None
        vals = [val(a) for a in node.args]
        for i, parent in enumerate(node.args):
            if isinstance(parent, Node) and parent.requires_grad and parent.tangent is not None:
                ti = op.jvp(i, parent.tangent, node.value, vals, node.params)
                t = ti if t is None else t + ti
        if t is not None and np.shape(t) != node.shape:
            t = np.broadcast_to(t, node.shape)  # e.g. a + b with only a's tangent nonzero
        node.tangent = t
    t = root.tangent if isinstance(root, Node) else None
    return np.zeros_like(val(root)) if t is None else np.asarray(t, dtype=root.dtype)


def jvp(
    fn: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """fn(*primals) and J v, the directional derivative along `tangents` (one per primal)."""
    xs = [variable(p) for p in primals]
    for x, t in zip(xs, tangents, strict=True):
        x.tangent = np.asarray(t, dtype=x.dtype).reshape(x.shape)
    out = fn(*xs)
    if not isinstance(out, Node):
        return np.asarray(out), np.zeros_like(np.asarray(out))
    return out.value, push_tangents(toposort(out), out)
