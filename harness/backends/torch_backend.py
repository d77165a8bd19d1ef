"""PyTorch autograd (torch.func) behind the Backend interface."""

from __future__ import annotations

import operator
import os
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from harness.backends.base import Backend, Problem, Unsupported
from harness.vocabulary import provide

#: numpy dtypes torch cannot take or give (bfloat16 is ml_dtypes'): they pass through float32,
#: which holds each of their values exactly.
_VIA_FLOAT32 = ("bfloat16",)


def _operator(name: str) -> Any:
    return getattr(operator, name)


# torch.func's vmap (jacrev, hessian) falls back to a loop for take: slower, not wrong.
warnings.filterwarnings("ignore", message="There is a performance drop because we have not yet")


class TorchNamespace:
    """The vocabulary on torch tensors of one dtype: the ops the table maps mechanically, and
    by hand those whose torch call differs (dim/keepdim, index tensors, mixed scalars,
    torch.nn.functional)."""

    def __init__(self, torch: Any, dtype: Any) -> None:
        self.t = torch
        self.dtype = dtype
        self.F = torch.nn.functional
        # exp, matmul, ... as torch's own functions; + - * / ** as the tensor's operators
        provide(self, ("torch", lambda f: getattr(torch, f)), ("operator", _operator))

    def asarray(self, a: Any) -> Any:
        return tensor(self.t, a, self.dtype)

    def _t(self, a: Any) -> Any:
        return a if isinstance(a, self.t.Tensor) else self.asarray(a)

    def maximum(self, a, b):
        return self.t.maximum(self._t(a), self._t(b))

    def minimum(self, a, b):
        return self.t.minimum(self._t(a), self._t(b))

    def where(self, mask, a, b):
        return self.t.where(self.t.as_tensor(mask), self._t(a), self._t(b))

    def _dims(self, a, axis):
        return tuple(range(a.ndim)) if axis is None else axis

    def sum(self, a, axis=None, keepdims=False):
        return self.t.sum(a, dim=self._dims(a, axis), keepdim=keepdims)

    def mean(self, a, axis=None, keepdims=False):
        return self.t.mean(a, dim=self._dims(a, axis), keepdim=keepdims)

    def max(self, a, axis=None, keepdims=False):
        return self.t.amax(a, dim=self._dims(a, axis), keepdim=keepdims)

    def min(self, a, axis=None, keepdims=False):
        return self.t.amin(a, dim=self._dims(a, axis), keepdim=keepdims)

    def prod(self, a, axis=None, keepdims=False):
        # torch.prod reduces one dim at a time
        dims = self._dims(a, axis)
        for d in sorted({x % a.ndim for x in ((dims,) if isinstance(dims, int) else dims)})[::-1]:
            a = self.t.prod(a, dim=d, keepdim=keepdims)
        return a

    def var(self, a, axis=None, keepdims=False):
        return self.t.var(a, dim=self._dims(a, axis), correction=0, keepdim=keepdims)

    def std(self, a, axis=None, keepdims=False):
        return self.t.std(a, dim=self._dims(a, axis), correction=0, keepdim=keepdims)

    def cumsum(self, a, axis=None):
        return self.t.cumsum(a.reshape(-1) if axis is None else a, dim=0 if axis is None else axis)

    def logaddexp(self, a, b):
        return self.t.logaddexp(self._t(a), self._t(b))

    def softplus(self, a):
        return self.F.softplus(a)

    def expand_dims(self, a, axis):
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        ndim = a.ndim + len(axes)
        for d in sorted(x % ndim for x in axes):
            a = self.t.unsqueeze(a, d)
        return a

    def squeeze(self, a, axis=None):
        return self.t.squeeze(a) if axis is None else self.t.squeeze(a, axis)

    def conv2d(self, x, w, stride=1, padding=0):
        return self.F.conv2d(x, w, stride=stride, padding=padding)

    def max_pool2d(self, x, kernel_size, stride=None, padding=0):
        return self.F.max_pool2d(x, kernel_size, stride=stride, padding=padding)

    def transpose(self, a, axes=None):
        return a.permute(*(axes if axes is not None else reversed(range(a.ndim))))

    def take(self, a, indices, axis=None):
        idx = indices if isinstance(indices, self.t.Tensor) else np.asarray(indices)
        idx = self.t.as_tensor(idx, dtype=self.t.long)
        if axis is None:
            return self.t.take(a, idx)
        axis = axis % a.ndim
        out = self.t.index_select(a, axis, idx.reshape(-1))
        return out.reshape(a.shape[:axis] + idx.shape + a.shape[axis + 1 :])

    def concatenate(self, arrays, axis=0):
        return self.t.cat(list(arrays), dim=axis)

    def softmax(self, a, axis=-1):
        return self.t.softmax(a, dim=axis)

    def log_softmax(self, a, axis=-1):
        return self.t.log_softmax(a, dim=axis)

    def logsumexp(self, a, axis=None, keepdims=False):
        return self.t.logsumexp(a, dim=self._dims(a, axis), keepdim=keepdims)

    def cross_entropy(self, logits, labels):
        # log_softmax + gather rather than F.cross_entropy, whose fused kernel has no
        # forward-mode (jvp) support under torch.func.
        lab = labels if isinstance(labels, self.t.Tensor) else self.t.as_tensor(np.asarray(labels))
        lab = lab.long()
        lp = self.t.log_softmax(logits, dim=-1)
        return -self.t.mean(self.t.gather(lp, -1, lab.unsqueeze(-1)).squeeze(-1))


