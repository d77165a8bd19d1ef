"""Generated inputs over many cases: the failing draws' cells as report rows, the draws file,
replays, and the run that --random / --replay ask for."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.generate.inputs import DRAWS_FILE, Draw, ReplayError, explore, run_draw
from harness.library import load_cases
from harness.registry import Case
from harness.report.files import atomic_write
from harness.results import RunResult, tidy, tidy_elements
from harness.runner import Runner


@dataclass
class DrawRun:
    """Generated-input results of a run: failing draws and their cells, with a `draw` column."""

    draws: list[Draw]
    summary: pd.DataFrame
    elements: pd.DataFrame
    tried: int = 0
    rejected: int = 0


def _frames(
    runner: Runner, parts: list[tuple[str, list[dict], list[dict]]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One summary and one elements frame from each draw's (id, rows, elements), in order."""
    s = [tidy(r, runner.backends).assign(draw=i) for i, r, _ in parts]
    e = [tidy_elements(el).assign(draw=i) for i, _, el in parts]
    if not parts:
        return tidy([], runner.backends).assign(draw=""), tidy_elements([]).assign(draw="")
    return pd.concat(s, ignore_index=True), pd.concat(e, ignore_index=True)


def explore_all(
    runner: Runner,
    cases: Sequence[Case],
    n: int,
    dtypes: Sequence[str],
    quantities: Sequence[str],
    seed: int = 0,
    progress: Callable[[Case], None] | None = None,
) -> DrawRun:
    """`explore` every case; the failing draws' cells as one frame per report."""
    parts: list[tuple[str, list[dict], list[dict]]] = []
    draws: list[Draw] = []
    tried = rejected = 0
    for c in cases:
        ex = explore(runner, c, n, dtypes, quantities, seed)
        tried, rejected = tried + ex.tried, rejected + ex.rejected
        if ex.draw is not None:
            draws.append(ex.draw)
            parts.append((ex.draw.id, ex.rows, ex.elems))
        if progress:
            progress(c)
    s, e = _frames(runner, parts)
    return DrawRun(draws, s, e, tried, rejected)


def replay(
    runner: Runner, ids: Sequence[str], path: Path, dtypes: Sequence[str], quantities: Sequence[str]
) -> DrawRun:
    """Rerun exactly the inputs stored under `ids` in the draws file at `path`."""
    stored = load_draws(path)
    missing = [i for i in ids if i not in stored]
    if missing:
        raise ReplayError(
            f"no draw {', '.join(missing)} in {path}; run `validate --random N` first "
            f"or point --draws at the draws.json that holds it"
        )
    reg = load_cases()
    parts = [
        (i, *run_draw(runner, reg[stored[i].case], stored[i], dtypes, quantities)) for i in ids
    ]
    s, e = _frames(runner, parts)
    return DrawRun([stored[i] for i in ids], s, e, len(ids))


def load_draws(path: Path) -> dict[str, Draw]:
    """Every draw stored in the draws file at `path` (an empty store when it does not exist);
    ReplayError when it is not a draws file."""
    raw = _read_store(Path(path))
    try:
        return {i: Draw.from_json(i, d) for i, d in raw.items()}
    except (ValueError, KeyError, TypeError) as e:
        raise ReplayError(f"cannot read draws from {path}: {type(e).__name__}: {e}") from None


def _read_store(path: Path) -> dict[str, dict]:
    """The draws file's JSON object (id -> draw), {} when there is no file; ReplayError when it
    cannot be read or is not an object of objects."""
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ReplayError(f"cannot read draws from {path}: {why}") from None
    if not isinstance(raw, dict) or not all(isinstance(d, dict) for d in raw.values()):
        shown = json.dumps(raw)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ReplayError(f"{path} is not a draws file (a JSON object of draws by id, as "
                          f"`validate --random` writes it) but {shown}; delete it or point "
                          "--draws at another path")  # fmt: skip
    return raw


def draws_json(draws: Iterable[Draw], path: Path) -> str:
    """The draws file at `path` with `draws` added (ids already there are kept), as text."""
    stored = _read_store(Path(path))
    stored.update({d.id: d.to_json() for d in draws})
    return json.dumps(stored, indent=1, sort_keys=True) + "\n"


def save_draws(draws: Iterable[Draw], path: Path) -> Path:
    """Add `draws` to the store at `path` (ids already there are kept) and return the path;
    ReplayError when it cannot be written."""
    try:
        return atomic_write(Path(path), draws_json(draws, path))
    except OSError as e:
        raise ReplayError(f"cannot write draws to {path}: {e.strerror or e}") from None


def merged(base: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """The base rows (draw "") followed by the draws' rows, with `draw` as the last column."""
    base = base.assign(draw="")
    if extra.empty:
        return base
    return pd.concat([base, extra[base.columns]], ignore_index=True)


@dataclass
class Plan:
    """What --random / --replay ask of a run."""

    random: int = 0
    replay: Sequence[str] = ()
    draws_path: Path = Path(DRAWS_FILE)
    seed: int = 0
    #: False: the caller writes the draws file (validate: with the report set it belongs to)
    save: bool = True


def run(
    runner: Runner,
    cases: Sequence[Case],
    dtypes: Sequence[str],
    quantities: Sequence[str],
    plan: Plan,
    progress: Callable[[Case], None] | None = None,
) -> tuple[RunResult, DrawRun | None]:
    """The registry run, and with --random N also N generated input sets per case (failing
    ones shrunk and stored in the draws file, reported with their id in a `draw` column), or
    with --replay only the stored draws it names. `progress` is called after each case of
    the registry run, then after each case explored."""
    if not (plan.random or plan.replay):
        return runner.run(cases, dtypes, quantities, progress=progress), None
    if plan.replay:
        extra = replay(runner, list(plan.replay), plan.draws_path, dtypes, quantities)
        result = runner.run([], dtypes, quantities)
    else:
        result = runner.run(cases, dtypes, quantities, progress=progress)
        extra = explore_all(runner, cases, plan.random, dtypes, quantities, plan.seed, progress)
        if extra.draws and plan.save:
            save_draws(extra.draws, plan.draws_path)
    result.summary = merged(result.summary, extra.summary)
    result.elements = merged(result.elements, extra.elements)
    return result, extra
