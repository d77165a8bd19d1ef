"""Softmax under a seeded random cotangent: the seed's problem 2, backward h * (g - <g, h>)."""

from harness.registry import array, case


@case(family="softmax", inputs=array(6, low=-3, high=3), tags={"seed"}, softmax_axis=-1)
def softmax_1d(xp, x):
    """h = softmax(x), h_j = exp(x_j) / sum_i exp(x_i)."""
    return xp.softmax(x)


@case(family="softmax", inputs=array(4, 5, low=-3, high=3), tags={"seed"}, softmax_axis=0)
def softmax_batched_axis0(xp, x):
    """h = softmax(x, axis=0): each column normalised."""
    return xp.softmax(x, axis=0)


@case(family="softmax", inputs=array(4, 5, low=-3, high=3), tags={"seed"}, softmax_axis=1)
def softmax_batched_axis1(xp, x):
    """h = softmax(x, axis=1): each row normalised."""
    return xp.softmax(x, axis=1)
