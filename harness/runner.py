"""The loop: problems, evidence up front, execute every cell, judge each group.

Runs the selected case × dtype × quantity × backend matrix into one tidy DataFrame. One failing
cell never stops the others: every backend call is isolated (harness.execute), and its fault
becomes an `error` row with the reason. The judging itself is harness.judge's, which never calls
a backend: everything it weighs is computed here first.
"""

from __future__ import annotations

import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from harness.backends import start
from harness.backends.base import Backend, Problem, Traits
from harness.errors import BackendFault, describe
from harness.execute import Outcome, dense_refusal, guarded, run_cell
from harness.interrupt import (
    DEFAULT_CELL_TIMEOUT,
    CellTimeout,
    CtrlC,
    Interrupted,
    armed,
    call_with_timeout,
    real_interrupts,
)
from harness.judge import diagnosis, selfcheck
from harness.judge.consensus import BORROWED, base_name
from harness.judge.group import (
    CASE_BLAME,
    Evidence,
    GroupJudgement,
    judge_group,
    judgement_key,  # fmt: skip
    zero_under,
)
from harness.judge.taylor import line as taylor_line
from harness.judge.taylor import taylor_remainders
from harness.memo import OracleMemo
from harness.problem import make_problem, probe
from harness.registry import Case, Expect
from harness.results import ArrayKey, RunResult, make_row, tidy, tidy_elements
from harness.tolerances import Tol, perturbed, sensitivity
from harness.vocabulary import DTYPES, LOW_PRECISION, QUANTITIES, QUANTITY, REFERENCE_DTYPE

#: How many group judgements a runner keeps for a check run again (the oldest dropped first).
JUDGEMENTS_KEPT = 1024


