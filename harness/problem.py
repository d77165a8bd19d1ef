"""A case bound to its seeded inputs and probes in one dtype: what every backend is handed.

Inputs and probes are drawn exactly representable in float32, and, in a run with low-precision
dtypes (float16, bfloat16), rounded onto the grid of each of them too (vocabulary.exact_in): every
dtype's cells see the very same point and float64 oracles can judge lower-precision rows.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.errors import CaseFault
from harness.namespace import NumpyNamespace
from harness.registry import Case
from harness.vocabulary import DTYPE, QUANTITY, exact_in, expected_shape


@dataclass
class Problem:
    """A case bound to its inputs in one dtype, with the seeded probes that quantities use.

    Conventions (every backend returns these shapes, as numpy arrays in ``dtype``):
      value     the case's output, output-shaped
      grad      J^T u, flat over the differentiable inputs concatenated in order (N,)
      jvp       J v, output-shaped, for the flat tangent v (N,)
      hvp       Hessian of s(x) = <u, f(x)> times the flat direction w (N,)
      jacobian  (M, N), M = output size
      hessian   (N, N) of s(x) = <u, f(x)>
    where u is ``cotangent`` (output-shaped; 1 for a scalar output).
    """

    fn: Callable[..., Any]
    args: dict[str, np.ndarray]
    wrt: tuple[str, ...]
    dtype: np.dtype
    cotangent: np.ndarray
    tangent: np.ndarray
    direction: np.ndarray
    out_shape: tuple[int, ...] = ()
    case: Any = None  # the registry Case, for backends that read its declarations
    shapes: dict[str, tuple[int, ...]] = field(init=False)

    def __post_init__(self) -> None:
        self.shapes = {n: tuple(np.shape(a)) for n, a in self.args.items()}

    # What is derived from the fields (sizes, shapes, the digest, the dtype's name) is computed
    # once per problem and asked for by every cell: setting any field forgets it.
    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        self.__dict__.pop("_derived", None)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_derived"}

    def _derive(self, key: Any, make: Callable[[], Any]) -> Any:
        derived = self.__dict__.get("_derived")
        if derived is None:
            derived = self.__dict__["_derived"] = {}
        elif key in derived:
            return derived[key]
        got = derived[key] = make()
        return got

    @property
    def dtype_name(self) -> str:
        """``str(dtype)``: "float64", "bfloat16"."""
        return self._derive("dtype_name", lambda: str(self.dtype))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.args)

    @property
    def n(self) -> int:
        return self._derive("n", lambda: sum(int(np.prod(self.shapes[n], dtype=int))
                                             for n in self.wrt))  # fmt: skip

    @property
    def m(self) -> int:
        return self._derive("m", lambda: int(np.prod(self.out_shape, dtype=int)))

    def digest(self, probes: tuple[str, ...] = ("cotangent", "tangent", "direction")) -> str:
        """The inputs (every argument, exactly: shape, dtype and bytes) and the named probes as
        one digest: what a result computed at this point depends on besides the case."""
        return self._derive(("digest", probes), lambda: self._digest(probes))

    def _digest(self, probes: tuple[str, ...]) -> str:
        h = hashlib.blake2b(digest_size=16)
        for name in sorted(self.args):
            a = np.ascontiguousarray(self.args[name])
            h.update(f"{name}{a.shape}{a.dtype}".encode() + a.tobytes())
        for name in probes:
            a = np.ascontiguousarray(getattr(self, name))
            h.update(f"{name}{a.shape}{a.dtype}".encode() + a.tobytes())
        return h.hexdigest()

    def split(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """A flat vector over the differentiable inputs, as one array per input."""
        out, i = {}, 0
        for name in self.wrt:
            k = int(np.prod(self.shapes[name], dtype=int))
            out[name] = np.asarray(flat[i : i + k]).reshape(self.shapes[name])
            i += k
        return out

    def flatten(self, parts: Mapping[str, Any]) -> np.ndarray:
        """One array per differentiable input, concatenated flat (inverse of split)."""
        return np.concatenate([np.ravel(np.asarray(parts[n])) for n in self.wrt])

    def call(self, xp: Any, values: Mapping[str, Any]) -> Any:
        """Run the case with `values` (backend arrays) in argument order."""
        return self.fn(xp, *(values[n] for n in self.names))

    def label(self, flat_index: int) -> str:
        """A readable name for a flat index into the differentiable inputs, e.g. ``x[1,2]``."""
        i = flat_index
        for name in self.wrt:
            k = int(np.prod(self.shapes[name], dtype=int))
            if i < k:
                if not self.shapes[name]:
                    return name
                idx = np.unravel_index(i, self.shapes[name])
                return f"{name}[{','.join(str(int(j)) for j in idx)}]"
            i -= k
        raise IndexError(flat_index)

    def expected(self, quantity: str) -> tuple[int, ...]:
        """The shape a backend must return for `quantity`."""
        shape = lambda: expected_shape(quantity, self.out_shape, self.n, self.m)  # noqa: E731
        return self._derive(("expected", quantity), shape)

    def index_label(self, quantity: str, flat: int) -> str:
        """A readable name for element `flat` of `quantity`: ``out[1]``, ``x[0,2]``, or the
        ``row, column`` pair of a matrix quantity."""
        return self._derive(("label", quantity, flat), lambda: self._index_label(quantity, flat))

    def _index_label(self, quantity: str, flat: int) -> str:
        axes = QUANTITY[quantity].shape
        if not axes:  # a scalar quantity (d3, the self-checks): its one element is itself
            return quantity
        if len(axes) == 1:
            return self._out_label(flat) if axes[0] == "out" else self.label(flat)
        i, j = divmod(flat, self.n)
        return f"{self._out_label(i) if axes[0] == 'm' else self.label(i)}, {self.label(j)}"

    def input_value(self, quantity: str, flat: int) -> float | None:
        """The differentiable input element that element `flat` of `quantity` is taken with
        respect to (for a matrix, the input of its column); None for an output element."""
        if QUANTITY[quantity].shape[-1:] != ("n",):
            return None
        x = self._derive("inputs", lambda: self.flatten(self.args))
        return float(x[flat % self.n])

    def axis_labels(self, quantity: str) -> list[list[str]]:
        """The names of `quantity`'s elements along each of its axes (index_label's parts): a
        Jacobian's rows ``out[0]``, ``out[1]``, ... and columns ``W[0,0]``, ``W[0,1]``, ..."""
        size = {"out": self.m, "m": self.m, "n": self.n}
        return [[self._out_label(i) if axis in ("out", "m") else self.label(i)
                 for i in range(size[axis])] for axis in QUANTITY[quantity].shape]  # fmt: skip

    def _out_label(self, i: int) -> str:
        if not self.out_shape:
            return "out"
        return f"out[{','.join(str(int(k)) for k in np.unravel_index(i, self.out_shape))}]"


