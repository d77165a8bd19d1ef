"""Networks and losses: logistic regression, a 2-layer MLP with softmax cross-entropy, a small
residual block, attention, a convolutional layer with pooling; the data are module constants
(exact in float32), never differentiated.
"""

import numpy as np

from harness.registry import array, case, labels, scalar

# Four samples of three features, multiples of 1/8 (exact in float32).
X = np.array(
    [[0.5, -1.25, 2.0], [-0.75, 0.25, 1.5], [1.125, 0.875, -0.5], [-1.5, 1.0, 0.375]],
)
TARGET = np.array([0.25, -1.0, 1.5, 0.5])
CLASSES = np.array([1, 0, 0, 1])  # the MLP's labels: data, like X
# One 4x4 image, one channel, multiples of 1/8.
IMAGE = np.array(
    [[0.5, -1.25, 2.0, 0.25], [-0.75, 0.25, 1.5, -1.0], [1.125, 0.875, -0.5, 0.625],
     [-1.5, 1.0, 0.375, -0.125]],
).reshape(1, 1, 4, 4)  # fmt: skip


@case(family="networks", inputs={"w": array(3), "b": scalar(-1, 1), "y": labels(4, classes=2)})
def logistic_regression(xp, w, b, y):
    """l = -mean(log σ(z) if y = 1 else log(1 - σ(z))), z = Xw + b over four fixed samples."""
    p = xp.sigmoid(xp.asarray(X) @ w + b)
    return -xp.mean(xp.where(y == 1, xp.log(p), xp.log(1 - p)))


@case(family="networks", inputs={"w": array(3)})
def least_squares(xp, w):
    """l = mean((Xw - t)**2) for fixed X, t: gradient (2/n) Xᵀ(Xw - t), Hessian (2/n) XᵀX."""
    r = xp.asarray(X) @ w - xp.asarray(TARGET)
    return xp.mean(r * r)


@case(family="networks", inputs={"W1": array(3, 2), "b1": array(2), "W2": array(2, 2)})
def mlp_tanh_cross_entropy(xp, W1, b1, W2):
    """l = cross_entropy(tanh(X W1 + b1) W2, c): a 2-layer MLP with softmax cross-entropy."""
    h = xp.tanh(xp.asarray(X) @ W1 + b1)
    return xp.cross_entropy(h @ W2, CLASSES)


@case(
    family="networks",
    inputs={"W1": array(3, 2), "b1": array(2, low=0.5, high=1), "W2": array(2, 2)},
)
def mlp_relu_squared_error(xp, W1, b1, W2):
    """l = mean((relu(X W1 + b1) W2)**2): a ReLU MLP, piecewise quadratic in the weights."""
    h = xp.relu(xp.asarray(X) @ W1 + b1)
    return xp.mean((h @ W2) ** 2)


@case(family="networks", inputs={"x": array(3), "W": array(3, 3, low=-0.5, high=0.5)})
def residual_layernorm(xp, x, W):
    """y = n(r), r = x + tanh(W x), n(r) = (r - mean r) / sqrt(var r + 0.1): residual + norm."""
    r = x + xp.tanh(W @ x)
    c = r - xp.mean(r)
    # eps as a working-dtype constant: with a python float, torch 2.13's forward-over-reverse
    # hvp raises in float32 (addmv: "got Double, Float, and Double").
    return c / xp.sqrt(xp.mean(c * c) + xp.asarray(0.1))


@case(family="networks", inputs={"q": array(2, 2), "k": array(2, 2), "v": array(2, 2)})
def attention(xp, q, k, v):
    """y = softmax(q kᵀ / sqrt 2, axis=-1) v: one head of scaled dot-product attention."""
    return xp.softmax(q @ xp.transpose(k) / 2**0.5, axis=-1) @ v


@case(
    family="networks",
    inputs={"w": array(2, 1, 3, 3, low=-0.5, high=0.5), "v": array(1, 2, 2, 2)},
)
def cnn_conv_relu_pool(xp, w, v):
    """l = sum(max_pool2d(relu(conv2d(X, w, padding=1)), 2) * v): conv, ReLU, 2x2 pool, read-out."""
    h = xp.relu(xp.conv2d(xp.asarray(IMAGE), w, padding=1))
    return xp.sum(xp.max_pool2d(h, 2) * v)
