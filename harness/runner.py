"""Runs the selected case × dtype × quantity × backend matrix into one tidy DataFrame.

One failing cell never stops the others: every backend call is isolated, and its fault becomes
an `error` row with the reason.
"""

from __future__ import annotations

import contextlib
import time
import traceback
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from harness import backends as backend_registry
from harness.backends.base import Backend, Estimate, Problem, Unsupported
from harness.compare import (
    Outcome,
    Tol,
    blame,
    compare,
    pick_reference,
    rank,
    triangulate,
    verdict,
)
from harness.diagnose import diagnose
from harness.interrupt import DEFAULT_CELL_TIMEOUT, CellTimeout, Interrupted, call_with_timeout
from harness.namespace import NumpyNamespace
from harness.registry import DENSE_LIMIT, ORDER, QUANTITIES, Case
from harness.taylor import supports_gradient, taylor_remainders, taylor_slope

SUMMARY_COLUMNS: list[str] = [
    "case", "family", "quantity", "order", "dtype", "backend", "reference",
    "max_abs_err", "max_rel_err", "tol_abs", "tol_rel", "verdict", "blame", "reason",
    # additions after the contract columns
    "reference_dtype", "shape", "worst_index", "value_at_worst", "reference_at_worst",
    "noise_floor", "agrees_with", "taylor_slope",
]  # fmt: skip
ELEMENT_COLUMNS: list[str] = [
    "case", "quantity", "dtype", "backend", "index", "value", "reference_value",
    "abs_err", "rel_err",
]  # fmt: skip
#: Backends that are oracles: float32 groups borrow their float64 results as voters.
ORACLES = ("mp", "fd")
WORST_ELEMENTS = 5


@dataclass
class RunResult:
    summary: pd.DataFrame
    elements: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    #: Per-element |error| of non-pass dense cells, keyed (case, quantity, dtype, backend).
    arrays: dict[tuple[str, str, str, str], np.ndarray] = field(default_factory=dict)
    #: Set when a signal stopped the run: its name (e.g. "SIGTERM"); the rows are then those of
    #: the cases finished before it, each case complete.
    interrupted: str | None = None
    cases_finished: int = 0