class Runner:
    """Holds backend instances (so compiled functions are reused) and runs cases."""

    def __init__(
        self,
        backend_names: Sequence[str] | Mapping[str, Backend],
        seed: int = 0,
        cotangent: str = "random",
        cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
        isolate: bool = True,
    ):
        """`backend_names`: ids to instantiate, or instances by id (harness.check's own).
        `isolate`: plugin backends run in supervised worker processes (harness.backends.start)."""
        self.seed = seed
        self.cell_timeout = cell_timeout
        self.cotangent = cotangent
        self.backends: dict[str, Backend] = {}
        self.missing: dict[str, str] = {}
        #: backends whose constructor, available() or traits() raised: error in every cell
        self.broken: dict[str, str] = {}
        #: (case, backend) -> why its applies() or prepare() raised on that case
        self._faulty: dict[tuple[str, str], str] = {}
        self.arrays: dict[ArrayKey, np.ndarray] = {}
        given = dict(backend_names) if isinstance(backend_names, Mapping) else {}
        for name in backend_names:
            self._start(name, given, isolate)
        self.traits: dict[str, Traits] = {n: self._traits(n) for n in self.backends}
        #: each (case, backend, seed)'s second derivatives at the diagnosis points, computed once
        self._points: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
        #: and the diagnosis fitted to them, by dtype of the row
        self._diagnoses: dict[tuple[tuple[str, str, int], str], str] = {}
        #: the judgements of the last groups, by everything the judge read (judgement_key)
        self._judgements: dict[tuple, tuple[Case, GroupJudgement]] = {}
        #: oracle outcomes computed once and recalled (in the process; for registry cases,
        #: across runs through the project cache)
        self.memo = OracleMemo()
        #: seconds in each backend's cells, summed over the run (metadata.json: timings)
        self.timings: dict[str, float] = defaultdict(float)

    def _start(self, name: str, given: Mapping[str, Backend], isolate: bool) -> None:
        """Backend `name` instantiated and asked whether it is available; a framework that is
        missing makes its cells skipped, a fault (its constructor, available()) errors."""
        try:
            with real_interrupts():
                be = given[name] if name in given else start(name, isolate, self.cell_timeout)
        except ImportError as e:
            self.backends[name] = Backend()
            self.missing[name] = f"backend {name} could not be loaded: {e}"
            return
        except CtrlC:
            raise
        except (Exception, SystemExit, KeyboardInterrupt) as e:
            self.backends[name] = Backend()
            said = describe(e)  # a supervised backend's worker has put it in words already
            started = isinstance(e, BackendFault)
            self.broken[name] = said if started else f"{name} could not start: {said}"
            return
        self.backends[name] = be
        why, fault = guarded(be.available)
        if fault:
            self.broken[name] = f"{name}.available() raised {fault}"
        elif why:
            self.missing[name] = str(why)

    def _traits(self, name: str) -> Traits:
        if name in self.broken:
            return Traits()
        got, fault = guarded(self.backends[name].traits)
        if fault:
            self.broken[name] = f"{name}.traits() raised {fault}"
        return got if isinstance(got, Traits) else Traits()

    # -- one case ---------------------------------------------------------------------------
    def run_case(
        self,
        case: Case,
        dtypes: Iterable[str],
        quantities: Iterable[str],
        inputs: Mapping[str, np.ndarray] | None = None,
    ) -> tuple[list[dict], list[dict]]:
        """Rows and worst elements of every cell of `case` (the signal handlers that bound and
        guard each cell are installed once for the case, not per call)."""
        with armed():
            return self._run_case(case, dtypes, quantities, inputs)

    def _run_case(
        self,
        case: Case,
        dtypes: Iterable[str],
        quantities: Iterable[str],
        inputs: Mapping[str, np.ndarray] | None,
    ) -> tuple[list[dict], list[dict]]:
        dtypes, quantities = list(dtypes), list(quantities)
        dts = [d for d in DTYPES if d in dtypes and d in case.dtypes]
        qs = [q for q in QUANTITIES if q in quantities and q in case.quantities]
        rows: list[dict] = [row for d in dts if d in case.unrepresentable
                            for row in self._unrepresentable(case, d, qs)]  # fmt: skip
        dts = [d for d in dts if d not in case.unrepresentable]
        elems: list[dict] = []
        if not dts:
            return rows, elems
        grid = case.grid(dts)
        need_ref = bool(dts) and REFERENCE_DTYPE not in dts  # lower dtypes borrow its oracles
        try:
            problems = {d: make_problem(case, self.seed, d, self.cotangent, inputs, grid)
                        for d in ([REFERENCE_DTYPE] if need_ref else []) + dts}  # fmt: skip
        except Exception as e:
            reason = f"the case itself failed in numpy: {type(e).__name__}: {e}"
            rows += [make_row(case, q, d, b, "error", reason=reason, blame=CASE_BLAME)
                     for d in dts for q in qs for b in self.backends]  # fmt: skip
            return rows, elems
        try:
            return self._judge_case(case, problems, dts, qs, rows, need_ref)
        finally:
            self.memo.flush()

    def _judge_case(
        self,
        case: Case,
        problems: Mapping[str, Problem],
        dts: list[str],
        qs: list[str],
        rows: list[dict],
        need_ref: bool,
    ) -> tuple[list[dict], list[dict]]:
        rows = list(rows)
        elems: list[dict] = []
        low = [d for d in dts if d in LOW_PRECISION]
        fit = self._sensitivity_backends(case, qs) if low else {}
        sens = Sensitivity(case, problems[REFERENCE_DTYPE], low, fit, self.seed)
        self._prepare(case, problems, qs, need_ref, sens)
        own, borrowed_from = self._compute(case, problems, dts, qs, sens)
        reference: dict[str, dict[str, Outcome]] = {}  # the reference dtype's outcomes, by q
        for d in dts:
            p = problems[d]
            done: dict[str, dict[str, Outcome]] = {}  # this dtype's outcomes, by quantity
            for q in qs:
                if (d, q) in case.unrepresentable:
                    rows += self._unrepresentable(case, d, [q], case.unrepresentable[d, q])
                    continue
                if QUANTITY[q].self_check:
                    rows += self._self_check(case, q, p, done)
                    continue
                outcomes = done[q] = own[d, q]
                if d == REFERENCE_DTYPE:
                    reference[q] = outcomes
                elif q not in reference:  # not run in the reference dtype: its oracles alone
                    reference[q] = borrowed_from[q]
                oracles = {k: o for k, o in reference[q].items() if self.traits[k].oracle}
                borrowed = _borrowed(oracles) if d != REFERENCE_DTYPE else {}
                evidence = self._evidence(case, q, p, {**outcomes, **borrowed})
                if d in LOW_PRECISION:
                    evidence.sensitivity = self._sensitivity(sens, q, d, reference[q])
                judged = self._judged(case, q, p, outcomes, borrowed, evidence)
                for row in judged.rows:
                    self._diagnose(case, row)
                self.arrays.update(judged.arrays)
                rows += judged.rows
                elems += judged.elements
        return rows, elems

    def _judged(
        self,
        case: Case,
        q: str,
        p: Problem,
        outcomes: Mapping[str, Outcome],
        borrowed: Mapping[str, Outcome],
        evidence: Evidence,
    ) -> GroupJudgement:
        """The group's judgement: recalled when the very same outcomes and evidence come
        again (a check run again, whose backends returned the same bytes: the judge is a
        function of them alone), else judged. The rows are copies: the runner adds to them."""
        key = judgement_key(case, q, p, outcomes, borrowed, evidence)
        kept = self._judgements.get(key)
        if kept is None or kept[0] is not case:
            kept = self._judgements[key] = (case, judge_group(case, q, p, outcomes, borrowed,
                                                              evidence))  # fmt: skip
            if len(self._judgements) > JUDGEMENTS_KEPT:
                del self._judgements[next(iter(self._judgements))]
        got = kept[1]
        return GroupJudgement([dict(r) for r in got.rows], [dict(e) for e in got.elements],
                              dict(got.arrays))  # fmt: skip

    def _compute(
        self,
        case: Case,
        problems: Mapping[str, Problem],
        dts: Sequence[str],
        qs: Sequence[str],
        sens: Sensitivity,
    ) -> tuple[dict[tuple[str, str], dict[str, Outcome]], dict[str, dict[str, Outcome]]]:
        """Every group's outcomes before any is judged: by (dtype, quantity), and the
        reference dtype's by quantity where that dtype is not run (its oracles and the
        sensitivity term's first backend). Backends that prepare ahead (jax compiles while the
        others compute) are asked last; each group's outcomes are in backend order."""
        ahead = {n for n, be in self.backends.items() if getattr(type(be), "prepares_ahead", False)}
        passes = [set(self.backends) - ahead, ahead] if ahead else [set(self.backends)]
        own: dict[tuple[str, str], dict[str, Outcome]] = {}
        borrowed_from: dict[str, dict[str, Outcome]] = {}
        for only in (names for names in passes if names):
            in_reference = set()
            for d in dts:
                for q in qs:
                    if (d, q) in case.unrepresentable or QUANTITY[q].self_check:
                        continue
                    own.setdefault((d, q), {}).update(self._outcomes(case, q, problems[d], only))
                    if d == REFERENCE_DTYPE:
                        in_reference.add(q)
                    elif q not in in_reference:
                        in_reference.add(q)
                        voters = self._reference_voters(sens, q) & only
                        got = self._outcomes(case, q, problems[REFERENCE_DTYPE], voters)
                        borrowed_from.setdefault(q, {}).update(got)
        order = {name: i for i, name in enumerate(self.backends)}

        def ordered(outcomes: dict[str, Outcome]) -> dict[str, Outcome]:
            return dict(sorted(outcomes.items(), key=lambda kv: order[kv[0]]))

        return ({k: ordered(v) for k, v in own.items()},
                {k: ordered(v) for k, v in borrowed_from.items()})  # fmt: skip

    def _self_check(
        self, case: Case, q: str, p: Problem, done: dict[str, dict[str, Outcome]]
    ) -> list[dict]:
        """The rows of self-check `q` (adjoint, symmetry) for every backend it judges (its
        traits: by default those that vote and are no oracle), derived from the backend's own
        outcomes of this problem (computed here, without rows of their own, when the run did
        not select them); symmetry computes one more HVP, along the tangent."""
        needs = selfcheck.NEEDS[q]
        for n in needs:
            if n not in done:
                done[n] = self._outcomes(case, n, p) if n in case.quantities else {}
        dtype = str(p.dtype)
        outcomes: dict[str, Outcome] = {}
        pairs: dict[str, selfcheck.Pair] = {}
        for name, be in self.backends.items():
            have = [done[n].get(name) for n in needs]
            if not selfcheck.judged(self.traits[name]) or None in have:
                continue  # an oracle, a formula under audit, or no such cell for it
            if not (applies := guarded(be.applies, case, q, dtype))[0]:
                if applies[1]:
                    why = f"{name}.applies() raised {applies[1]}"
                    outcomes[name] = Outcome(name, dtype, "error", reason=why)
                continue
            lacking = [(n, o) for n, o in zip(needs, have, strict=True) if not o.ok]
            if lacking:
                n, o = lacking[0]
                why = f"{q} needs {name}'s {' and '.join(needs)}; its {n} is {o.status}"
                outcomes[name] = Outcome(name, dtype, "skipped", reason=f"{why}: {o.reason}")
                continue
            got = self._pair(q, name, p, have)
            if isinstance(got, Outcome):
                outcomes[name] = got
                continue
            pairs[name] = got
            outcomes[name] = Outcome(name, dtype, "ok", np.asarray(got.residual))
        declared = {k: self._declared(case, k, q, dtype) for k in outcomes}
        return selfcheck.judge_self_checks(case, q, p, outcomes, pairs, declared)

    def _pair(
        self, q: str, name: str, p: Problem, have: Sequence[Outcome]
    ) -> selfcheck.Pair | Outcome:
        """The two sides of `q` for one backend, or the outcome saying why not (its HVP along
        the tangent failed)."""
        if q == "adjoint":
            grad, jvp = have
            return selfcheck.pair(p.cotangent, jvp.value, p.tangent, grad.value)
        (hw,) = have
        hv = run_cell(
            self.backends[name], "hvp", replace(p, direction=p.tangent), self.cell_timeout
        )
        self.timings[name] += hv.seconds
        if not hv.ok:
            return Outcome(hv.backend, hv.dtype, hv.status, seconds=hv.seconds,
                           reason=f"its HVP along the tangent v: {hv.reason}")  # fmt: skip
        return selfcheck.pair(p.tangent, hw.value, p.direction, hv.value)

    def _unrepresentable(
        self, case: Case, d: str, qs: Sequence[str], reason: str | None = None
    ) -> list[dict]:
        """Skipped rows for a dtype (or a quantity in it) the case declares its math cannot be
        carried out in."""
        why = f"{case.name} is not representable in {d}: {reason or case.unrepresentable[d]}"
        return [make_row(case, q, d, name, "skipped", reason=why)
                for q in qs for name, be in self.backends.items()
                if name in self.missing or name in self.broken
                or guarded(be.applies, case, q, d)[0]]  # fmt: skip

    # -- the low-precision sensitivity term -------------------------------------------------
    def _sensitivity_backends(self, case: Case, qs: Sequence[str]) -> dict[str, list[str]]:
        """By quantity, the backends whose float64 result may measure the case's sensitivity
        to rounding, best first: exact voters computing it cheaply and declaring nothing on the
        cell, the most trusted first (reference rank); then the exact oracles (fd, under
        harness.check), whose own noise is far below one unit roundoff's effect but which cost
        more."""
        out = {}
        for q in qs:
            fit = [name for name, be in self.backends.items()
                   if name not in self.missing and name not in self.broken
                   and (case.name, name) not in self._faulty
                   and (t := self.traits[name]).votes and t.exact_dtype
                   and q not in be.costly and guarded(be.applies, case, q, REFERENCE_DTYPE)[0]
                   and self._declared(case, name, q, REFERENCE_DTYPE) is None]  # fmt: skip
            rank = {n: (self.traits[n].oracle, self.traits[n].reference_rank, n) for n in fit}
            out[q] = sorted(fit, key=rank.__getitem__)
        return out

    def _reference_voters(self, sens: Sensitivity, q: str) -> set[str]:
        """Backends computed in the reference dtype when it is not run: the oracles (borrowed)
        and the first backend of the sensitivity term (its unperturbed result)."""
        first = sens.backends.get(q, [])[:1] if sens.dtypes else []
        return {n for n in self.backends if self.traits[n].oracle} | set(first)

    def _sensitivity(
        self, sens: Sensitivity, q: str, d: str, reference: Mapping[str, Outcome]
    ) -> np.ndarray | None:
        """The dtype term of a low-precision group: the first fit backend whose float64 result
        at the inputs and at every perturbed point is finite (tolerances.sensitivity); None when
        none can tell."""
        for name in sens.backends.get(q, []):
            base = reference.get(name)
            if base is None:
                base = run_cell(self.backends[name], q, sens.reference, self.cell_timeout)
            if not base.ok:
                continue
            moved = [run_cell(self.backends[name], q, m, self.cell_timeout) for m in sens.moved[d]]
            self.timings[name] += sum(m.seconds for m in moved)
            if all(m.ok and np.all(np.isfinite(m.value)) for m in moved):
                return sensitivity(base.value, [m.value for m in moved])
        return None

    def _evidence(self, case: Case, q: str, p: Problem, pool: Mapping[str, Outcome]) -> Evidence:
        """Everything the judge weighs besides the outcomes, computed before it judges."""
        ok = {k: o for k, o in pool.items() if o.ok}
        along = None  # shared by every gradient; a function of the case and the point alone
        if q == "grad" and ok:
            key = ("taylor line", p.fn, p.wrt, p.digest(("cotangent", "tangent")))
            along = self.memo.derived(key, lambda: taylor_line(p))
        taylor = {k: taylor_remainders(p, o.value, along) for k, o in ok.items()} if along else {}
        return Evidence(
            declared={k: self._declared(case, base_name(k), q, o.dtype) for k, o in pool.items()},
            traits={k: self.traits[base_name(k)] for k in pool},
            methods={k: self.backends[base_name(k)].method(q) for k in pool},
            taylor=taylor,
            probes=self._probes(case, q, p, ok),
        )

    def _declared(self, case: Case, backend: str, q: str, dtype: str) -> Expect | None:
        """The case's declaration on this cell, else the backend's own."""
        found = case.expectation(backend, q, dtype)
        if found is None and backend in self.backends and backend not in self.broken:
            found, _ = guarded(self.backends[backend].expectation, case, q, dtype)
        return found

    def _probes(self, case: Case, q: str, p: Problem, ok: Mapping[str, Outcome]) -> dict:
        """Under all-ones cotangents, each zero result's quantity again under a random
        cotangent (the vacuous check), on the group's own problem."""
        if self.cotangent != "ones" or "cotangent" not in QUANTITY[q].probes:
            return {}
        tol = Tol.lookup(str(p.dtype), q, case.tol)
        out = {}
        for k, o in ok.items():
            be = self.backends.get(base_name(k))
            if be is not None and zero_under(o, tol):
                rng = np.random.default_rng([self.seed, 97])
                again = replace(p, cotangent=probe(rng, p.out_shape).astype(p.dtype))
                out[k] = run_cell(be, q, again, self.cell_timeout)
        return out

    def _prepare(
        self,
        case: Case,
        problems: Mapping[str, Problem],
        qs: Sequence[str],
        need_ref: bool,
        sens: Sensitivity,
    ) -> None:
        """Each backend learns the case's cells up front (jax traces a program per dtype and
        compiles them in the background): the run's problems, the reference problem its
        oracles compute when the reference dtype is not run, and the perturbed problems of the
        sensitivity term. The seconds a backend's own prepare takes count as its own."""
        for name, be in self.backends.items():
            if name in self.missing or name in self.broken:
                continue
            extra: list[tuple[Problem, list[str]]] = []
            if need_ref:
                voting = [q for q in qs if name in self._reference_voters(sens, q)]
                extra.append((problems[REFERENCE_DTYPE], voting))
            mine = [q for q in qs if sens.backends.get(q, [])[:1] == [name]]
            extra += [(m, mine) for d in sens.dtypes for m in sens.moved[d]] if mine else []
            runs = {d: p for d, p in problems.items() if not (need_ref and d == REFERENCE_DTYPE)}
            plan, fault = guarded(_plan, be, case, runs, qs)
            if fault:
                self._faulty[case.name, name] = f"{name}.applies() raised {fault}"
                continue
            extra = [(p, [q for q in got if not dense_refusal(q, p)]) for p, got in extra]
            t0 = time.perf_counter()
            _, fault = guarded(be.prepare, plan + [e for e in extra if e[1]])
            if type(be).prepare is not Backend.prepare:  # one that does something: its time
                self.timings[name] += time.perf_counter() - t0
            if fault:
                self._faulty[case.name, name] = f"{name}.prepare() raised {fault}"

    def _outcomes(
        self, case: Case, q: str, p: Problem, only: set[str] | None = None
    ) -> dict[str, Outcome]:
        dtype = p.dtype_name
        out: dict[str, Outcome] = {}
        too_big = dense_refusal(q, p)
        for name, be in self.backends.items():
            if only is not None and name not in only:
                continue
            fault = self.broken.get(name) or self._faulty.get((case.name, name))
            if name in self.missing:
                out[name] = Outcome(name, dtype, "skipped", reason=self.missing[name])
            elif fault:
                out[name] = Outcome(name, dtype, "error", reason=fault)
            elif not (applies := guarded(be.applies, case, q, dtype))[0]:
                if applies[1]:
                    out[name] = Outcome(name, dtype, "error",
                                        reason=f"{name}.applies() raised {applies[1]}")  # fmt: skip
                continue  # no such cell (e.g. mp on a vector case, a formula for other cases)
            elif too_big:
                out[name] = Outcome(name, dtype, "skipped", reason=too_big)
            else:
                out[name] = self._cell(name, be, q, p)
        return out

    def _cell(self, name: str, be: Backend, q: str, p: Problem) -> Outcome:
        """One cell computed, or an oracle's recalled (harness.memo)."""
        kept = self.memo.usable(be, self.traits[name].oracle, q)
        if kept and (got := self.memo.recall(name, be, q, p)) is not None:
            return got
        o = run_cell(be, q, p, self.cell_timeout)
        self.timings[name] += o.seconds
        if kept:
            self.memo.keep(name, be, q, p, o)
        return o

    def _diagnose(self, case: Case, row: dict) -> None:
        """Append the second-order diagnosis to a non-pass second-order row of a composite."""
        if not diagnosis.wanted(case, row["quantity"], row["verdict"]):
            return
        key = (case.name, row["backend"], self.seed)
        if key not in self._points:
            points = [self._second_derivative(self.backends[key[1]], case, s)
                      for s in diagnosis.seeds(self.seed)]  # fmt: skip
            self._points[key] = [pt for pt in points if pt is not None]
        if (key, row["dtype"]) not in self._diagnoses:  # a fit: the same for every run
            found = diagnosis.diagnose(self._points[key], case.composition, row["dtype"])
            self._diagnoses[key, row["dtype"]] = found
        text = self._diagnoses[key, row["dtype"]]
        if text:
            row["reason"] = f"{row['reason']} | {text}"

    def _second_derivative(self, be: Backend, case: Case, seed: int) -> tuple[float, float] | None:
        """(x, the backend's d²l/dx²) at the case's input for `seed`, or None if it cannot say
        (it raised, or ran past the cell timeout)."""
        p = make_problem(case, seed, REFERENCE_DTYPE)
        p.direction = np.ones(1)
        try:
            hv = call_with_timeout(be.compute, self.cell_timeout, "hvp", p)
            return float(p.flatten(p.args)[0]), float(np.ravel(hv)[0])
        except (Exception, CellTimeout):
            return None

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
        out.update({f"{name}.recalled": n for name, n in sorted(self.memo.recalled.items())})
        for name, be in self.backends.items():
            for k, v in sorted(getattr(be, "timings", {}).items()):
                out[f"{name}.{k}"] = round(v, 3)
        return out


