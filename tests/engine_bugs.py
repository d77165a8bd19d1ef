"""The in-house engine with two one-line bugs planted, as a backend: the derivative rules of
tanh and exp with their signs flipped, so every VJP, JVP, HVP, Jacobian and Hessian through
them is wrong, as a user's engine with two typos would be. Registered by tests that need a
report with many failing cells from few bugs (harness.backends.BUILTIN, in-process runs)."""

from __future__ import annotations

import numpy as np

from harness import engine
from harness.backends import inhouse
from harness.backends.base import Problem
from harness.engine.primitives import elementwise

#: What the flipped backend gets wrong: the ops whose rules are planted.
PLANTED_OPS = ("tanh", "exp")


class BuggyNamespace(engine.Namespace):
    """The engine's namespace with the two planted rules."""

    tanh = staticmethod(elementwise("tanh", np.tanh, d=lambda g, y, x: -g * (1 - y * y)))
    exp = staticmethod(elementwise("exp", np.exp, d=lambda g, y, x: -g * y))


def bind(p: Problem):
    """inhouse.bind, on the buggy namespace."""
    xp = BuggyNamespace(p.dtype)
    floats = {n: np.asarray(a, dtype=p.dtype) for n, a in p.args.items()
              if n not in p.wrt and np.issubdtype(np.asarray(a).dtype, np.floating)}  # fmt: skip
    fixed = {n: floats.get(n, a) for n, a in p.args.items() if n not in p.wrt}

    def fn(*xs):
        return p.call(xp, {**fixed, **dict(zip(p.wrt, xs, strict=True))})

    return fn, [np.asarray(p.args[n], dtype=p.dtype) for n in p.wrt]


class Flipped(inhouse.InHouse):
    """inhouse with tanh' and exp' negated (its methods find `bind` in inhouse's module: it
    is swapped for the buggy one during each call, one call at a time)."""

    name = "flipped"

    def compute(self, quantity: str, p: Problem):
        saved, inhouse.bind = inhouse.bind, bind
        try:
            return super().compute(quantity, p)
        finally:
            inhouse.bind = saved
