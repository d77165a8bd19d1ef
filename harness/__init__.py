"""Reference-validation harness for automatic differentiation.

Three ways in: the registry (``harness validate``), ``harness.check(fn, *args)`` on a function
of torch tensors or jax arrays, and your own engine as a backend (``harness.backends.Backend``).
Your own cases use the registry's decorator and input specs: ``case``, ``scalar``, ``array``,
``labels``, ``fixed``, ``expect``.
"""

from harness.__about__ import __version__
from harness.check import CheckError, CheckResult, check
from harness.registry import array, case, expect, fixed, labels, scalar

__all__ = [
    "CheckError", "CheckResult", "__version__", "array", "case", "check", "expect", "fixed",
    "labels", "scalar",
]  # fmt: skip
