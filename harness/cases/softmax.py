"""Softmax under a seeded random cotangent: the seed's problem 2, backward h * (g - <g, h>)."""

from harness.registry import array, case, labels, scalar


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


@case(family="softmax", inputs=array(2, 3, 2, low=-3, high=3), softmax_axis=1)
def softmax_3d_middle_axis(xp, x):
    """h = softmax(x, axis=1) on a (2, 3, 2) array: normalised along the middle axis."""
    return xp.softmax(x, axis=1)


@case(family="softmax", inputs={"x": array(5, low=-3, high=3), "t": scalar(0.5, 2)})
def softmax_temperature(xp, x, t):
    """h = softmax(x / t): the gradient reaches the temperature t as well as the logits."""
    return xp.softmax(x / t)


#: Logits near ±1e4 are 8 apart in float16 and 64 in bfloat16: rounding the inputs alone
#: decides the softmax (its float64 spread over one unit roundoff exceeds the values).
LARGE_LOGITS = {"float16": "logits near 1e4 are 8 apart in float16, so rounding alone decides "
                "the softmax", "bfloat16": "logits near 1e4 are 64 apart in bfloat16, so "
                "rounding alone decides the softmax"}  # fmt: skip


@case(family="softmax", inputs=array(5, low=1e4 - 4, high=1e4 + 4), softmax_axis=-1,
      unrepresentable=LARGE_LOGITS)  # fmt: skip
def softmax_large_logits(xp, x):
    """h = softmax(x) with logits near +1e4: exp(x) overflows, a stable softmax must not."""
    return xp.softmax(x)


@case(
    family="softmax",
    inputs=array(5, low=-1e4 - 4, high=-1e4 + 4),
    unrepresentable=LARGE_LOGITS,
)
def log_softmax_large_negative(xp, x):
    """l = log_softmax(x) with logits near -1e4: exp(x) underflows, a stable one must not."""
    return xp.log_softmax(x)


# top stays below ~5.5: further up the Hessian (~1e-3) drops under float32's second-order
# tolerance, and even the naive rule's zeros would pass.
@case(family="softmax", inputs={"top": scalar(4.5, 5.5), "rest": array(4, low=-1, high=1)})
def softmax_near_one_hot(xp, top, rest):
    """h = softmax([top, rest]), top - rest >= 3.5: h_0 > 0.9, the rest's gradients ~1e-2."""
    return xp.softmax(xp.concatenate([xp.reshape(top, (1,)), rest]))


@case(family="softmax", inputs=array(6, low=-3, high=3))
def log_softmax_1d(xp, x):
    """l = log_softmax(x) = x - logsumexp(x)."""
    return xp.log_softmax(x)


@case(family="softmax", inputs=array(3, 4, low=-3, high=3))
def log_softmax_axis0(xp, x):
    """l = log_softmax(x, axis=0): each column normalised in log space."""
    return xp.log_softmax(x, axis=0)


@case(family="softmax", inputs=array(3, 4, low=-3, high=3))
def logsumexp_rows(xp, x):
    """l_i = logsumexp(x_i) = log(sum_j exp(x_ij)) for each row i."""
    return xp.logsumexp(x, axis=1)


@case(family="softmax", inputs=array(2, 3, low=-3, high=3))
def logsumexp_all_keepdims(xp, x):
    """l = logsumexp(x) over every axis, keepdims: a (1, 1) output whose gradient is softmax."""
    return xp.logsumexp(x, axis=None, keepdims=True)


@case(family="softmax", inputs={"z": array(4, 3, low=-3, high=3), "y": labels(4, classes=3)})
def cross_entropy_batch(xp, z, y):
    """l = mean_i -log_softmax(z_i)[y_i]: gradient (softmax(z) - onehot(y)) / 4."""
    return xp.cross_entropy(z, y)
