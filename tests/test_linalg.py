"""Small-matrix products as multiply-adds: the same numbers as a matmul, both branches."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_jax._src import linalg


@pytest.mark.parametrize("k", [1, 3, 17])  # 17 > max_unrolled: the real matmul branch
def test_products_equal_numpy(k, key):
    ka, kw, kb = jax.random.split(key, 3)
    a = jax.random.normal(ka, (4, 5, k), jnp.float64)
    w = jax.random.normal(kw, (k, 3), jnp.float64)
    np.testing.assert_allclose(linalg.matmul(a, w), np.asarray(a) @ np.asarray(w), rtol=1e-12)
    at = jnp.swapaxes(a, -1, -2)  # (4, K, 5): features, then a minor batch axis
    want = np.einsum("kn,ikb->inb", np.asarray(w), np.asarray(at))
    np.testing.assert_allclose(linalg.matmul_t(w, at), want, rtol=1e-12)
    b = jax.random.normal(kb, (4, 3, 5), jnp.float64)
    want = np.einsum("tkb,tnb->kn", np.asarray(at), np.asarray(b))
    np.testing.assert_allclose(linalg.outer_sum(at, b), want, rtol=1e-12)
    np.testing.assert_allclose(linalg.outer_sum(at, b, max_unrolled=0), want, rtol=1e-12)
