"""The faults a user can cause, each reported as one sentence (never a traceback)."""

from __future__ import annotations


class UsageError(Exception):
    """A mistake on the command line or in a call: one sentence, exit status 2."""


class RegistryError(UsageError, ValueError):
    """A case (the registry's or a user's) is malformed; the message names the case and its
    file. A usage error: exit status 2, for every command."""


class CaseFault(ValueError):
    """The case itself is wrong at its inputs, not a backend: every cell of it is an error."""
