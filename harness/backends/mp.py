"""mpmath at 50 significant digits on every case: a framework-free reference for each cell of
order <= 2 (and d3), within a stated budget.

The case runs on object arrays of mpf (``MpNamespace``). Derivatives are finite differences taken
in mpmath arithmetic with the step and working precision that ``mpmath.diff`` picks: step
h = 2^-(p+10) for the p bits of DIGITS, working precision (p + 20)(n + 1) bits for order n. At
that step the truncation error is O(h²) = 2^-(2p) for a central stencil and O(h) = 2^-(p+10) for
a directed one, the rounding error about 2^-(p+10): every result is good to about DIGITS digits
before it is rounded to float64. The stencils are written out here (``stencil``, ``second``)
rather than calling ``mpmath.diff`` once per output element, because one evaluation of the case
gives every element at once: a JVP costs 2 evaluations, not 2 per output element;
tests/test_mp_oracle.py checks them against ``mpmath.diff`` and against closed forms.

    value     1 evaluation at DIGITS
    jacobian  2N: the central n = 1 stencil along each coordinate; grad = Jᵀu from the same
              columns (free where the Jacobian is asked for too)
    jvp       2: the central stencil along the tangent
    hessian   (N + 1)(N + 2)/2: the directed n = 2 stencil (mpmath.diff's ``direction=1``) on
              the diagonal, the directed mixed one off it, the one-coordinate points shared
    hvp       2N + 2: the directed mixed stencil along each coordinate and the direction
              (H w from the Hessian, free, where the Hessian is asked for too and affordable)
    d3        4: the central n = 3 stencil of <u, f(x + t w)>

First order is central, so at a kink mp returns the mean of the one-sided slopes (relu'(0) =
1/2, |x|'(0) = 0, a tie of max split evenly), as fd does; the directed second order (a quarter
of the central one's evaluations) is only asked where the case is smooth.

Budget: a cell costs about (evaluations) x (Python calls of one evaluation), the latter counted
(``sys.setprofile``) on one evaluation of the case at DIGITS; a cell above ``BUDGET`` is skipped
with a reason naming it, before it is computed. The count is deterministic (the same inputs make
the same calls), so every process skips the same cells. The runner keeps mp's results like every
oracle's (harness.memo: in the process, and for the registry's cases in the project cache), so a
warm run evaluates no case in mpmath.
"""

from __future__ import annotations

import functools
import gc
import math
import operator
import sys
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from harness.backends.base import Dispatched, Problem, Unsupported
from harness.namespace import conv2d, max_pool2d
from harness.vocabulary import DENSE_LIMIT, REFERENCE_DTYPE, VOCABULARY, provide

DIGITS = 50
#: Extra bits beyond DIGITS' precision, as mpmath.diff's ``addprec``: the step is 2^-(p+ADDPREC).
ADDPREC = 10
#: A cell's estimated cost, (case evaluations) x (Python calls of one evaluation), above which mp
#: skips it (about 0.2-1.2 µs a call here: a budget of about 1-2 s a cell). The default registry
#: loses the Hessians of its five largest cases to it (reports/bench/mp.csv).
BUDGET = 2_000_000


