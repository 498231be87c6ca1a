"""Unrolling a cell over time with :func:`jax.lax.scan`.

Axis convention at the public API: **batch-major** ``xs`` of shape ``(B, T, F)`` like the seeds;
outputs ``hs`` of shape ``(B, T, H)``. Inside, the input projection ``x_t W_x`` is computed for
all steps at once (one matmul, written time-major), and the scan runs over time with every
per-step array feature-major, ``(features, B)`` (see :func:`forward_scan_fm`).

Variable-length batches: ``mask`` (``(B, T)``, true on real steps) or ``lengths`` (``(B,)``,
the mask ``t < length``). A padded step leaves the carry unchanged and outputs zeros, so it
contributes nothing to any loss and its input gets no gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from rnn_jax import _checks
from rnn_jax._linalg import matmul_fm
from rnn_jax.cells import Cell

Array = jax.Array


def prepare(cell: Cell, params, xs, carry0, mask, lengths, *, feature_major: bool = False):
    """Checks the arguments and returns ``(xs, carry0, mask)`` in the given layout.

    Batch-major (default): ``xs`` ``(B, T, F)``, carry leaves ``(B, H)``, mask ``(B, T)``.
    Feature-major: ``xs`` ``(T, F, B)``, carry leaves ``(H, B)``, mask ``(T, B)``. The mask is
    ``None`` or bool. Raises ``ValueError`` naming the argument on a wrong rank, feature size,
    batch size, mask or carry shape; ``TypeError`` on a dtype that does not match the parameters.
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"cell must be an rnn_jax Cell, got {type(cell).__name__}")
    w_x = params.w_x
    hidden = params.w_rec.shape[0]
    xs = jnp.asarray(xs)
    if feature_major:
        _checks.check_rank("xs", xs, 3, "(time, features, batch)")
        steps, features, batch = xs.shape
        feature_axis = "middle"
    else:
        _checks.check_rank("xs", xs, 3, "(batch, time, features)")
        batch, steps, features = xs.shape
        feature_axis = "last"
    if batch < 1 or steps < 1:
        raise ValueError(f"xs must have at least one sequence and one step, got shape {xs.shape}")
    if features != w_x.shape[0]:
        raise ValueError(
            f"xs has {features} features ({feature_axis} axis) but the cell's params.w_x "
            f"expects {w_x.shape[0]} (xs shape {xs.shape}, w_x shape {w_x.shape})"
        )
    if not jnp.issubdtype(xs.dtype, jnp.floating):
        xs = xs.astype(w_x.dtype)
    elif xs.dtype != w_x.dtype:
        raise TypeError(f"xs has dtype {xs.dtype} but the params have dtype {w_x.dtype}")

    if mask is not None and lengths is not None:
        raise ValueError("give mask or lengths, not both")
    if lengths is not None:
        lengths = jnp.asarray(lengths)
        if lengths.shape != (batch,):
            raise ValueError(f"lengths must have shape (batch,) = ({batch},), got {lengths.shape}")
        if not jnp.issubdtype(lengths.dtype, jnp.integer):
            raise TypeError(f"lengths must be integers, got dtype {lengths.dtype}")
        mask = jnp.arange(steps)[None, :] < lengths[:, None]
        mask = mask.T if feature_major else mask
    if mask is not None:
        mask = jnp.asarray(mask)
        want, names = (
            ((steps, batch), "(time, batch)")
            if feature_major
            else (
                (batch, steps),
                "(batch, time)",
            )
        )
        if mask.shape != want:
            raise ValueError(f"mask must have shape {names} = {want}, got {mask.shape}")
        mask = mask if mask.dtype == jnp.bool_ else mask != 0

    carry0 = broadcast_carry(cell, carry0, batch, hidden, w_x.dtype, feature_major)
    return xs, carry0, mask


