"""JAX (float64 enabled explicitly) behind the Backend interface, with compiled functions reused."""

from __future__ import annotations

import functools
import itertools
import os
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar

import numpy as np

from harness.backends import jax_programs, jax_twin
from harness.backends.base import Backend, Dispatched, Problem
from harness.backends.jax_namespace import JaxNamespace
from harness.vocabulary import QUANTITY

#: Quantities probed along the direction w (the others along the tangent v).
_SECOND = ("hvp", "hessian", "d3")
#: The bundle's extra result for the symmetry self-check: the HVP along the tangent v, which
#: the runner asks for as an hvp cell whose direction is the problem's tangent.
_SWAPPED = "hvp@tangent"
#: Traces that give several quantities at once (the first that fits is taken): a JVP's primal
#: output is the value; forward over reverse gives the gradient as its primal output; and a
#: JVP over that HVP gives the HVP as its primal output and the third derivative's vector.
_PAIRED = (("value", "jvp"), ("grad", "hvp", "d3"), ("grad", "hvp"), ("hvp", "d3"))
#: Small programs are compiled with LLVM's optimisation off, XLA's older loop emitters and one
#: codegen partition: about six times less compile CPU (7.5 s -> 1.3 s for 14 case programs),
#: which is most of a small case's cost; values stay within 15 eps (of the largest element) of
#: the default build over the registry. Larger inputs keep XLA's defaults, where run time
#: matters. HARNESS_JAX_FAST_COMPILE=0 turns it off.
FAST_COMPILE = {
    "xla_backend_optimization_level": 0,
    "xla_cpu_use_fusion_emitters": False,
    "xla_cpu_parallel_codegen_split_count": 1,
}
FAST_COMPILE_LIMIT = 4096  # input elements
#: the ids of this process's JAX backends in the twin process
_CLIENTS = itertools.count()


def _traces(quantities: Sequence[str]) -> list[str]:
    """The functions to trace for `quantities`, grouped as _PAIRED allows; the self-checks
    are no trace of their own, but symmetry adds the HVP along the tangent (_SWAPPED)."""
    out = [q for q in quantities if not QUANTITY[q].self_check]
    for group in _PAIRED:
        if all(q in out for q in group):
            out[out.index(group[0])] = "+".join(group)
            for q in group[1:]:
                out.remove(q)
    if "symmetry" in quantities and "hvp" in quantities:
        out.append(_SWAPPED)
    return out


def lower_inlined(jax: Any, fn: Callable, args: tuple) -> Any:
    """`fn` jitted and lowered for `args`, with jit disabled inside it: jax's own jitted
    functions (jnp.sum, jax.nn.log_softmax, ...) are then traced inline rather than as nested
    programs, each differentiated, partially evaluated and transposed on its own (most of a
    cold trace), and XLA gets one flat program: the same operations and bit-identical
    results, in about a fifth less trace, lower and compile time on the registry's networks.
    A function that fails so (one that needs jit) is lowered as it is."""

    def inlined(*a: Any) -> Any:
        with jax.disable_jit():
            return fn(*a)

    try:
        return jax.jit(inlined).lower(*args)
    except Exception:
        return jax.jit(fn).lower(*args)


def _names(quantities: Sequence[str]) -> list[str]:
    """The results of a bundle of `quantities`, in the order it returns them."""
    return [q for k in _traces(quantities) for q in k.split("+")]


