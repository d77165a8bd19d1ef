"""Backends from outside the harness, and the conformance check every backend can be put to.

Two ways in, neither of which edits the harness:

* an installed package declares an entry point in the group ``harness.backends``, e.g. in its
  pyproject.toml ``[project.entry-points."harness.backends"] mine = "my_pkg.backend:Mine"``;
* a single file given on the command line, ``--backend-module path/to/file.py`` (pytest:
  ``--harness-backend-module``): every Backend subclass defined in it, with a ``name``,
  becomes selectable by that name.

``check`` runs each registry case once per quantity on one backend and reports which vocabulary
functions its namespace lacks, which quantities it leaves out (``Unsupported``) and which cases
it can therefore run. It checks conformance (it runs, right shapes and dtypes), not the numbers:
``validate`` does that.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.backends.base import Backend, Unsupported
from harness.namespace import VOCABULARY, NumpyNamespace
from harness.registry import DENSE_LIMIT, DTYPES, QUANTITIES, Case

ENTRY_POINT_GROUP = "harness.backends"
#: A backend id is used in report columns, cell ids and comma-separated lists.
_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class PluginError(Exception):
    """A backend module or name that cannot be used: one sentence with the fix."""


class PluginLoadError(ImportError):
    """An installed plugin failed to import; the runner reports its cells as skipped."""


# name -> (class, the file it came from), for backends loaded with --backend-module
_FROM_FILES: dict[str, tuple[type[Backend], str]] = {}


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    """Backend ids provided by plugins: installed entry points, then loaded files."""
    return [*_entry_points(), *(n for n in _FROM_FILES if n not in _entry_points())]


def source(name: str) -> str:
    """Where a plugin backend comes from, for messages (``file x.py`` or ``entry point a:B``)."""
    if name in _FROM_FILES:
        return f"file {_FROM_FILES[name][1]}"
    return f"entry point {_entry_points()[name].value}"


def origin(name: str) -> str:
    """``built in``, ``file x.py`` or ``entry point module:Class``."""
    from harness.backends import BUILTIN

    return "built in" if name in BUILTIN else source(name)


def backend_class(name: str) -> type[Backend]:
    """The class of plugin backend `name` (KeyError when no plugin has that name)."""
    if name in _FROM_FILES:
        return _FROM_FILES[name][0]
    ep = _entry_points()[name]
    try:
        cls = ep.load()
    except Exception as e:
        raise PluginLoadError(f"entry point {ep.value} failed to import: {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise PluginLoadError(f"entry point {ep.value} is not a harness Backend subclass")
    if cls.name != name:
        raise PluginLoadError(
            f"entry point {name!r} loads a backend named {cls.name!r}; the names must match"
        )
    return cls


def load_module(path: str | Path, taken: Iterable[str] = ()) -> list[str]:
    """Import the Python file `path` and register every Backend subclass defined in it.

    Returns their names. `taken` are names that may not be reused (the built-in backends).
    Loading the same file again is harmless.
    """
    p = Path(path).resolve()
    if not p.is_file():
        raise PluginError(f"--backend-module {path}: no such file; give the path to a .py file")
    modname = f"harness_backend_module_{p.stem}_{zlib.crc32(str(p).encode()):08x}"
    module = sys.modules.get(modname) or _import_file(p, modname, str(path))
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Backend)
        and obj.__module__ == modname
        and obj.name != Backend.name
    ]
    if not found:
        raise PluginError(
            f"--backend-module {path} defines no Backend subclass with a name; "
            "subclass harness.backends.Backend and set name = '...'"
        )
    taken = set(taken) | set(_entry_points())
    for cls in found:
        _register(cls, str(path), taken)
    return [cls.name for cls in found]


def _import_file(p: Path, modname: str, shown: str) -> Any:
    spec = importlib.util.spec_from_file_location(modname, p)
    if spec is None or spec.loader is None:
        raise PluginError(f"--backend-module {shown} cannot be imported; is it a .py file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[modname]
        raise PluginError(
            f"--backend-module {shown} failed to import: {type(e).__name__}: {e}"
        ) from None
    return module


def _register(cls: type[Backend], shown: str, taken: set[str]) -> None:
    name = cls.name
    if not isinstance(name, str) or not _VALID_NAME.match(name):
        raise PluginError(
            f"backend class {cls.__name__} in {shown} has name {name!r}; use letters, digits "
            "and - _ . + only (it appears in report columns and comma-separated lists)"
        )
    same_file = name in _FROM_FILES and _FROM_FILES[name][0].__module__ == cls.__module__
    if name in taken or (name in _FROM_FILES and not same_file):
        raise PluginError(
            f"backend name {name!r} from {shown} is already taken; give class {cls.__name__} "
            "another name"
        )
    _FROM_FILES[name] = (cls, shown)


# -- the conformance check --------------------------------------------------------------------
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
    dtypes: Sequence[str] = DTYPES,
    quantities: Sequence[str] = QUANTITIES,
    seed: int = 0,
    progress: Callable[[Case], None] | None = None,
) -> Conformance:
    """Run every case's quantities once on `be` and collect what it lacks."""
    from harness.execute import run_cell
    from harness.problem import make_problem

    with np.errstate(all="ignore"):  # a backend's numpy warnings are not the check's output
        return _check(be, cases, dtypes, quantities, seed, progress, make_problem, run_cell)


def _check(be, cases, dtypes, quantities, seed, progress, make_problem, run_cell) -> Conformance:
    conf = Conformance(be.name, origin(be.name))
    conf.unavailable = be.available()
    if conf.unavailable:
        return conf
    seen: list[Any] = []
    for case in cases:
        cc = CaseCheck(case.name, _needs(case, seed))
        for d in (d for d in DTYPES if d in dtypes and d in case.dtypes):
            p = make_problem(case, seed, d)
            p = dataclasses.replace(p, fn=_spy(case.fn, seen))
            for q in (q for q in QUANTITIES if q in quantities and q in case.quantities):
                if not be.applies(case, q, d):
                    continue  # no such cell for this backend: no row in a report either
                side = max(p.n, p.m if q == "jacobian" else 0)
                if q in ("jacobian", "hessian") and side > DENSE_LIMIT:
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
