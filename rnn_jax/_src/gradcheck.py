"""Central-difference gradient checks (use float64: ``jax.config.update("jax_enable_x64", True)``).

Like seed 002's check, but over any pytree of parameters, with every perturbation evaluated in
one vmapped call.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


def numerical_grad(f: Callable, params, eps: float = 1e-6):
    """``(f(p + eps e_i) - f(p - eps e_i)) / (2 eps)`` for every coordinate ``i`` of ``params``.

    Args:
      f: scalar function of ``params``.
      params: a pytree of floating arrays.
      eps: the step; ``1e-6`` suits float64 and O(1) parameters.

    Returns:
      A pytree like ``params``.
    """
    flat, unravel = ravel_pytree(params)
    if flat.dtype != jnp.float64:
        raise TypeError(
            f"numerical_grad needs float64 params (enable jax_enable_x64), got {flat.dtype}"
        )
    basis = jnp.eye(flat.size, dtype=flat.dtype) * eps
    g = jax.vmap(lambda e: f(unravel(flat + e)) - f(unravel(flat - e)))(basis) / (2 * eps)
    return unravel(g)


def relative_error(a, b, floor: float = 1e-12) -> jax.Array:
    """Largest elementwise ``|a - b| / max(|a| + |b|, floor)`` over two matching pytrees.

    ``floor`` keeps coordinates whose true gradient is ~0 from dominating; central differences
    carry an absolute error of about ``eps**2 + 1e-16 / eps``, so compare them with a floor
    well above that.
    """
    fa, _ = ravel_pytree(a)
    fb, _ = ravel_pytree(b)
    if fa.shape != fb.shape:
        raise ValueError(f"pytrees differ in size: {fa.shape} vs {fb.shape}")
    return jnp.max(jnp.abs(fa - fb) / jnp.maximum(jnp.abs(fa) + jnp.abs(fb), floor))


def check_grad(
    f: Callable, params, grads, eps: float = 1e-6, tol: float = 1e-6, floor: float = 1e-7
) -> float:
    """Compares ``grads`` with central differences of ``f``; raises ``AssertionError`` past
    ``tol`` (relative error, see :func:`relative_error`) and returns the largest error."""
    err = float(relative_error(grads, numerical_grad(f, params, eps), floor))
    if not err <= tol:
        raise AssertionError(f"gradient check failed: relative error {err:.3g} > {tol:.3g}")
    return err
