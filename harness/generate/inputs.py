"""Generated inputs: hypothesis draws inside each case's domain, a failing draw shrunk to a
small one, and a replay id that reruns exactly its inputs.

A draw is valid when it lies in the case's box (float32-exact, like the seeded draws) and keeps
every kink (relu, abs, maximum, minimum, clip, and ties in max, min, max_pool2d) at least
KINK_MARGIN away: there the derivative
is one-sided and central differences straddle it. Kinks are tested at fixed points in the edge
family, with declared discrepancies.

A failing draw (any fail or error among its cells) is stored under an id such
as ``two_paths#r3-1f2e3d4c5b``: the case, the index of the draw that first failed, and a hash
of the inputs and the seed. The store is a JSON file (``draws.json`` beside the reports) that
``python -m harness validate --replay ID`` reads.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.library import load_cases
from harness.namespace import NumpyNamespace, pool_args, windows
from harness.registry import Case, Input
from harness.vocabulary import UNEXPECTED as ALARMS

DRAWS_FILE = "draws.json"
#: What makes a draw fail. unexpected_pass is judged at the seeded inputs only: a declared
#: discrepancy may vanish at special points (at x = 0 many Hessians are 0 under every rule).
UNEXPECTED = tuple(v for v in ALARMS if v != "unexpected_pass")
#: How close to a kink a draw may come (relative to the magnitude of the compared values).
KINK_MARGIN = 1e-3
#: Evaluations spent shrinking one failing draw (each reruns only its failing cells).
SHRINK_BUDGET = 40


class ReplayError(ValueError):
    """A replay id that the draws file does not hold, or an unreadable draws file."""


@dataclass(frozen=True)
class Draw:
    """One generated input set of one case, replayable from its id."""

    id: str
    case: str
    seed: int
    inputs: dict[str, np.ndarray]

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "seed": self.seed,
            "inputs": {n: a.tolist() for n, a in self.inputs.items()},
        }

    @staticmethod
    def from_json(draw_id: str, d: Mapping[str, Any]) -> Draw:
        case = load_cases().get(d["case"])
        if case is None:
            raise ReplayError(f"draw {draw_id} names an unknown case {d['case']!r}")
        inputs = {n: _as_input(spec, d["inputs"][n]) for n, spec in case.inputs.items()}
        return Draw(draw_id, d["case"], int(d["seed"]), inputs)


def _as_input(spec: Input, values: Any) -> np.ndarray:
    dtype = np.int64 if spec.kind == "int" else np.float64
    return np.asarray(values, dtype=dtype).reshape(spec.shape)


def draw_id(case: str, index: int, seed: int, inputs: Mapping[str, np.ndarray]) -> str:
    """``case#r<index>-<hash>``: the hash covers the seed and the exact inputs."""
    h = hashlib.sha256(f"{case}|{seed}".encode())
    for name in sorted(inputs):
        a = np.asarray(inputs[name])
        canon = a.astype(np.int64 if a.dtype.kind in "iu" else np.float64)
        h.update(name.encode() + str(canon.shape).encode() + canon.tobytes())
    return f"{case}#r{index}-{h.hexdigest()[:10]}"


# ------------------------------------------------------------------ strategies (hypothesis)


def _f32_inside(low: float, high: float) -> tuple[float, float]:
    """The float32 interval nearest to [low, high] from the inside (hypothesis wants exact ends)."""
    lo, hi = np.float32(low), np.float32(high)
    if lo < low:
        lo = np.nextafter(lo, np.float32(np.inf))
    if hi > high:
        hi = np.nextafter(hi, np.float32(-np.inf))
    return float(lo), float(hi)


