"""Chain rule: a value feeding several paths must get every path's contribution (seed 1a)."""

from harness.registry import array, case, scalar


@case(family="chain_rule", inputs=scalar(-2, 2), tags={"seed"})
def two_paths(xp, x):
    """l = f(g(x), h(x)) with g = sin, h = exp, f(y, z) = y*z + y**3."""
    y, z = xp.sin(x), xp.exp(x)
    return y * z + y**3


@case(family="chain_rule", inputs=array(5, low=-2, high=2), tags={"seed"})
def two_paths_vector(xp, x):
    """l_i = f(g(x_i), h(x_i)) elementwise, g = sin, h = exp, f(y, z) = y*z + y**3."""
    y, z = xp.sin(x), xp.exp(x)
    return y * z + y**3


@case(family="chain_rule", inputs=array(4, low=-1, high=1), tags={"seed"})
def two_paths_reduced(xp, x):
    """l = sum(f(g(x), h(x))) with g = tanh, h = cos, f(y, z) = y * z."""
    return xp.sum(xp.tanh(x) * xp.cos(x))
