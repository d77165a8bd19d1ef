"""Case dataclass, the @case decorator, input specs, declared discrepancies, and selection."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.errors import RegistryError
from harness.vocabulary import DENSE_LIMIT, DTYPES, LOW_PRECISION, ORDER, QUANTITIES

__all__ = [
    "DENSE_LIMIT", "DTYPES", "ORDER", "QUANTITIES", "Case", "Composition", "Expect", "Input",
    "RegistryError", "array", "case", "expect", "fixed", "labels", "registered", "scalar",
]  # fmt: skip


@dataclass(frozen=True)
class Input:
    """How to draw one argument: a float array uniform in [low, high], or integer labels."""

    shape: tuple[int, ...] = ()
    low: float = -1.0
    high: float = 1.0
    kind: str = "float"  # "float" (differentiable) or "int" (constant labels in [0, high))
    values: tuple[float, ...] | None = None  # fixed values instead of a random draw

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=int))

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        if self.values is not None:
            return np.asarray(self.values, dtype=np.float64).reshape(self.shape)
        if self.kind == "int":
            return rng.integers(0, int(self.high), size=self.shape)
        x = rng.uniform(self.low, self.high, size=self.shape)
        # Exactly representable in float32, so float32 and float64 cells see the same inputs.
        return np.asarray(x.astype(np.float32), dtype=np.float64)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) and v >= 0


def scalar(low: float = -1.0, high: float = 1.0) -> Input:
    """A float scalar drawn uniformly in [low, high]."""
    return Input((), low, high)


def array(*shape: int, low: float = -1.0, high: float = 1.0) -> Input:
    """A float array of `shape` drawn uniformly in [low, high]."""
    return Input(tuple(shape), low, high)


def labels(*shape: int, classes: int) -> Input:
    """Integer class labels in [0, classes): a constant, never differentiated."""
    return Input(tuple(shape), 0, classes, kind="int")


def fixed(*values: float, shape: tuple[int, ...] | None = None) -> Input:
    """Fixed float values (e.g. an edge point such as 0 for relu)."""
    shp = shape if shape is not None else (() if len(values) == 1 else (len(values),))
    return Input(shp, kind="float", values=tuple(float(v) for v in values))


@dataclass(frozen=True)
class Expect:
    """A declared discrepancy: these backends are expected to disagree on these quantities."""

    backends: frozenset[str]
    quantities: frozenset[str]
    reason: str
    dtypes: frozenset[str] = frozenset(DTYPES)

    def covers(self, backend: str, quantity: str, dtype: str) -> bool:
        return backend in self.backends and quantity in self.quantities and dtype in self.dtypes


def expect(
    backends: str | Iterable[str],
    quantities: str | Iterable[str],
    reason: str,
    dtypes: Iterable[str] = DTYPES,
) -> Expect:
    """Declare an expected discrepancy (reported as expected_fail, or unexpected_pass)."""
    b = {backends} if isinstance(backends, str) else set(backends)
    q = {quantities} if isinstance(quantities, str) else set(quantities)
    if not reason:
        raise RegistryError("an expected discrepancy needs a reason")
    return Expect(frozenset(b), frozenset(q), reason, frozenset(dtypes))


NAIVE_REASON = "naive second-order backprop, seed problem 1b"


@dataclass(frozen=True)
class Composition:
    """x -> y = g(x), z = h(x) -> l = f(y, z), written against the namespace, for diagnosis."""

    g: Callable
    h: Callable
    f: Callable


@dataclass(frozen=True)
class Case:
    """One registry entry: a function of arrays written once against the namespace `xp`."""

    name: str
    fn: Callable
    family: str
    inputs: Mapping[str, Input]
    doc: str
    tags: frozenset[str] = frozenset()
    dtypes: tuple[str, ...] = DTYPES
    quantities: tuple[str, ...] = QUANTITIES
    expects: tuple[Expect, ...] = ()
    tol: Mapping[str, float] = field(default_factory=dict)  # e.g. {"rtol": 1e-5, "reason": ...}
    composition: Composition | None = None
    naive_exact: bool = False  # the naive rule drops only terms that vanish here
    softmax_axis: int | None = None  # a plain softmax along this axis (audited by seed-2-9)
    #: dtype -> why the case's math cannot be carried out in it (its cells are skipped)
    unrepresentable: Mapping[str | tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"case {self.name!r}"
        if not self.doc:
            raise RegistryError(f"{where} needs a one-line docstring with its math")
        if not self.inputs:
            raise RegistryError(f"{where} has no inputs")
        for q in self.quantities:
            if q not in QUANTITIES:
                raise RegistryError(f"{where}: unknown quantity {q!r}; choose from {QUANTITIES}")
        for d in self.dtypes:
            if d not in DTYPES:
                raise RegistryError(f"{where}: unknown dtype {d!r}; choose from {DTYPES}")
        for key, why in self.unrepresentable.items():
            d, q = key if isinstance(key, tuple) else (key, None)
            if d not in DTYPES:
                raise RegistryError(f"{where}: unrepresentable names unknown dtype {d!r}; "
                                    f"choose from {DTYPES}")  # fmt: skip
            if q is not None and q not in self.quantities:
                raise RegistryError(f"{where}: unrepresentable names quantity {q!r}, which "
                                    f"the case does not compute: {self.quantities}")  # fmt: skip
            if not (isinstance(why, str) and why.strip()):
                raise RegistryError(f"{where}: unrepresentable[{key!r}] needs a reason, e.g. "
                                    "'exp(x) reaches 1.6e5 > 65504'")  # fmt: skip
        if self.tol and not self.tol.get("reason"):
            raise RegistryError(f"{where}: a tolerance override needs a reason=")
        for k, v in self.tol.items():
            if k in ("atol", "rtol") and not _number(v):
                raise RegistryError(f"{where}: tol {k}={v!r} is not a non-negative number")
            if k not in ("atol", "rtol", "reason"):
                raise RegistryError(f"{where}: tol has {k!r}; use atol=, rtol= and reason=")
        if not (isinstance(self.family, str) and self.family.isidentifier()):
            raise RegistryError(f"{where}: family {self.family!r} must be a name such as "
                                "'softmax' (letters, digits, _)")  # fmt: skip
        for n, spec in self.inputs.items():
            if not isinstance(spec, Input):
                raise RegistryError(f"{where}: input {n!r} is a {type(spec).__name__}; use "
                                    "scalar(), array(), labels() or fixed()")  # fmt: skip
        for e in self.expects:
            if not isinstance(e, Expect):
                raise RegistryError(f"{where}: expects holds a {type(e).__name__}; use expect()")
            bad = sorted(set(e.quantities) - set(QUANTITIES)) + sorted(set(e.dtypes) - set(DTYPES))
            if bad:
                raise RegistryError(f"{where}: expect() names unknown {', '.join(bad)}")
        if not any(i.kind == "float" for i in self.inputs.values()):
            raise RegistryError(f"{where} has no float input to differentiate")

    @property
    def wrt(self) -> tuple[str, ...]:
        """Names of the differentiable (float) inputs, in order."""
        return tuple(n for n, i in self.inputs.items() if i.kind == "float")

    @property
    def n_wrt(self) -> int:
        return sum(self.inputs[n].size for n in self.wrt)

    @property
    def is_scalar(self) -> bool:
        """One scalar float input (the seed formulas and the second-order diagnosis need one)."""
        return self.n_wrt == 1 and all(i.kind == "float" for i in self.inputs.values())

    def draw(self, seed: int) -> dict[str, np.ndarray]:
        """The case's inputs for `seed`, in float64 (exactly representable in float32)."""
        rng = np.random.default_rng([seed, zlib.crc32(self.name.encode())])
        return {n: spec.draw(rng) for n, spec in self.inputs.items()}

    def grid(self, dtypes: Iterable[str]) -> tuple[str, ...]:
        """The low-precision dtypes among `dtypes` that this case runs in: its inputs and
        probes are drawn exactly representable in each of them."""
        return tuple(d for d in LOW_PRECISION if d in dtypes and d in self.dtypes
                     and d not in self.unrepresentable)  # fmt: skip

    def expectation(self, backend: str, quantity: str, dtype: str) -> Expect | None:
        """The case's own declaration covering this cell, or None (a backend may declare more
        of its own: Backend.expectation)."""
        for e in self.expects:
            if e.covers(backend, quantity, dtype):
                return e
        return None