class Torch(Backend):
    """PyTorch eager autograd: torch.autograd for the VJP and reverse-over-reverse HVP,
    torch.func for the JVP, jacrev and the dense Hessian."""

    name = "torch"
    reference_rank = 3
    methods: ClassVar[dict[str, str]] = {
        "grad": "torch.autograd", "jvp": "forward_ad", "hvp": "reverse over reverse",
        "jacobian": "jacrev", "hessian": "torch.func.hessian",
        "d3": "forward over forward over reverse",
    }  # fmt: skip
    install = "pip install 'harness[torch]'"

    def __init__(self) -> None:
        self._torch: Any = None
        self._xps: dict[Any, TorchNamespace] = {}  # one namespace per dtype: it holds no state
        #: id(problem) -> (the problem, the quantities its cells will ask for), from prepare
        self._plan: dict[int, tuple[Problem, frozenset[str]]] = {}
        self._kept: _Kept | None = None  # the passes of the problem being computed

    def available(self) -> str | None:
        try:
            import torch
        except ImportError:
            return f"torch is not installed; install it with: {self.install}"
        self._torch = torch
        _set_threads_once(torch)
        return None

    # -- helpers -------------------------------------------------------------------------
    def _setup(self, p: Problem) -> tuple[Any, Any, Any, Any]:
        torch = self._torch or __import__("torch")
        self._torch = torch
        dt = getattr(torch, p.dtype_name)
        xp = self._xps.get(dt)
        if xp is None:
            xp = self._xps[dt] = TorchNamespace(torch, dt)
        consts = {n: torch.as_tensor(a) for n, a in p.args.items() if n not in p.wrt}
        x0 = tensor(torch, p.flatten(p.args), dt)

        def f(xflat: Any) -> Any:
            vals, i = dict(consts), 0
            for n in p.wrt:
                k = int(np.prod(p.shapes[n], dtype=int))
                vals[n] = xflat[i : i + k].reshape(p.shapes[n])
                i += k
            return p.call(xp, vals)

        return torch, xp, f, x0

    def _np(self, t: Any) -> np.ndarray:
        return as_numpy(t)

    def _s(self, torch: Any, f: Any, p: Problem, dt: Any) -> Any:
        u = tensor(torch, p.cotangent, dt)
        return lambda x: torch.sum(f(x) * u)

    def compute(self, quantity: str, p: Problem) -> np.ndarray:
        """A quantity; a dtype torch has no CPU kernel for is Unsupported (skipped), not an
        error: torch says "... not implemented for 'Half'"."""
        try:
            return super().compute(quantity, p)  # type: ignore[return-value]
        except (RuntimeError, NotImplementedError) as e:
            if "not implemented for" not in str(e):
                raise
            first = str(e).strip().splitlines()[0]
            raise Unsupported(f"torch has no kernel for {p.dtype} here: {first}") from None

    # -- one forward pass for value, grad and hvp ------------------------------------------
    def prepare(self, plan: Sequence[tuple[Problem, Sequence[str]]]) -> None:
        """Note which of value, grad and hvp each problem's cells will ask for: where two or
        more, the first cell's forward pass (graph kept) serves the next, and grad's backward
        pass (its graph kept when the hvp follows) serves the hvp. Each cell still runs its own
        step, inside its own time limit; a step that raises is computed again alone, so its
        fault is that cell's only, in its own words."""
        self._plan = {id(p): (p, frozenset(qs) & _SHARED) for p, qs in plan}
        self._plan = {k: e for k, e in self._plan.items() if len(e[1]) > 1}
        self._kept = None

    def _shared(self, p: Problem) -> _Kept | None:
        entry = self._plan.get(id(p))
        if entry is None or entry[0] is not p:
            return None
        if self._kept is None or self._kept.p is not p:
            self._kept = _Kept(self, p, entry[1])
        return self._kept

    # -- quantities ----------------------------------------------------------------------
    def value(self, p: Problem) -> np.ndarray:
        if (kept := self._shared(p)) is not None:
            try:
                return self._np(kept.forward()[1])
            except Exception:  # computed alone below: its fault in its own words
                self._kept = None
        torch, _, f, x0 = self._setup(p)
        with torch.no_grad():
            return self._np(f(x0))

    def grad(self, p: Problem) -> np.ndarray:
        if (kept := self._shared(p)) is not None:
            try:
                return self._np(kept.gradient())
            except Exception:
                self._kept = None
        torch, _, f, x0 = self._setup(p)
        x = x0.requires_grad_()
        out = f(x)
        u = tensor(torch, p.cotangent, x0.dtype).reshape(out.shape)
        return self._np(self._backward(torch, out, x, u))

    @staticmethod
    def _backward(torch: Any, out: Any, x: Any, u: Any, create_graph: bool = False) -> Any:
        """uᵀ ∂out/∂x by torch.autograd (a tenth of torch.func's dispatch cost on the small
        problems of the registry), zeros where out does not depend on x."""
        if not out.requires_grad:
            return torch.zeros_like(x)
        (g,) = torch.autograd.grad(out, x, u, create_graph=create_graph, allow_unused=True,
                                   materialize_grads=True)  # fmt: skip
        return g

    def jvp(self, p: Problem) -> np.ndarray:
        """Forward mode: the case run once on dual tensors (torch.autograd.forward_ad)."""
        torch, _, f, x0 = self._setup(p)
        from torch.autograd import forward_ad

        with forward_ad.dual_level():
            out = f(forward_ad.make_dual(x0, tensor(torch, p.tangent, x0.dtype)))
            primal, t = forward_ad.unpack_dual(out)
            t = torch.zeros_like(primal) if t is None else t
        return self._np(t)

    def hvp(self, p: Problem) -> np.ndarray:
        if (kept := self._shared(p)) is not None:
            self._kept = None  # the last step: its graph is freed with it
            try:
                return self._np(kept.hvp())
            except Exception:
                pass
        torch, _, f, x0 = self._setup(p)
        x = x0.requires_grad_()
        out = f(x)
        u = tensor(torch, p.cotangent, x0.dtype).reshape(out.shape)
        g = self._backward(torch, out, x, u, create_graph=True)
        w = tensor(torch, p.direction, x0.dtype)
        return self._np(self._backward(torch, g, x, w))

    def d3(self, p: Problem) -> np.ndarray:
        """d/dt <H(x + t w) w, w>: torch.func.jvp over the forward-over-reverse HVP."""
        torch, _, f, x0 = self._setup(p)
        grad = torch.func.grad(self._s(torch, f, p, x0.dtype))
        w = tensor(torch, p.direction, x0.dtype)

        def whw(x: Any) -> Any:
            return torch.dot(torch.func.jvp(grad, (x,), (w,))[1], w)

        return self._np(torch.func.jvp(whw, (x0,), (w,))[1])

    def jacobian(self, p: Problem) -> np.ndarray:
        torch, _, f, x0 = self._setup(p)
        return self._np(torch.func.jacrev(f)(x0)).reshape(p.m, p.n)

    def hessian(self, p: Problem) -> np.ndarray:
        torch, _, f, x0 = self._setup(p)
        return self._np(torch.func.hessian(self._s(torch, f, p, x0.dtype))(x0))


