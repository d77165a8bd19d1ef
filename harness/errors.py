"""The faults a user can cause, each reported as one sentence (never a traceback)."""

from __future__ import annotations

import inspect
import sysconfig
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


class UsageError(Exception):
    """A mistake on the command line or in a call: one sentence, exit status 2."""


class RegistryError(UsageError, ValueError):
    """A case (the registry's or a user's) is malformed; the message names the case and its
    file. A usage error: exit status 2, for every command."""


class CaseFault(ValueError):
    """The case itself is wrong at its inputs, not a backend: every cell of it is an error."""


class BackendFault(Exception):
    """A backend's fault already put in words (by its worker process): the cell's reason."""


#: Frames inside these packages (and the standard library) are not where a bug is: the place
#: named is the deepest frame outside them (the engine's code), not numpy's ``_wrapfunc``.
LIBRARIES = ("numpy", "scipy", "torch", "jax", "jaxlib", "pandas", "mpmath", "functorch")
_STDLIB = sysconfig.get_paths()["stdlib"]


def describe(
    e: BaseException, backend: type | None = None, case_fn: Callable[..., Any] | None = None
) -> str:
    """A fault in one line: its type and message; where it was raised (the deepest frame
    outside numpy, torch, jax and the standard library: function, line, file); the frame in
    the `backend` class's own module that led there; and, given the case's function, whether
    it broke in the forward pass (while the case ran) or in the backward pass (after it).
    A BackendFault is already in words."""
    if isinstance(e, BackendFault):
        return str(e)
    text = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return text
    site = next((f for f in reversed(frames) if not _library(f.filename)), frames[-1])
    where = f"at {site.name}, line {site.lineno} of {_short(site.filename)}"
    own_file = _source(backend)
    own = next((f for f in reversed(frames) if f.filename == own_file), None)
    if own is not None and own is not site:
        where += f", called from {own.name} at line {own.lineno} of {_short(own.filename)}"
    code = getattr(case_fn, "__code__", None)
    if code is not None:
        forward = any(f.filename == code.co_filename and f.name == code.co_name for f in frames)
        where += "; in the forward pass (while the case ran)" if forward else (
            "; in the backward pass (after the case ran)")  # fmt: skip
    return f"{text} ({where})"


def _library(filename: str) -> bool:
    parts = Path(filename).parts
    return filename.startswith(_STDLIB) or any(p in LIBRARIES for p in parts[:-1]) or (
        filename.startswith("<"))  # fmt: skip


def _source(cls: type | None) -> str | None:
    if cls is None:
        return None
    try:
        return inspect.getsourcefile(cls)
    except TypeError:
        return None


def _short(filename: str) -> str:
    """`filename` relative to the working folder when inside it, else its last two parts."""
    p = Path(filename)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(Path(*p.parts[-2:]))
