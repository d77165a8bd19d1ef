"""The graph: nodes holding ``.value`` and ``.grad``, primitives that build them, topological order.

A forward pass over leaf nodes records every primitive applied as a new node that remembers its
op, its arguments and its parameters. Primitives called on plain numpy arrays (no node among the
arguments) just compute their forward value, so a derivative rule written with primitives and
operators runs on raw arrays in a first-order backward pass and builds a graph when handed nodes
(double backward).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness import vocabulary

Rules = Sequence[Callable[..., Any]]


class Node:
    """One value in the graph. Leaves (``op is None``) are variables or constants.

    ``grad`` holds d<seed, root>/d(this node) after :func:`harness.engine.backward`; it stays
    None for constants. ``tangent`` and ``d2`` are filled by forward mode and the naive rule.
    Operators are the primitives of the same vocabulary name, read from :data:`OPERATORS`.
    """

    __slots__ = ("args", "d2", "grad", "op", "params", "requires_grad", "tangent", "value")
    # numpy defers to our reflected operators (array * node -> Node.__rmul__), never ufuncs.
    __array_ufunc__ = None

    def __init__(
        self,
        value: Any,
        op: Primitive | None = None,
        args: tuple = (),
        params: dict | None = None,
        requires_grad: bool = False,
    ) -> None:
        self.value = value if isinstance(value, np.ndarray) else np.asarray(value)
        self.op = op
        self.args = args
        self.params = params or {}
        self.requires_grad = requires_grad
        self.grad: Any = None
        self.tangent: Any = None
        self.d2: Any = None

    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)
    dtype = property(lambda self: self.value.dtype)
    size = property(lambda self: self.value.size)

    def __len__(self) -> int:
        return len(self.value)

    def __repr__(self) -> str:
        kind = self.op.name if self.op else ("variable" if self.requires_grad else "constant")
        return f"Node({kind}, shape={self.shape}, dtype={self.dtype})"

    # Arithmetic records the primitive of the vocabulary name; numpy operands are constants.
    def __add__(self, other: Any) -> Node:
        return OPERATORS["add"](self, other)

    def __radd__(self, other: Any) -> Node:
        return OPERATORS["add"](other, self)

    def __sub__(self, other: Any) -> Node:
        return OPERATORS["subtract"](self, other)

    def __rsub__(self, other: Any) -> Node:
        return OPERATORS["subtract"](other, self)

    def __mul__(self, other: Any) -> Node:
        return OPERATORS["multiply"](self, other)

    def __rmul__(self, other: Any) -> Node:
        return OPERATORS["multiply"](other, self)

    def __truediv__(self, other: Any) -> Node:
        return OPERATORS["divide"](self, other)

    def __rtruediv__(self, other: Any) -> Node:
        return OPERATORS["divide"](other, self)

    def __pow__(self, other: Any) -> Node:
        return OPERATORS["pow"](self, other)

    def __rpow__(self, other: Any) -> Node:
        return OPERATORS["pow"](other, self)

    def __matmul__(self, other: Any) -> Node:
        return OPERATORS["matmul"](self, other)

    def __rmatmul__(self, other: Any) -> Node:
        return OPERATORS["matmul"](other, self)

    def __neg__(self) -> Node:
        return OPERATORS["negative"](self)

    def __pos__(self) -> Node:
        return self

    def __abs__(self) -> Node:
        return OPERATORS["abs"](self)

    def __getitem__(self, index: Any) -> Node:
        return OPERATORS["getitem"](self, index=_index(index))

    @property
    def T(self) -> Node:
        return OPERATORS["transpose"](self)

    # Comparisons give plain numpy masks (constants): they have no derivative.
    def __gt__(self, other: Any) -> np.ndarray:
        return self.value > val(other)

    def __lt__(self, other: Any) -> np.ndarray:
        return self.value < val(other)

    def __ge__(self, other: Any) -> np.ndarray:
        return self.value >= val(other)

    def __le__(self, other: Any) -> np.ndarray:
        return self.value <= val(other)

    def __eq__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return self.value == val(other)

    def __ne__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return self.value != val(other)

    __hash__ = object.__hash__  # identity, as the graph needs; == is elementwise as in numpy


#: The primitives behind Node's operators, by vocabulary name (``a + b`` is ``add(a, b)``).
#: harness.engine.primitives fills it in: it imports this module, so this one cannot import it.
OPERATORS: dict[str, Primitive] = {}


def val(x: Any) -> Any:
    """The numpy value of a node, or `x` itself."""
    return x.value if isinstance(x, Node) else x


def _index(ix: Any) -> Any:
    """A constant index: nodes inside it are read as their values, lists become arrays."""
    if isinstance(ix, tuple):
        return tuple(_index(i) for i in ix)
    return np.asarray(val(ix)) if isinstance(ix, list | np.ndarray | Node) else ix


def variable(value: Any, dtype: Any = None) -> Node:
    """A leaf that receives a gradient (an input or a parameter)."""
    return Node(np.array(value, dtype=dtype), requires_grad=True)


def constant(value: Any, dtype: Any = None) -> Node:
    """A leaf that never receives a gradient (its ``grad`` stays None)."""
    return Node(np.asarray(value, dtype=dtype))


class Primitive:
    """An op: its numpy forward and, per input, its derivative rules.

    Rules take ``(g, y, *inputs, **params)``: g the incoming cotangent (``vjp``), tangent
    (``jvp``) or naive second-order seed (``d2``), y the op's output. ``d2`` gives the op's own
    diagonal second derivative contracted with the seed; ``ZERO`` marks ops without curvature.
    Variadic ops (concatenate) give ``*_argnum`` rules that take the input's index first.
    ``broadcast`` ops get their vjp summed back to each input's shape. ``linear`` is True for ops
    linear in all inputs together, or a test on the indices of the differentiated inputs
    (``x * c`` is linear, ``x * y`` is not).
    """

    def __init__(
        self,
        name: str,
        fwd: Callable[..., Any],
        vjp: Callable | Rules = (),
        jvp: Callable | Rules = (),
        d2: Callable | Rules | None = None,
        *,
        vjp_argnum: Callable | None = None,
        jvp_argnum: Callable | None = None,
        broadcast: bool = False,
        linear: bool | Callable[[list[int]], bool] = False,
    ) -> None:
        self.name, self.broadcast, self._linear = name, broadcast, linear
        self.fwd = _in_working_dtype(fwd)
        self._vjp = _argnum(vjp, vjp_argnum)
        self._jvp = _argnum(jvp, jvp_argnum)
        self._d2 = None if d2 is None else _argnum(d2, None)

    def __call__(self, *args: Any, **params: Any) -> Any:
        for a in args:
            if isinstance(a, Node):
                return self._record(args, params)
        return self.fwd(*args, **params)

    def _record(self, args: tuple, params: dict) -> Node:
        nodes = [a for a in args if isinstance(a, Node)]
        dtype = nodes[0].value.dtype
        # Constants take the nodes' dtype: a python scalar never turns float32 into float64.
        args = tuple(a if isinstance(a, Node) else np.asarray(a, dtype=dtype) for a in args)
        vals = [val(a) for a in args]
        try:
            value = self.fwd(*vals, **params)
        except ValueError as e:
            shapes = " and ".join(str(v.shape) for v in vals)
            raise ValueError(f"{self.name}: incompatible shapes {shapes} ({e})") from None
        return Node(value, self, args, params, any(n.requires_grad for n in nodes))

    def vjp(self, i: int, g: Any, y: Any, args: Sequence, params: dict) -> Any:
        return _rounded(self._vjp(i, g, y, *args, **params), (g, y, *args))

    def jvp(self, i: int, t: Any, y: Any, args: Sequence, params: dict) -> Any:
        return _rounded(self._jvp(i, t, y, *args, **params), (t, y, *args))

    def d2(self, i: int, d: Any, y: Any, args: Sequence, params: dict) -> Any:
        if self._d2 is None:
            raise NotImplementedError(f"{self.name} has no naive second-derivative rule")
        return _rounded(self._d2(i, d, y, *args, **params), (d, y, *args))

    def is_linear(self, differentiated: list[int]) -> bool:
        lin = self._linear
        return lin(differentiated) if callable(lin) else lin

    def __repr__(self) -> str:
        return f"Primitive({self.name})"


#: The low-precision dtypes the engine computes in: numpy (or scipy) may give a wider result for
#: them (matmul of bfloat16 is float32, erf float64); it is rounded back to the working dtype.
LOW_PRECISION = tuple(np.dtype(d) for d in vocabulary.LOW_PRECISION)
_NARROWEST = max(d.itemsize for d in LOW_PRECISION)


def working_dtype(args: Sequence[Any]) -> np.dtype | None:
    """The low-precision dtype of the first array among `args` that has one, else None."""
    for a in args:
        dt = getattr(a.value if isinstance(a, Node) else a, "dtype", None)
        # itemsize first: float32 and float64 (nearly every call) never compare dtypes
        if dt is not None and dt.itemsize <= _NARROWEST and dt in LOW_PRECISION:
            return dt
    return None


def _in_working_dtype(fwd: Callable[..., Any]) -> Callable[..., Any]:
    """`fwd` whose float result, for low-precision operands, is rounded to their dtype, as
    hardware that accumulates bfloat16 in float32 rounds its result back. float32 and float64
    operands are passed straight through (numpy keeps those dtypes itself)."""

    def run(*args: Any, **params: Any) -> Any:
        return _rounded(fwd(*args, **params), args)

    run.__name__ = getattr(fwd, "__name__", "fwd")
    run.__doc__ = fwd.__doc__
    return run


def _rounded(out: Any, args: Sequence[Any]) -> Any:
    """`out`, a raw float array, in the low-precision dtype of `args` if they have one. A rule
    run on raw arrays needs it: numpy gives ``0.5 * g`` of a bfloat16 g in float32."""
    dt = working_dtype(args)
    if dt is None or not isinstance(out, np.ndarray | np.generic) or out.dtype == dt:
        return out
    wider = out.dtype.kind == "f" or out.dtype in LOW_PRECISION
    return np.asarray(out).astype(dt) if wider else out


def ZERO(*_: Any, **__: Any) -> None:
    """The rule of an op without curvature (bilinear or piecewise linear): contributes nothing."""
    return None


def _argnum(rules: Callable | Rules, argnum: Callable | None) -> Callable:
    if argnum is not None:
        return argnum
    if callable(rules):  # one rule for every input (a variadic op's d2=ZERO, say)
        return lambda i, *a, **k: rules(*a, **k)
    table = tuple(rules)
    return lambda i, *a, **k: table[i](*a, **k)


def toposort(root: Node) -> list[Node]:
    """Nodes that `root` depends on and that require grad, parents before children."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:  # iterative DFS: deep graphs never hit the recursion limit
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen or not node.requires_grad:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((a, False) for a in node.args if isinstance(a, Node) and id(a) not in seen)
    return order


def differentiated(node: Node) -> list[int]:
    """Indices of `node`'s arguments that receive a gradient."""
    return [i for i, a in enumerate(node.args) if isinstance(a, Node) and a.requires_grad]


def evaluate(fn: Callable[..., Any], primals: Sequence[Any]) -> np.ndarray:
    """fn(*primals) run through the engine (primals as variable leaves), as a numpy array."""
    return np.asarray(val(fn(*[variable(p) for p in primals])))
