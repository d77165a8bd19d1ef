"""Reductions and broadcasting: sum/mean/max/min/prod/var/std over axes, keepdims, running sums,
max pooling, and operands broadcast against each other (by the operators, broadcast_to and unit
axes), whose gradients must be summed back to their own shape."""

import numpy as np

from harness.registry import array, case, scalar

SPREAD = np.array([-3.0, -1.0, 1.0, 3.0])  # keeps a row's std at least 1.5


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


@case(family="reductions", inputs=array(3, 4, low=-2, high=2), naive_exact=True)
def min_rows(xp, x):
    """y_i = min_j x_ij: the gradient goes to each row's argmin (no ties in the domain's draws)."""
    return xp.min(x, axis=1)


@case(family="reductions", inputs=array(3, 3, low=0.5, high=1.5))
def prod_rows(xp, x):
    """y_i = prod_j x_ij on [0.5, 1.5]: dy_i/dx_ij = y_i/x_ij, d²y_i/dx_ij dx_ik = y_i/x_ij x_ik."""
    return xp.prod(x, axis=1)


@case(family="reductions", inputs=array(4, 3, low=-2, high=2))
def var_columns(xp, x):
    """v_j = var_i x_ij (ddof 0): dv_j/dx_ij = (x_ij - m_j)/2, Hessian (I - 11ᵀ/4)/2 per column."""
    return xp.var(x, axis=0)


@case(family="reductions", inputs=array(2, 4, low=-0.5, high=0.5))
def standardize_rows(xp, x):
    """z = (v - mean v) / std v along rows, v = x + (-3, -1, 1, 3): mean 0, std 1 per row."""
    v = x + xp.asarray(SPREAD)
    return (v - xp.mean(v, axis=1, keepdims=True)) / xp.std(v, axis=1, keepdims=True)


@case(family="reductions", inputs=array(2, 3, low=-1, high=1))
def cumsum_rows_and_flat(xp, x):
    """y = [exp(cumsum(x, axis=1)), cumsum(x)**2] flat: running sums; VJPs sum from the end."""
    rows = xp.reshape(xp.exp(xp.cumsum(x, axis=1)), (6,))
    return xp.concatenate([rows, xp.cumsum(x) ** 2])


@case(family="reductions", inputs={"a": array(4, low=-1, high=1), "x": array(3, 4, low=-1, high=1)})
def broadcast_to_rows(xp, a, x):
    """y = sin(broadcast_to(a, (3, 4)) * x): a copied to 3 rows, da sums their gradients."""
    return xp.sin(xp.broadcast_to(a, (3, 4)) * x)


@case(family="reductions", inputs={"a": array(3, 2, low=-1, high=1), "b": array(2, 1, 2)})
def outer_by_unit_axes(xp, a, b):
    """y_ijk = tanh(a_ik b_jk) = tanh(expand_dims(a, 1) * squeeze(b, 1)): products by unit axes."""
    return xp.tanh(xp.expand_dims(a, 1) * xp.squeeze(b, 1))


@case(family="reductions", inputs=array(1, 1, 4, 4, low=-2, high=2))
def max_pool2d_overlapping(xp, x):
    """y = max_pool2d(x, 3, stride=1, padding=1)**2: overlapping 3x3 windows; padding never wins."""
    return xp.max_pool2d(x, 3, stride=1, padding=1) ** 2
