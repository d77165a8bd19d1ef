"""A user's function and its arguments, as a case the harness can run.

The framework is taken from the arguments (torch tensors or jax arrays; numpy arrays with
``xp=True`` for a function written against the namespace). Float tensors are the inputs that
are differentiated (with torch, those with ``requires_grad`` when any has it, as gradcheck
does); integer tensors are constants (labels); anything else is passed through unchanged.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.errors import UsageError
from harness.registry import Case, Input

FRAMEWORKS = ("torch", "jax", "xp")


def framework_of(args: Sequence[Any], xp: bool) -> str:
    """'torch', 'jax' or 'xp' from the arguments; a UsageError when none is recognised."""
    if xp:
        return "xp"
    for a in args:
        kind = type(a).__module__.split(".")[0]
        if kind == "torch":
            return "torch"
        if kind in ("jax", "jaxlib"):
            return "jax"
    raise UsageError(
        "harness.check needs torch tensors or jax arrays among the arguments (or numpy arrays "
        "with xp=True for a function written against the namespace xp)"
    )


@dataclass
class Argument:
    """One positional argument: an input (float: differentiated, int: a constant) or a value
    passed through as it is."""

    name: str
    kind: str  # "float", "int" or "pass"
    value: Any  # float64 / int numpy array for inputs, the object itself otherwise
    dtype: str = ""  # the float dtype the user gave


@dataclass
class Bound:
    """The user's function bound to its arguments."""

    fn: Callable[..., Any]
    framework: str
    arguments: list[Argument]
    name: str
    to_framework: Callable[[np.ndarray, str], Any] = field(repr=False, default=None)  # type: ignore[assignment]
    to_numpy: Callable[[Any], np.ndarray] = field(repr=False, default=None)  # type: ignore[assignment]

    @property
    def inputs(self) -> list[Argument]:
        return [a for a in self.arguments if a.kind != "pass"]

    @property
    def dtypes(self) -> list[str]:
        """The float dtypes the user's inputs came in (what check runs by default)."""
        seen = [a.dtype for a in self.arguments if a.kind == "float"]
        return list(dict.fromkeys(seen)) or ["float64"]

    def positional(self, values: Sequence[Any]) -> list[Any]:
        """The user's positional arguments with `values` (in input order) at the inputs."""
        it = iter(values)
        return [next(it) if a.kind != "pass" else a.value for a in self.arguments]

    def call(self, values: Sequence[Any]) -> Any:
        """fn with `values` (framework arrays, in input order) at the inputs' positions."""
        return self.fn(*self.positional(values))

    def call_numpy(self, values: Sequence[Any], dtype: str = "float64") -> np.ndarray:
        """fn evaluated on numpy values (converted to the framework in `dtype`), as numpy: what
        finite differences, the Taylor test and the value oracle see."""
        conv = [self.to_framework(np.asarray(v), dtype if a.kind == "float" else "int")
                for a, v in zip(self.inputs, values, strict=True)]  # fmt: skip
        return self.to_numpy(self.call(conv))

    def case(self, quantities: Sequence[str], tol: dict) -> Case:
        """A Case whose function, on numpy arrays, evaluates the user's function."""

        def evaluate(xp: Any, *values: Any) -> np.ndarray:
            return self.call_numpy(values)

        def on_namespace(xp: Any, *values: Any) -> Any:
            return self.fn(xp, *self.positional(values))

        inputs = {a.name: _input_spec(a) for a in self.inputs}
        doc = f"harness.check of {self.name}"
        run = on_namespace if self.framework == "xp" else evaluate
        return Case(self.name, run, "check", inputs, doc, quantities=tuple(quantities), tol=tol)

    def values(self) -> dict[str, np.ndarray]:
        return {a.name: a.value for a in self.inputs}


def _input_spec(a: Argument) -> Input:
    shape = tuple(np.shape(a.value))
    if a.kind == "int":
        return Input(shape, 0, int(np.max(a.value, initial=0)) + 1, kind="int")
    return Input(shape, kind="float", values=tuple(float(v) for v in np.ravel(a.value)))


