"""Second order: the seed's composite l = f(g(x), h(x)), where naive second-order backprop
(seed 1b) is wrong, with separable and non-separable f."""

from harness.registry import NAIVE_REASON, Composition, array, case, expect, scalar

SECOND = ("hvp", "hessian")
# The seed audit's known findings, declared so that a change in them shows up.
SEED_14_WRONG = expect("seed-1-4", SECOND, reason=f"the seed's (1-4) is the {NAIVE_REASON}")
SEED_13_NO_CROSS = expect(
    "seed-1-3", SECOND, reason="the seed's (1-3) drops the cross term 2·f_yz·g'·h' (f_yz != 0)"
)


def _sin(xp, x):
    return xp.sin(x)


def _exp(xp, x):
    return xp.exp(x)


def _f_mixed(xp, y, z):
    return y * z + y**3


def _f_separable(xp, y, z):
    return y**3 + z**2


NONSEPARABLE = Composition(g=_sin, h=_exp, f=_f_mixed)
SEPARABLE = Composition(g=_sin, h=_exp, f=_f_separable)


@case(
    family="second_order",
    inputs=scalar(-1.5, 1.5),
    tags={"seed"},
    composition=NONSEPARABLE,
    expects=[SEED_14_WRONG, SEED_13_NO_CROSS],
)
def seed_composite(xp, x):
    """l = f(sin x, exp x), f(y, z) = y*z + y**3: f_yz = 1, so (1-3) misses 2 f_yz g' h'."""
    return _f_mixed(xp, _sin(xp, x), _exp(xp, x))


@case(
    family="second_order",
    inputs=scalar(-1.5, 1.5),
    tags={"seed"},
    composition=SEPARABLE,
    expects=[SEED_14_WRONG],
)
def seed_composite_separable(xp, x):
    """l = f(sin x, exp x), f(y, z) = y**3 + z**2: separable, f_yz = 0, (1-3) holds."""
    return _f_separable(xp, _sin(xp, x), _exp(xp, x))


# -- more compositions x -> (g(x), h(x)) -> f(y, z), each declared for the diagnosis ------------


def _tanh(xp, x):
    return xp.tanh(x)


def _square(xp, x):
    return x**2


def _sigmoid(xp, x):
    return xp.sigmoid(x)


def _cos(xp, x):
    return xp.cos(x)


def _double(xp, x):
    return 2 * x


def _shift(xp, x):
    return x + 1


def _two_plus_cos(xp, x):
    return 2 + xp.cos(x)


def _f_bilinear(xp, y, z):
    return y * z


def _f_y2z(xp, y, z):
    return y**2 * z


def _f_exp_log(xp, y, z):
    return xp.exp(y) + xp.log(z)


BILINEAR = Composition(g=_tanh, h=_square, f=_f_bilinear)
SQUARE_TIMES = Composition(g=_sigmoid, h=_cos, f=_f_y2z)
LINEAR_INNER = Composition(g=_double, h=_shift, f=_f_mixed)
SEPARABLE_EXP_LOG = Composition(g=_sin, h=_two_plus_cos, f=_f_exp_log)


@case(
    family="second_order",
    inputs=scalar(-1.5, 1.5),
    composition=BILINEAR,
    expects=[SEED_14_WRONG, SEED_13_NO_CROSS],
)
def composite_bilinear(xp, x):
    """l = y*z, y = tanh x, z = x**2: f_yy = f_zz = 0, l'' = 2 g' h' + z g'' + y h''."""
    return _f_bilinear(xp, _tanh(xp, x), _square(xp, x))


@case(
    family="second_order",
    inputs=scalar(-2, 2),
    composition=SQUARE_TIMES,
    expects=[SEED_14_WRONG, SEED_13_NO_CROSS],
)
def composite_sigmoid_cos(xp, x):
    """l = y**2 * z, y = sigmoid x, z = cos x: f_yz = 2y, every term of (1-3) is alive."""
    return _f_y2z(xp, _sigmoid(xp, x), _cos(xp, x))


@case(
    family="second_order",
    inputs=scalar(-1.5, 1.5),
    composition=LINEAR_INNER,
    expects=[SEED_14_WRONG, SEED_13_NO_CROSS],
)
def composite_linear_inner(xp, x):
    """l = y*z + y**3, y = 2x, z = x + 1: g'' = h'' = 0, so (1-4) gives 0 for l'' != 0."""
    return _f_mixed(xp, _double(xp, x), _shift(xp, x))


@case(
    family="second_order",
    inputs=scalar(-1.5, 1.5),
    composition=SEPARABLE_EXP_LOG,
    expects=[SEED_14_WRONG],
)
def composite_separable_exp_log(xp, x):
    """l = exp(y) + log(z), y = sin x, z = 2 + cos x: separable (f_yz = 0), (1-3) holds."""
    return _f_exp_log(xp, _sin(xp, x), _two_plus_cos(xp, x))


# -- vector second order: dense, non-diagonal Hessians ------------------------------------------


@case(family="second_order", inputs=array(4, low=-1, high=1))
def squared_norm_squared(xp, x):
    """l = (x·x)**2: H = 4 (x·x) I + 8 x xᵀ, dense, every entry from first-derivative terms."""
    return xp.sum(x * x) ** 2


@case(family="second_order", inputs=array(4, low=-1.5, high=1.5))
def rosenbrock(xp, x):
    """l = sum(100 (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2): a banded, badly scaled Hessian."""
    return xp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@case(family="second_order", inputs={"a": array(3), "b": array(3)})
def cross_inputs(xp, a, b):
    """l = sum(sin(a) * exp(b)) + (a·b)**2: the Hessian's off-diagonal block couples a and b."""
    return xp.sum(xp.sin(a) * xp.exp(b)) + xp.matmul(a, b) ** 2


@case(family="second_order", inputs=array(4, low=-2, high=2), naive_exact=True)
def naive_exact_elementwise(xp, x):
    """l = sum(c * exp(x) + sin(x)), c constant: diagonal Hessian, no g'² terms; (1-4) is exact."""
    c = xp.asarray([0.5, -1.0, 2.0, 1.5])
    return xp.sum(c * xp.exp(x) + xp.sin(x))
