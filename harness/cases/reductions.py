"""Reductions and broadcasting: sum/mean/max over axes, keepdims, and operands broadcast against
each other, whose gradients must be summed back to their own shape."""

from harness.registry import array, case, scalar


@case(family="reductions", inputs=array(3, 4, low=-2, high=2))
def sum_keepdims_broadcast(xp, x):
    """y = sum(sin x, axis=1, keepdims=True) * x: a (3, 1) reduction broadcast back over rows."""
    return xp.sum(xp.sin(x), axis=1, keepdims=True) * x


@case(family="reductions", inputs=array(3, 4, low=-2, high=2), naive_exact=True)
def mean_axis0(xp, x):
    """y_j = mean_i exp(x_ij): dy_j/dx_ij = exp(x_ij) / 3."""
    return xp.mean(xp.exp(x), axis=0)


@case(family="reductions", inputs=array(6, low=-2, high=2))
def variance(xp, x):
    """l = mean(x**2) - mean(x)**2: gradient 2(x - mean x)/n, Hessian (2/n)(I - 11ᵀ/n)."""
    return xp.mean(x**2) - xp.mean(x) ** 2


@case(family="reductions", inputs=array(2, 3, 2, low=-1.5, high=1.5), naive_exact=True)
def sum_two_axes(xp, x):
    """y_j = sum_{i,k} x_ijk**3 over axes (0, 2) of a (2, 3, 2) array."""
    return xp.sum(x**3, axis=(0, 2))


@case(family="reductions", inputs=array(3, 4, low=-2, high=2), naive_exact=True)
def max_rows(xp, x):
    """y_i = max_j x_ij: the gradient goes to each row's argmax (no ties in the domain's draws)."""
    return xp.max(x, axis=1)


@case(family="reductions", inputs=array(2, 4, low=-3, high=3))
def logsumexp_by_max_shift(xp, x):
    """l_i = m_i + log(sum_j exp(x_ij - m_i)), m = max(x, axis=1, keepdims): m's paths cancel."""
    m = xp.max(x, axis=1, keepdims=True)
    return xp.reshape(m, (2,)) + xp.log(xp.sum(xp.exp(x - m), axis=1))


@case(family="reductions", inputs={"x": array(3, 4, low=-1, high=1), "b": array(4, low=-1, high=1)})
def broadcast_row_bias(xp, x, b):
    """y = tanh(x + b), b of shape (4,) broadcast over rows: db sums over the 3 rows."""
    return xp.tanh(x + b)


@case(
    family="reductions", inputs={"x": array(3, 4, low=-1, high=1), "c": array(3, 1, low=-1, high=1)}
)
def broadcast_column_scale(xp, x, c):
    """y = sin(x * c), c of shape (3, 1) stretched over columns: dc sums over the 4 columns."""
    return xp.sin(x * c)


@case(family="reductions", inputs={"x": array(5, low=-1, high=1), "s": scalar(-1, 1)})
def broadcast_scalar(xp, x, s):
    """y = exp(s) * x**2 - s: one scalar broadcast against a vector, twice."""
    return xp.exp(s) * x**2 - s


@case(family="reductions", inputs={"a": array(3, low=-1, high=1), "b": array(4, low=-1, high=1)})
def outer_by_broadcast(xp, a, b):
    """l = sum(tanh(reshape(a, (3, 1)) * b)): an outer product formed by broadcasting."""
    return xp.sum(xp.tanh(xp.reshape(a, (3, 1)) * b))


@case(family="reductions", inputs=array(5, low=-1, high=1), naive_exact=True)
def take_repeated_indices(xp, x):
    """y = take(x, [0, 2, 2, 4]) ** 2: x_2 picked twice, its gradient accumulates both."""
    return xp.take(x, [0, 2, 2, 4]) ** 2


@case(family="reductions", inputs=array(3, 4, low=-1, high=1), naive_exact=True)
def take_along_axis1(xp, x):
    """y = exp(take(x, [3, 0], axis=1)): columns gathered, the others get zero gradient."""
    return xp.exp(xp.take(x, [3, 0], axis=1))
