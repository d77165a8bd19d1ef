"""Edge inputs: kinks where frameworks choose different subgradients, poles approached within
the oracles' reach, saturation, and 0**y. Declared discrepancies say who differs and why."""

from harness.registry import array, case, expect, fixed

FIRST = ("grad", "jvp", "jacobian")
SECOND = ("hvp", "hessian")
# The second derivative at a kink is a Dirac delta: no backend can be right or wrong there.
AT_KINK = ("value", *FIRST)


@case(
    family="edge",
    inputs=fixed(-1.0, 0.0, 1.0),
    quantities=AT_KINK,
    expects=[
        expect(
            ("fd", "mp"),
            FIRST,
            reason="relu'(0) is undefined: central differences (fd, and mp's at 50 digits) "
            "return the mean slope 1/2, torch, jax and the in-house engine the subgradient 0",
        )
    ],
)
def relu_at_zero(xp, x):
    """y = relu(x) at x = (-1, 0, 1): relu'(0) is any value in [0, 1]."""
    return xp.relu(x)


@case(
    family="edge",
    inputs=fixed(-1.0, 0.0, 2.0),
    quantities=AT_KINK,
    expects=[
        expect(
            "jax",
            FIRST,
            reason="|x|'(0) is undefined: jax returns 1 (the x >= 0 branch), torch, the "
            "in-house engine and central differences 0",
        )
    ],
)
def abs_at_zero(xp, x):
    """y = abs(x) at x = (-1, 0, 2): |x|'(0) is any value in [-1, 1]."""
    return xp.abs(x)


@case(
    family="edge",
    inputs={"x": fixed(1.0, 1.0, 0.0), "y": fixed(2.0, 2.0, -1.0)},
    quantities=AT_KINK,
)
def ties_split_evenly(xp, x, y):
    """l = [max(x), maximum(x, y)], ties in both: every backend splits the gradient evenly."""
    return xp.concatenate([xp.reshape(xp.max(x), (1,)), xp.maximum(x, xp.take(y, [2, 2, 2]) + 1)])


@case(
    family="edge",
    inputs=array(4, low=-0.05, high=0.05),
    unrepresentable={
        **dict.fromkeys([("float16", q) for q in ("hvp", "hessian", "symmetry")],
                        "second derivatives of log(u) form 1/u² (1e6 at u = 1e-3) past float16's "
                        "65504 on jax always, on torch and ours by the order of operations and "
                        "the seed: inf (the Hessian itself is below 2e3)"),
        ("float16", "d3"): "its third derivative forms 1/u³ with u = 1e-3 + x² below 3.5e-3, "
                           "above 2e7, past float16's 65504 (inf or NaN on every engine)",
    },
)  # fmt: skip
def log_near_pole(xp, x):
    """y = log(1e-3 + x**2): the argument comes within 1e-3 of log's pole, y'' up to 2e3."""
    return xp.log(1e-3 + x**2)


@case(
    family="edge",
    inputs=array(4, low=-0.05, high=0.05),
    unrepresentable={("float16", "d3"): "its third derivative forms u**-2.5 with u = 1e-4 + x², "
                     "up to 1e10, past float16's 65504 (inf or NaN, depending on the engine's "
                     "order of operations)"},
)  # fmt: skip
def sqrt_near_zero(xp, x):
    """y = sqrt(1e-4 + x**2), a smoothed |x|: y'' = 1e-4 / (1e-4 + x**2)**1.5 up to 1e2."""
    return xp.sqrt(1e-4 + x**2)


@case(
    family="edge",
    inputs={"p": array(2, low=10, high=20), "n": array(2, low=-20, high=-10)},
    naive_exact=True,
)
def tanh_saturated(xp, p, n):
    """y = tanh([p, n]), |x| >= 10: y' = 1 - y**2 < 1e-8 rounds to 0, no NaN anywhere."""
    return xp.tanh(xp.concatenate([p, n]))


@case(
    family="edge",
    inputs={"p": array(2, low=20, high=40), "n": array(2, low=-40, high=-20)},
    naive_exact=True,
)
def sigmoid_saturated(xp, p, n):
    """y = sigmoid([p, n]), |x| >= 20: exp(-x) overflows for a naive formula, y' < 3e-9."""
    return xp.sigmoid(xp.concatenate([p, n]))


@case(family="edge", inputs=array(3, low=-30, high=-10),
      unrepresentable={"float16": "sigmoid(x) is 9e-14 to 5e-5 here: below x = -16.6 it is 0 "
                       "in float16 (its smallest number is 6e-8), and log(0) is -inf"})  # fmt: skip
def log_sigmoid_deep_negative(xp, x):
    """y = log(sigmoid(x)), x in [-30, -10]: y ≈ x, y' = 1 - sigmoid(x) ≈ 1 through a tiny σ."""
    return xp.log(xp.sigmoid(x))


# jvp, hvp and hessian are left out: fd's directional probes step to x < 0, where x**y is NaN
# for the non-integer y they also step to, so no oracle exists for them here.
@case(
    family="edge",
    inputs={"x": fixed(0.0, 0.0), "y": fixed(2.0, 3.0)},
    quantities=("value", "grad", "jacobian"),
)
def pow_at_zero_base(xp, x, y):
    """z = x**y at x = 0, y = (2, 3): dz/dy = x**y log x -> 0 (0 * log 0 is a limit, not NaN)."""
    return x**y


@case(
    family="edge",
    inputs={"x": fixed(0.5, 2.0), "y": fixed(0.0, 0.0)},
    expects=[
        expect(
            "torch",
            ("hvp", "hessian"),
            reason="torch's pow backward masks the x-gradient with where(y == 0, 0, y x**(y-1)), "
            "which also cuts its y-derivative: d²z/dx dy = x**(y-1)(1 + y log x) = 1/x is lost",
        ),
        expect(
            "torch",
            "symmetry",
            reason="torch's Hessian of x**y is asymmetric at y = 0: the masked x-gradient gives "
            "d²z/dx dy = 0, the y-gradient x**y log x gives d²z/dy dx = 1/x",
        ),
        expect(
            "torch",
            "d3",
            reason="torch's pow backward masks the x-gradient with where(y == 0, 0, y x**(y-1)): "
            "a constant 0 at y = 0, so every derivative taken through it is lost there "
            "(d³z/dx dy² = (2 log x)/x and d³z/dx² dy = -1/x² among them)",
        ),
        expect(
            "autograd",
            ("hvp", "hessian", "d3"),
            reason="HIPS autograd's power VJP uses x ** where(y, y - 1, 1): at y = 0 the exponent "
            "is the constant 1, so d/dy of the x-gradient gives x instead of 1/x (its Hessian is "
            "not even symmetric there)",
        ),
        expect(
            "autograd",
            "symmetry",
            reason="HIPS autograd's Hessian of x**y is asymmetric at y = 0: its power VJP's "
            "exponent where(y, y - 1, 1) gives d²z/dx dy = x, the y-gradient gives 1/x",
        ),
    ],
)
def pow_zero_exponent(xp, x, y):
    """z = x**y at y = 0, x = (0.5, 2): z = 1, dz/dx = 0, dz/dy = log x, d²z/dx dy = 1/x."""
    return x**y
