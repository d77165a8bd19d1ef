"""The conformance check every backend can be put to: what it lacks, and what it can run.

``check`` runs each registry case once per quantity on one backend and reports which vocabulary
functions its namespace lacks, which quantities it leaves out (``Unsupported``) and which cases
it can therefore run. It checks conformance (it runs, right shapes and dtypes), not the numbers:
``validate`` does that.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.backends import origin
from harness.backends.base import Backend, Unsupported
from harness.execute import dense_refusal, run_cell
from harness.namespace import VOCABULARY, NumpyNamespace
from harness.problem import make_problem
from harness.registry import Case
from harness.vocabulary import COMPUTED, DEFAULT_DTYPES, DENSE_LIMIT, DTYPES, QUANTITIES


@dataclass
class CaseCheck:
    """One case on one backend: the vocabulary it needs and each quantity's status."""

    case: str
    needs: tuple[str, ...]
    #: (dtype, quantity) -> (status, reason); status: ok, skipped, error or n/a (too big, dense)
    cells: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def statuses(self) -> set[str]:
        return {s for s, _ in self.cells.values() if s != "n/a"}


@dataclass
class Conformance:
    """The answer of ``check``: what a backend lacks and which cases it can run."""

    backend: str
    origin: str
    unavailable: str | None = None
    #: vocabulary functions the backend's namespace lacks; None when no namespace was seen
    lacks: list[str] | None = None
    cases: list[CaseCheck] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Everything available, the whole vocabulary, every quantity of every case."""
        if self.unavailable or self.lacks:
            return False
        return all(c.statuses() <= {"ok"} for c in self.cases)


def _needs(case: Case, seed: int) -> tuple[str, ...]:
    """The vocabulary functions `case` calls, recorded on the numpy namespace."""
    rec = _Recorder(NumpyNamespace())
    # A case that fails in numpy is the runner's to report; here it needs what it used.
    with contextlib.suppress(Exception):
        case.fn(rec, *case.draw(seed).values())
    return tuple(n for n in VOCABULARY if n in rec.used)


class _Recorder:
    """A namespace proxy that records every name a case looks up on it."""

    def __init__(self, inner: Any) -> None:
        self._inner, self.used = inner, set()

    def __getattr__(self, name: str) -> Any:
        self.used.add(name)
        return getattr(self._inner, name)


def _lacks(xp: Any) -> list[str]:
    out = []
    for n in VOCABULARY:
        try:
            ok = callable(getattr(xp, n))
        except (AttributeError, Unsupported):
            ok = False
        if not ok:
            out.append(n)
    return out


def check(
    be: Backend,
    cases: Sequence[Case],
    dtypes: Sequence[str] = DEFAULT_DTYPES,
    quantities: Sequence[str] = QUANTITIES,
    seed: int = 0,
    progress: Callable[[Case], None] | None = None,
) -> Conformance:
    """Run every case's quantities once on `be` and collect what it lacks."""
    with np.errstate(all="ignore"):  # a backend's numpy warnings are not the check's output
        return _check(be, cases, dtypes, quantities, seed, progress)


def _check(
    be: Backend,
    cases: Sequence[Case],
    dtypes: Sequence[str],
    quantities: Sequence[str],
    seed: int,
    progress: Callable[[Case], None] | None,
) -> Conformance:
    conf = Conformance(be.name, origin(be.name))
    conf.unavailable = be.available()
    if conf.unavailable:
        return conf
    seen: list[Any] = []
    for case in cases:
        cc = CaseCheck(case.name, _needs(case, seed))
        for d in (d for d in DTYPES if d in dtypes and d in case.dtypes):
            p = make_problem(case, seed, d, grid=case.grid(dtypes))
            p = dataclasses.replace(p, fn=_spy(case.fn, seen))
            for q in (q for q in COMPUTED if q in quantities and q in case.quantities):
                if not be.applies(case, q, d):
                    continue  # no such cell for this backend: no row in a report either
                if dense_refusal(q, p):
                    cc.cells[d, q] = ("n/a", f"dense {q} above {DENSE_LIMIT} per side")
                    continue
                o = run_cell(be, q, p)
                cc.cells[d, q] = ("ok" if o.ok else o.status, o.reason)
        conf.cases.append(cc)
        if progress:
            progress(case)
    if seen:
        conf.lacks = _lacks(seen[0])
    return conf


def _spy(fn: Callable[..., Any], seen: list[Any]) -> Callable[..., Any]:
    """The case function, noting the namespace object the backend hands it."""

    def spied(xp: Any, *args: Any) -> Any:
        if not seen:
            seen.append(xp)
        return fn(xp, *args)

    return spied


