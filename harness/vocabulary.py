"""The tables every other module reads: quantities, verdicts, dtypes, ops and the cell id.

Each concept is defined here once. Adding a quantity, a verdict, a dtype or a vocabulary op is
one row of its table (plus what the backends and tolerances need for it); nothing else keeps a
second list of the same names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import ml_dtypes  # noqa: F401  (registers bfloat16 with numpy)
import numpy as np

# -- quantities ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """One derivative quantity a cell computes.

    ``shape`` names the expected result's axes: ``out`` the case's output shape, ``m`` the
    output size, ``n`` the number of differentiable input elements. ``probes`` are the
    Problem fields the quantity depends on (a backend or a cache keys on them). ``dense``
    quantities form a matrix and are refused above the dense limit.
    """

    name: str
    order: int
    shape: tuple[str, ...]
    probes: tuple[str, ...]
    dense: bool
    title: str  # the name of the check in failure text, as JAX's test utilities word it
    doc: str
    #: A self-check: one backend's results against each other (no oracle, no vote): the
    #: runner derives its value from the backend's own quantities, the judge holds it to a
    #: bound, and a failure blames that backend alone.
    self_check: bool = False


QUANTITY_TABLE: tuple[Quantity, ...] = (
    Quantity("value", 0, ("out",), (), False, "value", "the case's output"),
    Quantity("grad", 1, ("n",), ("cotangent",), False, "VJP", "J^T u over the flat inputs"),
    Quantity("jvp", 1, ("out",), ("tangent",), False, "JVP", "J v, output-shaped"),
    Quantity("hvp", 2, ("n",), ("cotangent", "direction"), False, "HVP",
             "the Hessian of <u, f> times w"),
    Quantity("jacobian", 1, ("m", "n"), (), True, "Jacobian", "J, (M, N)"),
    Quantity("hessian", 2, ("n", "n"), ("cotangent",), True, "Hessian",
             "the Hessian of <u, f>, (N, N)"),
    Quantity("d3", 3, (), ("cotangent", "direction"), False, "third derivative",
             "d³/dt³ <u, f(x + t w)> at t = 0, a scalar"),
    Quantity("adjoint", 1, (), ("cotangent", "tangent"), False, "JVP-VJP dot-product test",
             "|<u, J v> - <J^T u, v>| from the backend's own JVP and VJP, relative", True),
    Quantity("symmetry", 2, (), ("cotangent", "direction", "tangent"), False,
             "HVP symmetry test",
             "|<v, H w> - <w, H v>| from the backend's own HVPs, relative", True),
)  # fmt: skip
QUANTITY: dict[str, Quantity] = {q.name: q for q in QUANTITY_TABLE}
QUANTITIES: tuple[str, ...] = tuple(QUANTITY)
ORDER: dict[str, int] = {q.name: q.order for q in QUANTITY_TABLE}
#: The quantities a backend computes itself (the others are self-checks derived from them).
COMPUTED: tuple[str, ...] = tuple(q.name for q in QUANTITY_TABLE if not q.self_check)
#: Dense matrices are formed up to this many rows and columns; above it, matrix-free only.
DENSE_LIMIT = 64


def expected_shape(quantity: str, out_shape: tuple[int, ...], n: int, m: int) -> tuple[int, ...]:
    """The shape a backend must return for `quantity` (see Quantity.shape)."""
    sizes: dict[str, Any] = {"n": (n,), "m": (m,), "out": tuple(out_shape)}
    return tuple(d for axis in QUANTITY[quantity].shape for d in sizes[axis])


# -- dtypes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dtype:
    """A dtype cells compute in.

    ``reference``: the dtype whose oracle results other dtypes' groups borrow (computed at the
    very same, exactly representable inputs). ``default``: run when no dtypes are named
    (``--dtypes all`` adds the others). ``bits``: significand bits, the implicit one included
    (unit roundoff 2^-bits); ``max``: the largest finite value. ``low_precision``: rows whose
    bound adds the case's own sensitivity to rounding in this dtype (``tol_dtype``), and whose
    runs draw inputs exactly representable in it.
    """

    name: str
    bits: int
    max: float
    doc: str
    reference: bool = False
    default: bool = True
    low_precision: bool = False

    @property
    def unit_roundoff(self) -> float:
        """Half the distance from 1 to the next number: the largest relative rounding error."""
        return 2.0**-self.bits

    @property
    def numpy(self) -> np.dtype:
        """The numpy dtype (bfloat16 is ml_dtypes', registered with numpy on import)."""
        return np.dtype(self.name)


DTYPE_TABLE: tuple[Dtype, ...] = (
    Dtype("float64", 53, 1.7976931348623157e308, "IEEE double", reference=True),
    Dtype("float32", 24, 3.4028234663852886e38, "IEEE single"),
    Dtype("float16", 11, 65504.0, "IEEE half: 11 significant bits, finite up to 65504",
          default=False, low_precision=True),
    Dtype("bfloat16", 8, 3.3895313892515355e38, "brain float: float32's range, 8 significant "
          "bits (ml_dtypes)", default=False, low_precision=True),
)  # fmt: skip
DTYPE: dict[str, Dtype] = {d.name: d for d in DTYPE_TABLE}
DTYPES: tuple[str, ...] = tuple(DTYPE)
#: What a run computes in when no dtypes are named (the CLI, the pytest plugin, harness.check).
DEFAULT_DTYPES: tuple[str, ...] = tuple(d.name for d in DTYPE_TABLE if d.default)
REFERENCE_DTYPE: str = next(d.name for d in DTYPE_TABLE if d.reference)
#: The low-precision dtypes: their runs round inputs and probes to their grids (exact_in).
LOW_PRECISION: tuple[str, ...] = tuple(d.name for d in DTYPE_TABLE if d.low_precision)


def exact_in(x: np.ndarray, dtypes: Iterable[str]) -> np.ndarray:
    """`x` (float64) rounded until it is exactly representable in every one of `dtypes`: one
    point that every dtype's cells, and the float64 oracles, share. Rounding to nearest in one
    dtype after another reaches a common grid in a step or two (bfloat16's 8 bits within
    float16's range, say); values past a dtype's range become inf."""
    out = np.asarray(x, dtype=np.float64)
    grids = [DTYPE[d].numpy for d in dtypes]
    with np.errstate(over="ignore"):
        for _ in range(4):
            before = out
            for dt in grids:
                out = out.astype(dt).astype(np.float64)
            if np.array_equal(out, before, equal_nan=True):
                break
    return out


# -- verdicts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """A cell's verdict. ``unexpected`` verdicts make the run exit 1; ``rank`` orders them for
    regressions (a cell whose rank goes up regressed); the table's order is their severity."""

    name: str
    unexpected: bool
    rank: int
    label: str
    short: str


VERDICT_TABLE: tuple[Verdict, ...] = (
    Verdict("error", True, 3, "error", "error"),
    Verdict("fail", True, 3, "fail", "fail"),
    Verdict("unexpected_pass", True, 2, "unexpected pass", "xpass"),
    Verdict("vacuous", False, 1, "vacuous", "vacuous"),
    Verdict("expected_fail", False, 1, "expected fail", "xfail"),
    Verdict("skipped", False, 0, "skipped", "skip"),
    Verdict("pass", False, 0, "pass", "pass"),
)
VERDICT: dict[str, Verdict] = {v.name: v for v in VERDICT_TABLE}
#: Most severe first: the order of counts, chips and lists in every report.
SEVERITY: list[str] = [v.name for v in VERDICT_TABLE]
UNEXPECTED: tuple[str, ...] = tuple(v.name for v in VERDICT_TABLE if v.unexpected)
#: Verdicts a report lists in the contract's order (summary.csv documentation).
VERDICTS: tuple[str, ...] = (
    "pass", "fail", "expected_fail", "unexpected_pass", "error", "skipped", "vacuous",
)  # fmt: skip


# -- the cell id -----------------------------------------------------------------------------


def cell_id(case: str, backend: str, quantity: str, dtype: str) -> str:
    """The id shared by a pytest item, a report row and the HTML anchor text."""
    return f"{case}[{backend}-{quantity}-{dtype}]"


# -- ops -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One function of the namespace a case is written against.

    Where a framework's function is the op called the same way, the table names it and the
    namespaces take it mechanically: ``numpy`` in numpy-compatible modules (numpy, jax.numpy),
    ``torch`` in torch, ``mpmath`` an elementwise function of one mpmath number, ``operator``
    the Python operator (``operator.add``) for array types that implement it.
    """

    name: str
    doc: str
    numpy: str | None = None
    torch: str | None = None
    mpmath: str | None = None
    operator: str | None = None


def _unary(name: str, doc: str, torch: bool = True, mpmath: bool = True) -> Op:
    return Op(name, doc, numpy=name, torch=name if torch else None,
              mpmath=name if mpmath else None)  # fmt: skip


OPS: tuple[Op, ...] = (
    Op("asarray", "a constant in the working dtype (never differentiated)"),
    Op("add", "a + b, broadcast", numpy="add", operator="add"),
    Op("subtract", "a - b, broadcast", numpy="subtract", operator="sub"),
    Op("multiply", "a * b, broadcast", numpy="multiply", operator="mul"),
    Op("divide", "a / b, broadcast", numpy="divide", operator="truediv"),
    Op("negative", "-a", numpy="negative", operator="neg"),
    Op("pow", "a ** b, with b a scalar or an array (broadcast)", numpy="power", operator="pow"),
    _unary("exp", "e ** a"),
    _unary("log", "natural log"),
    _unary("sqrt", "square root"),
    _unary("sin", "sine"),
    _unary("cos", "cosine"),
    _unary("tanh", "hyperbolic tangent"),
    Op("arctan", "inverse tangent", numpy="arctan", torch="arctan", mpmath="atan"),
    Op("erf", "the error function, 2/sqrt(pi) ∫_0^a exp(-t²) dt", torch="erf", mpmath="erf"),
    Op("sigmoid", "1 / (1 + exp(-a)), stable for large |a|", torch="sigmoid"),
    Op("softplus", "log(1 + exp(a)), stable for large |a|"),
    Op("logaddexp", "log(exp(a) + exp(b)), broadcast, stable", numpy="logaddexp"),
    Op("clip", "clip(a, lo, hi), constant bounds (None: unbounded)", numpy="clip", torch="clip"),
    Op("relu", "max(a, 0)", torch="relu"),
    Op("abs", "|a|", numpy="abs", torch="abs", operator="abs"),
    Op("maximum", "elementwise max, broadcast", numpy="maximum"),
    Op("minimum", "elementwise min, broadcast", numpy="minimum"),
    Op("where", "where(mask, a, b); the mask is a constant", numpy="where"),
    Op("matmul", "a @ b for 1-D, 2-D and batched operands", numpy="matmul", torch="matmul"),
    Op("sum", "sum(a, axis=None, keepdims=False)"),
    Op("mean", "mean(a, axis=None, keepdims=False)"),
    Op("max", "max(a, axis=None, keepdims=False)"),
    Op("min", "min(a, axis=None, keepdims=False)", numpy="min"),
    Op("prod", "prod(a, axis=None, keepdims=False)", numpy="prod"),
    Op("var", "var(a, axis=None, keepdims=False): the population variance (ddof 0)", numpy="var"),
    Op("std", "std(a, axis=None, keepdims=False): sqrt(var)", numpy="std"),
    Op("cumsum", "cumsum(a, axis=None): running sums (a flattened if None)", numpy="cumsum"),
    Op("reshape", "reshape(a, shape)", numpy="reshape", torch="reshape"),
    Op("transpose", "transpose(a, axes=None)", numpy="transpose"),
    Op("take", "take(a, indices, axis=None) with constant integer indices"),
    Op("concatenate", "concatenate(list_of_arrays, axis=0)", numpy="concatenate"),
    Op("broadcast_to", "broadcast_to(a, shape)", numpy="broadcast_to", torch="broadcast_to"),
    Op("expand_dims", "expand_dims(a, axis): unit axes inserted", numpy="expand_dims"),
    Op("squeeze", "squeeze(a, axis=None): unit axes removed (all if None)", numpy="squeeze"),
    Op("einsum", "einsum(subscripts, *operands), no ellipsis", numpy="einsum", torch="einsum"),
    Op("conv2d", "conv2d(x, w, stride=1, padding=0), NCHW, as torch.nn.functional.conv2d"),
    Op("max_pool2d", "max_pool2d(x, kernel_size, stride=None, padding=0), NCHW, as torch"),
    Op("softmax", "exp(a) / sum(exp(a)) along axis (default -1), stable"),
    Op("log_softmax", "a - logsumexp(a) along axis (default -1), stable"),
    Op("logsumexp", "log(sum(exp(a), axis, keepdims)), stable"),
    Op("cross_entropy", "mean over rows of -log_softmax(logits)[row, label]; labels are integers"),
)
OP: dict[str, Op] = {op.name: op for op in OPS}
#: name -> one line of what it computes: what a backend's namespace must provide.
VOCABULARY: dict[str, str] = {op.name: op.doc for op in OPS}


def provide(namespace: Any, *sources: tuple[str, Callable[[str], Any]]) -> None:
    """Give `namespace` (a class or an instance) every op it does not define by hand, taken
    from the first source ``(field, resolve)`` whose field names a function for the op:
    ``provide(self, ("torch", lambda f: getattr(torch, f)), ("operator", ...))``."""
    have = set(dir(namespace))
    for op in OPS:
        if op.name in have:
            continue
        for field, resolve in sources:
            if getattr(op, field):
                setattr(namespace, op.name, resolve(getattr(op, field)))
                break
