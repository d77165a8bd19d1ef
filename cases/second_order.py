"""Second order: the seed's composite l = f(g(x), h(x)), where naive second-order backprop
(seed 1b) is wrong, with separable and non-separable f."""

from harness.registry import NAIVE_REASON, Composition, case, expect, scalar

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