def input_strategy(spec: Input) -> Any:
    """Arrays inside one input's domain: float32-exact floats in [low, high], or labels."""
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    if spec.values is not None:
        return st.just(np.asarray(spec.values, dtype=np.float64).reshape(spec.shape))
    if spec.kind == "int":
        return arrays(np.int64, spec.shape, elements=st.integers(0, int(spec.high) - 1))
    lo, hi = _f32_inside(spec.low, spec.high)
    floats = st.floats(lo, hi, width=32, allow_nan=False, allow_infinity=False,
                       allow_subnormal=False)  # fmt: skip
    return arrays(np.float32, spec.shape, elements=floats).map(lambda a: a.astype(np.float64))


def case_strategy(case: Case) -> Any:
    """One dict of inputs per example, named as the case's arguments."""
    from hypothesis import strategies as st

    return st.fixed_dictionaries({n: input_strategy(s) for n, s in case.inputs.items()})


def drawable(case: Case) -> bool:
    """Whether generated inputs can differ from one another (no fixed or all-fixed inputs)."""
    return any(s.values is None for s in case.inputs.values())


# ------------------------------------------------------------------ kinks


class _KinkProbe(NumpyNamespace):
    """The numpy namespace, noting every kink op whose argument lies within KINK_MARGIN."""

    def __init__(self, dtype: Any) -> None:
        super().__init__(dtype)
        self.hits: list[str] = []

    def _near(self, op: str, gap: Any, *scale: Any) -> None:
        mag = np.maximum(1.0, np.max([np.max(np.abs(s)) for s in scale], initial=0.0))
        if np.size(gap) and np.min(np.abs(gap)) <= KINK_MARGIN * mag:
            self.hits.append(op)

    def relu(self, a):
        self._near("relu", a, a)
        return super().relu(a)

    def abs(self, a):
        self._near("abs", a, a)
        return np.abs(a)

    def maximum(self, a, b):
        self._near("maximum", np.subtract(a, b), a, b)
        return np.maximum(a, b)

    def minimum(self, a, b):
        self._near("minimum", np.subtract(a, b), a, b)
        return np.minimum(a, b)

    def _ties(self, op: str, a: Any, axis: Any, scale: Any) -> None:
        """A tie for the top of `a` along `axis` (None: all, or a tuple of axes)."""
        a = np.asarray(a)
        axes = tuple(range(a.ndim)) if axis is None else np.atleast_1d(axis).tolist()
        moved = np.moveaxis(a, axes, range(-len(axes), 0))
        flat = moved.reshape(*moved.shape[: a.ndim - len(axes)], -1)
        if flat.shape[-1] > 1:
            top2 = -np.sort(-flat, axis=-1)[..., :2]
            gap = top2[..., 0] - top2[..., 1]
            self._near(op, gap[np.isfinite(gap)], scale)

    def max(self, a, axis=None, keepdims=False):
        self._ties("max", a, axis, a)
        return super().max(a, axis=axis, keepdims=keepdims)

    def min(self, a, axis=None, keepdims=False):
        self._ties("min", np.negative(a), axis, a)
        return super().min(a, axis=axis, keepdims=keepdims)

    def clip(self, a, lo, hi):
        for bound in (b for b in (lo, hi) if b is not None):
            self._near("clip", np.subtract(a, bound), a)
        return super().clip(a, lo, hi)

    def max_pool2d(self, x, kernel_size, stride=None, padding=0):
        cols = windows(np.asarray(x), *pool_args(kernel_size, stride, padding), fill=-np.inf)
        self._ties("max_pool2d", cols, (2, 3), x)
        return super().max_pool2d(x, kernel_size, stride, padding)


def near_kink(case: Case, inputs: Mapping[str, np.ndarray]) -> list[str]:
    """The kink ops that `inputs` bring within KINK_MARGIN of their kink, in float64 or float32."""
    hits: list[str] = []
    for dt in case.dtypes:
        xp = _KinkProbe(dt)
        args = [inputs[n].astype(dt) if s.kind == "float" else inputs[n]
                for n, s in case.inputs.items()]  # fmt: skip
        with np.errstate(all="ignore"), contextlib.suppress(Exception):
            case.fn(xp, *args)  # a case that fails here is the runner's to report
        hits += xp.hits
    return sorted(set(hits))


