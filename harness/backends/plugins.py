"""Backends from outside the harness: installed entry points and files given by path.

Two ways in, neither of which edits the harness:

* an installed package declares an entry point in the group ``harness.backends``, e.g. in its
  pyproject.toml ``[project.entry-points."harness.backends"] mine = "my_pkg.backend:Mine"``;
* a single file given on the command line, ``--backend-module path/to/file.py`` (pytest:
  ``--harness-backend-module``): every Backend subclass defined in it, with a ``name``,
  becomes selectable by that name.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import zlib
from collections.abc import Iterable
from pathlib import Path

from harness.backends.base import Backend
from harness.errors import UsageError
from harness.library import import_file

ENTRY_POINT_GROUP = "harness.backends"
#: A backend id is used in report columns, cell ids and comma-separated lists.
_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class PluginError(UsageError):
    """A backend module or name that cannot be used: one sentence with the fix."""


class PluginLoadError(ImportError):
    """An installed plugin failed to import; the runner reports its cells as skipped."""


# name -> (class, the file it came from), for backends loaded with --backend-module
_FROM_FILES: dict[str, tuple[type[Backend], str]] = {}
# name -> the resolved path of that file (where a worker process loads it again)
_PATHS: dict[str, str] = {}


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


def locate(name: str) -> tuple[str, str]:
    """How another process finds plugin `name` again: ``("file", path)`` or ``("entry", name)``."""
    return ("file", _PATHS[name]) if name in _FROM_FILES else ("entry", name)


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
    module = import_file(p, modname, f"--backend-module {path}", PluginError)
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
    by_name: dict[str, type[Backend]] = {}
    for cls in found:
        first = by_name.setdefault(cls.name, cls)
        if first is not cls:
            raise PluginError(
                f"--backend-module {path} defines backend name {cls.name!r} twice (classes "
                f"{first.__name__} and {cls.__name__}); give each class its own name"
            )
    taken = set(taken) | set(_entry_points())
    for cls in found:
        _register(cls, str(path), taken)
        _PATHS[cls.name] = str(p)
    return [cls.name for cls in found]


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
