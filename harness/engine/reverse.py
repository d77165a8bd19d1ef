"""Reverse mode: the backward pass, and the VJP and Jacobian built on it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness.engine.forward import push_tangents
from harness.engine.graph import Node, constant, toposort, val, variable
from harness.engine.primitives import sum_to


def backward(root: Node, seed: Any = None, create_graph: bool = False) -> None:
    """Set ``.grad`` = d<seed, root>/d(node) on every node `root` depends on (seed: ones).

    Gradients are reset first, then accumulated in reverse topological order: a node feeding
    several children receives the sum of their contributions (seed problem 1a). With
    `create_graph` the rules run on nodes, so every ``.grad`` is itself a differentiable node.
    """
    run_backward(toposort(root), root, seed, create_graph)


def run_backward(order: list[Node], root: Node, seed: Any, create_graph: bool) -> None:
    """`backward` over a precomputed topological order (reused by Hessians and Jacobians)."""
    for node in order:
        node.grad = None
    if not root.requires_grad:
        return
    seed = np.ones_like(root.value) if seed is None else np.asarray(seed, dtype=root.dtype)
    root.grad = constant(seed) if create_graph else seed
    for node in reversed(order):
        g, op = node.grad, node.op
        if g is None or op is None:
            continue
        y, args = (node, node.args) if create_graph else (node.value, [val(a) for a in node.args])
        for i, parent in enumerate(node.args):
            if not (isinstance(parent, Node) and parent.requires_grad):
                continue
            gi = op.vjp(i, g, y, args, node.params)
            if op.broadcast:
                gi = sum_to(gi, parent.shape)
            # Out of place: a rule may hand the same array to two parents (add passes g on).
            parent.grad = gi if parent.grad is None else parent.grad + gi
    if not create_graph:  # leaves get writeable arrays, not broadcast views or numpy scalars
        for node in order:
            g = node.grad
            if node.op is None and not (isinstance(g, np.ndarray) and g.flags.writeable):
                node.grad = np.array(g, dtype=node.dtype)


def _leaf_grad(x: Node) -> np.ndarray:
    g = x.grad
    return np.zeros_like(x.value) if g is None else np.array(val(g), dtype=x.dtype)


def vjp(
    fn: Callable[..., Any], primals: Sequence[Any], cotangent: Any = None
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """fn(*primals) and J^T cotangent for each primal (cotangent: ones)."""
    xs = [variable(p) for p in primals]
    out = fn(*xs)
    if isinstance(out, Node):
        backward(out, cotangent)
    return np.asarray(val(out)), tuple(_leaf_grad(x) for x in xs)


def jacobian(fn: Callable[..., Any], primals: Sequence[Any]) -> np.ndarray:
    """The (M, N) Jacobian over flattened output and concatenated flattened inputs.

    One recorded graph; M backward passes (rows) or N tangent pushes (columns), whichever is
    fewer.
    """
    xs = [variable(p) for p in primals]
    out = fn(*xs)
    n = sum(x.size for x in xs)
    m = int(np.size(val(out)))
    dtype = xs[0].dtype
    if not (isinstance(out, Node) and out.requires_grad):
        return np.zeros((m, n), dtype=dtype)
    order = toposort(out)
    if m <= n:
        rows = []
        for e in np.eye(m, dtype=dtype):
            run_backward(order, out, e.reshape(out.shape), False)
            rows.append(np.concatenate([_leaf_grad(x).ravel() for x in xs]))
        return np.stack(rows)
    cols = []
    for e in np.eye(n, dtype=dtype):
        _set_tangents(xs, e)
        cols.append(np.ravel(push_tangents(order, out)))
    return np.stack(cols, axis=1)


def _set_tangents(xs: Sequence[Node], flat: np.ndarray) -> None:
    i = 0
    for x in xs:
        x.tangent = flat[i : i + x.size].reshape(x.shape)
        i += x.size
