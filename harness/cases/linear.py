"""Linear algebra: matmul of every supported shape (1-D, 2-D, batched, broadcast batch) and an
affine layer. <u, A @ B> is bilinear: its Hessian is the off-diagonal coupling of A and B."""

from harness.registry import array, case


@case(family="linear", inputs={"a": array(4), "b": array(4)})
def matmul_vec_vec(xp, a, b):
    """l = a @ b, two 1-D operands: an inner product, dl/da = b, dl/db = a."""
    return xp.matmul(a, b)


@case(family="linear", inputs={"A": array(3, 4), "x": array(4)})
def matmul_mat_vec(xp, A, x):
    """y = A @ x, (3, 4) @ (4,): dA = u xᵀ, dx = Aᵀ u."""
    return A @ x


@case(family="linear", inputs={"x": array(3), "B": array(3, 2)})
def matmul_vec_mat(xp, x, B):
    """y = x @ B, (3,) @ (3, 2): dx = B u, dB = x uᵀ."""
    return x @ B


@case(family="linear", inputs={"A": array(2, 3), "B": array(3, 2)})
def matmul_mat_mat(xp, A, B):
    """Y = A @ B, (2, 3) @ (3, 2): dA = U Bᵀ, dB = Aᵀ U."""
    return A @ B


@case(family="linear", inputs={"A": array(2, 2, 2), "B": array(2, 2, 2)})
def matmul_batched(xp, A, B):
    """Y_k = A_k @ B_k for a batch of two (2, 2) products."""
    return xp.matmul(A, B)


@case(family="linear", inputs={"A": array(2, 2, 2), "B": array(2, 2)})
def matmul_broadcast_batch(xp, A, B):
    """Y_k = A_k @ B, B shared by the batch: dB = sum_k A_kᵀ U_k."""
    return A @ B


@case(family="linear", inputs={"x": array(3, 2)})
def gram_matrix(xp, x):
    """G = transpose(x) @ x: x used twice, as both operands of one product."""
    return xp.transpose(x) @ x


@case(family="linear", inputs={"A": array(3, 3), "x": array(3)})
def quadratic_form(xp, A, x):
    """l = x @ A @ x: dl/dx = (A + Aᵀ) x, d²l/dx² = A + Aᵀ, dl/dA = x xᵀ."""
    return x @ A @ x


@case(family="linear", inputs={"W": array(2, 4), "x": array(4), "b": array(2)})
def affine_tanh(xp, W, x, b):
    """y = tanh(W @ x + b): an affine layer, then a nonlinearity."""
    return xp.tanh(W @ x + b)


@case(family="linear", inputs={"A": array(2, 2), "B": array(2, 2), "C": array(2, 2)})
def matmul_chain(xp, A, B, C):
    """Y = A @ B @ C: trilinear, each factor's gradient passes through the other two."""
    return A @ B @ C


@case(family="linear", inputs={"x": array(2, 3, 4)}, naive_exact=True)
def transpose_cyclic_3d(xp, x):
    """y = sin(transpose(x, (1, 2, 0))): not its own inverse, the VJP permutes by (2, 0, 1)."""
    return xp.sin(xp.transpose(x, (1, 2, 0)))
