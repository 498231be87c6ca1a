"""Small-matrix products laid out for XLA:CPU when vmapped over many seeds.

Under ``vmap`` over seeds a product ``(B, K) @ (K, N)`` becomes a *batched* ``dot_general``
with tiny ``K`` and ``N`` (3 for seed 002), which XLA:CPU runs as one small GEMM per seed. For
small ``K`` these functions write it as ``K`` broadcast multiply-adds instead, which XLA fuses
into one loop over all seeds; past ``max_unrolled`` a real matmul wins. Same numbers up to the
order of float rounding (see ``docs/performance.md``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def matmul(a: jax.Array, w: jax.Array, *, max_unrolled: int = 16) -> jax.Array:
    """``a @ w`` for ``a`` ``(..., K)`` and ``w`` ``(K, N)``."""
    k = w.shape[0]
    if k > max_unrolled:
        return a @ w
    lead = (1,) * (a.ndim - 1)
    out = a[..., 0:1] * w[0].reshape(lead + w.shape[1:])
    for i in range(1, k):
        out = out + a[..., i : i + 1] * w[i].reshape(lead + w.shape[1:])
    return out


def matmul_t(w: jax.Array, a: jax.Array, *, max_unrolled: int = 16) -> jax.Array:
    """``wᵀ a`` over a minor batch axis: ``out[..., n, b] = Σ_k w[k, n] a[..., k, b]``.

    ``a`` is ``(..., K, B)`` (features, then batch), so the multiply-adds vectorize over the
    batch (and over seeds under ``vmap``) instead of over ``K``.
    """
    k = w.shape[0]
    if k > max_unrolled:
        return jnp.einsum("kn,...kb->...nb", w, a)
    lead = (1,) * (a.ndim - 2)
    out = w[0].reshape(lead + (-1, 1)) * a[..., 0:1, :]
    for i in range(1, k):
        out = out + w[i].reshape(lead + (-1, 1)) * a[..., i : i + 1, :]
    return out


def outer_sum(a: jax.Array, b: jax.Array, *, max_unrolled: int = 256) -> jax.Array:
    """``Σ_{t,b} a[t, :, b] b[t, :, b]ᵀ`` for ``a`` ``(T, K, B)`` and ``b`` ``(T, N, B)``."""
    if a.shape[1] * b.shape[1] > max_unrolled:
        return jnp.einsum("tkb,tnb->kn", a, b)
    return jnp.sum(a[:, :, None, :] * b[:, None, :, :], axis=(0, 3))
