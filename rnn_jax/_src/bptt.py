"""Hand-written backpropagation through time, for every cell.

The backward is a reverse scan that carries only ``dL/dcarry``. At each step the cell's
``core_bwd`` turns ``(dL/dcarry_t, dL/dh_t)`` into ``dL/dcarry_{t-1}`` and the cotangents of the
pre-activations ``δa_x_t`` (input side) and ``δa_h_t`` (recurrent side). Nothing else is
accumulated in the scan: the parameter and input gradients are contracted once over all steps
and the batch afterwards::

    dW_x   = Σ_{t,b} x_{t}ᵀ δa_x_t          dW_rec = Σ_{t,b} h_{t-1}ᵀ δa_h_t
    dx_t   = δa_x_t W_xᵀ                     db     = Σ_{t,b} δa_x_t   (cell-specific)

Padded steps (``mask`` false) pass ``dL/dcarry`` through unchanged and give zero cotangents.
:func:`rnn_jax.unroll` with ``backward="bptt"`` uses it as a ``jax.custom_vjp``; :func:`bptt`
runs it explicitly for given output cotangents.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnn_jax._src import scan as scan_lib
from rnn_jax._src.cells import Cell
from rnn_jax._src.linalg import matmul_t, outer_sum

Array = jax.Array


class BPTTGrads(NamedTuple):
    """Gradients from :func:`bptt`.

    Attributes:
      params: like the cell's params.
      carry0: like the ``carry0`` given (summed over the batch when it was shared, ``(H,)``).
      xs: like ``xs``.
    """

    params: Any
    carry0: Any
    xs: Array


def backward_scan(
    cell: Cell, params, xs, mask, h_prev, res, d_hs, d_carry_T, *, reverse, scan_unroll
):
    """Reverse scan over ``dL/dcarry``, then the contractions: ``(d_params, d_carry0, d_xs)``.

    TFB like :func:`rnn_jax._src.scan.forward_scan`: ``xs`` ``(T, F, B)``, ``mask`` ``(T, B)``
    or ``None``, ``d_hs`` ``(T, H, B)``, ``d_carry_T`` leaves ``(H, B)``; ``d_carry0`` and
    ``d_xs`` come back in the same layouts.
    """
    # vmapped over the batch rather than run on whole arrays like the forward core: XLA would
    # fuse a gated cell's carry-cotangent chain into every gate and recompute it per step.
    core_bwd = jax.vmap(cell.core_bwd, in_axes=(None, -1, -1, -1), out_axes=-1)
    w_rec_t = params.w_rec.T

    def body(d_carry, inp):
        res_t, d_h_t, m_t = inp
        d_direct, d_a_x, d_a_h = core_bwd(params, res_t, d_carry, d_h_t)
        d_prev = cell.add_h(d_direct, matmul_t(w_rec_t, d_a_h))
        if m_t is not None:
            d_prev = scan_lib.keep(m_t, d_prev, d_carry)
            keep = m_t[None, :]
            d_a_x = jnp.where(keep, d_a_x, jnp.zeros_like(d_a_x))
            d_a_h = jnp.where(keep, d_a_h, jnp.zeros_like(d_a_h))
        return d_prev, ((d_a_x,) if cell.tied else (d_a_x, d_a_h))

    d_carry0, d_a = scan_lib.scan(
        body, d_carry_T, (res, d_hs, mask), reverse=not reverse, scan_unroll=scan_unroll
    )
    d_a_x, d_a_h = (d_a[0], d_a[0]) if cell.tied else d_a
    d_w_x = outer_sum(xs, d_a_x)
    d_w_rec = outer_sum(h_prev, d_a_h)
    d_xs = matmul_t(params.w_x.T, d_a_x)
    d_params = cell.bias_grads(params, d_w_x, d_w_rec, d_a_x.sum((0, 2)), d_a_h.sum((0, 2)))
    return d_params, d_carry0, d_xs


def _unrolls(scan_unroll):
    """``scan_unroll``: an int for every scan, or ``(forward, gradient)``."""
    return (scan_unroll, scan_unroll) if isinstance(scan_unroll, int) else scan_unroll


@partial(jax.custom_vjp, nondiff_argnums=(0, 5, 6))
def unroll_hand(cell, params, xs, carry0, mask, reverse, scan_unroll):
    """The TFB forward scan with :func:`backward_scan` as its VJP; returns ``(hs, carry_T)``.
    ``scan_unroll``: an int, or ``(forward, gradient)``: the first for a pass that is not
    differentiated, the second for the forward that keeps residuals and the backward."""
    carry_T, hs = scan_lib.forward_scan(
        cell, params, xs, carry0, mask, reverse=reverse, scan_unroll=_unrolls(scan_unroll)[0]
    )
    return hs, carry_T


def _unroll_hand_fwd(cell, params, xs, carry0, mask, reverse, scan_unroll):
    carry_T, (hs, h_prev, res) = scan_lib.forward_scan(
        cell,
        params,
        xs,
        carry0,
        mask,
        reverse=reverse,
        scan_unroll=_unrolls(scan_unroll)[1],
        residuals=True,
    )
    return (hs, carry_T), (params, xs, mask, h_prev, res)


def _unroll_hand_bwd(cell, reverse, scan_unroll, saved, cotangents):
    scan_unroll = _unrolls(scan_unroll)[1]
    params, xs, mask, h_prev, res = saved
    d_hs, d_carry_T = cotangents
    d_params, d_carry0, d_xs = backward_scan(
        cell,
        params,
        xs,
        mask,
        h_prev,
        res,
        d_hs,
        d_carry_T,
        reverse=reverse,
        scan_unroll=scan_unroll,
    )
    return d_params, d_xs, d_carry0, None


unroll_hand.defvjp(_unroll_hand_fwd, _unroll_hand_bwd)


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
    layout: str = "BTF",
    scan_unroll: int = 8,
) -> tuple[tuple[Array, Any], BPTTGrads]:
    """Forward, then the hand-written backward for given output cotangents, explicitly.

    What ``jax.vjp`` of :func:`rnn_jax.unroll` computes, without JAX's transpose of the scan:
    use it to compare the two gradient paths (:func:`rnn_jax.unroll` with ``backward="bptt"``
    is the same backward as a ``custom_vjp``, for training).

    Args:
      cell, params, xs, carry0, mask, lengths, reverse, layout, scan_unroll: as in
        :func:`rnn_jax.unroll`.
      d_hs: ``dL/dhs``, shaped like ``hs`` (``(B, T, H)``, or ``(T, H, B)`` for ``"TFB"``);
        ``None`` means zeros.
      d_carry: ``dL/dcarry_T``, shaped like ``carry_T``; ``None`` means zeros.

    Returns:
      ``((hs, carry_T), BPTTGrads(params, carry0, xs))``.

    Example:
      >>> import jax, jax.numpy as jnp, rnn_jax as rj
      >>> cell = rj.cells.tanh
      >>> p = cell.init(jax.random.key(0), 2, 3)
      >>> xs = jnp.ones((4, 5, 2))
      >>> (hs, _), grads = rj.bptt(cell, p, xs, d_hs=jnp.ones((4, 5, 3)))
      >>> want = jax.grad(lambda p: rj.unroll(cell, p, xs)[0].sum())(p)
      >>> bool(jnp.allclose(grads.params.w_rec, want.w_rec, atol=1e-6))
      True
    """
    scan_lib.check_options("bptt", layout, scan_unroll)
    shared = carry0 is not None and all(jnp.ndim(c) == 1 for c in jax.tree.leaves(carry0))
    xs_t, carry0_t, mask_t = scan_lib.prepare(cell, params, xs, carry0, mask, lengths, layout)
    steps, _, batch = xs_t.shape
    hidden = params.w_rec.shape[0]
    carry_T, (hs, h_prev, res) = scan_lib.forward_scan(
        cell,
        params,
        xs_t,
        carry0_t,
        mask_t,
        reverse=reverse,
        scan_unroll=scan_unroll,
        residuals=True,
    )
    btf = layout == "BTF"
    if d_hs is None:
        d_hs_t = jnp.zeros_like(hs)
    else:
        d_hs = jnp.asarray(d_hs, hs.dtype)
        want = (batch, steps, hidden) if btf else (steps, hidden, batch)
        if d_hs.shape != want:
            names = "(batch, time, hidden)" if btf else "(time, hidden, batch)"
            raise ValueError(f"d_hs must have shape {names} = {want}, got {d_hs.shape}")
        d_hs_t = jnp.transpose(d_hs, (1, 2, 0)) if btf else d_hs
    if d_carry is None:
        d_carry_t = jax.tree.map(jnp.zeros_like, carry_T)
    else:
        d_carry = scan_lib.transpose_carry(d_carry) if btf else d_carry
        d_carry_t = jax.tree.map(
            lambda d, c: jnp.broadcast_to(jnp.asarray(d, c.dtype), c.shape), d_carry, carry_T
        )
    d_params, d_carry0, d_xs = backward_scan(
        cell,
        params,
        xs_t,
        mask_t,
        h_prev,
        res,
        d_hs_t,
        d_carry_t,
        reverse=reverse,
        scan_unroll=scan_unroll,
    )
    if shared:
        d_carry0 = jax.tree.map(lambda d: d.sum(-1), d_carry0)
    elif btf:
        d_carry0 = scan_lib.transpose_carry(d_carry0)
    if btf:
        hs, carry_T = jnp.transpose(hs, (2, 0, 1)), scan_lib.transpose_carry(carry_T)
        d_xs = jnp.transpose(d_xs, (2, 0, 1))
    return (hs, carry_T), BPTTGrads(d_params, d_carry0, d_xs)