class MpNamespace:
    """The vocabulary on mpmath numbers (object arrays of mpf for array-valued steps); numpy's
    functions on object arrays where they work elementwise or by + and *. A function outside
    the vocabulary is Unsupported (a skipped cell), not an AttributeError."""

    def __init__(self, mp: Any) -> None:
        self.mp = mp
        provide(
            self,
            ("mpmath", lambda f: np.frompyfunc(getattr(mp, f), 1, 1)),
            ("operator", lambda f: getattr(operator, f)),
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        known = "" if name not in VOCABULARY else " (a vocabulary op it fails to provide)"
        raise Unsupported(f"mp's namespace has no {name!r}{known}: the case calls a function "
                          "outside the vocabulary (harness.vocabulary.OPS)")  # fmt: skip

    def asarray(self, a: Any) -> Any:
        return np.frompyfunc(self.mp.mpf, 1, 1)(np.asarray(a, dtype=object))

    def sigmoid(self, a):
        return 1 / (1 + self.exp(-a))

    def relu(self, a):
        return self.maximum(a, 0)

    def maximum(self, a, b):
        return np.where(np.asarray(a >= b, dtype=bool), a, b)

    def minimum(self, a, b):
        return np.where(np.asarray(a <= b, dtype=bool), a, b)

    def where(self, mask, a, b):
        return np.where(np.asarray(mask, dtype=bool), a, b)

    def matmul(self, a, b):
        return np.matmul(np.asarray(a, dtype=object), np.asarray(b, dtype=object))

    def sum(self, a, axis=None, keepdims=False):
        return np.sum(np.asarray(a, dtype=object), axis=axis, keepdims=keepdims)

    def mean(self, a, axis=None, keepdims=False):
        a = np.asarray(a, dtype=object)
        n = a.size if axis is None else np.prod([a.shape[i] for i in np.atleast_1d(axis)])
        return self.sum(a, axis, keepdims) / int(n)

    def max(self, a, axis=None, keepdims=False):
        return np.max(np.asarray(a, dtype=object), axis=axis, keepdims=keepdims)

    def min(self, a, axis=None, keepdims=False):
        return np.min(np.asarray(a, dtype=object), axis=axis, keepdims=keepdims)

    def prod(self, a, axis=None, keepdims=False):
        return np.prod(np.asarray(a, dtype=object), axis=axis, keepdims=keepdims)

    def var(self, a, axis=None, keepdims=False):
        c = a - self.mean(a, axis=axis, keepdims=True)
        return self.mean(c * c, axis=axis, keepdims=keepdims)

    def std(self, a, axis=None, keepdims=False):
        return self.sqrt(self.var(a, axis=axis, keepdims=keepdims))

    def cumsum(self, a, axis=None):
        return np.cumsum(np.asarray(a, dtype=object), axis=axis)

    def clip(self, a, lo, hi):
        a = a if lo is None else self.maximum(a, lo)
        return a if hi is None else self.minimum(a, hi)

    def logaddexp(self, a, b):
        m = self.maximum(a, b)
        return m + self.log(self.exp(a - m) + self.exp(b - m))

    def softplus(self, a):
        return self.logaddexp(0, a)

    def broadcast_to(self, a, shape):
        return np.broadcast_to(np.asarray(a, dtype=object), shape)

    def expand_dims(self, a, axis):
        return np.expand_dims(np.asarray(a, dtype=object), axis)

    def squeeze(self, a, axis=None):
        return np.squeeze(np.asarray(a, dtype=object), axis)

    def einsum(self, subscripts, *operands):
        return np.einsum(subscripts, *(np.asarray(a, dtype=object) for a in operands))

    def conv2d(self, x, w, stride=1, padding=0):
        return conv2d(np.asarray(x, dtype=object), np.asarray(w, dtype=object), stride, padding)

    def max_pool2d(self, x, kernel_size, stride=None, padding=0):
        return max_pool2d(np.asarray(x, dtype=object), kernel_size, stride, padding)

    def reshape(self, a, shape):
        return np.reshape(np.asarray(a, dtype=object), shape)

    def transpose(self, a, axes=None):
        return np.transpose(np.asarray(a, dtype=object), axes)

    def take(self, a, indices, axis=None):
        return np.take(np.asarray(a, dtype=object), np.asarray(indices), axis=axis)

    def concatenate(self, arrays, axis=0):
        return np.concatenate([np.asarray(a, dtype=object) for a in arrays], axis=axis)

    def logsumexp(self, a, axis=None, keepdims=False):
        m = self.max(a, axis=axis, keepdims=True)
        out = self.log(self.sum(self.exp(a - m), axis=axis, keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis=axis)

    def log_softmax(self, a, axis=-1):
        return a - self.logsumexp(a, axis=axis, keepdims=True)

    def softmax(self, a, axis=-1):
        e = self.exp(a - self.max(a, axis=axis, keepdims=True))
        return e / self.sum(e, axis=axis, keepdims=True)

    def cross_entropy(self, logits, labels):
        lp = self.log_softmax(logits, axis=-1)
        lab = np.asarray(labels)
        return -self.mean(np.take_along_axis(lp, lab[..., None], axis=-1)[..., 0])


@functools.cache
def context() -> Any:
    """The process's one mpmath context at DIGITS digits (a new one costs about 2 ms of set-up,
    more than most cells; only the stencils change its precision, and they restore it)."""
    import mpmath

    ctx = mpmath.mp.clone()
    ctx.dps = DIGITS
    return ctx


def stencil(ctx: Any, g: Callable[[Any], Any], n: int) -> Any:
    """d^n/dt^n g(t) at t = 0 by mpmath.diff's central stencil, for g giving an mpf or an object
    array of them (every element differenced at once): steps k·h, k = -n, -n+2, ..., n, with
    h = 2^-(p + ADDPREC), at (p + 2·ADDPREC)(n + 1) bits, p the context's precision."""
    p = ctx.prec
    with ctx.workprec((p + 2 * ADDPREC) * (n + 1)):
        h = ctx.ldexp(1, -p - ADDPREC)
        d: Any = 0
        for j, k in enumerate(range(-n, n + 1, 2)):
            d = d + (-1) ** (n - j) * math.comb(n, j) * np.asarray(g(k * h), dtype=object)
        return d / (2 * h) ** n


def second(ctx: Any, g: Callable[[Any, Any], Any], pairs: list[tuple[int, int]]) -> dict:
    """{(i, j): ∂²g/∂i∂j} for each axis pair of `pairs`, where g(moves, h) is the function at
    the point moved k·h along axis i for each (i, k) of `moves` (() the point itself), by
    mpmath.diff's directed stencil (``direction=1``: steps 0, h, 2h, with the step and working
    precision of ``stencil``'s order 2). Directed, not central: the mixed partials share their
    one-axis points, (N + 1)(N + 2)/2 evaluations for a whole Hessian instead of 2N² + 1, for a
    truncation error of O(h) = 2^-(p + ADDPREC), still far below DIGITS digits."""
    p = ctx.prec
    with ctx.workprec((p + 2 * ADDPREC) * 3):
        h = ctx.ldexp(1, -p - ADDPREC)
        at: dict[tuple, Any] = {}

        def v(*moves: tuple[int, int]) -> Any:
            k = tuple(sorted(moves))
            if k not in at:
                at[k] = g(k, h)
            return at[k]

        out = {}
        for i, j in pairs:
            if i == j:
                out[i, j] = (v((i, 2)) - 2 * v((i, 1)) + v()) / h**2
            else:
                out[i, j] = (v((i, 1), (j, 1)) - v((i, 1)) - v((j, 1)) + v()) / h**2
        return out


class _Over(Exception):
    """One evaluation made more Python calls than it may."""


def counted(fn: Callable[[], Any], cap: int) -> tuple[Any, int | None]:
    """fn() and the Python calls it made (``sys.setprofile``; the cyclic garbage collector
    paused, so that no finaliser is counted), _Over past `cap` calls. Where another profiler is
    running its calls are not counted (None): it is never displaced."""
    if sys.getprofile() is not None:
        return fn(), None
    calls = 0

    def hook(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call":
            calls += 1
            if calls > cap:
                raise _Over

    was = gc.isenabled()
    gc.disable()
    sys.setprofile(hook)
    try:
        out = fn()
    finally:
        sys.setprofile(None)
        if was:
            gc.enable()
    return out, calls


def evaluations(quantity: str, n: int) -> int:
    """How many evaluations of the case `quantity` takes for n inputs (module docstring)."""
    return {"value": 1, "grad": 2 * n, "jacobian": 2 * n, "jvp": 2, "hvp": 2 * n + 2,
            "hessian": (n + 1) * (n + 2) // 2, "d3": 4}[quantity]  # fmt: skip


class _Bound:
    """One problem in mp: the case as a function of the flat inputs, and the probes as mpf."""

    def __init__(self, be: MpMath, p: Problem) -> None:
        ctx = self.ctx = context()
        self.xp, self.p, self.be = MpNamespace(ctx), p, be
        mpf = np.frompyfunc(ctx.mpf, 1, 1)
        self.x0 = mpf(p.flatten(p.args).astype(np.float64).astype(object))
        self.u = mpf(np.ravel(p.cotangent).astype(np.float64).astype(object))
        self.consts = {n: a for n, a in p.args.items() if n not in p.wrt}

    def probe(self, name: str) -> Any:
        return np.frompyfunc(self.ctx.mpf, 1, 1)(
            np.asarray(getattr(self.p, name), dtype=np.float64).astype(object))  # fmt: skip

    def f(self, x: Any) -> Any:
        """The case's output (an object array) at the flat inputs x."""
        self.be.evaluations += 1
        vals = dict(self.consts)
        vals.update(self.p.split(x))
        return np.asarray(self.p.call(self.xp, vals), dtype=object)

    def s(self, x: Any) -> Any:
        """<u, f(x)>."""
        return np.dot(self.u, np.ravel(self.f(x)))

    def bump(self, t: Any, i: int) -> Any:
        """x0 with t added to coordinate i."""
        x = self.x0.copy()
        x[i] = x[i] + t
        return x

    def moved(self, moves: tuple[tuple[int, int], ...], h: Any, w: Any = None) -> Any:
        """x0 moved k·h along coordinate i for each (i, k) of `moves`; i = N means along w."""
        x = self.x0.copy()
        for i, k in moves:
            if i == self.p.n:
                x = x + w * (k * h)  # array first: mpf * array would try to convert it
            else:
                x[i] = x[i] + k * h
        return x


class MpMath(Dispatched):
    """Finite differences in mpmath at DIGITS significant digits (the module's docstring), every
    case, every cell within BUDGET; float64 rows only, which lower dtypes' groups borrow."""

    name = "mp"
    oracle = True
    reference_rank = 0
    exact_dtype = False  # computes at DIGITS digits; its float64 is the reference
    costly = ("hessian",)  # (N + 1)(N + 2)/2 evaluations in mpmath: mutant runs leave it out
    methods: ClassVar[dict[str, str]] = {
        "value": f"mpmath at {DIGITS} digits",
        **dict.fromkeys(("grad", "jacobian"), f"central differences in mpmath at {DIGITS} "
                        "digits, by coordinates"),
        "jvp": f"a central difference in mpmath at {DIGITS} digits along the tangent",
        **dict.fromkeys(("hvp", "hessian"), f"directed second differences in mpmath at "
                        f"{DIGITS} digits"),
        "d3": f"a third central difference in mpmath at {DIGITS} digits",
    }  # fmt: skip

    def __init__(self) -> None:
        #: case evaluations so far (metadata.json's timings: ``mp.evaluations``)
        self.evaluations = 0
        #: the current problem's work (its value and call count, Jacobian, Hessian), by kind
        self._memo: dict[tuple, Any] = {}
        self._current = ""
        self._planned: dict[str, set[str]] = {}

    @property
    def timings(self) -> dict[str, float]:
        """What metadata.json's timings show apart (``mp.evaluations``)."""
        return {"evaluations": self.evaluations}

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        # It works at DIGITS digits: float32 groups borrow its float64 result instead of
        # having a row of their own.
        return dtype == REFERENCE_DTYPE

    def prepare(self, plan: Any) -> None:
        self._memo.clear()
        self._planned = {p.digest(()): set(qs) for p, qs in plan}

    # -- the cells --------------------------------------------------------------------------
    def compute(self, quantity: str, p: Problem) -> np.ndarray:
        how = getattr(self, f"_{quantity}", None)
        if how is None:
            raise Unsupported(f"mp does not compute {quantity}")
        if p.digest(()) != self._current:  # another point: the memo holds one problem's work
            self._memo.clear()
            self._current = p.digest(())
        return self._out(how(_Bound(self, p)), p)

    # -- in mp (object arrays of mpf, before rounding) ----------------------------------------
    def _value(self, b: _Bound) -> Any:
        return self._measured(b)[0].reshape(b.p.out_shape)

    def _jacobian(self, b: _Bound) -> Any:
        key = ("jacobian", b.p.digest(()))
        if key not in self._memo:
            self._afford("jacobian", b)
            cols = [np.ravel(stencil(b.ctx, lambda t, i=i: b.f(b.bump(t, i)), 1))
                    for i in range(b.p.n)]  # fmt: skip
            self._memo[key] = np.stack(cols, axis=1).reshape(b.p.m, b.p.n)
        return self._memo[key]

    def _grad(self, b: _Bound) -> Any:
        if ("jacobian", b.p.digest(())) not in self._memo:
            self._afford("grad", b)
        return np.dot(b.u, self._jacobian(b))

    def _jvp(self, b: _Bound) -> Any:
        self._afford("jvp", b)
        v = b.probe("tangent")
        d = stencil(b.ctx, lambda t: b.f(b.x0 + v * t), 1)
        return np.asarray(d, dtype=object).reshape(b.p.out_shape)

    def _hessian(self, b: _Bound) -> Any:
        key = ("hessian", b.p.digest(("cotangent",)))
        if key not in self._memo:
            self._afford("hessian", b)
            n = b.p.n
            got = second(b.ctx, lambda moves, h: b.s(b.moved(moves, h)),
                         [(i, j) for i in range(n) for j in range(i + 1)])  # fmt: skip
            hess = np.empty((n, n), dtype=object)
            for (i, j), v in got.items():
                hess[i, j] = hess[j, i] = v
            self._memo[key] = hess
        return self._memo[key]

    def _hvp(self, b: _Bound) -> Any:
        w = b.probe("direction")
        key = ("hessian", b.p.digest(("cotangent",)))
        if key in self._memo or self._hessian_wanted(b):
            return np.dot(self._hessian(b), w)
        self._afford("hvp", b)
        n = b.p.n
        along_w = [(i, n) for i in range(n)]  # axis n: the direction w
        got = second(b.ctx, lambda moves, h: b.s(b.moved(moves, h, w)), along_w)
        return np.array([got[i, n] for i in range(n)], dtype=object)

    def _d3(self, b: _Bound) -> Any:
        self._afford("d3", b)
        w = b.probe("direction")
        return stencil(b.ctx, lambda t: b.s(b.x0 + t * w), 3)

    # -- the budget ---------------------------------------------------------------------------
    def _hessian_wanted(self, b: _Bound) -> bool:
        """Whether this case's Hessian is asked for too and affordable: H w then costs nothing."""
        if "hessian" not in self._planned.get(b.p.digest(()), ()) or b.p.n > DENSE_LIMIT:
            return False
        try:
            self._afford("hessian", b)
        except Unsupported:
            return False
        return True

    def _measured(self, b: _Bound) -> tuple[Any, int]:
        """The case's value at DIGITS and the Python calls of one evaluation (the second: the
        first fills mpmath's caches of constants), each capped at twice the budget."""
        key = ("value", b.p.digest(()))
        if key not in self._memo:
            self._precheck("value", b)
            try:
                out, _ = counted(lambda: b.f(b.x0), 2 * BUDGET)
                _, calls = counted(lambda: b.f(b.x0), 2 * BUDGET)
                self._memo[key] = (out, calls if calls is not None else _elements(b.p))
            except _Over:
                self._memo[key] = Unsupported(
                    f"mp: one evaluation of the case makes over {2 * BUDGET:.3g} Python calls; "
                    f"over the budget of {BUDGET:.3g} (harness.backends.mp.BUDGET)"
                )
        if isinstance(self._memo[key], Unsupported):
            raise self._memo[key]
        out, calls = self._memo[key]
        if calls > BUDGET:
            raise Unsupported(
                f"mp value needs one evaluation of a case of {calls} Python calls; over the "
                f"budget of {BUDGET:.3g} (harness.backends.mp.BUDGET)"
            )
        return out, calls

    def _precheck(self, q: str, b: _Bound) -> None:
        """Refuse without evaluating when even one call per element is over the budget."""
        k, e = evaluations(q, b.p.n), _elements(b.p)
        if k * e > BUDGET:
            raise Unsupported(
                f"mp {q} needs ~{k} evaluations of a case of {e} elements (at least as many "
                f"Python calls each); over the budget of {BUDGET:.3g} "
                f"(harness.backends.mp.BUDGET)"
            )

    def _afford(self, q: str, b: _Bound) -> None:
        self._precheck(q, b)
        _, calls = self._measured(b)
        k = evaluations(q, b.p.n)
        if k * calls > BUDGET:
            raise Unsupported(
                f"mp {q} needs ~{k} evaluations of a case of {calls} Python calls "
                f"(~{k * calls:.2g}); over the budget of {BUDGET:.3g} "
                f"(harness.backends.mp.BUDGET)"
            )

    # -- results ------------------------------------------------------------------------------
    def _out(self, a: Any, p: Problem) -> np.ndarray:
        a = np.asarray(a, dtype=object)
        flat = [_real(v) for v in a.ravel()]
        return np.asarray(flat, dtype=np.float64).reshape(a.shape).astype(p.dtype)


def _item(v: Any) -> Any:
    """The one number of a 0-d result (an mpf, or a 0-d object array of one)."""
    return np.asarray(v, dtype=object).item()


def _real(v: Any) -> float:
    if isinstance(v, complex) or type(v).__name__ == "mpc":
        raise ValueError("mp: the case is complex at a stencil point (outside its real domain)")
    return float(v)


def _elements(p: Problem) -> int:
    """Elements of every input and of the output."""
    return sum(int(np.size(a)) for a in p.args.values()) + max(p.m, 1)


#: The ingredients of the seed's composite l = f(g(x), h(x)), by name.
INGREDIENTS = ("y", "z", "g1", "g2", "h1", "h2", "f", "f_y", "f_z", "f_yy", "f_yz", "f_zz")


def composition_terms(comp: Any, x: float) -> dict[str, Any]:
    """g', g'', h', h'', and f's partials up to order 2 at x, as mpf at DIGITS digits.

    `comp` is a registry Composition (g, h, f written against the namespace). Kept per
    process: a function of comp and x alone, and a dozen mpmath derivatives each."""
    return dict(_terms(comp, float(x)))


@functools.lru_cache(maxsize=4096)
def _terms(comp: Any, x: float) -> dict[str, Any]:
    ctx = context()
    xp = MpNamespace(ctx)
    x0 = ctx.mpf(float(x))

    def one(fn: Any) -> Any:
        return lambda *a: np.asarray(fn(xp, *a), dtype=object).item()

    g, h, f = one(comp.g), one(comp.h), one(comp.f)
    y, z = g(x0), h(x0)
    return {
        "y": y, "z": z,
        "g1": ctx.diff(g, x0), "g2": ctx.diff(g, x0, 2),
        "h1": ctx.diff(h, x0), "h2": ctx.diff(h, x0, 2),
        "f": f(y, z),
        "f_y": ctx.diff(f, (y, z), (1, 0)), "f_z": ctx.diff(f, (y, z), (0, 1)),
        "f_yy": ctx.diff(f, (y, z), (2, 0)), "f_yz": ctx.diff(f, (y, z), (1, 1)),
        "f_zz": ctx.diff(f, (y, z), (0, 2)),
    }  # fmt: skip
