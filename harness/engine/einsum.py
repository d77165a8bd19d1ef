"""einsum over numpy's subscripts (no ellipsis): linear in each operand.

An operand's VJP is the einsum of the cotangent with the other operands, onto that operand's
letters; letters no other term has were summed over, so the gradient is constant along them
(broadcast), and a repeated letter (a diagonal, ``ii->i``) gets it on the diagonal only. Its JVP
is the same einsum with the tangent in the operand's place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.engine.graph import ZERO, Primitive
from harness.engine.primitives import _like, _reshaped, broadcast_to, getitem
from harness.namespace import einsum_subscripts, widened


def _fwd(*xs: np.ndarray, subscripts: str) -> np.ndarray:
    """numpy's einsum; bfloat16 operands, which it rejects, are contracted in float32 (the
    primitive rounds the result back to bfloat16, as hardware accumulating in float32 does)."""
    return np.einsum(subscripts, *widened(*xs), optimize=len(xs) > 1)


def _distinct(letters: str) -> str:
    return "".join(dict.fromkeys(letters))


def _on_diagonals(r: Any, letters: str, mine: str, x: Any) -> Any:
    """r, over the distinct `letters`, placed where x's repeated letters have equal indices."""
    first = {c: mine.index(c) for c in letters}
    ndim = len(mine)

    def ramp(k: int) -> np.ndarray:  # the index of axis k, shaped to broadcast over x
        return np.arange(x.shape[k]).reshape([-1 if j == k else 1 for j in range(ndim)])

    mask = np.ones(x.shape, dtype=bool)
    for k, c in enumerate(mine):
        mask = mask & (ramp(k) == ramp(first[c]))
    return getitem(r, index=tuple(ramp(first[c]) for c in letters)) * _like(x, mask)


def _vjp(i: int, g: Any, y: Any, *xs: Any, subscripts: str) -> Any:
    ins, out = einsum_subscripts(subscripts, len(xs))
    mine, letters = ins[i], _distinct(ins[i])
    others = [j for j in range(len(xs)) if j != i]
    found = set(out).union(*(ins[j] for j in others))
    kept = "".join(c for c in letters if c in found)
    r = einsum(g, *(xs[j] for j in others),
               subscripts=",".join([out, *(ins[j] for j in others)]) + "->" + kept)  # fmt: skip
    size = dict(zip(mine, xs[i].shape, strict=True))
    full = tuple(size[c] for c in letters)
    r = _reshaped(r, tuple(size[c] if c in found else 1 for c in letters))
    if r.shape != full:
        r = broadcast_to(r, shape=full)
    return r if letters == mine else _on_diagonals(r, letters, mine, xs[i])


def _jvp(i: int, t: Any, y: Any, *xs: Any, subscripts: str) -> Any:
    return einsum(*xs[:i], t, *xs[i + 1 :], subscripts=subscripts)


einsum = Primitive(
    "einsum", _fwd, linear=lambda diff: len(diff) == 1, vjp_argnum=_vjp, jvp_argnum=_jvp,
    d2=ZERO,  # linear in each operand
)  # fmt: skip