def _probe(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A standard-normal probe, exactly representable in float32."""
    return rng.standard_normal(shape).astype(np.float32).astype(np.float64)


class CaseFault(ValueError):
    """The case itself is wrong at its inputs, not a backend: every cell of it is an error."""


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
) -> Problem:
    """Bind `case` to its seeded inputs and probes in `dtype` (the value oracle fixes shapes).
    Explicit `inputs` (float64, exact in float32) replace the seeded draw: generated inputs."""
    raw = case.draw(seed) if inputs is None else {n: np.asarray(inputs[n]) for n in case.inputs}
    dt = np.dtype(dtype)
    args = {n: (a.astype(dt) if case.inputs[n].kind == "float" else a) for n, a in raw.items()}
    out = case_value(case, raw)
    rng = np.random.default_rng([seed, zlib.crc32(case.name.encode()), 1])
    n = case.n_wrt
    ones = cotangent == "ones" or out.ndim == 0
    cot = np.ones(out.shape) if ones else _probe(rng, out.shape)
    tangent, direction = _probe(rng, (n,)), _probe(rng, (n,))
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


def expected_shape(quantity: str, p: Problem) -> tuple[int, ...]:
    return {
        "value": p.out_shape,
        "jvp": p.out_shape,
        "grad": (p.n,),
        "hvp": (p.n,),
        "jacobian": (p.m, p.n),
        "hessian": (p.n, p.n),
    }[quantity]


def run_cell(
    be: Backend, quantity: str, p: Problem, timeout: float | None = DEFAULT_CELL_TIMEOUT
) -> Outcome:
    """One backend computing one quantity; every fault (a hang past `timeout` seconds too)
    becomes an error outcome."""
    dtype = str(p.dtype)
    t0 = time.perf_counter()
    try:
        res = call_with_timeout(be.compute, timeout, quantity, p)
    except Unsupported as e:
        return Outcome(be.name, dtype, "skipped", reason=str(e))
    except CellTimeout as e:
        return Outcome(be.name, dtype, "error", reason=str(e), seconds=e.seconds)
    except Exception as e:  # a backend fault is recorded, never raised
        where = traceback.extract_tb(e.__traceback__)[-1]
        return Outcome(
            be.name, dtype, "error",
            reason=f"{type(e).__name__}: {e} (at {where.name}, line {where.lineno})",
        )  # fmt: skip
    secs = time.perf_counter() - t0
    value, noise = (res.value, res.error) if isinstance(res, Estimate) else (res, None)
    value = np.asarray(value)
    want = expected_shape(quantity, p)
    if value.shape != want:
        return Outcome(be.name, dtype, "error", reason=f"returned shape {value.shape}, "
                       f"expected {want}", seconds=secs)  # fmt: skip
    if value.dtype != p.dtype and be.name != "mp":
        return Outcome(be.name, dtype, "error", reason=f"returned {value.dtype} in a "
                       f"{p.dtype} cell (silent cast)", seconds=secs)  # fmt: skip
    return Outcome(be.name, dtype, "ok", value, noise, seconds=secs)


def _index_label(quantity: str, p: Problem, flat: int) -> str:
    def out_label(i: int) -> str:
        if not p.out_shape:
            return "out"
        return f"out[{','.join(str(int(k)) for k in np.unravel_index(i, p.out_shape))}]"

    if quantity in ("value", "jvp"):
        return out_label(flat)
    if quantity in ("grad", "hvp"):
        return p.label(flat)
    i, j = divmod(flat, p.n)
    return f"{out_label(i) if quantity == 'jacobian' else p.label(i)}, {p.label(j)}"


class Runner:
    """Holds backend instances (so compiled functions are reused) and runs cases."""

    def __init__(
        self,
        backend_names: Sequence[str],
        seed: int = 0,
        cotangent: str = "random",
        cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
    ):
        self.seed = seed
        self.cell_timeout = cell_timeout
        self.cotangent = cotangent
        self.backends: dict[str, Backend] = {}
        self.missing: dict[str, str] = {}
        self.arrays: dict[tuple[str, str, str, str], np.ndarray] = {}
        for name in backend_names:
            try:
                self.backends[name] = be = backend_registry.get(name)
                why = be.available()
            except ImportError as e:
                self.backends[name] = Backend()
                why = f"backend {name} could not be loaded: {e}"
            if why:
                self.missing[name] = why
        self.non_voters = {n for n, b in self.backends.items() if not b.votes}
        self._diagnoses: dict[tuple[str, str], str] = {}
        #: seconds in each backend's cells, summed over the run (metadata.json: timings)
        self.timings: dict[str, float] = defaultdict(float)

    # -- one case ---------------------------------------------------------------------------
    def run_case(
        self,
        case: Case,
        dtypes: Iterable[str],
        quantities: Iterable[str],
        inputs: Mapping[str, np.ndarray] | None = None,
    ) -> tuple[list[dict], list[dict]]:
        dts = [d for d in ("float64", "float32") if d in dtypes and d in case.dtypes]
        qs = [q for q in QUANTITIES if q in quantities and q in case.quantities]
        rows: list[dict] = []
        elems: list[dict] = []
        try:
            problems = {d: make_problem(case, self.seed, d, self.cotangent, inputs) for d in dts}
        except Exception as e:
            reason = f"the case itself failed in numpy: {type(e).__name__}: {e}"
            for d in dts:
                for q in qs:
                    for b in self.backends:
                        rows.append(self._row(case, q, d, b, "error", reason=reason))
            return rows, elems
        self._prepare(case, problems, qs)
        oracle64: dict[str, dict[str, Outcome]] = {}
        for d in dts:
            p = problems[d]
            for q in qs:
                outcomes = self._outcomes(case, q, p)
                if d == "float64":
                    oracle64[q] = {k: o for k, o in outcomes.items() if k in ORACLES}
                borrowed = {}
                if d != "float64" and q in oracle64:
                    borrowed = {
                        f"{k}@float64": Outcome(
                            f"{k}@float64", o.dtype, o.status, o.value, o.noise, o.reason
                        )
                        for k, o in oracle64[q].items()
                    }
                r, e = self._judge(case, q, p, outcomes, borrowed)
                rows += r
                elems += e
        return rows, elems

    def _prepare(self, case: Case, problems: Mapping[str, Problem], qs: Sequence[str]) -> None:
        """Each backend learns the case's cells up front (jax compiles them as one program)."""
        for name, be in self.backends.items():
            prepare = getattr(be, "prepare", None)
            if name in self.missing or prepare is None:
                continue
            plan = [
                (p, [q for q in qs if be.applies(case, q, d) and not dense_refusal(q, p)])
                for d, p in problems.items()
            ]
            with contextlib.suppress(Exception):  # the cells then report their own faults
                prepare(plan)

    def _outcomes(self, case: Case, q: str, p: Problem) -> dict[str, Outcome]:
        dtype = str(p.dtype)
        out: dict[str, Outcome] = {}
        too_big = dense_refusal(q, p)
        for name, be in self.backends.items():
            if name in self.missing:
                out[name] = Outcome(name, dtype, "skipped", reason=self.missing[name])
            elif not be.applies(case, q, dtype):
                continue  # no such cell (e.g. mp on a vector case, a formula for other cases)
            elif too_big:
                out[name] = Outcome(name, dtype, "skipped", reason=too_big)
            else:
                out[name] = run_cell(be, q, p, self.cell_timeout)
                self.timings[name] += out[name].seconds
        return out

    def _judge(
        self,
        case: Case,
        q: str,
        p: Problem,
        outcomes: dict[str, Outcome],
        borrowed: dict[str, Outcome],
    ) -> tuple[list[dict], list[dict]]:
        dtype = str(p.dtype)
        tol = Tol.lookup(dtype, q, case.tol)
        pool = {**outcomes, **borrowed}
        if undefined := _nowhere_finite(case, q, p, pool):  # the case's fault, not a backend's
            return [self._row(case, q, dtype, n, "error" if o.ok else o.status,
                              reason=undefined if o.ok else o.reason)
                    for n, o in outcomes.items()], []  # fmt: skip
        slopes, curves = {}, {}
        if q == "grad":
            curves = {k: taylor_remainders(p, o.value) for k, o in pool.items() if o.ok}
            slopes = {k: taylor_slope(p, None, c) for k, c in curves.items()}

        evidence = {k: supports_gradient(v) for k, v in slopes.items()}
        # A backend declared to disagree on this cell is judged here, never trusted.
        declared = {k for k in pool if case.expectation(k.partition("@")[0], q, pool[k].dtype)}
        j = triangulate(list(pool.values()), tol, self.non_voters | declared, evidence)
        vacuous = self._vacuous(case, q, p, pool, j, tol)
        rows, elems = [], []
        for name, o in outcomes.items():
            if not o.ok:
                rows.append(self._row(case, q, dtype, name, o.status, reason=o.reason))
                continue
            ref = pick_reference(name, pool, j)
            if ref is None:
                rows.append(self._row(case, q, dtype, name, "skipped",
                                      reason="no other backend to compare with"))  # fmt: skip
                continue
            row = self._judge_one(case, q, p, o, ref, tol, j, elems)
            row["agrees_with"] = " ".join(sorted(j.agreeing.get(name, ()), key=rank))
            row["taylor_slope"] = slopes.get(name, float("nan"))
            if name in curves and row["verdict"] != "pass":  # the HTML plots it
                self.arrays[(case.name, "taylor", dtype, name)] = curves[name][:2]
            if vacuous and row["verdict"] == "pass":
                row["verdict"] = "vacuous"
                row["reason"] = vacuous
            if j.by_evidence and row["blame"] not in ("none", "ambiguous"):
                row["reason"] += " (no majority; the Taylor test broke the tie)"
            self._diagnose(case, q, dtype, name, row)
            rows.append(row)
        return rows, elems

    def _vacuous(self, case, q, p, pool, j, tol) -> str:
        """Why this group's check cannot tell right from wrong, or ''.

        Under all-ones cotangents a VJP (or HVP) can be identically zero although the same
        quantity under a random cotangent is not (softmax: its rows sum to 1): every backend
        that returns zeros passes, right or wrong."""
        if self.cotangent != "ones" or q not in ("grad", "hvp", "hessian"):
            return ""
        ref = pick_reference("", pool, j)
        if ref is None or not _is_zero(ref.value, tol):
            return ""
        rng = np.random.default_rng([self.seed, 97])
        probe = replace(p, cotangent=_probe(rng, p.out_shape).astype(p.dtype))
        be = self.backends.get(ref.backend.partition("@")[0])
        other = run_cell(be, q, probe, self.cell_timeout) if be is not None else None
        if other is None or not other.ok or _is_zero(other.value, tol):
            return ""
        biggest = float(np.max(np.abs(other.value)))
        return (
            f"vacuous: under all-ones cotangents the reference {q} is identically zero (under "
            f"a random cotangent {ref.backend} gives max |.| {biggest:.3g}), so any backend "
            "returning zeros would pass"
        )

    def _diagnose(self, case: Case, q: str, dtype: str, name: str, row: dict) -> None:
        """Append the second-order diagnosis to a non-pass second-order row of a composite."""
        if case.composition is None or ORDER[q] != 2 or row["verdict"] in ("pass", "error"):
            return
        key = (case.name, name)
        if key not in self._diagnoses:
            self._diagnoses[key] = diagnose(self.backends[name], case, self.seed, self.cell_timeout)
        if self._diagnoses[key]:
            row["reason"] = f"{row['reason']} | {self._diagnoses[key]}"

    def _judge_one(self, case, q, p, o, ref, tol, j, elems) -> dict:
        dtype = str(p.dtype)
        ref_name, _, ref_dtype = ref.backend.partition("@")
        ref_dtype = ref_dtype or ref.dtype
        base = dict(reference=ref_name, reference_dtype=ref_dtype, shape=str(o.value.shape))
        rv = np.asarray(ref.value, dtype=np.float64)
        ov = np.asarray(o.value, dtype=np.float64)
        bad = ~np.isfinite(ov) & np.isfinite(rv)
        if bad.any():
            idx = int(np.flatnonzero(bad.ravel())[0])
            text = (f"non-finite {ov.ravel()[idx]} at {_index_label(q, p, idx)} where "
                    f"{ref_name} is finite")  # fmt: skip
            # A declared discrepancy may show as NaN (e.g. 0·log 0): still expected, with reason.
            declared = case.expectation(o.backend, q, dtype)
            if declared is not None:
                return self._row(case, q, dtype, o.backend, "expected_fail", **base,
                                 reason=f"{declared.reason} | {text}")  # fmt: skip
            return self._row(case, q, dtype, o.backend, "error", **base, reason=text)
        cmp = compare(o, ref, tol)
        exp = case.expectation(o.backend, q, dtype)
        v = verdict(cmp.agrees, exp is not None)
        who = blame(o.backend, cmp.agrees, j)
        w = cmp.worst
        label = _index_label(q, p, w)
        text = (
            f"{case.name} {q} (order {ORDER[q]}) {dtype} shape {o.value.shape}: {o.backend} "
            f"{ov.ravel()[w]:.9g} vs {ref_name} {rv.ravel()[w]:.9g} at {label}, "
            f"|err| {cmp.abs_err[w]:.3g} {'>' if not cmp.agrees else '<='} "
            f"tol {cmp.bound[w]:.3g}; blame {who}"
        )
        reason = "" if v == "pass" else text if exp is None else f"{exp.reason} | {text}"
        if v != "pass":
            if q in ("jacobian", "hessian"):
                self.arrays[(case.name, q, dtype, o.backend)] = cmp.abs_err.reshape(ov.shape)
            order = np.argsort(-(cmp.abs_err - cmp.bound), kind="stable")[:WORST_ELEMENTS]
            for k in order:
                elems.append(dict(
                    case=case.name, quantity=q, dtype=dtype, backend=o.backend,
                    index=_index_label(q, p, int(k)), value=ov.ravel()[k],
                    reference_value=rv.ravel()[k], abs_err=cmp.abs_err[k],
                    rel_err=cmp.rel_err[k],
                ))  # fmt: skip
        return self._row(
            case, q, dtype, o.backend, v, **base,
            max_abs_err=cmp.max_abs, max_rel_err=cmp.max_rel, tol_abs=cmp.tol_abs,
            tol_rel=cmp.tol_rel, blame=who, reason=reason, worst_index=label,
            value_at_worst=ov.ravel()[w], reference_at_worst=rv.ravel()[w],
            noise_floor=_noise(o, ref),
        )  # fmt: skip

    @staticmethod
    def _row(case: Case, q: str, dtype: str, backend: str, v: str, **extra: Any) -> dict:
        row = dict(
            case=case.name,
            family=case.family,
            quantity=q,
            order=ORDER[q],
            dtype=dtype,
            backend=backend,
            verdict=v,
            blame="none",
            reason="",
        )
        row.update(extra)
        return row

    # -- many cases ---------------------------------------------------------------------------
    def run(
        self,
        cases: Sequence[Case],
        dtypes: Iterable[str],
        quantities: Iterable[str],
        progress: Callable[[Case], None] | None = None,
    ) -> RunResult:
        rows: list[dict] = []
        elems: list[dict] = []
        dtypes, quantities = list(dtypes), list(quantities)
        t0 = time.perf_counter()
        done, stopped_by = 0, None
        try:
            for c in cases:
                r, e = self.run_case(c, dtypes, quantities)
                rows += r
                elems += e
                done += 1
                if progress:
                    progress(c)
        except Interrupted as stop:  # keep the cases finished so far, each one complete
            stopped_by = stop.signame
        return RunResult(
            tidy(rows, self.backends), tidy_elements(elems, self.backends),
            {"run_seconds": time.perf_counter() - t0, **self.timing_breakdown()},
            dict(self.arrays), stopped_by, done,
        )  # fmt: skip

    def timing_breakdown(self) -> dict[str, float]:
        """Seconds per backend (``<backend>_s``), and what a backend counts apart, such as
        jax's trace and compile time (``jax.compile_s``), which its cells' seconds include."""
        out = {f"{name}_s": round(secs, 3) for name, secs in self.timings.items()}
        for name, be in self.backends.items():
            for k, v in sorted(getattr(be, "timings", {}).items()):
                out[f"{name}.{k}"] = round(v, 3)
        return out


def dense_refusal(q: str, p: Problem) -> str:
    """Why a dense `q` (jacobian, hessian) is not formed for `p`, naming the limit, or ''."""
    if q not in ("jacobian", "hessian"):
        return ""
    rows = p.m if q == "jacobian" else p.n
    if max(rows, p.n) <= DENSE_LIMIT:
        return ""
    size = rows * p.n * p.dtype.itemsize
    return (f"{q} needs {rows} x {p.n} ({_bytes(size)} in {p.dtype}); dense matrices are "
            f"limited to {DENSE_LIMIT} per side (harness.registry.DENSE_LIMIT): matrix-free "
            f"only (grad, jvp, hvp)")  # fmt: skip


def _bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return ""


def _nowhere_finite(case: Case, q: str, p: Problem, pool: Mapping[str, Outcome]) -> str:
    """Why the case is at fault, or '': an element that no backend (of at least two) gives as a
    finite number, sqrt'(0) say, means the case is not differentiable at its inputs."""
    got = {k: np.asarray(o.value, dtype=np.float64).ravel() for k, o in pool.items() if o.ok}
    if len(got) < 2 or len({v.shape for v in got.values()}) > 1:
        return ""
    nowhere = ~np.any(np.isfinite(np.stack(list(got.values()))), axis=0)
    if not nowhere.any():
        return ""
    i = int(np.flatnonzero(nowhere)[0])
    seen = ", ".join(f"{k} {v[i]}" for k, v in got.items())
    return (f"{case.name} is not differentiable at its inputs: {q} at {_index_label(q, p, i)} is "
            f"non-finite on every backend ({seen}); draw its inputs inside its domain")  # fmt: skip


def _is_zero(value: Any, tol: Tol) -> bool:
    return bool(np.all(np.abs(np.asarray(value, dtype=np.float64)) <= tol.atol))


def _noise(o: Outcome, ref: Outcome) -> float:
    vals = [np.max(np.abs(x.noise)) for x in (o, ref) if x.noise is not None and x.noise.size]
    return float(max(vals)) if vals else 0.0


def in_report_order(df: pd.DataFrame, backend_order: Iterable[str] = ()) -> pd.DataFrame:
    """Rows sorted the way every report lists them: case, quantity (in QUANTITIES order),
    dtype (float64 first), backend (in `backend_order`, unknown ones last); stable, so the
    worst-first order of a cell's elements is kept."""
    if df.empty:
        return df.reset_index(drop=True)
    border = {b: i for i, b in enumerate(backend_order)}
    qorder = {q: i for i, q in enumerate(QUANTITIES)}
    keys = pd.DataFrame({
        "case": df["case"],
        "q": df["quantity"].map(qorder),
        "d": df["dtype"].map({"float64": 0, "float32": 1}),
        "b": df["backend"].map(lambda b: border.get(b, len(border))),
    })  # fmt: skip
    order = keys.sort_values(["case", "q", "d", "b"], kind="stable").index
    return df.loc[order].reset_index(drop=True)


def tidy(rows: list[dict], backend_order: Iterable[str]) -> pd.DataFrame:
    """Rows in the contract's column order, sorted deterministically."""
    df = in_report_order(pd.DataFrame(rows, columns=SUMMARY_COLUMNS), backend_order)
    df["blame"] = df["blame"].fillna("none")
    df["reason"] = df["reason"].fillna("")
    return df


def tidy_elements(elems: list[dict], backend_order: Iterable[str] = ()) -> pd.DataFrame:
    """The worst elements of non-pass cells, in report order."""
    return in_report_order(pd.DataFrame(elems, columns=ELEMENT_COLUMNS), backend_order)
