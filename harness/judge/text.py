"""The words of a row's reason: which check, where, at which input, both values with the digits
their difference needs, the signed difference, the error against the bound, and blame."""

from __future__ import annotations

import math

from harness.vocabulary import ORDER, QUANTITY


def check_name(quantity: str, method: str = "") -> str:
    """The check as JAX's test utilities name it, with how the backend computed it:
    ``VJP``, ``HVP (reverse over reverse)``, ``Hessian (from HVPs)``."""
    title = QUANTITY[quantity].title
    return f"{title} ({method})" if method else title


def digits(v: float, r: float) -> int:
    """Significant digits that show where `v` and `r` part (9 at least, 17 at most)."""
    if not (math.isfinite(v) and math.isfinite(r)) or v == r:
        return 9
    scale = max(abs(v), abs(r))
    rel = abs(v - r) / scale if scale else 1.0
    return int(min(17, max(9, math.ceil(-math.log10(rel)) + 3)))


def number(x: float, n: int) -> str:
    return f"{x:.{n}g}"


def failure(
    *,
    case: str,
    quantity: str,
    method: str,
    dtype: str,
    shape: tuple[int, ...],
    backend: str,
    value: float,
    reference: str,
    reference_value: float,
    label: str,
    input_value: float | None,
    err: float,
    bound: float,
    agrees: bool,
    blame: str,
) -> str:
    """One row's reason, e.g. ``two_paths HVP (reverse over reverse), order 2, float64, shape
    (1,): inhouse 2.5 vs fd 2.75 at x (input 0.3), difference -0.25, |err| 0.25 > tol 1e-07;
    blame inhouse``."""
    n = digits(value, reference_value)
    at = f"{label} (input {input_value:.6g})" if input_value is not None else label
    return (
        f"{case} {check_name(quantity, method)}, order {ORDER[quantity]}, {dtype}, shape "
        f"{shape}: {backend} {number(value, n)} vs {reference} {number(reference_value, n)} at "
        f"{at}, difference {value - reference_value:+.3g}, |err| {err:.3g} "
        f"{'<=' if agrees else '>'} tol {bound:.3g}; blame {blame}"
    )