def broadcast_carry(cell: Cell, carry0, batch: int, hidden: int, dtype, feature_major=False):
    """``carry0`` as a batch of carries: ``None`` -> zeros; ``(H,)`` leaves -> ``(B, H)``
    (``(H, B)`` with ``feature_major``; a given batch of carries must already be laid out so)."""
    full = (hidden, batch) if feature_major else (batch, hidden)
    names = "(hidden, batch)" if feature_major else "(batch, hidden)"
    ref = cell.zero_carry(hidden, dtype)
    if carry0 is None:
        carry0 = ref
    elif jax.tree.structure(carry0) != jax.tree.structure(ref):
        raise ValueError(
            f"carry0 for the {cell.name} cell must have the structure of "
            f"{jax.tree.structure(ref)}, got {jax.tree.structure(carry0)}"
        )

    def one(c):
        c = jnp.asarray(c)
        if c.shape == (hidden,):
            return jnp.broadcast_to(c[:, None] if feature_major else c, full)
        if c.shape == full:
            return c
        raise ValueError(
            f"carry0 must have shape (hidden,) = ({hidden},) or {names} = {full}, got {c.shape}"
        )

    return jax.tree.map(one, carry0)


#: Time scans of at most this many steps are unrolled completely: XLA then fuses across steps
#: and pays no while-loop overhead (seed 002's 7 steps); longer ones unroll by this factor.
UNROLL = 8


def scan(body, carry, xs, *, reverse: bool = False):
    """:func:`jax.lax.scan` over the leading axis of ``xs``, unrolled by :data:`UNROLL`.

    Sequences of at most :data:`UNROLL` steps are unrolled in Python and the outputs stacked
    with :func:`jax.numpy.stack` rather than by ``lax.scan``: under ``vmap`` (seeds) a scan
    stacks its outputs time-major with the seed axis second, which costs a transposed copy of
    every stacked output before it can be reduced, while a stack keeps the seed axis first and
    XLA fuses it into its consumers (the hidden states of a forward-only pass are never
    materialized).
    """
    steps = jax.tree.leaves(xs)[0].shape[0]
    if steps > UNROLL:
        return lax.scan(body, carry, xs, reverse=reverse, unroll=UNROLL)
    ys = [None] * steps
    for t in reversed(range(steps)) if reverse else range(steps):
        carry, ys[t] = body(carry, jax.tree.map(lambda a, t=t: a[t], xs))
    return carry, jax.tree.map(lambda *y: jnp.stack(y), *ys)


def _keep(mask_t, new, old):
    """Feature-major: ``mask_t`` ``(B,)``, leaves ``(H, B)``."""
    keep = mask_t[None, :]
    return jax.tree.map(lambda n, o: jnp.where(keep, n, o), new, old)


def _fm(carry):
    """``(B, H)`` leaves <-> ``(H, B)`` leaves."""
    return jax.tree.map(lambda c: c.T, carry)


def core_fm(core: Callable) -> Callable:
    """A cell's ``core_fwd``/``core_bwd`` (written for one example, features on axis 0) for
    feature-major ``(features, B)`` arrays: the 1-D parameter leaves (biases) become columns
    that broadcast over the batch, and the core runs on whole arrays. Its ``split`` and
    ``concatenate`` along the features then stay slices of one array; under ``vmap`` over the
    batch axis they would move the batch to the front and back (a transposed copy per step)."""

    def apply(params, *args):
        return core(jax.tree.map(lambda a: a[:, None] if a.ndim == 1 else a, params), *args)

    return apply


def forward_scan_fm(
    cell: Cell,
    params,
    xs_fm: Array,
    carry0_fm,
    mask_tm,
    reverse: bool,
    residuals: bool,
    readout: Callable[[Array], Any] | None = None,
) -> tuple[Any, Any]:
    """The scan itself, feature-major: ``xs_fm`` ``(T, F, B)``, carry leaves ``(H, B)``,
    ``mask_tm`` ``(T, B)`` or ``None``; arguments already checked.

    Every per-step array is ``(features, B)``: the cell's core runs on whole arrays
    (:func:`core_fm`) and the small matmuls are multiply-adds over the minor batch axis, which
    XLA:CPU vectorizes over the batch (and over seeds in a sweep) rather than over ``H``.

    Returns ``(carry_T, outs)``: ``carry_T`` leaves ``(H, B)``; ``outs`` is ``hs`` ``(T, H, B)``,
    or with ``residuals=True`` ``(hs, h_prev, res)`` with ``h_prev`` ``(T, H, B)`` and the
    cell's residuals feature-major, for :mod:`rnn_jax.bptt`; with ``readout`` (and no
    residuals) ``readout(h_t)`` stacked over time instead of ``hs``.
    """
    a_x = matmul_fm(params.w_x, xs_fm)  # (T, G*H, B)
    core = core_fm(cell.core_fwd)

    def body(carry, inp):
        a_x_t, m_t = inp
        h_prev = cell.carry_h(carry)
        new_carry, h, res = core(params, a_x_t, matmul_fm(params.w_rec, h_prev), carry)
        if m_t is not None:
            new_carry = _keep(m_t, new_carry, carry)
            h = jnp.where(m_t[None, :], h, jnp.zeros_like(h))
        if residuals:
            return new_carry, (h, h_prev, res)
        return new_carry, (h if readout is None else readout(h))

    return scan(body, carry0_fm, (a_x, mask_tm), reverse=reverse)


