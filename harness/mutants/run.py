"""Running the registry on each mutant: which cases kill it, and whether the real engine is clean.

The oracles (every backend but the in-house one) do not depend on the engine, so each of their
cells is computed once per seed and replayed for every mutant (:class:`Memo`): a mutant costs
one in-house pass over the registry plus the judging. A mutant is killed by a case when one of
the case's in-house cells turns `fail`, `error` or `unexpected_pass` where the real engine's
cell at the same seed raised no alarm.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.backends.base import Backend, Estimate, Problem, Unsupported
from harness.interrupt import DEFAULT_CELL_TIMEOUT
from harness.mutants.apply import StaleMutant, installed
from harness.mutants.catalog import Mutant
from harness.registry import Case
from harness.results import RunResult
from harness.runner import Runner
from harness.vocabulary import QUANTITIES, REFERENCE_DTYPE

SUBJECT = "inhouse"
ALARMS = ("fail", "error", "unexpected_pass")

Cell = tuple[str, str, str]  # case, quantity, dtype


def _key(quantity: str, p: Problem) -> tuple:
    return quantity, p.fn, str(p.dtype), p.digest()


class Memo(Backend):
    """An oracle whose results (and faults) are computed once per problem and then replayed."""

    def __init__(self, inner: Backend, quantities: Iterable[str] | None = None,
                 dtypes: Iterable[str] | None = None) -> None:  # fmt: skip
        self.inner, self.name, self.votes = inner, inner.name, inner.votes
        self.quantities = set(quantities) if quantities else None
        self.dtypes = set(dtypes) if dtypes else None
        self.memo: dict[tuple, Any] = {}

    def available(self) -> str | None:
        return self.inner.available()

    def applies(self, case: Any, quantity: str, dtype: str) -> bool:
        return self.inner.applies(case, quantity, dtype)

    def compute(self, quantity: str, p: Problem) -> np.ndarray | Estimate:
        if self.quantities is not None and quantity not in self.quantities:
            raise Unsupported(f"{self.name} {quantity} is left out of mutant runs (speed)")
        if self.dtypes is not None and str(p.dtype) not in self.dtypes:
            raise Unsupported(f"{self.name} runs in {', '.join(sorted(self.dtypes))} only here")
        key = _key(quantity, p)
        if key not in self.memo:
            try:
                self.memo[key] = self.inner.compute(quantity, p)
            except Exception as e:  # replayed as the same fault
                self.memo[key] = e
        got = self.memo[key]
        if isinstance(got, Exception):
            raise got
        return got


@dataclass
class Verdicts:
    """The in-house cells of one run that raised an alarm, and every in-house cell judged."""

    alarms: set[Cell] = field(default_factory=set)
    judged: int = 0
    reasons: dict[Cell, str] = field(default_factory=dict)


@dataclass
class MutantResult:
    mutant: Mutant
    killed_by: list[str]
    stale: str = ""
    seconds: float = 0.0

    @property
    def killed(self) -> bool:
        return bool(self.killed_by)


class MutationSession:
    """The cases, backends and settings shared by the baseline and every mutant run."""

    def __init__(
        self,
        cases: Sequence[Case],
        backends: Sequence[str],
        quantities: Sequence[str],
        cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
    ) -> None:
        if SUBJECT not in backends:
            raise ValueError(f"mutant runs need the {SUBJECT} backend")
        self.cases, self.backends = list(cases), list(backends)
        self.quantities, self.cell_timeout = list(quantities), cell_timeout
        self.memos: dict[str, Memo] = {}

    def _oracle(self, name: str, be: Backend) -> Memo:
        if name not in self.memos:
            # a backend's costly cells are left to the other oracles, and it runs in the
            # reference dtype only (lower-dtype groups borrow its results)
            slow = bool(be.costly)
            quantities = [q for q in QUANTITIES if q not in be.costly] if slow else None
            self.memos[name] = Memo(be, quantities, [REFERENCE_DTYPE] if slow else None)
        return self.memos[name]

    def result(self, seed: int, dtypes: Sequence[str],
               cases: Sequence[Case] | None = None) -> RunResult:  # fmt: skip
        """The whole run of the cases (or of `cases`) at `seed` on whatever engine the in-house
        backend has."""
        runner = Runner(self.backends, seed=seed, cell_timeout=self.cell_timeout)
        for name, be in list(runner.backends.items()):
            if name != SUBJECT and name not in runner.missing:
                runner.backends[name] = self._oracle(name, be)
        return runner.run(self.cases if cases is None else cases, dtypes, self.quantities)

    def run(self, seed: int, dtypes: Sequence[str]) -> Verdicts:
        """The registry at `seed` on whatever engine the in-house backend has now."""
        return _verdicts(self.result(seed, dtypes).summary)

    def baseline(self, seeds: Iterable[int], dtypes: Sequence[str]) -> dict[int, Verdicts]:
        """The real engine at each seed: it should raise no alarm at all."""
        return {s: self.run(s, dtypes) for s in seeds}

    def kill(self, mutant: Mutant, seed: int, dtypes: Sequence[str], clean: Verdicts,
             clock: Callable[[], float]) -> MutantResult:  # fmt: skip
        """Run `mutant`; the cases whose in-house cells alarm where the real engine's did not."""
        t0 = clock()
        try:
            with installed(mutant):
                got = self.run(seed, dtypes)
        except StaleMutant as e:
            return MutantResult(mutant, [], stale=str(e), seconds=clock() - t0)
        killers = sorted({c for c, *_ in got.alarms - clean.alarms})
        return MutantResult(mutant, killers, seconds=clock() - t0)


def _verdicts(summary: pd.DataFrame) -> Verdicts:
    mine = summary[summary["backend"] == SUBJECT]
    bad = mine[mine["verdict"].isin(ALARMS)]
    cells = list(zip(bad["case"], bad["quantity"], bad["dtype"], strict=True))
    return Verdicts(set(cells), len(mine), dict(zip(cells, bad["reason"], strict=True)))