def _plan(
    be: Backend, case: Case, problems: Mapping[str, Problem], qs: Sequence[str]
) -> list[tuple[Problem, list[str]]]:
    """What `be.prepare` is told: each problem with the quantities its cells will ask for."""
    return [
        (p, [q for q in qs if be.applies(case, q, d) and not dense_refusal(q, p)])
        for d, p in problems.items()
    ]


class Sensitivity:
    """What the sensitivity term of a case's low-precision groups is computed from: the
    reference-dtype problem, its perturbed copies for each low-precision dtype of the run
    (tolerances.perturbed) and, by quantity, the backends fit to compute them, best first."""

    def __init__(
        self,
        case: Case,
        reference: Problem,
        dtypes: Sequence[str],
        backends: Mapping[str, list[str]],
        seed: int,
    ) -> None:
        self.reference, self.dtypes, self.backends = reference, list(dtypes), dict(backends)
        x = reference.flatten(reference.args)
        self.moved: dict[str, list[Problem]] = {}
        for d in self.dtypes:
            points = perturbed(x, d, [seed, zlib.crc32(case.name.encode()), DTYPES.index(d)])
            self.moved[d] = [replace(reference, args={**reference.args, **reference.split(m)})
                             for m in points]  # fmt: skip


def _borrowed(oracles: Mapping[str, Outcome]) -> dict[str, Outcome]:
    """The reference dtype's oracle results as voters of a lower-dtype group (``fd@float64``)."""
    out = {}
    for k, o in oracles.items():
        key = f"{k}{BORROWED}{REFERENCE_DTYPE}"
        out[key] = Outcome(key, o.dtype, o.status, o.value, o.noise, o.reason)
    return out
