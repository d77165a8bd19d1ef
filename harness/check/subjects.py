"""The user's function (and a reference implementation) as backends, with its framework's AD.

torch: classic autograd, as gradcheck uses it, so a ``torch.autograd.Function`` needs only its
``backward`` (no ``setup_context``, ``jvp`` or vmap rule): VJP by ``torch.autograd.grad``, HVP
reverse over reverse, JVP by forward-mode AD where the function supports it, else as the
derivative of the VJP (``d/du <J^T u, v> = J v``). jax: ``jax.vjp``; HVP reverse over reverse
(works for ``custom_jvp`` and ``custom_vjp``); JVP by ``jax.jvp``, else through the VJP.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from harness.backends.base import Backend, Problem, Unsupported
from harness.backends.torch_backend import as_numpy, tensor
from harness.check.bind import Bound


class _Function(Backend):
    """A bound user function computing the harness's quantities with its own framework."""

    exact_dtype: ClassVar[bool] = True
    #: under audit (it never votes), but real AD: its JVP, VJP and HVP are held to each other
    self_checks: ClassVar[bool | None] = True

    def __init__(self, bound: Bound, name: str, dtypes: tuple[str, ...], votes: bool) -> None:
        self.bound, self.dtypes = bound, dtypes
        self.name = name  # type: ignore[misc]
        self.votes = votes  # type: ignore[misc]

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        return dtype in self.dtypes

    def _inputs(self, p: Problem, flat: Any, convert: Any) -> list[Any]:
        """Framework values in input order, the differentiable ones cut from `flat`."""
        out, i = [], 0
        for a in self.bound.inputs:
            if a.kind == "float":
                k = int(np.prod(p.shapes[a.name], dtype=int))
                out.append(flat[i : i + k].reshape(p.shapes[a.name]))
                i += k
            else:
                out.append(convert(p.args[a.name]))
        return out


class TorchFunction(_Function):
    def available(self) -> str | None:
        try:
            import torch  # noqa: F401
        except ImportError:
            return "torch is not installed; install it with: pip install 'harness[torch]'"
        return None

    def compute(self, quantity: str, p: Problem) -> Any:
        with warnings.catch_warnings():  # torch's own, raised inside its autograd internals
            warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")
            return super().compute(quantity, p)

    def _setup(self, p: Problem) -> tuple[Any, Any, Any]:
        import torch

        dt = getattr(torch, str(p.dtype))
        x0 = tensor(torch, p.flatten(p.args), dt)

        def f(x: Any) -> Any:
            return self.bound.call(self._inputs(p, x, torch.as_tensor))

        return torch, f, x0

    def _np(self, t: Any) -> np.ndarray:
        return as_numpy(t)

    def _tensor(self, torch: Any, a: np.ndarray, like: Any) -> Any:
        return tensor(torch, a, like.dtype)

    def value(self, p: Problem) -> np.ndarray:
        torch, f, x0 = self._setup(p)
        with torch.no_grad():
            return self._np(f(x0))

    def _vjp(self, torch: Any, f: Any, x: Any, u: Any, create: bool = False) -> Any:
        out = f(x)
        (g,) = torch.autograd.grad(out, x, u.reshape(out.shape), create_graph=create,
                                   allow_unused=True)  # fmt: skip
        return torch.zeros_like(x) if g is None else g

    def grad(self, p: Problem) -> np.ndarray:
        torch, f, x0 = self._setup(p)
        x = x0.clone().requires_grad_(True)
        return self._np(self._vjp(torch, f, x, self._tensor(torch, p.cotangent, x0)))

    def jvp(self, p: Problem) -> np.ndarray:
        torch, f, x0 = self._setup(p)
        v = self._tensor(torch, p.tangent, x0)
        try:
            import torch.autograd.forward_ad as fwad

            with fwad.dual_level():
                out = f(fwad.make_dual(x0, v))
                return self._np(fwad.unpack_dual(out).tangent)
        except (RuntimeError, NotImplementedError):
            pass  # a custom Function without a jvp rule: through the VJP instead
        x = x0.clone().requires_grad_(True)
        out = f(x)
        u = torch.zeros_like(out, requires_grad=True)
        (g,) = torch.autograd.grad(out, x, u, create_graph=True)
        (jv,) = torch.autograd.grad(g, u, v, allow_unused=True)
        return self._np(torch.zeros_like(out) if jv is None else jv)

    def hvp(self, p: Problem) -> np.ndarray:
        torch, f, x0 = self._setup(p)
        x = x0.clone().requires_grad_(True)
        u, w = self._tensor(torch, p.cotangent, x0), self._tensor(torch, p.direction, x0)
        try:
            g = self._vjp(torch, f, x, u, create=True)
            (hv,) = torch.autograd.grad(g, x, w, allow_unused=True)
        except RuntimeError as e:
            raise Unsupported(f"the backward is not differentiable: {e}") from None
        return self._np(torch.zeros_like(x0) if hv is None else hv)


class JaxFunction(_Function):
    def available(self) -> str | None:
        try:
            import jax  # noqa: F401
        except ImportError:
            return "jax is not installed; install it with: pip install 'harness[jax]'"
        return None

    def _setup(self, p: Problem) -> tuple[Any, Any, Any]:
        import jax

        jax.config.update("jax_enable_x64", True)
        jnp = jax.numpy
        x0 = jnp.asarray(p.flatten(p.args), dtype=p.dtype)

        def f(x: Any) -> Any:
            return self.bound.call(self._inputs(p, x, jnp.asarray))

        return jax, f, x0

    def value(self, p: Problem) -> np.ndarray:
        _, f, x0 = self._setup(p)
        return np.asarray(f(x0))

    def grad(self, p: Problem) -> np.ndarray:
        jax, f, x0 = self._setup(p)
        out, pull = jax.vjp(f, x0)
        (g,) = pull(jax.numpy.asarray(p.cotangent, dtype=p.dtype).reshape(out.shape))
        return np.asarray(g)

    def jvp(self, p: Problem) -> np.ndarray:
        jax, f, x0 = self._setup(p)
        v = jax.numpy.asarray(p.tangent, dtype=p.dtype)
        try:
            return np.asarray(jax.jvp(f, (x0,), (v,))[1])
        except TypeError:  # a custom_vjp function: no forward mode; through the VJP instead
            out, pull = jax.vjp(f, x0)
            _, pull_of_pull = jax.vjp(lambda u: pull(u)[0], jax.numpy.zeros_like(out))
            return np.asarray(pull_of_pull(v)[0])

    def hvp(self, p: Problem) -> np.ndarray:
        jax, f, x0 = self._setup(p)
        jnp = jax.numpy
        u = jnp.asarray(p.cotangent, dtype=p.dtype)
        w = jnp.asarray(p.direction, dtype=p.dtype)

        def g(x: Any) -> Any:
            out, pull = jax.vjp(f, x)
            return pull(u.reshape(out.shape))[0]

        _, pull_g = jax.vjp(g, x0)  # reverse over reverse: custom_vjp functions too
        return np.asarray(pull_g(w)[0])


SUBJECTS: dict[str, type[_Function]] = {"torch": TorchFunction, "jax": JaxFunction}