def forward_scan(
    cell: Cell, params, xs: Array, carry0, mask, reverse: bool, residuals: bool
) -> tuple[Any, Any]:
    """:func:`forward_scan_fm` for batch-major ``xs`` ``(B, T, F)`` and carry leaves ``(B, H)``.

    Returns ``(carry_T, outs)``: ``carry_T`` leaves ``(B, H)``; ``outs`` is ``hs`` time-major
    ``(T, B, H)``, or with ``residuals=True`` ``(hs, h_prev, res)`` as in
    :func:`forward_scan_fm`.
    """
    xs_fm = jnp.transpose(xs, (1, 2, 0))
    mask_tm = None if mask is None else mask.T
    carry_T, outs = forward_scan_fm(cell, params, xs_fm, _fm(carry0), mask_tm, reverse, residuals)
    hs = jnp.swapaxes(outs[0] if residuals else outs, 1, 2)
    return _fm(carry_T), ((hs, outs[1], outs[2]) if residuals else hs)


def unroll(
    cell: Cell,
    params,
    xs: jax.typing.ArrayLike,
    carry0=None,
    *,
    mask: jax.typing.ArrayLike | None = None,
    lengths: jax.typing.ArrayLike | None = None,
    reverse: bool = False,
):
    """Runs ``cell`` over a batch of sequences; differentiate it with :func:`jax.grad`.

    Args:
      cell: an :class:`rnn_jax.Cell`.
      params: the cell's parameters (``params.w_x`` is ``(F, G*H)``).
      xs: inputs, ``(B, T, F)``, batch-major. Integer/bool inputs are cast to the params' dtype.
      carry0: initial carry, ``None`` (zeros), or leaves of shape ``(H,)`` (shared, e.g. a
        learned initial state; its gradient sums over the batch) or ``(B, H)``.
      mask: ``(B, T)``, true on real steps. Padded steps keep the carry and output zeros.
      lengths: ``(B,)`` integers, instead of ``mask``.
      reverse: run from ``t = T-1`` down to ``0`` (outputs stay aligned with ``xs``).

    Returns:
      ``(hs, carry_T)``: ``hs`` of shape ``(B, T, H)``; the final carry, leaves ``(B, H)``.
    """
    xs, carry0, mask = prepare(cell, params, xs, carry0, mask, lengths)
    carry_T, hs = forward_scan(cell, params, xs, carry0, mask, reverse, residuals=False)
    return jnp.swapaxes(hs, 0, 1), carry_T


def unroll_fm(
    cell: Cell,
    params,
    xs: jax.typing.ArrayLike,
    carry0=None,
    *,
    mask: jax.typing.ArrayLike | None = None,
    lengths: jax.typing.ArrayLike | None = None,
    reverse: bool = False,
    readout: Callable[[Array], Any] | None = None,
):
    """:func:`unroll` in the **feature-major** layout rnn_jax computes in, with no transposes.

    ``xs`` is ``(T, F, B)``, ``mask`` ``(T, B)``, ``carry0`` leaves ``(H,)`` or ``(H, B)``;
    returns ``(hs, carry_T)`` with ``hs`` ``(T, H, B)`` and ``carry_T`` leaves ``(H, B)``. Keep
    data in this layout when speed matters (the seed sweeps do): XLA:CPU cannot vectorize a
    transposed read fused into a loop, and under ``vmap`` over seeds the batch stays minor.

    ``readout``, if given, maps each step's ``h_t`` ``(H, B)`` to an output (e.g. logits
    ``(B,)``) inside the scan, and those are returned stacked over time instead of ``hs``: the
    hidden states of all steps are then never stored (what a forward-only evaluation wants).
    """
    xs, carry0, mask = prepare(cell, params, xs, carry0, mask, lengths, feature_major=True)
    carry_T, ys = forward_scan_fm(cell, params, xs, carry0, mask, reverse, False, readout)
    return ys, carry_T
