"""The vocabulary on jax arrays (the namespace every case runs on under the jax backends)."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.namespace import pair, pool_args
from harness.vocabulary import provide


class JaxNamespace:
    """The vocabulary on jax arrays of one dtype: jax.numpy's functions where the table maps
    them mechanically, jax.nn, jax.scipy and jax.lax (convolution, pooling) where they differ."""

    def __init__(self, jax: Any, dtype: Any) -> None:
        import jax.lax
        import jax.nn
        import jax.numpy as jnp
        import jax.scipy.special

        self.jnp, self.nn, self.special, self.lax = jnp, jax.nn, jax.scipy.special, jax.lax
        self.dtype = dtype
        provide(self, ("numpy", lambda f: getattr(jnp, f)))

    def asarray(self, a: Any) -> Any:
        return self.jnp.asarray(np.asarray(a), dtype=self.dtype)

    def sigmoid(self, a):
        return self.nn.sigmoid(a)

    def relu(self, a):
        return self.nn.relu(a)

    def sum(self, a, axis=None, keepdims=False):
        return self.jnp.sum(a, axis=axis, keepdims=keepdims)

    def mean(self, a, axis=None, keepdims=False):
        return self.jnp.mean(a, axis=axis, keepdims=keepdims)

    def max(self, a, axis=None, keepdims=False):
        return self.jnp.max(a, axis=axis, keepdims=keepdims)

    def erf(self, a):
        return self.special.erf(a)

    def softplus(self, a):
        return self.nn.softplus(a)

    def conv2d(self, x, w, stride=1, padding=0):
        (sh, sw), (ph, pw) = pair(stride), pair(padding)
        return self.lax.conv_general_dilated(
            x, w, (sh, sw), ((ph, ph), (pw, pw)), dimension_numbers=("NCHW", "OIHW", "NCHW")
        )

    def max_pool2d(self, x, kernel_size, stride=None, padding=0):
        (kh, kw), (sh, sw), (ph, pw) = pool_args(kernel_size, stride, padding)
        pads = ((0, 0), (0, 0), (ph, ph), (pw, pw))
        low = np.array(-np.inf, dtype=x.dtype)  # concrete: a jnp init value is not differentiable
        return self.lax.reduce_window(x, low, self.lax.max, (1, 1, kh, kw), (1, 1, sh, sw), pads)

    def take(self, a, indices, axis=None):
        return self.jnp.take(a, self.jnp.asarray(np.asarray(indices)), axis=axis)

    def softmax(self, a, axis=-1):
        return self.nn.softmax(a, axis=axis)

    def log_softmax(self, a, axis=-1):
        return self.nn.log_softmax(a, axis=axis)

    def logsumexp(self, a, axis=None, keepdims=False):
        return self.special.logsumexp(a, axis=axis, keepdims=keepdims)

    def cross_entropy(self, logits, labels):
        lp = self.nn.log_softmax(logits, axis=-1)
        lab = self.jnp.asarray(labels)
        return -self.jnp.mean(self.jnp.take_along_axis(lp, lab[..., None], axis=-1)[..., 0])
