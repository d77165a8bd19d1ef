"""The case library and selection: the registry's own cases (harness.cases), the cases of
installed packages (the ``harness.cases`` entry-point group) and case modules given by path.

A user's file ``mycases.py`` with ``from harness import array, case`` and decorated functions
runs with ``harness validate --case-module mycases.py`` (pytest: ``--harness-case-module``);
an installed package declares ``[project.entry-points."harness.cases"] mine = "my_pkg.cases"``.
Case names are unique across everything loaded: a second case with a name is a RegistryError.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import importlib.util
import pkgutil
import sys
import zlib
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from harness import cases
from harness.errors import RegistryError
from harness.registry import Case, registered

ENTRY_POINT_GROUP = "harness.cases"


def load_cases() -> dict[str, Case]:
    """Import every module of the harness.cases package and of the ``harness.cases`` entry
    points (importing registers their cases) and return every registered case by name."""
    for mod in pkgutil.iter_modules(cases.__path__):
        _import(f"{cases.__name__}.{mod.name}", f"harness/cases/{mod.name}.py")
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        _import(ep.value, f"entry point {ep.name} = {ep.value}")
    return registered()


def _import(module: str, shown: str) -> None:
    try:
        importlib.import_module(module)
    except RegistryError:
        raise
    except Exception as e:
        raise RegistryError(
            f"case module {shown} failed to import: {type(e).__name__}: {e}"
        ) from None


def load_case_module(path: str | Path) -> list[str]:
    """Import the Python file `path` (registering its cases); the names of the cases it added.
    Loading the same file again is harmless."""
    p = Path(path).resolve()
    if not p.is_file():
        raise RegistryError(f"--case-module {path}: no such file; give the path to a .py file")
    modname = f"harness_case_module_{p.stem}_{zlib.crc32(str(p).encode()):08x}"
    before = set(registered())
    import_file(p, modname, f"--case-module {path}", RegistryError, (RegistryError,))
    return sorted(set(registered()) - before) or [
        n for n, c in registered().items() if c.fn.__module__ == modname
    ]


#: Tags whose cases a selection leaves out unless it asks for them, by the tag (``--tag
#: large``) or by the case's exact name: the benchmark-sized objectives, too slow for every run.
OPT_IN_TAGS = frozenset({"large"})


def import_file(
    p: Path,
    modname: str,
    shown: str,
    error: type[Exception],
    passthrough: tuple[type[Exception], ...] = (),
) -> ModuleType:
    """The Python file `p` imported as module `modname` (once per process); a failure to import
    it is `error` naming `shown` (exceptions in `passthrough` are raised as they are)."""
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, p)
    if spec is None or spec.loader is None:
        raise error(f"{shown} cannot be imported; is it a .py file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except passthrough:
        del sys.modules[modname]
        raise
    except Exception as e:
        del sys.modules[modname]
        raise error(f"{shown} failed to import: {type(e).__name__}: {e}") from None
    return module


def select(
    patterns: Iterable[str] | None = None,
    families: Iterable[str] | None = None,
    tags: Iterable[str] | None = None,
    opt_in: bool = False,
) -> list[Case]:
    """Cases whose name matches any glob in `patterns`, filtered by family and tag; a case with
    an OPT_IN_TAGS tag only when `tags` or an exact name in `patterns` asks for it (or when
    `opt_in`, as for a listing)."""
    all_cases = load_cases()
    pats = list(patterns or ["*"])
    out = [c for n, c in all_cases.items() if any(fnmatch.fnmatchcase(n, p) for p in pats)]
    if not opt_in:
        asked = set(tags or ()) & OPT_IN_TAGS
        out = [c for c in out if not (c.tags & OPT_IN_TAGS) - asked or c.name in pats]
    if families:
        fams = set(families)
        out = [c for c in out if c.family in fams]
    if tags:
        tg = set(tags)
        out = [c for c in out if c.tags & tg]
    return out
