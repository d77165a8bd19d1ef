"""Figures for report.html, rendered with matplotlib's Agg backend into base64 PNG data URIs.

Nothing here computes a result: the arrays come from the runner (`RunResult.arrays`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.metadata
import io
from collections.abc import Callable, Sequence

import numpy as np

from harness import cache

#: Figures stay small: a report may hold dozens of them.
DPI = 96
#: Above this many elements per side, tick labels are thinned out.
MAX_TICKS = 16


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png_data_uri(fig) -> str:
    """Encode `fig` as a `data:image/png;base64,...` URI and close it."""
    plt = _pyplot()
    buf = io.BytesIO()
    # No Software/date metadata: the same figure gives the same bytes.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def kept(render: Callable[..., str]) -> Callable[..., str]:
    """A figure is a function of its arguments alone: kept in the project cache under their
    digest (and matplotlib's version), so that a warm run's report renders none it has."""

    @functools.wraps(render)
    def figure(*args, **kwargs) -> str:
        parts = [_digest(a) for a in (*args, *sorted(kwargs.items()))]
        name = cache.key(render.__name__, parts, importlib.metadata.version("matplotlib"))
        got = cache.read("figures", name)
        if got is not None:
            return got.decode("ascii")
        uri = render(*args, **kwargs)
        cache.write("figures", name, uri.encode("ascii"))
        return uri

    return figure


def _digest(value: object) -> object:
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return (data.shape, str(data.dtype), hashlib.sha256(data.tobytes()).hexdigest())
    if isinstance(value, tuple | list):
        return tuple(_digest(v) for v in value)
    return repr(value)


def _ticks(ax, n: int, axis: str, names: Sequence[str] | None = None) -> None:
    """Ticks along `axis`, thinned to MAX_TICKS, named by `names` (else by index)."""
    step = max(1, int(np.ceil(n / MAX_TICKS)))
    ticks = list(range(0, n, step))
    text = [names[t] if names is not None and len(names) == n else str(t) for t in ticks]
    getattr(ax, f"set_{axis}ticks")(ticks)
    rotate = 90 if axis == "x" and names is not None and max(map(len, text)) > 2 else 0
    getattr(ax, f"set_{axis}ticklabels")(text, fontsize=7, rotation=rotate)


@kept
def error_heatmap(
    err: np.ndarray,
    tol_abs: float,
    title: str,
    labels: Sequence[str] = ("row", "column"),
    names: tuple[Sequence[str] | None, Sequence[str] | None] = (None, None),
) -> str:
    """A heatmap of the per-element |error| of a dense (Jacobian or Hessian) cell on a log scale,
    with the absolute tolerance marked on the colour bar, its ticks named by `names` (rows,
    columns: ``out[0]``, ``W[0,1]``) where given; returns a PNG data URI."""
    return png_data_uri(heatmap_figure(err, tol_abs, title, labels, names))


def heatmap_figure(
    err: np.ndarray,
    tol_abs: float,
    title: str,
    labels: Sequence[str] = ("row", "column"),
    names: tuple[Sequence[str] | None, Sequence[str] | None] = (None, None),
):
    """The figure of error_heatmap, open (a test reads its ticks)."""
    from matplotlib.colors import LogNorm

    plt = _pyplot()
    a = np.atleast_2d(np.asarray(err, dtype=np.float64))
    if a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    finite = a[np.isfinite(a) & (a > 0)]
    floor = float(np.min(finite)) if finite.size else 1e-300
    top = float(np.max(finite)) if finite.size else 1.0
    if tol_abs > 0:  # the scale holds the tolerance; far inside it, errors all look alike
        low = max(min(floor, tol_abs), tol_abs * 1e-3)
        high = max(top, tol_abs * 10)
    else:
        low, high = floor, max(top, floor * 10)
    shown = np.clip(np.where(a > 0, a, low), low, high)  # zeros sit at the bottom
    rows, cols = a.shape
    width = min(5.2, 3.0 + 0.16 * cols)
    height = min(4.0, 2.2 + 0.16 * rows)
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    im = ax.imshow(shown, cmap="YlOrRd", norm=LogNorm(vmin=low, vmax=high), aspect="auto")
    bar = fig.colorbar(im, ax=ax, shrink=0.9)
    bar.set_label("|error|", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if tol_abs > 0:
        bar.ax.axhline(tol_abs, color="#1f77b4", linewidth=2)
        bar.ax.text(-0.3, tol_abs, "tol", color="#1f77b4", fontsize=7, ha="right", va="center",
                    transform=bar.ax.get_yaxis_transform())  # fmt: skip
    ax.set_ylabel(labels[0], fontsize=8)
    ax.set_xlabel(labels[1], fontsize=8)
    _ticks(ax, rows, "y", names[0])
    _ticks(ax, cols, "x", names[1])
    ax.set_title(title, fontsize=9)
    return fig


@kept
def taylor_plot(steps: np.ndarray, remainders: np.ndarray, title: str) -> str:
    """Taylor remainder r(h) against h on log-log axes, with slope-1 and slope-2 guides (a right
    gradient follows slope 2, a wrong one slope 1); returns a PNG data URI."""
    plt = _pyplot()
    h = np.asarray(steps, dtype=np.float64).ravel()
    r = np.asarray(remainders, dtype=np.float64).ravel()
    keep = np.isfinite(h) & np.isfinite(r) & (h > 0) & (r > 0)
    fig, ax = plt.subplots(figsize=(4.2, 3.0), layout="constrained")
    if keep.any():
        h, r = h[keep], r[keep]
        ax.loglog(h, r, "o-", color="#222", label="r(h)")
        h0, r0 = h[np.argmax(h)], r[np.argmax(h)]
        for slope, style in ((1, ":"), (2, "--")):
            ax.loglog(h, r0 * (h / h0) ** slope, style, color="#888", label=f"slope {slope}")
        ax.legend(fontsize=7)
    ax.set_xlabel("step h", fontsize=8)
    ax.set_ylabel("remainder", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=9)
    return png_data_uri(fig)
