"""The faults a user can cause, each reported as one sentence (never a traceback)."""

from __future__ import annotations


class UsageError(Exception):
    """A mistake on the command line or in a call: one sentence, exit status 2."""


class RegistryError(ValueError):
    """A registry entry is malformed; the message names the case."""


class CaseFault(ValueError):
    """The case itself is wrong at its inputs, not a backend: every cell of it is an error."""
