"""Small-matrix products that XLA:CPU fuses well when vmapped over many seeds.

Under ``vmap`` over seeds a product ``(B, K) @ (K, N)`` becomes a *batched* ``dot_general``
with tiny ``K`` and ``N`` (3 for seed 002), which XLA:CPU runs as one small GEMM per seed. For
small ``K`` we write it as ``K`` broadcast multiply-adds instead, which XLA fuses into one loop
over all seeds; for large ``K`` a real matmul wins. Same numbers up to float rounding order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

#: Largest contraction size computed as multiply-adds rather than a matmul.
SMALL_K = 16
#: Largest ``F * G`` for which a (T, B)-contraction is written as a fused multiply-reduce.
SMALL_OUTER = 256


def matmul(a: jax.Array, w: jax.Array) -> jax.Array:
    """``a @ w`` for ``a`` ``(..., K)`` and ``w`` ``(K, N)``."""
    k = w.shape[0]
    if k > SMALL_K:
        return a @ w
    lead = (1,) * (a.ndim - 1)
    out = a[..., 0:1] * w[0].reshape(lead + w.shape[1:])
    for i in range(1, k):
        out = out + a[..., i : i + 1] * w[i].reshape(lead + w.shape[1:])
    return out


def matmul_fm(w: jax.Array, a: jax.Array) -> jax.Array:
    """Feature-major product: ``out[..., n, b] = Σ_k w[k, n] a[..., k, b]``.

    ``a`` is ``(..., K, B)`` with the batch ``B`` as the minor axis, so the multiply-adds
    vectorize over the batch (and over seeds under ``vmap``) instead of over ``K``.
    """
    k = w.shape[0]
    if k > SMALL_K:
        return jnp.einsum("kn,...kb->...nb", w, a)
    lead = (1,) * (a.ndim - 2)
    out = w[0].reshape(lead + (-1, 1)) * a[..., 0:1, :]
    for i in range(1, k):
        out = out + w[i].reshape(lead + (-1, 1)) * a[..., i : i + 1, :]
    return out


def contract_fm(a: jax.Array, b: jax.Array) -> jax.Array:
    """``Σ_{t,b} a[t, :, b] b[t, :, b]ᵀ`` for ``a`` ``(T, K, B)``, ``b`` ``(T, N, B)``."""
    if a.shape[1] * b.shape[1] > SMALL_OUTER:
        return jnp.einsum("tkb,tnb->kn", a, b)
    return jnp.sum(a[:, :, None, :] * b[:, None, :, :], axis=(0, 3))
