"""The planted bugs: each one exact piece of engine source and what replaces it.

A mutant names the engine module, the text it replaces (which must occur exactly once there, or
the mutant is reported stale) and, in words, what the bug does. Kept in the engine's own
notation so a reader can check each against harness/engine/*.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """One planted bug: in harness/engine/<module>.py, `old` becomes `new`."""

    name: str
    module: str
    old: str
    new: str
    what: str


def _m(name: str, module: str, old: str, new: str, what: str) -> Mutant:
    return Mutant(name, module, old, new, what)


P, R, F, S, I = "primitives", "reverse", "forward", "second", "__init__"  # noqa: E741
RED, SM, EIN, CONV = "reductions", "softmax", "einsum", "conv"

MUTANTS: tuple[Mutant, ...] = (
    # -- first-order rules: signs, factors, wrong variables
    _m("sin_vjp_sign", P, "d=lambda g, y, x: g * cos(x),", "d=lambda g, y, x: -g * cos(x),",
       "sin's derivative (its VJP and JVP) with its sign flipped: -g cos x"),
    _m("cos_vjp_sign", P, "d=lambda g, y, x: -g * sin(x),", "d=lambda g, y, x: g * sin(x),",
       "cos's derivative (its VJP and JVP) with its sign flipped: g sin x"),
    _m("subtract_vjp_sign", P, "vjp=(lambda g, y, a, b: g, lambda g, y, a, b: -g),",
       "vjp=(lambda g, y, a, b: g, lambda g, y, a, b: g),",
       "a - b passes +g to b: the minus lost"),
    _m("divide_vjp_sign", P, "lambda g, y, a, b: g / b, lambda g, y, a, b: -g * y / b",
       "lambda g, y, a, b: g / b, lambda g, y, a, b: g * y / b",
       "d(a/b)/db = +a/b²: sign flipped"),
    _m("log_vjp_divides_by_y", P, "d=lambda g, y, x: g / x,", "d=lambda g, y, x: g / y,",
       "log's derivative (VJP and JVP) divides by log x instead of x"),
    _m("sqrt_vjp_no_half", P, "d=lambda g, y, x: 0.5 * g / y,", "d=lambda g, y, x: g / y,",
       "sqrt's derivative (VJP and JVP) without the 1/2"),
    _m("sigmoid_vjp_no_one_minus", P, "d=lambda g, y, x: g * y * (1 - y),",
       "d=lambda g, y, x: g * y,", "sigmoid' = y instead of y(1 - y), in its VJP and JVP"),
    _m("relu_vjp_mask_inverted", P, "d=lambda g, y, x: g * (x > 0),",
       "d=lambda g, y, x: g * (x < 0),", "relu passes the gradient (and tangent) where x < 0"),
    _m("pow_vjp_off_by_one", P, "vjp=(lambda g, y, a, b: g * b * a ** (b - 1),",
       "vjp=(lambda g, y, a, b: g * b * a ** b,",
       "off-by-one exponent in pow's derivative: b a^b instead of b a^(b-1)"),
    _m("pow_vjp_exponent_no_y", P, "lambda g, y, a, b: g * y * _log0(a)),\n    jvp",
       "lambda g, y, a, b: g * _log0(a)),\n    jvp", "d(a^b)/db = log a, the a^b factor lost"),
    _m("multiply_vjp_same_operand", P, "vjp=(lambda g, y, a, b: g * b, lambda g, y, a, b: g * a),",
       "vjp=(lambda g, y, a, b: g * b, lambda g, y, a, b: g * b),",
       "a * b hands b its own value: g b instead of g a"),
    _m("where_vjp_masks_swapped", P,
       "vjp=(lambda g, y, a, b, mask: g * mask, lambda g, y, a, b, mask: g * ~mask),",
       "vjp=(lambda g, y, a, b, mask: g * ~mask, lambda g, y, a, b, mask: g * mask),",
       "where sends each branch the other branch's gradient"),
    _m("maximum_ties_not_split", P, "return _like(a, (val(a) > val(b)) + 0.5 * (val(a) == val(b)))",
       "return _like(a, (val(a) >= val(b)))",
       "maximum gives a tie's whole gradient to both inputs instead of half to each"),
    _m("max_vjp_everywhere", RED,
       "_spread(g, x, axis) * _argmax_weights(x, y, axis)),",
       "_spread(g, x, axis)),", "max's VJP spread over every element, not the argmax"),
    _m("max_ties_not_split", RED,
       "return _like(x, hit / np.sum(hit, axis=axis, keepdims=True))", "return _like(x, hit)",
       "max gives every tied maximum the whole gradient"),
    # -- first-order rules: forward mode (exp and tanh have one rule: their VJP breaks too)
    _m("exp_jvp_drops_tangent", P, "d=lambda g, y, x: g * y,", "d=lambda g, y, x: y,",
       "a wrong JVP: exp's tangent is y instead of t·y (and its cotangent y instead of g·y)"),
    _m("tanh_jvp_wrong", P, "d=lambda g, y, x: g * (1 - y * y),",
       "d=lambda g, y, x: g * (1 - y),", "tanh's JVP (and VJP) uses 1 - y instead of 1 - y²"),
    _m("pow_jvp_off_by_one", P, "jvp=(lambda t, y, a, b: t * b * a ** (b - 1),",
       "jvp=(lambda t, y, a, b: t * b * a ** b,", "off-by-one exponent in pow's JVP"),
    _m("matmul_jvp_drops_b", P, "lambda t, y, a, b: matmul(a, t)),",
       "lambda t, y, a, b: 0 * matmul(a, t)),", "matmul's JVP loses the term of b's tangent"),
    _m("forward_overwrites", F, "t = ti if t is None else t + ti", "t = ti",
       "forward mode keeps only the last input's tangent (seed 1a, forward)"),
    # -- linear algebra and shapes
    _m("matmul_vjp_a_transposed", P, "return _reshaped(sum_to(matmul(g2, _mT(b2)), a2.shape)",
       "return _reshaped(sum_to(_mT(matmul(g2, _mT(b2))), a2.shape)",
       "a transposed matmul gradient: dA = (G Bᵀ)ᵀ"),
    _m("matmul_vjp_b_no_transpose", P, "matmul(_mT(a2), g2)", "matmul(a2, g2)",
       "matmul's VJP for B uses A instead of Aᵀ"),
    _m("transpose_vjp_not_inverted", P, "transpose(g, axes=_inverse(axes))",
       "transpose(g, axes=axes)", "transpose's VJP permutes by axes, not by their inverse"),
    _m("scatter_overwrites", P, "np.add.at(out, index, g)  # repeated indices accumulate",
       "out[index] = g", "repeated indices overwrite instead of accumulating (seed 1a)"),
    _m("concatenate_wrong_slab", P, "(slice(start, start + xs[i].shape[ax]),)",
       "(slice(0, xs[i].shape[ax]),)", "every concatenated input reads the first block"),
    # -- broadcasting and reductions
    _m("broadcast_not_reduced", R, "            if op.broadcast:\n                gi = sum_to(",
       "            if False:\n                gi = sum_to(",
       "a broadcast gradient not reduced to the input's shape"),
    _m("sum_to_leading_axes_only", P,
       "stretched = (lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)",
       "stretched = ()", "sum_to reduces the leading axes only, not the stretched size-1 ones"),
    _m("reduction_vjp_no_keepdims", P,
       "return broadcast_to(_reshaped(g, _kept(x.shape, axis)), shape=x.shape)",
       "return broadcast_to(g, shape=x.shape)",
       "a missing keepdims in a reduction's backward: g broadcast from the wrong side"),
    _m("mean_vjp_not_scaled", P, "_spread(g * (y.size / x.size), x, axis)", "_spread(g, x, axis)",
       "mean's VJP not divided by the count"),
    # -- softmax family (the seed's problem 2)
    _m("softmax_vjp_no_h", SM,
       "vjp=lambda g, h, x, axis=-1: h * (g - sum(g * h, axis=axis, keepdims=True)),",
       "vjp=lambda g, h, x, axis=-1: (g - sum(g * h, axis=axis, keepdims=True)),",
       "softmax backward without the h * factor"),
    _m("softmax_vjp_mean_g", SM,
       "vjp=lambda g, h, x, axis=-1: h * (g - sum(g * h, axis=axis, keepdims=True)),",
       "vjp=lambda g, h, x, axis=-1: h * (g - sum(g, axis=axis, keepdims=True) / g.shape[axis]),",
       "softmax backward with mean(g) instead of <g, h>"),
    _m("softmax_vjp_wrong_axis", SM,
       "vjp=lambda g, h, x, axis=-1: h * (g - sum(g * h, axis=axis, keepdims=True)),",
       "vjp=lambda g, h, x, axis=-1: h * (g - sum(g * h, axis=0, keepdims=True)),",
       "softmax backward sums <g, h> over the wrong axis (0)"),
    _m("softmax_forward_wrong_axis", SM, "    return e / np.sum(e, axis=axis, keepdims=True)",
       "    return e / np.sum(e, axis=0, keepdims=True)",
       "softmax normalised over the wrong axis (0) in the forward pass"),
    _m("softmax_vjp_no_keepdims", SM,
       "vjp=lambda g, h, x, axis=-1: h * (g - sum(g * h, axis=axis, keepdims=True)),",
       "vjp=lambda g, h, x, axis=-1: h * (g - sum(g * h, axis=axis)),",
       "a missing keepdims in softmax backward's <g, h>"),
    _m("log_softmax_vjp_no_softmax", SM,
       "vjp=lambda g, y, x, axis=-1: g - exp(y) * sum(g, axis=axis, keepdims=True),",
       "vjp=lambda g, y, x, axis=-1: g - sum(g, axis=axis, keepdims=True),",
       "log_softmax's VJP without the softmax weight on sum(g)"),
    _m("logsumexp_vjp_exp", SM, "_reshaped(g, _kept(x.shape, axis)) * softmax(x, axis=axis)),",
       "_reshaped(g, _kept(x.shape, axis)) * exp(x)),",
       "logsumexp's VJP is exp(x) instead of softmax(x)"),
    _m("cross_entropy_vjp_no_mean", SM,
       "vjp=lambda g, y, z, labels: g * (softmax(z) - _onehot(z, labels)) / labels.size,",
       "vjp=lambda g, y, z, labels: g * (softmax(z) - _onehot(z, labels)),",
       "cross entropy's VJP not divided by the batch size"),
    # -- the ops of issue 18, one VJP bug each
    _m("clip_vjp_mask_inverted", P, "vjp=lambda g, y, x, lo=None, hi=None: g * _inside(x, lo, hi),",
       "vjp=lambda g, y, x, lo=None, hi=None: g * (1 - _inside(x, lo, hi)),",
       "clip passes the gradient outside its bounds and blocks it inside"),
    _m("min_vjp_everywhere", RED, "_spread(g, x, axis) * _argmin_weights(x, y, axis)),",
       "_spread(g, x, axis)),", "min's VJP spread over every element, not the argmin"),
    _m("prod_vjp_times_x", RED,
       "vjp=lambda g, y, x, axis=None, keepdims=False: _spread(g * y, x, axis) / x,",
       "vjp=lambda g, y, x, axis=None, keepdims=False: _spread(g * y, x, axis) * x,",
       "prod's VJP multiplies y by x_j instead of dividing: y x_j, not the product of the others"),
    _m("var_vjp_no_two", RED, "_spread(g, x, axis) * _centred(x, axis) * (2 / _n(x, y))),",
       "_spread(g, x, axis) * _centred(x, axis) * (1 / _n(x, y))),",
       "var's VJP without the factor 2 of d(x - m)²"),
    _m("std_vjp_not_centred", RED, "_spread(g / y, x, axis) * _centred(x, axis) / _n(x, y)),",
       "_spread(g / y, x, axis) * x / _n(x, y)),", "std's VJP uses x where it needs x - mean"),
    _m("cumsum_vjp_not_reversed", RED,
       "vjp=lambda g, y, x, axis: _flip(cumsum(_flip(g, axis), axis=axis), axis),",
       "vjp=lambda g, y, x, axis: cumsum(g, axis=axis),",
       "cumsum's VJP sums the cotangent from the start, not from the end (its transpose missed)"),
    _m("logaddexp_vjp_same_weight", P,
       "vjp=(lambda g, y, a, b: g * exp(a - y), lambda g, y, a, b: g * exp(b - y)),",
       "vjp=(lambda g, y, a, b: g * exp(a - y), lambda g, y, a, b: g * exp(a - y)),",
       "logaddexp hands b the weight of a, e^(a - y) instead of e^(b - y)"),
    _m("erf_vjp_no_constant", P, "d=lambda g, y, x: g * _ERF_SLOPE * exp(-x * x),",
       "d=lambda g, y, x: g * exp(-x * x),", "erf' without its 2/sqrt(pi) (VJP and JVP)"),
    _m("softplus_vjp_of_y", P, "d=lambda g, y, x: g * sigmoid(x),",
       "d=lambda g, y, x: g * sigmoid(y),", "softplus' = sigmoid(y), the output, not sigmoid(x)"),
    _m("broadcast_to_vjp_averages", P, "vjp=lambda g, y, x, shape: sum_to(g, x.shape),",
       "vjp=lambda g, y, x, shape: sum_to(g, x.shape) * (x.size / g.size),",
       "broadcast_to's VJP averages the copies' gradients instead of summing them"),
    _m("expand_dims_vjp_transposed", P, "vjp=lambda g, y, x, axis: squeeze(g, axis=axis),",
       "vjp=lambda g, y, x, axis: reshape(transpose(g), shape=x.shape),",
       "expand_dims's VJP reshapes the transposed cotangent: the axes' order lost"),
    _m("squeeze_vjp_transposed", P, "vjp=lambda g, y, x, axis: expand_dims(g, axis=axis),",
       "vjp=lambda g, y, x, axis: reshape(transpose(g), shape=x.shape),",
       "squeeze's VJP reshapes the transposed cotangent: the axes' order lost"),
    _m("einsum_vjp_sorted_letters", EIN, "kept = \"\".join(c for c in letters if c in found)",
       "kept = \"\".join(c for c in sorted(letters) if c in found)",
       "einsum's VJP contracts onto the operand's letters sorted: transposed where they are not"),
    _m("conv2d_vjp_w_kernel_transposed", CONV,
       'return einsum(g, cols, subscripts="nouv,nckluv->ockl")',
       'return einsum(g, cols, subscripts="nouv,nckluv->oclk")',
       "conv2d's weight gradient with the kernel's rows and columns swapped"),
    _m("conv2d_vjp_x_overlaps_overwrite", CONV,
       "out[:, :, k : k + sh * ho : sh, m : m + sw * wo : sw] += cols[:, :, k, m]",
       "out[:, :, k : k + sh * ho : sh, m : m + sw * wo : sw] = cols[:, :, k, m]",
       "conv2d's input gradient (col2im) overwrites where windows overlap instead of adding"),
    _m("max_pool2d_vjp_whole_window", CONV,
       "expand_dims(g, axis=(2, 3)) * _pool_weights(x, y, kernel, stride, padding),",
       "expand_dims(g, axis=(2, 3)) + 0 * _pool_weights(x, y, kernel, stride, padding),",
       "max_pool2d's VJP hands a window's cotangent to every element, not only to its max"),
    # -- the backward pass itself
    _m("accumulate_overwrites", R,
       "parent.grad = gi if parent.grad is None else parent.grad + gi", "parent.grad = gi",
       "`=` instead of `+=` when accumulating (seed 1a)"),
    _m("cotangent_ignored", R,
       "seed = np.ones_like(root.value) if seed is None else np.asarray(seed, dtype=root.dtype)",
       "seed = np.ones_like(root.value)", "the VJP ignores its cotangent (all ones)"),
    # -- second order (the seed's problem 1b)
    _m("naive_second_order", I, "from harness.engine.second import gradient_graph, hessian, hvp",
       "from harness.engine.naive import naive_hessian as hessian, naive_hvp as hvp\n"
       "from harness.engine.second import gradient_graph",
       "the naive second-order rule (seed 1b) behind hvp and hessian"),
    _m("double_backward_detached", S, "backward(out, cotangent, create_graph=True)",
       "backward(out, cotangent, create_graph=False)",
       "the first backward pass records no graph: second derivatives come out zero"),
    _m("hvp_stale_leaf_grads", S,
       "    _clear(xs)  # leaves the gradient graph does not reach get no second-pass gradient\n",
       "", "the HVP keeps first-pass gradients on leaves the gradient does not depend on"),
)  # fmt: skip
