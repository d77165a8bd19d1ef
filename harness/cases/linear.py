"""Linear algebra: matmul of every supported shape (1-D, 2-D, batched, broadcast batch), an
affine layer, einsum (contractions, a trace) and 2-D convolution with stride and padding.
<u, A @ B> is bilinear: its Hessian is the off-diagonal coupling of A and B."""

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


@case(family="linear", inputs={"a": array(3), "W": array(3, 4), "b": array(4)})
def einsum_bilinear(xp, a, W, b):
    """l = einsum('i,ij,j->', a, W, b) = aᵀ W b: dW = a bᵀ, da = W b, db = Wᵀ a."""
    return xp.einsum("i,ij,j->", a, W, b)


@case(family="linear", inputs={"A": array(2, 2, 2)})
def einsum_trace_of_square(xp, A):
    """y = [einsum('kii->k', A_k A_k), einsum('ij,ji', A_0, A_1)] = [tr(A_k²), tr(A_0 A_1)]."""
    t = xp.einsum("kii->k", xp.einsum("kij,kjl->kil", A, A))
    return xp.concatenate([t, xp.reshape(xp.einsum("ij,ji", A[0], A[1]), (1,))])


@case(family="linear", inputs={"x": array(1, 1, 3, 3), "w": array(1, 1, 2, 2)})
def conv2d_stride_padding(xp, x, w):
    """y = tanh(conv2d(x, w, stride=2, padding=1)): a (2, 2) map over the zero-padded (5, 5) x."""
    return xp.tanh(xp.conv2d(x, w, stride=2, padding=1))


@case(family="linear", inputs={"x": array(2, 2, 3, 3), "w": array(3, 2, 2, 2)})
def conv2d_channels(xp, x, w):
    """y = conv2d(x, w, stride=(1, 2), padding=(0, 1))**2: 2 images, 2 -> 3 channels."""
    return xp.conv2d(x, w, stride=(1, 2), padding=(0, 1)) ** 2
