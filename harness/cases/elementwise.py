"""Elementwise: every op of the vocabulary on its natural domain, with margins from singularities.

A single elementwise op applied to the input is exactly what the naive second-order rule
handles: the Hessian of <u, f(x)> is diag(u f''(x)), with no f'² terms (naive_exact).
Kinks (relu, abs, maximum, minimum at ties) are kept out of the domain here; they are in edge.
"""

from harness.registry import array, case, labels, scalar


@case(family="elementwise", inputs=array(4, low=-3, high=3), naive_exact=True)
def exp_elementwise(xp, x):
    """y = exp(x): y' = y'' = exp(x)."""
    return xp.exp(x)


@case(family="elementwise", inputs=array(4, low=0.5, high=3), naive_exact=True)
def log_elementwise(xp, x):
    """y = log(x) on [0.5, 3]: y' = 1/x, y'' = -1/x**2."""
    return xp.log(x)


@case(family="elementwise", inputs=array(4, low=0.5, high=4), naive_exact=True)
def sqrt_elementwise(xp, x):
    """y = sqrt(x) on [0.5, 4]: y' = 1/(2 sqrt x), y'' = -1/(4 x**1.5)."""
    return xp.sqrt(x)


@case(family="elementwise", inputs=array(4, low=-3, high=3), naive_exact=True)
def sin_cos_elementwise(xp, x):
    """y = sin(x) + cos(x): y' = cos x - sin x, y'' = -y."""
    return xp.sin(x) + xp.cos(x)


@case(family="elementwise", inputs=array(4, low=-3, high=3), naive_exact=True)
def tanh_elementwise(xp, x):
    """y = tanh(x): y' = 1 - y**2, y'' = -2 y (1 - y**2)."""
    return xp.tanh(x)


@case(family="elementwise", inputs=array(5, low=-3, high=3), naive_exact=True)
def arctan_elementwise(xp, x):
    """y = arctan(x): y' = 1 / (1 + x²), y'' = -2x / (1 + x²)²."""
    return xp.arctan(x)


@case(family="elementwise", inputs=array(4, low=-2, high=2), naive_exact=True)
def erf_elementwise(xp, x):
    """y = erf(x): y' = 2/sqrt(pi) exp(-x²), y'' = -2x y'."""
    return xp.erf(x)


@case(family="elementwise", inputs=scalar(-3, 3))
def gaussian_cdf(xp, x):
    """Φ(x) = (1 + erf(x / sqrt 2)) / 2: Φ' = exp(-x²/2) / sqrt(2 pi), Φ'' = -x Φ'."""
    # Constants as working-dtype arrays: torch 2.13's jvp gives a 0-d float32 tensor times a
    # python float a float64 tangent.
    return xp.asarray(0.5) * (1 + xp.erf(x * xp.asarray(0.5**0.5)))


@case(family="elementwise", inputs=array(4, low=-6, high=6), naive_exact=True)
def softplus_elementwise(xp, x):
    """y = softplus(x) = log(1 + exp x): y' = sigmoid(x), y'' = sigmoid(x)(1 - sigmoid(x))."""
    return xp.softplus(x)


@case(
    family="elementwise", inputs={"a": array(2, 3, low=-3, high=3), "b": array(3, low=-3, high=3)}
)
def logaddexp_broadcast(xp, a, b):
    """z = logaddexp(a, b) = log(exp a + exp b), b over rows: dz/da = sigmoid(a - b)."""
    return xp.logaddexp(a, b)


@case(family="elementwise", inputs=scalar(-3, 3))
def log_one_plus_cosh(xp, x):
    """l = softplus(logaddexp(x, -x) - log 2) = log(1 + cosh x): l' = tanh(x/2)."""
    return xp.softplus(xp.logaddexp(x, -x) - xp.asarray(0.6931471805599453))  # (see above)


@case(family="elementwise", inputs=array(4, low=-6, high=6), naive_exact=True)
def sigmoid_elementwise(xp, x):
    """y = sigmoid(x) = 1/(1 + exp(-x)): y' = y(1 - y), y'' = y(1 - y)(1 - 2y)."""
    return xp.sigmoid(x)


@case(family="elementwise", inputs=array(4, low=-2, high=2), naive_exact=True)
def pow_integer_exponent(xp, x):
    """y = x**3 (a constant exponent, any sign of x): y' = 3x**2, y'' = 6x."""
    return xp.pow(x, 3)


@case(family="elementwise", inputs=array(4, low=0.5, high=2), naive_exact=True)
def pow_fractional_exponent(xp, x):
    """y = x**2.5 on [0.5, 2]: y' = 2.5 x**1.5, y'' = 3.75 x**0.5."""
    return x**2.5


# y = 0 exactly is the edge case pow_zero_exponent (torch loses the mixed term there).
@case(
    family="elementwise", inputs={"x": array(3, low=0.5, high=2), "y": array(3, low=0.25, high=2.5)}
)
def pow_both_inputs(xp, x, y):
    """z = x**y, x > 0: dz/dx = y x**(y-1), dz/dy = x**y log x, and a mixed second derivative."""
    return x**y


@case(family="elementwise", inputs={"a": array(3, low=-2, high=2), "b": array(3, low=0.5, high=2)})
def quotient(xp, a, b):
    """z = a / b, b in [0.5, 2]: dz/da = 1/b, dz/db = -a/b**2, d²z/db² = 2a/b**3."""
    return xp.divide(a, b)


@case(family="elementwise", inputs=array(4, low=0.5, high=2), naive_exact=True)
def reciprocal(xp, x):
    """y = 1 / x on [0.5, 2]: y' = -1/x**2, y'' = 2/x**3."""
    return 1 / x


@case(
    family="elementwise",
    inputs={"p": array(2, low=0.25, high=2), "n": array(2, low=-2, high=-0.25)},
    naive_exact=True,
)
def relu_abs_off_kink(xp, p, n):
    """y = [relu(v), abs(v)], v = [p, n], |v| >= 0.25: slopes 1, 0 and ±1; no curvature."""
    v = xp.concatenate([p, n])
    return xp.concatenate([xp.relu(v), xp.abs(v)])


@case(
    family="elementwise",
    inputs={
        "lo": array(2, low=-2, high=-1.25),
        "mid": array(2, low=-0.75, high=0.75),
        "hi": array(2, low=1.25, high=2),
    },
    naive_exact=True,
)
def clip_off_kink(xp, lo, mid, hi):
    """y = minimum(maximum(v, -1), 1), v = [lo, mid, hi] at least 0.25 from ±1: slope 0 or 1."""
    v = xp.concatenate([lo, mid, hi])
    return xp.minimum(xp.maximum(v, -1.0), 1.0)


@case(
    family="elementwise",
    inputs={
        "lo": array(2, low=-2, high=-1.25),
        "mid": array(2, low=-0.75, high=0.75),
        "hi": array(2, low=1.25, high=2),
    },
)
def clip_times_input(xp, lo, mid, hi):
    """y = clip(v, -1, 1) * v, v = [lo, mid, hi] at least 0.25 from ±1: v² inside, ±v outside."""
    v = xp.concatenate([lo, mid, hi])
    return xp.clip(v, -1.0, 1.0) * v


@case(
    family="elementwise",
    inputs={"x": array(4, low=-2, high=2), "m": labels(4, classes=2)},
    naive_exact=True,
)
def where_constant_mask(xp, x, m):
    """y = where(m == 1, exp(x), cos(x)) with an integer mask m: each branch's derivatives."""
    return xp.where(m == 1, xp.exp(x), xp.cos(x))
