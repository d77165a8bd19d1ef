"""The faults a user can cause, each reported as one sentence (never a traceback)."""

from __future__ import annotations

import traceback


class UsageError(Exception):
    """A mistake on the command line or in a call: one sentence, exit status 2."""


class RegistryError(UsageError, ValueError):
    """A case (the registry's or a user's) is malformed; the message names the case and its
    file. A usage error: exit status 2, for every command."""


class CaseFault(ValueError):
    """The case itself is wrong at its inputs, not a backend: every cell of it is an error."""


class BackendFault(Exception):
    """A backend's fault already put in words (by its worker process): the cell's reason."""


def describe(e: BaseException) -> str:
    """A fault in one line: its type, its message and where it was raised (function, line);
    a BackendFault is already in words."""
    if isinstance(e, BackendFault):
        return str(e)
    text = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    frames = traceback.extract_tb(e.__traceback__)
    return f"{text} (at {frames[-1].name}, line {frames[-1].lineno})" if frames else text
