"""The objectives of the AD-tool benchmarks, as a family: GradBench's det, lse and kmeans here
(GradBench, the suite that continues ADBench: github.com/gradbench/gradbench, its eval
definitions), ADBench's GMM, bundle adjustment and LSTM in objectives_gmm.py, objectives_ba.py
and objectives_lstm.py (Srajer, Kucukelbir, Fitzgibbon, "A benchmark of selected algorithmic
differentiation tools on some problems in computer vision and machine learning", Optimization
Methods and Software 33(4-6), 2018). Written from those definitions, not from their code.

Each objective comes at a small size, where the dense Jacobian and Hessian are formed, and at
a benchmark size tagged ``large`` (left out of a run unless ``--tag large`` selects it): there
the dense quantities are refused (the reason says so) and fd stops at 1024 inputs, while grad,
jvp and hvp run on inhouse, torch and jax. The data (points, observations, sequences) are
module constants, exact in float32, never differentiated.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from harness.registry import array, case

LARGE = {"large"}


@functools.cache
def data(seed: int, *shape: int, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Constant data uniform in [low, high], exact in float32 (as the registry's inputs)."""
    x = np.random.default_rng(seed).uniform(low, high, size=shape)
    return x.astype(np.float32).astype(np.float64)


# ------------------------------------------------------------------ det by minors


@functools.cache
def _minors(n: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """For rows n-2 .. 0: each subset S of columns (of size n - row) and each position p in it
    as flat arrays (column S[p], index of S minus S[p] among the previous row's subsets, sign
    (-1)^p), and the number of subsets; the last row's subsets are the single columns."""
    plan, prev = [], {(j,): j for j in range(n)}
    for size in range(2, n + 1):
        subsets = list(itertools.combinations(range(n), size))
        cols = [s[p] for s in subsets for p in range(size)]
        rest = [prev[s[:p] + s[p + 1 :]] for s in subsets for p in range(size)]
        signs = [(-1.0) ** p for s in subsets for p in range(size)]
        plan.append((np.array(cols), np.array(rest), np.array(signs), len(subsets)))
        prev = {s: i for i, s in enumerate(subsets)}
    return plan


def det_by_minors(xp, a):
    """det a = sum_j (-1)^j a_0j det(a without row 0 and column j), minors of minors shared."""
    n = a.shape[-1]  # (negative axes: fd evaluates a batch of points in one call)
    dets = a[n - 1]  # the 1x1 minors of the last row
    for row, (cols, rest, signs, count) in zip(range(n - 2, -1, -1), _minors(n), strict=True):
        terms = xp.take(a[row], cols) * xp.take(dets, rest) * xp.asarray(signs)
        dets = xp.sum(xp.reshape(terms, (count, n - row)), axis=1)
    return dets[0]


@case(family="objectives", inputs={"a": array(4, 4)})
def det_minors_4(xp, a):
    """det a = sum_j (-1)^j a_0j det(minor_0j a), by minors (GradBench det), a 4 x 4."""
    return det_by_minors(xp, a)


@case(family="objectives", inputs={"a": array(10, 10)}, tags=LARGE)
def det_minors_10(xp, a):
    """det a = sum_j (-1)^j a_0j det(minor_0j a), by minors (GradBench det), a 10 x 10."""
    return det_by_minors(xp, a)


# ------------------------------------------------------------------ lse


@case(family="objectives", inputs={"x": array(16, low=-5, high=5)})
def lse_16(xp, x):
    """l = m + log sum_i exp(x_i - m), m = max x (GradBench lse): gradient softmax(x)."""
    m = xp.max(x)
    return m + xp.log(xp.sum(xp.exp(x - m)))


# float64 only: the Hessian, diag(p) - p pᵀ with p = softmax(x) ~ 1e-5 per element, is below
# float32's absolute tolerance at 10^5 inputs, where no float32 second order could fail.
@case(
    family="objectives", inputs={"x": array(100_000, low=-5, high=5)}, tags=LARGE,
    dtypes=["float64"],
)  # fmt: skip
def lse_100000(xp, x):
    """l = m + log sum_i exp(x_i - m), m = max x (GradBench lse), 10^5 inputs."""
    m = xp.max(x)
    return m + xp.log(xp.sum(xp.exp(x - m)))


# ------------------------------------------------------------------ kmeans


def kmeans_cost(xp, c, points):
    """sum_i min_j |p_i - c_j|² over the constant points (n, d) and centroids c (k, d)."""
    diff = xp.expand_dims(xp.asarray(points), 1) - xp.expand_dims(c, 0)  # (n, k, d)
    return xp.sum(xp.min(xp.sum(diff * diff, axis=2), axis=1))


@case(family="objectives", inputs={"c": array(3, 2)})
def kmeans_k3_d2(xp, c):
    """l = sum_i min_j |p_i - c_j|², 12 points (GradBench kmeans): Hessian 2 n_j I per centroid."""
    return kmeans_cost(xp, c, data(11, 12, 2))


@case(family="objectives", inputs={"c": array(100, 12)}, tags=LARGE)
def kmeans_k100_d12(xp, c):
    """l = sum_i min_j |p_i - c_j|², 2000 points in 12-D, 100 centroids (GradBench kmeans)."""
    return kmeans_cost(xp, c, data(12, 2000, 12))
