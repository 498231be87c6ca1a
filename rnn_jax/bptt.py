"""Hand-written backpropagation through time, for every cell.

The backward is a reverse :func:`jax.lax.scan` that carries only ``dL/dcarry``. At each step
the cell's ``core_bwd`` turns ``(dL/dcarry_t, dL/dh_t)`` into ``dL/dcarry_{t-1}`` and the
cotangents of the pre-activations ``δa_x_t`` (input side) and ``δa_h_t`` (recurrent side).
Nothing else is accumulated in the scan: the parameter and input gradients are contracted once
over all steps and the batch afterwards, as three matmuls::

    dW_x   = Σ_{t,b} x_{t}ᵀ δa_x_t          dW_rec = Σ_{t,b} h_{t-1}ᵀ δa_h_t
    dx_t   = δa_x_t W_xᵀ                     db     = Σ_{t,b} δa_x_t   (cell-specific)

Padded steps (``mask`` false) pass ``dL/dcarry`` through unchanged and give zero cotangents.

Two entry points:

* :func:`bptt` - explicit: forward, then backward for given output cotangents.
* :func:`unroll_bptt` - :func:`rnn_jax.unroll` as a ``jax.custom_vjp`` whose backward is the
  hand-written one, so ``jax.grad`` of any loss built on it trains with hand BPTT.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnn_jax._linalg import contract_fm, matmul_fm
from rnn_jax.cells import Cell
from rnn_jax.unroll import _fm, _keep, forward_scan, forward_scan_fm, prepare, scan

Array = jax.Array


class BPTTGrads(NamedTuple):
    """Gradients from :func:`bptt`: ``params`` (like the params), ``carry0`` (like the carry0
    given: summed over the batch when it was shared), ``xs`` (``(B, T, F)``)."""

    params: Any
    carry0: Any
    xs: Array


def _backward_fm(cell: Cell, params, xs_fm, mask_tm, h_prev, res, d_hs, d_carry_T, reverse: bool):
    """Reverse scan over ``dL/dcarry``, then the contractions: (d_params, d_carry0, d_xs).

    Feature-major like :func:`rnn_jax.unroll.forward_scan_fm`: ``xs_fm`` ``(T, F, B)``,
    ``mask_tm`` ``(T, B)`` or ``None``, ``d_hs`` ``(T, H, B)``, ``d_carry_T`` leaves ``(H, B)``;
    ``d_carry0`` and ``d_xs`` come back in the same layouts.
    """
    # vmapped, not rnn_jax.unroll.core_fm: XLA would fuse the cheap chain of a gated cell's
    # carry cotangent into every gate's loop and recompute it step after step (LSTM 3x slower).
    core_bwd = jax.vmap(cell.core_bwd, in_axes=(None, -1, -1, -1), out_axes=-1)
    w_rec_t = params.w_rec.T

    def body(d_carry, inp):
        res_t, d_h_t, m_t = inp
        d_direct, d_a_x, d_a_h = core_bwd(params, res_t, d_carry, d_h_t)
        d_prev = cell.add_h(d_direct, matmul_fm(w_rec_t, d_a_h))
        if m_t is not None:
            d_prev = _keep(m_t, d_prev, d_carry)
            keep = m_t[None, :]
            d_a_x = jnp.where(keep, d_a_x, jnp.zeros_like(d_a_x))
            d_a_h = jnp.where(keep, d_a_h, jnp.zeros_like(d_a_h))
        return d_prev, ((d_a_x,) if cell.tied else (d_a_x, d_a_h))

    d_carry0, d_a = scan(body, d_carry_T, (res, d_hs, mask_tm), reverse=not reverse)
    d_a_x, d_a_h = (d_a[0], d_a[0]) if cell.tied else d_a
    d_w_x = contract_fm(xs_fm, d_a_x)
    d_w_rec = contract_fm(h_prev, d_a_h)
    d_xs = matmul_fm(params.w_x.T, d_a_x)
    d_params = cell.bias_grads(params, d_w_x, d_w_rec, d_a_x.sum((0, 2)), d_a_h.sum((0, 2)))
    return d_params, d_carry0, d_xs


def _backward(cell: Cell, params, xs, mask, h_prev, res, d_hs_tm, d_carry_T, reverse: bool):
    """:func:`_backward_fm` for batch-major ``xs`` ``(B, T, F)``, ``mask`` ``(B, T)``,
    ``d_hs_tm`` ``(T, B, H)`` and ``d_carry_T`` leaves ``(B, H)``; ``d_xs`` is ``(B, T, F)``."""
    d_params, d_carry0, d_xs = _backward_fm(
        cell,
        params,
        jnp.transpose(xs, (1, 2, 0)),
        None if mask is None else mask.T,
        h_prev,
        res,
        jnp.swapaxes(d_hs_tm, 1, 2),
        _fm(d_carry_T),
        reverse,
    )
    return d_params, _fm(d_carry0), jnp.transpose(d_xs, (2, 0, 1))


# --------------------------------------------------------------------------- custom_vjp


@partial(jax.custom_vjp, nondiff_argnums=(0, 5))
def _unroll_hand_fm(cell, params, xs_fm, carry0_fm, mask_tm, reverse):
    carry_T, hs = forward_scan_fm(cell, params, xs_fm, carry0_fm, mask_tm, reverse, False)
    return hs, carry_T


def _unroll_hand_fm_fwd(cell, params, xs_fm, carry0_fm, mask_tm, reverse):
    carry_T, (hs, h_prev, res) = forward_scan_fm(
        cell, params, xs_fm, carry0_fm, mask_tm, reverse, True
    )
    return (hs, carry_T), (params, xs_fm, mask_tm, h_prev, res)


def _unroll_hand_fm_bwd(cell, reverse, saved, cotangents):
    params, xs_fm, mask_tm, h_prev, res = saved
    d_hs, d_carry_T = cotangents
    d_params, d_carry0, d_xs = _backward_fm(
        cell, params, xs_fm, mask_tm, h_prev, res, d_hs, d_carry_T, reverse
    )
    return d_params, d_xs, d_carry0, None


_unroll_hand_fm.defvjp(_unroll_hand_fm_fwd, _unroll_hand_fm_bwd)


def unroll_bptt(
    cell: Cell,
    params,
    xs: jax.typing.ArrayLike,
    carry0=None,
    *,
    mask: jax.typing.ArrayLike | None = None,
    lengths: jax.typing.ArrayLike | None = None,
    reverse: bool = False,
):
    """:func:`rnn_jax.unroll` with the hand-written BPTT as its VJP.

    Same arguments, shapes and results as :func:`rnn_jax.unroll`; ``jax.grad`` of a loss built
    on it runs the reverse scan of this module instead of JAX's transpose of the forward scan.
    The forward saves the cell's residuals (e.g. ``h_t`` for tanh, the gates for LSTM/GRU).
    """
    xs, carry0, mask = prepare(cell, params, xs, carry0, mask, lengths)
    mask_tm = None if mask is None else mask.T
    hs, carry_T = _unroll_hand_fm(
        cell, params, jnp.transpose(xs, (1, 2, 0)), _fm(carry0), mask_tm, reverse
    )
    return jnp.transpose(hs, (2, 0, 1)), _fm(carry_T)


def unroll_bptt_fm(
    cell: Cell,
    params,
    xs: jax.typing.ArrayLike,
    carry0=None,
    *,
    mask: jax.typing.ArrayLike | None = None,
    lengths: jax.typing.ArrayLike | None = None,
    reverse: bool = False,
):
    """:func:`rnn_jax.unroll_fm` (feature-major ``(T, F, B)`` in, ``(T, H, B)`` out) with the
    hand-written BPTT as its VJP."""
    xs, carry0, mask = prepare(cell, params, xs, carry0, mask, lengths, feature_major=True)
    return _unroll_hand_fm(cell, params, xs, carry0, mask, reverse)


def bptt(
    cell: Cell,
    params,
    xs: jax.typing.ArrayLike,
    carry0=None,
    d_hs: jax.typing.ArrayLike | None = None,
    d_carry=None,
    *,
    mask: jax.typing.ArrayLike | None = None,
    lengths: jax.typing.ArrayLike | None = None,
    reverse: bool = False,
):
    """Forward, then the hand-written backward for given output cotangents.

    Args:
      cell, params, xs, carry0, mask, lengths, reverse: as in :func:`rnn_jax.unroll`.
      d_hs: ``dL/dhs``, ``(B, T, H)``; ``None`` means zeros.
      d_carry: ``dL/dcarry_T``, leaves ``(B, H)``; ``None`` means zeros.

    Returns:
      ``((hs, carry_T), BPTTGrads(params, carry0, xs))``.
    """
    shared = carry0 is not None and all(jnp.ndim(c) == 1 for c in jax.tree.leaves(carry0))
    xs, carry0_b, mask = prepare(cell, params, xs, carry0, mask, lengths)
    batch, steps, _ = xs.shape
    hidden = params.w_rec.shape[0]
    carry_T, (hs, h_prev, res) = forward_scan(
        cell, params, xs, carry0_b, mask, reverse, residuals=True
    )
    if d_hs is None:
        d_hs_tm = jnp.zeros_like(hs)
    else:
        d_hs = jnp.asarray(d_hs, hs.dtype)
        if d_hs.shape != (batch, steps, hidden):
            raise ValueError(
                f"d_hs must have shape (batch, time, hidden) = ({batch}, {steps}, {hidden}), "
                f"got {d_hs.shape}"
            )
        d_hs_tm = jnp.swapaxes(d_hs, 0, 1)
    if d_carry is None:
        d_carry = jax.tree.map(jnp.zeros_like, carry_T)
    else:
        d_carry = jax.tree.map(
            lambda d, c: jnp.broadcast_to(jnp.asarray(d, c.dtype), c.shape), d_carry, carry_T
        )
    d_params, d_carry0, d_xs = _backward(
        cell, params, xs, mask, h_prev, res, d_hs_tm, d_carry, reverse
    )
    if shared:
        d_carry0 = jax.tree.map(lambda d: d.sum(0), d_carry0)
    return (jnp.swapaxes(hs, 0, 1), carry_T), BPTTGrads(d_params, d_carry0, d_xs)