#: The quantities that share a forward pass.
_SHARED = frozenset(("value", "grad", "hvp"))


class _Kept:
    """One problem's forward pass and first backward pass, kept between its cells: the very
    computations value, grad and hvp each run alone (the forward with the graph recorded,
    grad's backward with its own graph when the hvp follows), run once."""

    def __init__(self, be: Torch, p: Problem, planned: frozenset[str]) -> None:
        self.be, self.p, self.planned = be, p, planned
        self._forward: tuple[Any, Any] | None = None
        self._grad: Any = None

    def forward(self) -> tuple[Any, Any]:
        """(x, f(x)), x a leaf that requires grad."""
        if self._forward is None:
            _, _, f, x0 = self.be._setup(self.p)
            x = x0.requires_grad_()
            self._forward = (x, f(x))
        return self._forward

    def gradient(self) -> Any:
        """uᵀ ∂f/∂x, with its graph when the hvp is planned."""
        if self._grad is None:
            x, out = self.forward()
            torch = self.be._torch
            u = tensor(torch, self.p.cotangent, x.dtype).reshape(out.shape)
            self._grad = Torch._backward(torch, out, x, u, create_graph="hvp" in self.planned)
        return self._grad

    def hvp(self) -> Any:
        g = self.gradient()  # with its graph: hvp is planned
        x = self._forward[0]  # type: ignore[index]
        w = tensor(self.be._torch, self.p.direction, x.dtype)
        return Torch._backward(self.be._torch, g, x, w)


