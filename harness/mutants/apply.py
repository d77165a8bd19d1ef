"""A mutated engine, in memory: the source of harness/engine read, one piece replaced, and the
whole package imported again under a private name. The source tree is never written.

Every module is copied (not only the mutated one) so the copy is self-consistent: its own Node
class, its own primitives and rule tables. The in-house backends find their engine through
``harness.backends.inhouse.engine``, which :func:`installed` points at the copy and back.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import harness.engine
from harness.backends import inhouse
from harness.mutants.catalog import Mutant

ENGINE = "harness.engine"
SOURCE_DIR = Path(harness.engine.__file__).parent
_serial = itertools.count()


class StaleMutant(LookupError):
    """The text a mutant replaces is no longer in the engine (or occurs more than once)."""


def engine_sources(mutant: Mutant | None) -> dict[str, str]:
    """Module name -> source text of the engine, with `mutant` applied (None: unchanged)."""
    sources = {p.stem: p.read_text(encoding="utf-8") for p in sorted(SOURCE_DIR.glob("*.py"))}
    if mutant is None:
        return sources
    if mutant.module not in sources:
        raise StaleMutant(f"{mutant.name}: harness/engine/{mutant.module}.py does not exist")
    text = sources[mutant.module]
    found = text.count(mutant.old)
    if found != 1:
        where = f"harness/engine/{mutant.module}.py"
        raise StaleMutant(f"{mutant.name}: its text occurs {found} times in {where} (must be "
                          f"once): {mutant.old!r}")  # fmt: skip
    sources[mutant.module] = text.replace(mutant.old, mutant.new)
    return sources


class _SourceFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the package `name` and its modules from in-memory source text."""

    def __init__(self, name: str, sources: dict[str, str], label: str) -> None:
        self.name, self.sources, self.label = name, sources, label

    def _module(self, fullname: str) -> str | None:
        if fullname == self.name:
            return "__init__"
        head, _, tail = fullname.rpartition(".")
        return tail if head == self.name and tail in self.sources else None

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[override]
        mod = self._module(fullname)
        if mod is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=mod == "__init__")

    def create_module(self, spec):  # type: ignore[override]
        return None

    def exec_module(self, module: ModuleType) -> None:
        mod = self._module(module.__name__) or "__init__"
        where = f"{SOURCE_DIR / mod}.py [{self.label}]"
        exec(compile(self.sources[mod], where, "exec"), module.__dict__)


def load_engine(mutant: Mutant | None) -> ModuleType:
    """A fresh copy of the engine package with `mutant` applied, under a private name."""
    name = f"_harness_engine_copy_{next(_serial)}"
    sources = {m: s.replace(ENGINE, name) for m, s in engine_sources(mutant).items()}
    finder = _SourceFinder(name, sources, mutant.name if mutant else "copy")
    sys.meta_path.insert(0, finder)
    try:
        return importlib.import_module(name)
    finally:
        sys.meta_path.remove(finder)


def unload(module: ModuleType) -> None:
    """Forget a copy loaded by :func:`load_engine` (its modules leave sys.modules)."""
    prefix = module.__name__
    for key in [k for k in sys.modules if k == prefix or k.startswith(prefix + ".")]:
        del sys.modules[key]


@contextlib.contextmanager
def installed(mutant: Mutant | None) -> Iterator[ModuleType]:
    """The in-house backends run on a copy of the engine with `mutant` applied, for the block."""
    engine = load_engine(mutant)
    real = inhouse.engine
    inhouse.engine = engine
    try:
        yield engine
    finally:
        inhouse.engine = real
        unload(engine)
