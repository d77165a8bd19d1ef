"""The in-house numpy autodiff engine: nodes, primitives, forward/reverse mode, second order."""

from harness.engine.forward import jvp, push_tangents
from harness.engine.graph import Node, Primitive, constant, evaluate, toposort, variable
from harness.engine.naive import naive_backward, naive_diagonal, naive_hessian, naive_hvp
from harness.engine.primitives import sum_to
from harness.engine.reverse import backward, jacobian, vjp
from harness.engine.second import gradient_graph, hessian, hvp
from harness.engine.third import d3
from harness.engine.xp import Namespace

__all__ = [
    "Namespace",
    "Node",
    "Primitive",
    "backward",
    "constant",
    "d3",
    "evaluate",
    "gradient_graph",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "naive_backward",
    "naive_diagonal",
    "naive_hessian",
    "naive_hvp",
    "push_tangents",
    "sum_to",
    "toposort",
    "variable",
    "vjp",
]