def tensor(torch: Any, a: Any, dtype: Any) -> Any:
    """A numpy array (or number) as a torch tensor of `dtype`; a numpy dtype torch does not know
    (bfloat16) goes through float32, which holds its values exactly."""
    arr = np.asarray(a)
    if arr.dtype.name in _VIA_FLOAT32:
        arr = arr.astype(np.float32)
    return torch.as_tensor(arr, dtype=dtype)


def as_numpy(t: Any) -> np.ndarray:
    """A tensor as numpy in its own dtype (a bfloat16 tensor through float32, exactly)."""
    t = t.detach().cpu()
    name = str(t.dtype).removeprefix("torch.")
    return t.float().numpy().astype(name) if name in _VIA_FLOAT32 else t.numpy()


_THREADS_SET = False


def _set_threads_once(torch: Any) -> None:
    """torch's intra-op thread count, from HARNESS_THREADS (parallel workers: 1), set once per
    process: changing it per call costs a thread-pool rebuild."""
    global _THREADS_SET
    threads = os.environ.get("HARNESS_THREADS")
    if threads and not _THREADS_SET:
        torch.set_num_threads(int(threads))
    _THREADS_SET = True


class TorchCuda(Torch):
    """torch on the GPU, judged against the CPU consensus (it never votes), so that a
    CPU-versus-GPU discrepancy is a row of its own. torch keeps float32 matmuls in full precision
    by default (torch.backends.cuda.matmul.allow_tf32 = False), but cuDNN convolutions use TF32
    (torch.backends.cudnn.allow_tf32 = True); HARNESS_MATMUL_PRECISION=highest turns both off."""

    name = "torch-cuda"
    votes = False
    reference_rank = Backend.reference_rank

    def available(self) -> str | None:
        why = super().available()
        if why is None and not self._torch.cuda.is_available():
            why = "no CUDA device: torch.cuda.is_available() is False"
        if why is None and os.environ.get("HARNESS_MATMUL_PRECISION") == "highest":
            self._torch.backends.cuda.matmul.allow_tf32 = False
            self._torch.backends.cudnn.allow_tf32 = False
            self._torch.set_float32_matmul_precision("highest")
        return why

    def compute(self, quantity: str, p: Problem) -> np.ndarray:
        with self._torch.device("cuda"):  # every tensor the case makes lands on the GPU
            return np.asarray(super().compute(quantity, p))
