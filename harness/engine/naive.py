"""The naive second-order rule of seed problem 1b — wrong on purpose, so the harness catches it.

Second derivatives are propagated exactly like first ones. The root s = <u, f(x)> seeds
``f.d2 = u``; then, in reverse topological order, for child = op(parent, ...):

    parent.d2 += op's vjp applied to child.d2          if op is linear in its inputs together
    parent.d2 += child.d2 · ∂²child/∂parent²            otherwise (the op's own diagonal)

For l = f(g(x), h(x)) this yields f_yy·g''(x) + f_zz·h''(x), the seed's (1-4), instead of the
true (1-3): the terms with g'(x)², h'(x)² and the first derivatives f_y·g'', f_z·h'' are lost,
and so is every cross term (∂²/∂y∂z of a bilinear y·z counts as 0). The naive HVP is d2 ⊙ w and
the naive Hessian diag(d2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness.engine.graph import Node, differentiated, toposort, val, variable
from harness.engine.primitives import sum_to


def naive_backward(root: Node, seed: Any = None) -> None:
    """Set ``.d2`` on every node `root` depends on, by the naive rule (seed: ones)."""
    order = toposort(root)
    for node in order:
        node.d2 = None
    if not root.requires_grad:
        return
    root.d2 = np.ones_like(root.value) if seed is None else np.asarray(seed, dtype=root.dtype)
    for node in reversed(order):
        d, op = node.d2, node.op
        if d is None or op is None:
            continue
        args = [val(a) for a in node.args]
        diff = differentiated(node)
        rule = op.vjp if op.is_linear(diff) else op.d2
        for i in diff:
            parent = node.args[i]
            di = rule(i, d, node.value, args, node.params)
            if di is None:  # no curvature
                continue
            if op.broadcast:
                di = sum_to(di, parent.shape)
            parent.d2 = di if parent.d2 is None else parent.d2 + di


def naive_diagonal(
    fn: Callable[..., Any], primals: Sequence[Any], cotangent: Any = None
) -> tuple[np.ndarray, ...]:
    """The naive rule's d2 on each primal for s(x) = <cotangent, fn(x)> (zeros if unreached)."""
    xs = [variable(p) for p in primals]
    out = fn(*xs)
    if isinstance(out, Node):
        naive_backward(out, cotangent)
    return tuple(
        np.zeros_like(x.value) if x.d2 is None else np.asarray(x.d2, dtype=x.dtype) for x in xs
    )


def naive_hvp(
    fn: Callable[..., Any], primals: Sequence[Any], directions: Sequence[Any], cotangent: Any = None
) -> tuple[np.ndarray, ...]:
    """The naive HVP, d2 ⊙ w, one array per primal."""
    d2 = naive_diagonal(fn, primals, cotangent)
    return tuple(
        d * np.asarray(w, dtype=d.dtype).reshape(d.shape)
        for d, w in zip(d2, directions, strict=True)
    )


def naive_hessian(
    fn: Callable[..., Any], primals: Sequence[Any], cotangent: Any = None
) -> np.ndarray:
    """The naive Hessian, diag(d2) over the concatenated flattened primals."""
    return np.diag(np.concatenate([np.ravel(d) for d in naive_diagonal(fn, primals, cotangent)]))
