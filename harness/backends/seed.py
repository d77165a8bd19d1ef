"""The seed homework's own formulas as analytic reference backends, to audit them.

  seed-1-1  xl = f_y·g' + f_z·h'                              (the chain rule; must hold)
  seed-1-3  xl' = f_yy·g'² + f_y·g'' + f_zz·h'² + f_z·h''      (drops 2·f_yz·g'·h')
  seed-1-4  xl' = f_yy·g'' + f_zz·h''                          (naive backprop; wrong)
  seed-2-9  dl/dz = h ⊙ (g − <g, h>)                          (the softmax backward; must hold)

The ingredients (g', g'', f's partials...) come from mpmath at 50 digits, so only the formula is
under audit. These backends never vote in the consensus: they are judged, not trusted.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from harness.backends.base import Backend, Problem, Unsupported
from harness.backends.mp import composition_terms
from harness.namespace import NumpyNamespace
from harness.vocabulary import QUANTITY


class _Composite(Backend):
    """A formula over the case's declared composition x -> (g(x), h(x)) -> f(y, z)."""

    votes = False
    first: ClassVar[bool] = False  # a first-order formula (else second order)

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        q = QUANTITY[quantity]
        ok_q = q.order == (1 if self.first else 2) and not q.self_check
        return case.composition is not None and case.is_scalar and dtype == "float64" and ok_q

    def formula(self, t: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _d(self, p: Problem) -> float:
        comp = getattr(p.case, "composition", None)
        if comp is None or p.n != 1:
            raise Unsupported(f"{self.name} needs a declared composition of one scalar input")
        return float(self.formula(composition_terms(comp, float(p.flatten(p.args)[0]))))

    def _out(self, v: Any, p: Problem) -> np.ndarray:
        return np.asarray(v, dtype=p.dtype)

    def grad(self, p: Problem) -> np.ndarray:
        self._order(1)
        return self._out([self._d(p) * float(np.sum(p.cotangent))], p)

    def jvp(self, p: Problem) -> np.ndarray:
        self._order(1)
        return self._out(self._d(p) * float(p.tangent[0]), p).reshape(p.out_shape)

    def jacobian(self, p: Problem) -> np.ndarray:
        self._order(1)
        return self._out([[self._d(p)]], p)

    def hvp(self, p: Problem) -> np.ndarray:
        self._order(2)
        return self._out([self._d(p) * float(np.sum(p.cotangent)) * float(p.direction[0])], p)

    def hessian(self, p: Problem) -> np.ndarray:
        self._order(2)
        return self._out([[self._d(p) * float(np.sum(p.cotangent))]], p)

    def _order(self, order: int) -> None:
        if (order == 1) != self.first:
            raise Unsupported(f"{self.name} is a formula of order {1 if self.first else 2}")


class Seed11(_Composite):
    """(1-1): xl = yl·g'(x) + zl·h'(x)."""

    name = "seed-1-1"
    first = True

    def formula(self, t):
        return t["f_y"] * t["g1"] + t["f_z"] * t["h1"]


class Seed13(_Composite):
    """(1-3): xl' = yl'·g'² + yl·g'' + zl'·h'² + zl·h'' (no cross term)."""

    name = "seed-1-3"

    def formula(self, t):
        return (
            t["f_yy"] * t["g1"] ** 2 + t["f_y"] * t["g2"] + t["f_zz"] * t["h1"] ** 2
            + t["f_z"] * t["h2"]
        )  # fmt: skip


class Seed14(_Composite):
    """(1-4): xl' = yl'·g'' + zl'·h'' (naive backprop)."""

    name = "seed-1-4"

    def formula(self, t):
        return t["f_yy"] * t["g2"] + t["f_zz"] * t["h2"]


class Seed29(Backend):
    """(2-9): the softmax VJP h ⊙ (g − <g, h>) along the case's softmax axis, in the cell's
    dtype, with h = softmax(x) from plain numpy."""

    name = "seed-2-9"
    votes = False

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        return getattr(case, "softmax_axis", None) is not None and quantity == "grad"

    def grad(self, p: Problem) -> np.ndarray:
        axis = getattr(p.case, "softmax_axis", None)
        if axis is None:
            raise Unsupported("seed-2-9 applies to plain softmax cases only")
        (x,) = (p.args[n] for n in p.wrt)
        h = NumpyNamespace(p.dtype).softmax(x, axis=axis)
        g = p.cotangent
        return np.ravel(h * (g - np.sum(g * h, axis=axis, keepdims=True))).astype(p.dtype)