# ------------------------------------------------------------------ search and shrink


@dataclass
class Exploration:
    """The outcome of drawing inputs for one case."""

    case: str
    tried: int = 0  # valid draws evaluated before a failure (or all of them)
    rejected: int = 0  # draws dropped for coming near a kink
    draw: Draw | None = None  # the failing draw, shrunk
    rows: list[dict] = field(default_factory=list)  # its full cell matrix
    elems: list[dict] = field(default_factory=list)


class _Failed(Exception):
    """Raised inside the hypothesis test for a failing draw (hypothesis then shrinks it)."""


def _key(inputs: Mapping[str, np.ndarray]) -> bytes:
    return b"|".join(np.ascontiguousarray(inputs[n]).tobytes() for n in sorted(inputs))


def explore(
    runner: Any,
    case: Case,
    n: int,
    dtypes: Sequence[str],
    quantities: Sequence[str],
    seed: int = 0,
) -> Exploration:
    """Run up to `n` valid draws of `case`; shrink the first failing one and return it with the
    cells of its final run. Deterministic for a given `seed`."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings
    from hypothesis import seed as hseed
    from hypothesis.errors import HypothesisException, Unsatisfiable

    ex = Exploration(case.name)
    if not drawable(case) or n <= 0:
        return ex
    cache: dict[bytes, bool] = {}
    target: dict[str, Any] = {}  # the failing (quantity, dtype) cells once a failure is found
    found: list[dict[str, np.ndarray]] = []

    def failing(inputs: dict[str, np.ndarray]) -> bool:
        if not target:
            rows, _ = runner.run_case(case, dtypes, quantities, inputs=inputs)
            bad = {(r["quantity"], r["dtype"]) for r in rows if r["verdict"] in UNEXPECTED}
            ex.tried += 1
            if bad:
                target.update(cells=bad, index=ex.tried - 1, budget=SHRINK_BUDGET)
            return bool(bad)
        cells = target["cells"]
        qs = sorted({q for q, _ in cells})
        dts = sorted({d for _, d in cells} | ({"float64"} & set(dtypes)))
        rows, _ = runner.run_case(case, dts, qs, inputs=inputs)
        return any(
            r["verdict"] in UNEXPECTED and (r["quantity"], r["dtype"]) in cells for r in rows
        )

    def check(inputs: dict[str, np.ndarray]) -> None:
        key = _key(inputs)
        if key not in cache:
            if target and target["budget"] <= 0:
                reject()  # shrinking budget spent: keep the smallest failure found so far
            if near_kink(case, inputs):
                ex.rejected += 1
                reject()
            if target:
                target["budget"] -= 1
            cache[key] = failing(inputs)
        if cache[key]:
            found.append(inputs)
            raise _Failed(case.name)

    test = settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,  # the draw is reported by the harness, not printed
    )(hseed(seed)(given(case_strategy(case))(check)))
    try:
        test()
    except _Failed:
        pass
    except Unsatisfiable:
        return ex
    except HypothesisException:  # e.g. flaky: keep the smallest failure seen, if any
        if not found:
            raise
    if found:
        inputs = found[-1]
        ex.draw = Draw(draw_id(case.name, target["index"], seed, inputs), case.name, seed, inputs)
        ex.rows, ex.elems = run_draw(runner, case, ex.draw, dtypes, quantities)
    return ex


def run_draw(
    runner: Any, case: Case, draw: Draw, dtypes: Iterable[str], quantities: Iterable[str]
) -> tuple[list[dict], list[dict]]:
    """Every selected cell of `case` at the draw's inputs (probes from the draw's seed)."""
    saved, runner.seed = runner.seed, draw.seed
    try:
        rows, elems = runner.run_case(case, list(dtypes), list(quantities), inputs=draw.inputs)
    finally:
        runner.seed = saved
    return rows, elems