_REGISTRY: dict[str, Case] = {}


def case(
    family: str,
    inputs: Mapping[str, Input] | Input,
    *,
    tags: Iterable[str] = (),
    dtypes: Iterable[str] = DTYPES,
    quantities: Iterable[str] = QUANTITIES,
    expects: Iterable[Expect] = (),
    tol: Mapping[str, float | str] | None = None,
    composition: Composition | None = None,
    naive_exact: bool = False,
    softmax_axis: int | None = None,
    unrepresentable: Mapping[str | tuple[str, str], str] | None = None,
    name: str | None = None,
) -> Callable[[Callable], Callable]:
    """Register `fn(xp, *inputs)` as a case. A single Input means one argument named `x`.
    `unrepresentable` maps a dtype to why the case's math cannot be carried out in it
    (``{"float16": "exp(x) reaches 1.6e5 > 65504"}``): its cells there are skipped with that
    reason; a (dtype, quantity) key skips that quantity alone (``{("float16", "d3"): "1/u³
    reaches 2e7"}``). Declare real overflow or underflow only, never a wrong result."""

    def register(fn: Callable) -> Callable:
        cname = name or fn.__name__
        where = origin(fn)
        old = _REGISTRY.get(cname)
        if old is not None and (old.fn.__module__, old.fn.__qualname__) != (
            fn.__module__,
            fn.__qualname__,
        ):  # the same function imported again is harmless; another one with its name is not
            raise RegistryError(
                f"case {cname!r} is defined twice: in {origin(old.fn)} and in {where}; "
                "rename one (case names are unique across all loaded case modules)"
            )  # fmt: skip
        if not isinstance(inputs, Input | Mapping):
            raise RegistryError(f"case {cname!r} ({where}): inputs must be scalar(), array(), "
                                f"labels() or fixed(), or a dict of them, not "
                                f"{type(inputs).__name__}")  # fmt: skip
        ins = {"x": inputs} if isinstance(inputs, Input) else dict(inputs)
        doc = (fn.__doc__ or "").strip().splitlines()
        try:
            _REGISTRY[cname] = Case(
                name=cname,
                fn=fn,
                family=family,
                inputs=ins,
                doc=doc[0] if doc else "",
                tags=frozenset(tags),
                dtypes=tuple(dtypes),
                quantities=tuple(quantities),
                expects=tuple(expects),
                tol=dict(tol or {}),
                composition=composition,
                naive_exact=naive_exact,
                softmax_axis=softmax_axis,
                unrepresentable=dict(unrepresentable or {}),
            )
        except RegistryError as e:
            raise RegistryError(f"{e} ({where})") from None
        return fn

    return register


def origin(fn: Callable) -> str:
    """Where a case function is defined: ``path/to/file.py:12``."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return getattr(fn, "__module__", "?")
    return f"{code.co_filename}:{code.co_firstlineno}"


def registered() -> dict[str, Case]:
    """Every case registered so far, by name."""
    return dict(sorted(_REGISTRY.items()))