def probe(
    rng: np.random.Generator, shape: tuple[int, ...], grid: tuple[str, ...] = ()
) -> np.ndarray:
    """A standard-normal probe, exactly representable in float32 and in each dtype of `grid`."""
    x = rng.standard_normal(shape).astype(np.float32).astype(np.float64)
    return exact_in(x, grid) if grid else x


def case_value(case: Case, raw: Mapping[str, np.ndarray]) -> np.ndarray:
    """The case's float64 value at `raw` in numpy; a CaseFault unless it is a finite float array."""
    got = case.fn(NumpyNamespace(np.float64), *raw.values())
    if not isinstance(got, np.ndarray | np.generic | float):
        raise CaseFault(f"{case.name} returned a value of type {type(got).__name__}, not an "
                        f"array: a case returns arrays of its namespace xp")  # fmt: skip
    out = np.asarray(got)
    if out.dtype.kind != "f":
        raise CaseFault(f"{case.name} returned {out.dtype} values: only floats are differentiated")
    bad = np.flatnonzero(~np.isfinite(out.ravel()))
    if bad.size:
        where = "out" if not out.ndim else f"out{list(np.unravel_index(bad[0], out.shape))}"
        raise CaseFault(f"{case.name} is {out.ravel()[bad[0]]} at {where} for its inputs: it is "
                        f"not differentiable there; draw its inputs inside its domain")  # fmt: skip
    return out


def make_problem(
    case: Case,
    seed: int,
    dtype: str,
    cotangent: str = "random",
    inputs: Mapping[str, np.ndarray] | None = None,
    grid: tuple[str, ...] = (),
) -> Problem:
    """Bind `case` to its seeded inputs and probes in `dtype` (the value oracle fixes shapes).
    Explicit `inputs` (float64, exact in float32) replace the seeded draw: generated inputs.
    `grid`: the low-precision dtypes of the run (Case.grid); inputs and probes are rounded to be
    exact in each of them, so that every dtype of the run shares one point."""
    raw = case.draw(seed) if inputs is None else {n: np.asarray(inputs[n]) for n in case.inputs}
    if grid:
        raw = {n: (exact_in(a, grid) if case.inputs[n].kind == "float" else a)
               for n, a in raw.items()}  # fmt: skip
    dt = DTYPE[dtype].numpy if dtype in DTYPE else np.dtype(dtype)
    args = {n: (a.astype(dt) if case.inputs[n].kind == "float" else a) for n, a in raw.items()}
    out = case_value(case, raw)
    rng = np.random.default_rng([seed, zlib.crc32(case.name.encode()), 1])
    n = case.n_wrt
    ones = cotangent == "ones" or out.ndim == 0
    cot = np.ones(out.shape) if ones else probe(rng, out.shape, grid)
    tangent, direction = probe(rng, (n,), grid), probe(rng, (n,), grid)
    return Problem(
        fn=case.fn,
        args=args,
        wrt=case.wrt,
        dtype=dt,
        cotangent=cot.astype(dt),
        tangent=tangent.astype(dt),
        direction=direction.astype(dt),
        out_shape=tuple(out.shape),
        case=case,
    )
