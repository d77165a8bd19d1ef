"""ADBench's Gaussian mixture objective (Srajer, Kucukelbir, Fitzgibbon 2018, the GMM problem):
the log-likelihood of n points under k Gaussians in d dimensions, with a Wishart prior.

Parameters, laid out as ADBench does: α (k) the mixture logits; μ (k, d) the means; icf
(k, d(d+1)/2), per component the log-diagonal q (d entries) and then the strict lower triangle
l of L, column by column: Q = diag(exp q) + L, and the inverse covariance is QᵀQ. With the
points x_i (constants) and the prior's γ = 1, m = 0 (ADBench's values),

    f = -nd/2 log 2π + Σ_i logsumexp_k(α_k + Σ_j q_kj − ½|Q_k (x_i − μ_k)|²) − n logsumexp α
        + Σ_k [½γ²(|exp q_k|² + |l_k|²) − m Σ_j q_kj] − k C,
    C = n'd (log γ − ½ log 2) − log Γ_d(n'/2),  n' = d + m + 1  (Γ_d the multivariate gamma).

Sizes: d = 2, k = 5, n = 10 (30 parameters: dense Jacobian and Hessian), and ADBench's
d = 10, k = 25 on n = 1000 points (1,650 parameters) under the tag ``large``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from harness.cases.objectives import LARGE, data
from harness.registry import array, case

GAMMA, M = 1.0, 0


def gmm_inputs(d: int, k: int) -> dict:
    return {
        "alphas": array(k),
        "means": array(k, d),
        "icf": array(k, d * (d + 1) // 2, low=-0.5, high=0.5),
    }


@functools.cache
def _lower(d: int) -> np.ndarray:
    """(d(d-1)/2, d, d): entry p of l placed at L[i, j], i > j, column by column."""
    places = [(i, j) for j in range(d) for i in range(j + 1, d)]
    out = np.zeros((len(places), d, d))
    for p, (i, j) in enumerate(places):
        out[p, i, j] = 1.0
    return out


def _constant(n: int, d: int, k: int) -> float:
    """-nd/2 log 2π - k C: every term of f without a parameter in it."""
    dof = d + M + 1
    log_gamma_d = d * (d - 1) / 4 * math.log(math.pi) + sum(
        math.lgamma(dof / 2 + (1 - j) / 2) for j in range(1, d + 1)
    )
    c = dof * d * (math.log(GAMMA) - 0.5 * math.log(2)) - log_gamma_d
    return -n * d / 2 * math.log(2 * math.pi) - k * c


def gmm_objective(xp, alphas, means, icf, x):
    """f above, for the constant points x (n, d)."""
    n, d = x.shape
    k = alphas.shape[-1]  # (negative axes: fd evaluates a batch of points in one call)
    q, low = icf[:, :d], icf[:, d:]  # log-diagonal, strict lower triangle
    Q = xp.einsum("ki,ij->kij", xp.exp(q), xp.asarray(np.eye(d)))
    Q = Q + xp.einsum("kp,pij->kij", low, xp.asarray(_lower(d)))
    centred = xp.expand_dims(xp.asarray(x), 1) - xp.expand_dims(means, 0)  # (n, k, d)
    qx = xp.einsum("kij,nkj->nki", Q, centred)
    sum_q = xp.sum(q, axis=1)
    main = alphas + sum_q - 0.5 * xp.sum(qx * qx, axis=2)  # (n, k)
    # scalars as working-dtype arrays: torch's jvp promotes a 0-d float32 times a python float
    half_g2 = xp.asarray(0.5 * GAMMA**2)
    prior = half_g2 * (xp.sum(xp.exp(2 * q)) + xp.sum(low * low)) - M * xp.sum(sum_q)
    return (
        xp.sum(xp.logsumexp(main, axis=1)) - xp.asarray(float(n)) * xp.logsumexp(alphas)
        + prior + xp.asarray(_constant(n, d, k))
    )  # fmt: skip


@case(family="objectives", inputs=gmm_inputs(2, 5))
def gmm_d2_k5(xp, alphas, means, icf):
    """f = Σ_i logsumexp_k(α_k + Σ q_k − ½|Q_k(x_i − μ_k)|²) − n logsumexp α + prior, n = 10."""
    return gmm_objective(xp, alphas, means, icf, data(21, 10, 2, low=-2, high=2))


@case(family="objectives", inputs=gmm_inputs(10, 25), tags=LARGE)
def gmm_d10_k25(xp, alphas, means, icf):
    """f = Σ_i logsumexp_k(α_k + Σ q_k − ½|Q_k(x_i − μ_k)|²) − n logsumexp α + prior, n = 1000."""
    return gmm_objective(xp, alphas, means, icf, data(22, 1000, 10, low=-2, high=2))