def bind(fn: Callable[..., Any], args: Sequence[Any], framework: str) -> Bound:
    """Name and classify each argument; the conversions to and from the framework."""
    if not callable(fn):
        raise UsageError(f"harness.check needs a function first, not {type(fn).__name__}")
    names = _parameter_names(fn, len(args), skip=1 if framework == "xp" else 0)
    to_fw, to_np, classify = _converters(framework)
    arguments = [classify(n, a) for n, a in zip(names, args, strict=True)]
    floats = [a for a in arguments if a.kind == "float"]
    if not floats:
        raise UsageError(
            f"harness.check: no float array among the arguments of {_name(fn)} to differentiate"
        )
    if framework == "torch" and any(getattr(a, "requires_grad", False) for a in args):
        for arg, raw in zip(arguments, args, strict=True):
            if arg.kind == "float" and not raw.requires_grad:
                arg.kind = "pass"  # gradcheck differentiates the tensors that require grad
                arg.value = raw
    return Bound(fn, framework, arguments, _name(fn), to_fw, to_np)


def _name(fn: Callable[..., Any]) -> str:
    """The function's name; for ``MyOp.apply`` (a torch autograd Function), the class's."""
    owner = getattr(fn, "__self__", None)
    name = owner.__name__ if isinstance(owner, type) else getattr(fn, "__name__", "")
    name = name or type(fn).__name__
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "fn"


def _parameter_names(fn: Callable[..., Any], n: int, skip: int = 0) -> list[str]:
    """The function's own parameter names where it has them (W, x, ...), else x0, x1, ...;
    `skip` leading parameters (the namespace xp) are not arguments."""
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ][skip:]
    except (TypeError, ValueError):
        params = []
    names = params[:n] + [f"x{i}" for i in range(len(params), n)]
    return names if len(set(names)) == n else [f"x{i}" for i in range(n)]


def _converters(framework: str) -> tuple[Callable, Callable, Callable]:
    if framework == "torch":
        import torch

        def to_fw(a: np.ndarray, dtype: str) -> Any:
            if dtype == "int":
                return torch.as_tensor(a)
            return torch.as_tensor(a, dtype=getattr(torch, dtype))

        def to_np(t: Any) -> np.ndarray:
            if isinstance(t, tuple | list):
                raise UsageError("harness.check: the function returns a tuple; check one output")
            return np.asarray(torch.as_tensor(t).detach().cpu().to(torch.float64).numpy())

        def classify(name: str, a: Any) -> Argument:
            if isinstance(a, torch.Tensor) and a.is_floating_point():
                dtype = str(a.dtype).removeprefix("torch.")
                value = a.detach().cpu().to(torch.float64).numpy()
                return Argument(name, "float", value, dtype)
            if isinstance(a, torch.Tensor) and not a.is_complex():
                return Argument(name, "int", a.detach().cpu().numpy())
            return Argument(name, "pass", a)

        return to_fw, to_np, classify
    if framework == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        def to_fw(a: np.ndarray, dtype: str) -> Any:
            return jnp.asarray(a) if dtype == "int" else jnp.asarray(a, dtype=dtype)

        def to_np(t: Any) -> np.ndarray:
            if isinstance(t, tuple | list):
                raise UsageError("harness.check: the function returns a tuple; check one output")
            return np.asarray(t, dtype=np.float64)

        def classify(name: str, a: Any) -> Argument:
            kind = np.asarray(a).dtype if isinstance(a, jax.Array) else None
            if kind is not None and kind.kind == "f":
                return Argument(name, "float", np.asarray(a, dtype=np.float64), str(kind))
            if kind is not None and kind.kind in "iub":
                return Argument(name, "int", np.asarray(a))
            return Argument(name, "pass", a)

        return to_fw, to_np, classify

    def to_np_xp(t: Any) -> np.ndarray:
        return np.asarray(t, dtype=np.float64)

    def classify_xp(name: str, a: Any) -> Argument:
        arr = np.asarray(a) if isinstance(a, np.ndarray | list | float | int) else None
        if arr is not None and arr.dtype.kind == "f":
            return Argument(name, "float", arr.astype(np.float64), str(arr.dtype))
        if arr is not None and arr.dtype.kind in "iub":
            return Argument(name, "int", arr)
        return Argument(name, "pass", a)

    return (lambda a, dtype: a), to_np_xp, classify_xp
