"""ADBench's bundle adjustment objective (Srajer, Kucukelbir, Fitzgibbon 2018, the BA problem):
the residuals of p observations of n points by m cameras, whose Jacobian the benchmark computes.

A camera is 11 numbers, in ADBench's order: the Rodrigues rotation r (3), the centre c (3), the
focal length f, the principal point x0 (2) and the radial distortion κ (2). Observation i, of
point X by camera (r, c, f, x0, κ) with weight w_i and measured feature m_i, has the residuals

    w_i (f · distort(p2e(R(r) (X − c))) + x0 − m_i)  and  1 − w_i²,

p2e(y) = (y_1, y_2) / y_3, distort(u) = u (1 + κ_1 |u|² + κ_2 |u|⁴), and the rotation
R(r) X = X cos θ + (v × X) sin θ + v (v·X)(1 − cos θ), θ = |r|, v = r/θ (θ > 0 in every draw).
Points are drawn as P with X = P + (0, 0, 5), in front of every camera. Sizes: 2 cameras,
3 points, 4 observations (35 inputs, 12 residuals: a dense Jacobian); ADBench's smallest
problem, 49 cameras, 7776 points, 31843 observations (55,710 inputs), under the tag ``large``.
"""

from __future__ import annotations

import functools

import numpy as np

from harness.cases.objectives import LARGE, data
from harness.registry import array, case

#: ε_ijk, for v × X = einsum('ijk,pj,pk->pi', ε, v, X)
LEVI_CIVITA = np.zeros((3, 3, 3))
for _i, _j, _k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
    LEVI_CIVITA[_i, _j, _k], LEVI_CIVITA[_i, _k, _j] = 1.0, -1.0
IN_FRONT = np.array([0.0, 0.0, 5.0])


def ba_inputs(cameras: int, points: int, observations: int) -> dict:
    return {
        "rotation": array(cameras, 3, low=-0.3, high=0.3),
        "centre": array(cameras, 3, low=-0.5, high=0.5),
        "focal": array(cameras, 1, low=0.8, high=1.2),
        "principal": array(cameras, 2, low=-0.1, high=0.1),
        "distortion": array(cameras, 2, low=-0.1, high=0.1),
        "points": array(points, 3),
        "weights": array(observations, low=0.5, high=1.5),
    }


@functools.cache
def observations(cameras: int, points: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Which camera and which point each observation is of: every point seen at least once."""
    rng = np.random.default_rng(31)
    return rng.integers(0, cameras, size=count), np.arange(count) % points


def rodrigues(xp, r, X):
    """R(r) X, row by row: X cos θ + (v × X) sin θ + v (v·X)(1 − cos θ)."""
    theta = xp.sqrt(xp.sum(r * r, axis=1, keepdims=True))
    v = r / theta
    cos, sin = xp.cos(theta), xp.sin(theta)
    cross = xp.einsum("ijk,pj,pk->pi", xp.asarray(LEVI_CIVITA), v, X)
    return X * cos + cross * sin + v * xp.sum(v * X, axis=1, keepdims=True) * (1 - cos)


def ba_residuals(xp, rotation, centre, focal, principal, distortion, points, weights):
    """The 2p reprojection residuals, then the p weight residuals (ADBench's order)."""
    cams = xp.concatenate([rotation, centre, focal, principal, distortion], axis=1)  # (m, 11)
    # negative axes: fd evaluates a batch of points in one call
    which_cam, which_point = observations(cams.shape[-2], points.shape[-2], weights.shape[-1])
    cam = xp.take(cams, which_cam, axis=0)  # (p, 11)
    X = xp.take(points, which_point, axis=0) + xp.asarray(IN_FRONT)
    y = rodrigues(xp, cam[:, 0:3], X - cam[:, 3:6])
    u = y[:, 0:2] / y[:, 2:3]
    r2 = xp.sum(u * u, axis=1, keepdims=True)
    proj = u * (1 + cam[:, 9:10] * r2 + cam[:, 10:11] * r2 * r2) * cam[:, 6:7] + cam[:, 7:9]
    feats = xp.asarray(data(32, weights.shape[-1], 2, low=-0.3, high=0.3))
    err = xp.expand_dims(weights, 1) * (proj - feats)
    return xp.concatenate([xp.reshape(err, (-1,)), 1 - weights * weights])


@case(family="objectives", inputs=ba_inputs(2, 3, 4))
def ba_2_cameras(xp, rotation, centre, focal, principal, distortion, points, weights):
    """r = [w (f distort(p2e(R(r)(X − c))) + x0 − m), 1 − w²], 2 cameras, 3 points, 4 views."""
    return ba_residuals(xp, rotation, centre, focal, principal, distortion, points, weights)


@case(family="objectives", inputs=ba_inputs(49, 7776, 31843), tags=LARGE)
def ba_49_cameras(xp, rotation, centre, focal, principal, distortion, points, weights):
    """r = [w (f distort(p2e(R(r)(X − c))) + x0 − m), 1 − w²], ADBench's 49 x 7776 x 31843."""
    return ba_residuals(xp, rotation, centre, focal, principal, distortion, points, weights)
