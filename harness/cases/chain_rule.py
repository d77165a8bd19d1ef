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


@case(family="chain_rule", inputs=scalar(-1.5, 1.5))
def diamond(xp, x):
    """l = exp(a*b) + a with a = sin x, b = cos x: paths split at x, meet at a*b, and a skips."""
    a, b = xp.sin(x), xp.cos(x)
    return xp.add(xp.exp(xp.multiply(a, b)), a)


@case(family="chain_rule", inputs=scalar(-1, 1))
def shared_by_five_paths(xp, x):
    """l = y + y**2 + y**3 + sin y + exp y with y = tanh x: one value feeds five paths."""
    y = xp.tanh(x)
    return y + y**2 + y**3 + xp.sin(y) + xp.exp(y)


@case(family="chain_rule", inputs=scalar(-1, 1))
def deep_chain(xp, x):
    """l = (cos∘sqrt∘exp∘tanh)^4 (sin x): seventeen nested maps, one path."""
    y = xp.sin(x)
    for _ in range(4):
        y = xp.cos(xp.sqrt(xp.exp(xp.tanh(y))))
    return y


@case(family="chain_rule", inputs=array(4, low=-1, high=1))
def reused_subexpression(xp, x):
    """l = s*exp(-s) + sqrt(1 + s) with s = sum(x*x): one subexpression used three times."""
    s = xp.sum(x * x)
    return s * xp.exp(xp.negative(s)) + xp.sqrt(1 + s)


@case(family="chain_rule", inputs=array(3, low=-1.5, high=1.5))
def fan_out_concatenate(xp, x):
    """l = sum(c * c), c = concatenate([sin x, cos x, x*x]): three paths stacked, then summed."""
    c = xp.concatenate([xp.sin(x), xp.cos(x), x * x])
    return xp.sum(c * c)


@case(family="chain_rule", inputs=array(2, 3, low=-1, high=1))
def two_views(xp, x):
    """l = sum(reshape(x, (3, 2)) * transpose(x)): two views of one array multiplied."""
    return xp.sum(xp.reshape(x, (3, 2)) * xp.transpose(x))


@case(family="chain_rule", inputs=array(3, low=-1, high=1))
def gathered_paths(xp, x):
    """l = a/(1 + b**2) - c*log(1 + a**2), (a, b, c) = take(x, 0..2): paths through indexing."""
    a, b, c = (xp.take(x, i) for i in range(3))
    return xp.subtract(xp.divide(a, 1 + b**2), c * xp.log(1 + a**2))