class Jax(Dispatched):
    """JAX transformations (vjp, jvp, forward-over-reverse hvp, hessian), jit-compiled once per
    case, shape, dtype and quantity, and reused for every seed."""

    name = "jax"
    reference_rank = 2
    methods: ClassVar[dict[str, str]] = {
        "grad": "jax.vjp", "jvp": "jax.jvp", "hvp": "forward over reverse",
        "jacobian": "jacrev", "hessian": "jax.hessian", "d3": "forward over forward over reverse",
    }  # fmt: skip
    install = "pip install 'harness[jax]'"
    #: the JAX platform this backend computes on (its GPU twin: "cuda")
    platform = "cpu"
    prepares_ahead = True

    def __init__(self) -> None:
        self._jax: Any = None
        self._compiled: dict[tuple, Callable] = {}
        self._compiling: dict[tuple, Future] = {}
        self._plan: dict[int, tuple[Problem, tuple[str, ...]]] = {}
        self._results: dict[int, dict[str, np.ndarray] | None] = {}
        self._counting = threading.Lock()  # guards timings: see _count
        #: the twin process (jax_twin): this backend's id there, the programs it holds and
        #: where the planned problems' results will come from (ticket, index)
        self._twin: jax_twin.Twin | None = None
        self._client: int | None = None
        self._twin_keys: set[tuple] = set()
        self._remote: dict[int, tuple[int, int]] = {}
        #: seconds spent tracing/lowering and compiling, apart from running (reported apart)
        self.timings: dict[str, float] = defaultdict(float)

    def available(self) -> str | None:
        try:
            self._import()
        except ImportError:
            return f"jax is not installed; install it with: {self.install}"
        return None

    def _import(self) -> Any:
        if self._jax is None:
            gpu = os.environ.get("HARNESS_DEVICE", "cpu") != "cpu"
            os.environ.setdefault("JAX_PLATFORMS", "cuda,cpu" if gpu else "cpu")
            import jax

            jax.config.update("jax_enable_x64", True)
            jax_programs.configure(jax)
            self._jax = jax
        return self._jax

    def _fn(self, quantity: str, p: Problem, args: tuple) -> Callable:
        key = (quantity, p.fn, p.dtype, tuple(sorted(p.shapes.items())), p.wrt)
        if key not in self._compiled:
            out = self._import().tree_util.tree_structure(0)
            build = functools.partial(self._impl, quantity, p)
            self._compiled[key] = self._compile(build, args, (quantity, *key[2:]), p, out)
        return self._compiled[key]

    def _compile(self, build: Callable, args: tuple, what: tuple, p: Problem, out: Any) -> Any:
        """jit ahead of time, so that trace and compile seconds are counted apart from runs;
        a registry case's program is loaded from the project cache when a run compiled it."""
        return self._lower(build, args, what, p, out)()

    def _lower(
        self, build: Callable, args: tuple, what: tuple, p: Problem, out: Any
    ) -> Callable[[], Any]:
        """Trace and lower now (or read the program from the project cache): the function
        returned compiles (or loads) it."""
        t0 = time.perf_counter()
        jax = self._import()
        size = sum(int(np.size(a)) for a in jax.tree_util.tree_leaves(args))
        fast = (
            size <= FAST_COMPILE_LIMIT
            and self.platform == "cpu"
            and os.environ.get("HARNESS_JAX_FAST_COMPILE", "1") != "0"
        )
        options = FAST_COMPILE if fast else None
        name = None
        if jax_programs.cacheable(self, p.fn):
            what = (*what, str(p.dtype), p.wrt, p.names)
            name = jax_programs.program_key(jax, what, p.fn, args, options)
            blob = jax_programs.read(name)
            if blob is not None:  # loading leaves Python free too: done where compiling is

                def load() -> Any:
                    t1 = time.perf_counter()
                    loaded = jax_programs.from_blob(jax, blob, args, out)
                    if loaded is None:  # a damaged or foreign entry: compiled afresh
                        lowered = lower_inlined(jax, build(), args)
                        self._count(trace_s=time.perf_counter() - t1)
                        return self._compiled_now(jax, lowered, options, name)
                    self._count(load_s=time.perf_counter() - t1, programs=1, programs_cached=1)
                    return loaded

                self._count(load_s=time.perf_counter() - t0)
                return load
        lowered = lower_inlined(jax, build(), args)
        self._count(trace_s=time.perf_counter() - t0)
        return lambda: self._compiled_now(jax, lowered, options, name)

    def _compiled_now(self, jax: Any, lowered: Any, options: dict | None, name: str | None) -> Any:
        """`lowered` compiled (XLA leaves Python free: programs compile side by side)."""
        t0 = time.perf_counter()
        compiled = jax_programs.compile_and_keep(jax, lowered, options, name)
        self._count(compile_s=time.perf_counter() - t0, programs=1)
        return compiled

    def _count(self, **amounts: float) -> None:
        """Add to `timings` (compilations and loads finish on several threads)."""
        with self._counting:
            for k, v in amounts.items():
                self.timings[k] += v

    def _impl(self, quantity: str, p: Problem) -> Callable:
        jax = self._import()
        jnp = jax.numpy
        xp = JaxNamespace(jax, p.dtype)
        shapes, wrt, names = dict(p.shapes), p.wrt, p.names

        def f(xflat, consts):
            vals, i = dict(consts), 0
            for n in wrt:
                k = int(np.prod(shapes[n], dtype=int))
                vals[n] = xflat[i : i + k].reshape(shapes[n])
                i += k
            return p.fn(xp, *(vals[n] for n in names))

        def s(x, c, u):
            return jnp.sum(f(x, c) * u)

        def hvp(x, c, u, w):  # (the gradient, H w): forward over reverse
            return jax.jvp(lambda y: jax.grad(s)(y, c, u), (x,), (w,))

        def third(x, c, u, w):  # ((grad, H w), (H w, D³s[w, w, .])): forward over that
            return jax.jvp(lambda y: hvp(y, c, u, w), (x,), (w,))

        def grad_hvp_d3(x, c, u, w):
            (g, hw), (_, dhw) = third(x, c, u, w)
            return g, hw, jnp.vdot(dhw, w)

        impl = {
            "value": lambda x, c, u, v: f(x, c),
            "grad": lambda x, c, u, v: jax.grad(s)(x, c, u),
            "jvp": lambda x, c, u, v: jax.jvp(lambda y: f(y, c), (x,), (v,))[1],
            "hvp": lambda x, c, u, v: hvp(x, c, u, v)[1],
            _SWAPPED: lambda x, c, u, v: hvp(x, c, u, v)[1],
            "d3": lambda x, c, u, v: grad_hvp_d3(x, c, u, v)[2],
            "jacobian": lambda x, c, u, v: jax.jacrev(f)(x, c).reshape(-1, x.shape[0]),
            "hessian": lambda x, c, u, v: jax.hessian(s)(x, c, u),
            # pairs that one trace gives together: a JVP's primal output is the value, and the
            # primal output of forward-over-reverse is the gradient
            "value+jvp": lambda x, c, u, v: jax.jvp(lambda y: f(y, c), (x,), (v,)),
            "grad+hvp": hvp,
            "grad+hvp+d3": grad_hvp_d3,
            "hvp+d3": lambda x, c, u, v: grad_hvp_d3(x, c, u, v)[1:],
        }[quantity]
        return impl

    def _args(self, p: Problem, probe: np.ndarray) -> tuple:
        """A program's arguments as numpy arrays of the cell's dtype (the program copies them
        to its device; a jax array made first would cost a transfer of its own per array)."""
        x = np.asarray(p.flatten(p.args), dtype=p.dtype)
        consts = {n: np.asarray(a) for n, a in p.args.items() if n not in p.wrt}
        u = np.asarray(p.cotangent, dtype=p.dtype)
        return x, consts, u, np.asarray(probe, dtype=p.dtype)

    def compute(self, quantity: str, p: Problem) -> np.ndarray:
        jax = self._import()
        with jax.default_device(jax.devices(self.platform)[0]):
            return self._compute(quantity, p)

    def _compute(self, quantity: str, p: Problem) -> np.ndarray:
        bundled = self._bundled(quantity, p)
        if bundled is not None:
            return bundled
        args = self._args(p, p.direction if quantity in _SECOND else p.tangent)
        return np.asarray(self._fn(quantity, p, args)(*args))

    # -- one program per case and dtype, compiled while the other backends compute --------
    def prepare(self, plan: Sequence[tuple[Problem, Sequence[str]]]) -> None:
        """Trace and lower each problem's quantities as one program now, and compile them on a
        thread of their own: the runner asks for this backend's cells after the others', so
        XLA's compilation (which leaves Python free) runs beside their work, and one dtype's
        beside the next one's tracing. The first cell runs a problem's program; the other
        cells read their results. XLA's cost is mostly per program (a program per quantity
        compiled about four times slower). One program for every dtype would save its fixed
        part once, but its compilation could not start before every dtype was traced, and
        XLA's time grows faster than the program (lstm_l2_b14_c16 took 600 s instead of 90):
        so it is one per case and dtype, which the perturbed inputs of the low-precision term
        share with the problem of their dtype. Every program but the first goes to the twin
        process (jax_twin) where it can: traced there beside this process's tracing."""
        self._plan = {id(p): (p, tuple(qs)) for p, qs in plan if qs}
        self._results = {}
        here = self._to_twin(list(self._plan.values()))
        for p, qs in here:
            key = self._bundle_key(p, qs)
            if key in self._compiled or key in self._compiling:
                continue
            try:
                finish = self._lower_bundle(key, p, qs)
            except Exception:  # its cells find out, computing one by one
                continue
            self._compiling[key] = jax_programs.in_background(
                lambda k=key, f=finish: self._keep(k, f)
            )

    def _to_twin(self, plan: list[tuple[Problem, tuple[str, ...]]]) -> list:
        """Hand the twin process (jax_twin) every program of the plan but the first, and
        the problems that run them; the rest of the plan, computed here, is returned."""
        if self._remote:  # an earlier case's results that no cell asked for
            self._twin.forget(sorted({t for t, _ in self._remote.values()}))
            self._remote = {}
        if (len(plan) < 2 or self.platform != "cpu" or not jax_twin.travels(plan[0][0].fn)
                or (twin := self._twin_started()) is None):  # fmt: skip
            return plan
        first = None
        here, there = [], []
        for p, qs in plan:
            key = self._bundle_key(p, qs)
            first = key if first is None and key not in self._twin_keys else first
            local = key in self._compiled or key in self._compiling
            if key in self._twin_keys or (key != first and not local):
                there.append((p, qs, key))
            else:
                here.append((p, qs))
        ticket = twin.submit(self._client, type(self), [(p, qs) for p, qs, _ in there])
        if ticket is None:
            return plan
        self._twin_keys.update(key for *_, key in there)
        self._remote = {id(p): (ticket, i) for i, (p, _, _) in enumerate(there)}
        return here

    def _twin_started(self) -> jax_twin.Twin | None:
        """The twin, once it is ready (it is started at the first case, and stays)."""
        twin = jax_twin.get(type(self))
        if twin is not self._twin:  # the first case, or a new process (forked from this one)
            self._twin, self._client, self._twin_keys = twin, None, set()
        if twin is None or twin.dead:
            self._twin_keys.clear()  # a twin that died: its programs are compiled here
            return None
        if self._client is None and twin.ready():
            self._client = next(_CLIENTS)
            weakref.finalize(self, twin.drop, self._client)
        return twin if self._client is not None else None

    def _from_twin(self, p: Problem, quantities: tuple[str, ...]) -> dict[str, np.ndarray]:
        """`p`'s results from the twin (waited for); its fault is found out here, where the
        program is then computed as if there were no twin."""
        ticket, index = self._remote[id(p)]
        status, value, spent = self._twin.result(ticket, index)
        self._count(**spent, twin=1)
        if status == "ok":
            return value
        self._twin_keys.discard(self._bundle_key(p, quantities))
        return self._run_bundle(p, quantities)

    def bundle_results(self, p: Problem, quantities: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The results of `p`'s program for `quantities` (what the twin computes)."""
        jax = self._import()
        with jax.default_device(jax.devices(self.platform)[0]):
            return self._run_bundle(p, quantities)

    @staticmethod
    def _bundle_key(p: Problem, quantities: tuple[str, ...]) -> tuple:
        return ("bundle", quantities, p.fn, p.dtype, tuple(sorted(p.shapes.items())), p.wrt)

    def _lower_bundle(self, key: tuple, p: Problem, quantities: tuple[str, ...]) -> Callable:
        """The program of `quantities` on `p` traced and lowered: the function returned
        compiles it."""
        jax = self._import()
        with jax.default_device(jax.devices(self.platform)[0]):
            out = jax.tree_util.tree_structure(dict.fromkeys(_names(quantities), 0))
            build = functools.partial(self._bundle, quantities, p)
            return self._lower(build, self._bundle_args(p), key[:2], p, out)

    def _keep(self, key: tuple, finish: Callable[[], Any]) -> Any:
        jax = self._import()
        with jax.default_device(jax.devices(self.platform)[0]):
            self._compiled[key] = finish()
        return self._compiled[key]

    def _bundled(self, quantity: str, p: Problem) -> np.ndarray | None:
        entry = self._plan.get(id(p))
        if entry is None or entry[0] is not p:
            entry, quantity = self._swapped(quantity, p), _SWAPPED
        if entry is None or quantity not in _traces(entry[1]) + list(entry[1]):
            return None
        p = entry[0]
        if id(p) not in self._results:
            try:
                run = self._from_twin if id(p) in self._remote else self._run_bundle
                self._results[id(p)] = run(p, entry[1])
            except Exception:  # the cells compute one by one, each reporting its own fault
                self._results[id(p)] = None
        got = self._results[id(p)]
        return None if got is None else got.pop(quantity, None)

    def _swapped(self, quantity: str, p: Problem) -> tuple[Problem, tuple[str, ...]] | None:
        """The planned problem whose symmetry check asks for this hvp: the same inputs, with
        its tangent as the direction (the bundle computed it already)."""
        if quantity != "hvp":
            return None
        for planned, qs in self._plan.values():
            if planned.args is p.args and planned.tangent is p.direction and "symmetry" in qs:
                return planned, qs
        return None

    def _bundle_args(self, p: Problem) -> tuple:
        x, c, u, v = self._args(p, p.tangent)
        return x, c, u, v, np.asarray(p.direction, dtype=p.dtype)

    def _run_bundle(self, p: Problem, quantities: tuple[str, ...]) -> dict[str, np.ndarray]:
        """`p`'s program run: compiled in prepare's background (waited for), else now."""
        key = self._bundle_key(p, quantities)
        if key not in self._compiled:
            pending = self._compiling.get(key)
            # waits (a cell timing out leaves it to the next cell to wait for)
            failed = pending is None or pending.exception() is not None
            self._compiling.pop(key, None)
            if failed:
                self._keep(key, self._lower_bundle(key, p, quantities))
        args = self._bundle_args(p)
        return {q: np.asarray(a) for q, a in self._compiled[key](*args).items()}

    def _bundle(self, quantities: tuple[str, ...], p: Problem) -> Callable:
        """One function computing all of `quantities` (paired ones from one trace)."""
        impls = {k: self._impl(k, p) for k in _traces(quantities)}

        def bundle(x, c, u, v, w):
            out = {}
            for k, f in impls.items():
                r = f(x, c, u, w if k.split("+")[-1] in _SECOND else v)
                out.update(zip(k.split("+"), r, strict=True) if "+" in k else [(k, r)])
            return out

        return bundle


class JaxCuda(Jax):
    """JAX on the GPU, judged against the CPU consensus (it never votes), so that a
    CPU-versus-GPU discrepancy is a row of its own. JAX's default float32 matmul precision on
    recent NVIDIA GPUs is TF32 (about 3 decimal digits); HARNESS_MATMUL_PRECISION=highest sets
    jax_default_matmul_precision to "highest", which is what fixes it."""

    name = "jax-cuda"
    votes = False
    reference_rank = Backend.reference_rank
    platform = "cuda"

    def available(self) -> str | None:
        why = super().available()
        if why is not None:
            return why
        try:
            self._jax.devices("cuda")
        except RuntimeError:
            return "no CUDA device for JAX (install jax[cuda12] and run with --device cuda)"
        if os.environ.get("HARNESS_MATMUL_PRECISION") == "highest":
            self._jax.config.update("jax_default_matmul_precision", "highest")
        return None