def render(conf: Conformance) -> str:
    """The conformance report as text: namespace, quantities, cases."""
    head = f"backend {conf.backend} ({conf.origin})" if conf.origin else f"backend {conf.backend}"
    if conf.unavailable:
        return f"{head}\n  not available: {conf.unavailable}"
    lines = [head, _render_namespace(conf), *_render_quantities(conf), *_render_cases(conf)]
    verdict = "complete" if conf.complete else "incomplete"
    lines.append(
        f"{verdict}: conformance only (it runs, shapes and dtypes); "
        f"`python -m harness validate --backends {conf.backend},...` checks the numbers"
    )
    return "\n".join(lines)


def _render_namespace(conf: Conformance) -> str:
    if conf.lacks is None:
        return "namespace: not seen (the backend never called a case with a namespace)"
    have = len(VOCABULARY) - len(conf.lacks)
    lacks = f"; lacks {', '.join(conf.lacks)}" if conf.lacks else ""
    return f"namespace: {have}/{len(VOCABULARY)} vocabulary functions{lacks}"


def _render_quantities(conf: Conformance) -> list[str]:
    never = [q for q in QUANTITIES if _never(conf, q)]
    lacks = f"; lacks {', '.join(never)} on every case" if never else ""
    lines = [f"quantities (cases where it runs / cases that ask for it){lacks}:"]
    keys = sorted(
        {k for c in conf.cases for k in c.cells},
        key=lambda k: (DTYPES.index(k[0]), QUANTITIES.index(k[1])),
    )
    for d, q in keys:
        cells = [c.cells[d, q] for c in conf.cases if (d, q) in c.cells]
        asked = [s for s in cells if s[0] != "n/a"]
        ok = sum(s == "ok" for s, _ in asked)
        why = sorted({r for s, r in asked if s == "skipped"})
        more = f" (+{len(why) - 1} other reasons)" if len(why) > 1 else ""
        note = f"  skipped: {why[0]}{more}" if why else ""
        errors = sum(s == "error" for s, _ in asked)
        lines.append(
            f"  {d:<8} {q:<9} {ok}/{len(asked)}" + (f"  errors: {errors}" if errors else "") + note
        )
    return lines


def _never(conf: Conformance, q: str) -> bool:
    """Quantity `q` was asked for and ran on no case, in no dtype."""
    cells = [s for c in conf.cases for (_, cq), (s, _) in c.cells.items() if cq == q]
    asked = [s for s in cells if s != "n/a"]
    return bool(asked) and "ok" not in asked


def _render_cases(conf: Conformance) -> list[str]:
    """One line per case that cannot run some quantity, beyond those the backend never runs."""
    never = {q for q in QUANTITIES if _never(conf, q)}
    lacks = set(conf.lacks or ())
    cases = [c for c in conf.cases if c.cells]  # the others do not apply to this backend
    groups = {c.case: _problems(c, never, lacks) for c in cases}
    full = [c for c in cases if not groups[c.case]]
    none = [c for c in cases if all(
        s != "ok" for (_, q), (s, _) in c.cells.items() if q not in never)]  # fmt: skip
    except_never = f" (apart from {', '.join(sorted(never, key=QUANTITIES.index))})" * bool(never)
    n_out = len(conf.cases) - len(cases)
    lines = [
        f"cases{except_never}: {len(full)} of {len(cases)} run in full, "
        f"{len(cases) - len(full) - len(none)} in part, {len(none)} not at all"
        + f" ({n_out} more do not apply to it)"
        * bool(n_out)
    ]
    lines += [f"  {name}: {'; '.join(parts)}" for name, parts in groups.items() if parts]
    return lines


def _problems(c: CaseCheck, never: set[str], lacks: set[str]) -> list[str]:
    """Why `c` does not run in full: the vocabulary it needs and lacks, then other reasons."""
    missing = [n for n in c.needs if n in lacks]
    out = [f"needs {', '.join(missing)}"] if missing else []
    groups: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for (d, q), (st, reason) in c.cells.items():
        if st == "error" or (st == "skipped" and q not in never and not missing):
            qs, ds = groups.setdefault((st, reason), ([], []))
            qs += [q] * (q not in qs)
            ds += [d] * (d not in ds)
    dtypes = {d for d, _ in c.cells}
    for (st, reason), (qs, ds) in sorted(groups.items()):
        only = f" in {','.join(ds)}" * (set(ds) != dtypes)
        out.append(f"{st} {', '.join(qs)}{only}: {_short(reason)}")
    return out


def _short(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."
